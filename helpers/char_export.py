"""The character-level model as chapter 6's in-page demo reads it: its weights in int8.

``export_model`` turns a `charlm.CharLM` and its alphabet into plain JSON-ready data, each
weight matrix quantised to int8 with one float32 scale per row (``quantise_rows``);
``write_script`` writes that as a script the page loads, ``read_script`` reads it back, and
``read_model`` rebuilds from it, in float64, exactly the model the page computes with, so
that Python and the page can be compared to rounding error. What the demo searches and
samples with these weights is `char_autocomplete`'s.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .charlm import CharLM, CharVocab
from .modelfile import check_finite, write_file

FORMAT = "helpers.char_autocomplete/1"  # written into every export
CONFIG_KEYS = ("vocab_size", "cell", "hidden_size", "embedding_size", "num_layers")  # rebuild a CharLM


def quantise_rows(weight: Tensor) -> tuple[Tensor, Tensor]:
    """int8 values and one float32 scale per row, ``weight ~ q * scale[:, None]``."""
    scale = (weight.abs().amax(dim=1) / 127).float()
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(weight.double() / scale.double()[:, None]).clamp(-127, 127).to(torch.int8)
    return q, scale


def export_model(model: CharLM, vocab: CharVocab, **settings: Any) -> dict[str, Any]:
    """The model's settings, its alphabet, ``settings`` (plain values, stored as given) and
    its weights, quantised compactly.

    Each weight matrix (``embed.weight``, ``rnn.weight_ih_l{k}``, ``rnn.weight_hh_l{k}``,
    ``head.weight``) becomes int8 with one float32 scale per row (``w ~ q * scale``,
    ``scale = max|row| / 127``); biases stay float32. Arrays are base64 of little-endian
    bytes; names and layouts are PyTorch's (LSTM gates stacked input, forget, cell,
    output; GRU gates reset, update, new). Weights that are not finite are refused.
    """
    check_finite(model, "cannot export this model")
    tensors = {}
    for name, t in model.state_dict().items():
        t = t.detach().float().cpu()
        if t.dim() == 2:
            q, scale = quantise_rows(t)
            tensors[name] = {"shape": list(t.shape), "int8": _b64(q.numpy()), "scale": _b64(scale.numpy())}
        else:
            tensors[name] = {"shape": list(t.shape), "float32": _b64(t.numpy())}
    return {"format": FORMAT, **model.config(), "chars": vocab.chars, **settings, "tensors": tensors}


def read_model(export: dict[str, Any]) -> tuple[CharLM, CharVocab]:
    """The model the in-page demo computes with, the exported (dequantised) weights in
    float64, and its vocabulary."""
    if export.get("format") != FORMAT:
        raise ValueError(f"expected an export of format {FORMAT!r}, got {export.get('format')!r}")
    model = CharLM(**{k: export[k] for k in CONFIG_KEYS}).double()
    state = {}
    for name, entry in export["tensors"].items():
        if "int8" in entry:
            q = np.frombuffer(base64.b64decode(entry["int8"]), dtype=np.int8).reshape(entry["shape"])
            scale = np.frombuffer(base64.b64decode(entry["scale"]), dtype="<f4")
            state[name] = torch.from_numpy(q.astype(np.float64) * scale.astype(np.float64)[:, None])
        else:
            values = np.frombuffer(base64.b64decode(entry["float32"]), dtype="<f4")
            state[name] = torch.from_numpy(values.astype(np.float64).reshape(entry["shape"]))
    model.load_state_dict(state)
    return model, CharVocab(export["chars"])


def write_script(export: dict[str, Any], path: str | Path, variable: str) -> Path:
    """Write ``export`` as a script that sets ``window.<variable>`` (a script, not JSON, so
    that pages opened from ``file://`` can load it), atomically; return its path."""
    payload = json.dumps(export, separators=(",", ":"), allow_nan=False)
    return write_file(path, f"window.{variable} = {payload};\n".encode("utf-8"))


def read_script(path: str | Path) -> dict[str, Any]:
    """The export in a script written by ``write_script``."""
    text = Path(path).read_text(encoding="utf-8")
    return json.loads(text[text.index("=") + 1 :].strip().rstrip(";"))


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()).decode("ascii")
