"""The word autocomplete's files: a saved model, and the export the in-page demo runs.

A saved model is two files in one folder, written together or not at all: ``config.json``
(the vocabulary and settings) and ``weights.pt`` (the state dict, a fingerprint of that
config and a checksum of the tensors), written and read by `modelfile`. Whatever is wrong
with them, ``load`` raises one ``ModelFileError`` that names the file and the problem.

The export is one JSON file: the settings, the vocabulary, how to tokenise a prefix and
every weight as plain numbers, under PyTorch's names. JSON has no NaN, so weights that are
not finite are refused.

`autocomplete.Autocomplete`'s ``save``, ``load``, ``export_dict`` and ``export_json`` are
these functions, given its model, vocabulary and ``max_prefix``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from .checks import is_int
from .modelfile import (
    ConfigMismatch,
    ModelFileError,
    as_path,
    check_finite,
    pack,
    previous_path,
    read_json,
    read_payload,
    replace_together,
    write_file,
)
from .models import RECURRENT_LAYERS, NextWordModel
from .vocab import TOKEN_PATTERN, Vocab

FORMAT = "helpers.autocomplete/1"  # written into every saved or exported file
WEIGHTS_FILE = "weights.pt"
CONFIG_FILE = "config.json"
WRITER = "Autocomplete.save"  # named in the messages about files it did not write
SETTINGS = ("cell", "vocab_size", "hidden_size", "embedding_size", "max_prefix")

Loaded = TypeVar("Loaded")


def settings(model: NextWordModel, max_prefix: int | None) -> dict[str, Any]:
    """The model's settings: enough to rebuild it before loading its weights."""
    embed = model.embed
    return {
        "cell": model.cell,
        "vocab_size": model.vocab_size,
        "hidden_size": model.rnn.hidden_size,
        "embedding_size": embed.embedding_dim if embed is not None else None,
        "max_prefix": max_prefix,
    }


def config(model: NextWordModel, vocab: Vocab, max_prefix: int | None) -> dict[str, Any]:
    """What ``config.json`` holds: the format, the vocabulary and the settings."""
    return {"format": FORMAT, "vocab": vocab.words, "unk": vocab.unk, **settings(model, max_prefix)}


def save(folder: str | os.PathLike[str], model: NextWordModel, vocab: Vocab, max_prefix: int | None) -> Path:
    """Write ``weights.pt`` and ``config.json`` into ``folder``, creating it if needed;
    return the folder.

    Both files are written to temporary files in ``folder`` first and then renamed into
    place, so a failure at any point leaves the previous save as it was. The weights
    file carries a fingerprint of the config and a checksum of the tensors, so
    ``load`` refuses a config that does not belong to them.
    """
    folder = as_path(folder, "folder")
    saved = config(model, vocab, max_prefix)
    payload = pack(FORMAT, model.state_dict(), saved)
    text = json.dumps(saved, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    return replace_together(
        folder, {WEIGHTS_FILE: lambda f: torch.save(payload, f), CONFIG_FILE: text.encode("utf-8")}
    )


def load(folder: str | os.PathLike[str], build: Callable[[NextWordModel, Vocab, int | None], Loaded]) -> Loaded:
    """What ``save`` wrote, passed to ``build(model, vocab, max_prefix)``; or a
    ``ModelFileError`` naming the file and what is wrong (``build`` refusing what it is
    given included). Weights are read with ``torch.load(..., weights_only=True)``, so a
    file cannot run code while it loads."""
    folder = as_path(folder, "folder")
    if not folder.is_dir():
        raise ModelFileError(f"{folder} not found: it is not a folder written by Autocomplete.save")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            raise ModelFileError(f"{folder / name} not found: is {folder} a saved Autocomplete?")
    saved = _read_config(folder / CONFIG_FILE)
    weights_path = folder / WEIGHTS_FILE
    try:
        payload = read_payload(weights_path, FORMAT, WRITER, saved)
    except ConfigMismatch:
        previous = previous_path(weights_path)  # a save that stopped between its two renames
        try:
            weights_path, payload = previous, read_payload(previous, FORMAT, WRITER, saved)
        except ModelFileError:
            raise ModelFileError(
                f"{folder / CONFIG_FILE} does not belong to {folder / WEIGHTS_FILE}: the weights were "
                "saved with another vocabulary or other settings (an edited config, or files from "
                "two different saves)"
            ) from None
    state = payload["state_dict"]
    vocab = Vocab(saved["vocab"], unk=saved["unk"])
    try:
        model = NextWordModel(saved["vocab_size"], saved["hidden_size"], saved["cell"], saved["embedding_size"])
        model.load_state_dict(state)
        return build(model, vocab, saved["max_prefix"])
    except (RuntimeError, ValueError, TypeError) as error:
        raise ModelFileError(f"{weights_path} does not fit its config: {error}") from None


def export_dict(model: NextWordModel, vocab: Vocab, max_prefix: int | None) -> dict[str, Any]:
    """Everything a browser needs to run the model, as plain JSON-ready data.

    Weights keep PyTorch's names and layout (``weight_ih_l0`` is (gates * hidden,
    input); LSTM gates are stacked input, forget, cell, output; GRU gates reset,
    update, new). ``input`` says whether a word enters one-hot or through
    ``embed.weight``. Prefixes must be tokenised as ``tokenize`` does: NFC-normalise,
    read the typographic apostrophe (U+2019) as a plain one, find the words with
    ``token_pattern`` (a JavaScript regular expression, flag ``u``), then case-fold
    each (``lowercase``: Unicode full case folding, as ``str.casefold``, then NFC).
    Weights that are not finite are refused: JSON has no NaN.
    """
    state = model.state_dict()
    check_finite(state, "cannot export this model")
    return {
        "format": FORMAT,
        **settings(model, max_prefix),
        "input": "one-hot" if model.embed is None else "embedding",
        "vocab": vocab.words,
        "unk": vocab.unk,
        "token_pattern": TOKEN_PATTERN,
        "lowercase": True,
        "weights": {name: t.tolist() for name, t in state.items()},
    }


def write_json(export: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``export`` into one JSON file, creating its folder if needed and replacing
    any old file only once the new one is complete; return its path."""
    path = as_path(path, "path")
    text = json.dumps(export, separators=(",", ":"), allow_nan=False) + "\n"
    return write_file(path, text.encode("utf-8"))


def _read_config(path: Path) -> dict[str, Any]:
    """The config, checked key by key; a ModelFileError says what is wrong."""
    config = read_json(path, WRITER)
    if config.get("format") != FORMAT:
        raise ModelFileError(f"{path} has format {config.get('format')!r}, expected {FORMAT!r}")
    missing = [key for key in ("vocab", "unk", *SETTINGS) if key not in config]
    if missing:
        raise ModelFileError(f"{path} lacks {', '.join(repr(k) for k in missing)}")
    problems = []
    vocab = config["vocab"]
    if not isinstance(vocab, list) or not all(isinstance(w, str) for w in vocab):
        problems.append("'vocab' must be a list of strings")
    if config["unk"] is not None and not isinstance(config["unk"], str):
        problems.append("'unk' must be a string or null")
    if config["cell"] not in RECURRENT_LAYERS:
        problems.append(f"'cell' must be one of {sorted(RECURRENT_LAYERS)}")
    for key in SETTINGS[1:]:
        value, optional = config[key], key in ("embedding_size", "max_prefix")
        if not (optional and value is None) and not (is_int(value) and value >= 1):
            problems.append(f"{key!r} must be a positive integer{' or null' if optional else ''}, got {value!r}")
    if not problems:
        unk = config["unk"]
        if len(set(vocab)) != len(vocab) or (unk is not None and vocab[:1] != [unk]):
            problems.append("'vocab' must list each word once, with 'unk' first")
        elif len(vocab) != config["vocab_size"]:
            problems.append(f"the vocabulary has {len(vocab)} words but 'vocab_size' is {config['vocab_size']}")
    if problems:
        raise ModelFileError(f"{path} is not a valid config: {'; '.join(problems)}")
    return config
