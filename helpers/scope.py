"""A scope on a character-level LSTM (chapter 6): what one unit and its gates do along a
text, what happens when the unit is clamped or switched off, and how far back a prediction
looks.

This is the float64 reference for the scope in chapter 6's page (``_ext/demo/lstm-scope.js``),
which computes the same things in JavaScript on the page's dequantised weights
(``CharAutocomplete.dequantised``); the browser tests compare the two.

- ``read_scope(ac, text, cursor, intervention)``: the model reads the text one character at a
  time; after every character, every unit's ``h`` and ``c`` and its four gates (input,
  forget, cell candidate, output: PyTorch's order); the next-character probabilities after
  the cursor, a greedy continuation from there, and the *connectivity*: for the character
  after the cursor, the norm of the gradient of its log-probability with respect to the
  embedding of each character read so far (Madsen, "Visualizing memorization in RNNs",
  Distill 2019), computed by autograd.
- An ``Intervention`` clamps one unit: after every step its ``h`` and ``c`` are set to a value
  (0 switches it off), so the output head and the next step both read the value. A clamped
  unit passes no gradient back.
- ``switch_off_losses``: the loss at every position of a text with units switched off, in
  parallel streams, for measuring what a unit does on held-out text.

Text is read as ``CharAutocomplete.read`` reads it: the typographic apostrophe becomes the
plain one, and characters outside the alphabet are refused with the same message.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .char_autocomplete import TYPOGRAPHIC_APOSTROPHE, CharAutocomplete
from .charlm import CharLM
from .checks import is_int

GATES = ("input", "forget", "cell", "output")  # PyTorch's order in weight_ih and weight_hh
MAX_SCOPE_CHARS = 600  # longest text the scope reads (the page says so too)
GREEDY_CHARS = 40  # length of the greedy continuation


@dataclass(frozen=True)
class Intervention:
    """Clamp ``unit``'s h and c to ``value`` after every step; ``value`` 0 switches it off."""

    unit: int
    value: float = 0.0


@dataclass(frozen=True)
class ScopeReading:
    """What the scope shows for one text, cursor and intervention (arrays in float64)."""

    text: str  # as read: a typographic apostrophe is the plain one
    cursor: int  # the model has read text[:cursor]
    h: np.ndarray  # (len(text), hidden): every unit's h after every character (clamp included)
    c: np.ndarray  # (len(text), hidden): the same for c
    gates: np.ndarray  # (len(text), 4, hidden): input, forget, cell candidate, output
    probabilities: np.ndarray  # (vocab,): the next character after the cursor
    target: int  # the character whose log-probability the connectivity differentiates
    connectivity: np.ndarray  # (cursor,): gradient norm for each character read
    greedy: str  # GREEDY_CHARS characters, always the most likely, from the cursor


def check_lstm(model: CharLM) -> None:
    """The scope reads one-layer LSTMs; anything else gets a clear error."""
    if model.cell != "lstm" or model.num_layers != 1:
        raise ValueError(f"the scope reads one-layer LSTMs, not a {model.num_layers}-layer {model.cell.upper()}")


def check_intervention(intervention: Intervention | None, hidden_size: int) -> None:
    if intervention is None:
        return
    unit, value = intervention.unit, intervention.value
    if not is_int(unit) or not 0 <= unit < hidden_size:
        raise ValueError(f"unit must be a whole number from 0 to {hidden_size - 1}, got {unit!r}")
    if not isinstance(value, (int, float)) or not (math.isfinite(value) and -1 <= value <= 1):
        raise ValueError(f"a unit can be clamped to a value from -1 to 1 (the range of h), got {value!r}")


def _step(model: CharLM, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM step by PyTorch's equations: the new h and c, and the gates (4, hidden)."""
    rnn = model.rnn
    z = rnn.weight_ih_l0 @ x + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    zi, zf, zg, zo = z.chunk(4)
    i, f, g, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
    c = f * c + i * g
    return o * torch.tanh(c), c, torch.stack([i, f, g, o])


def _clamp(t: Tensor, intervention: Intervention | None) -> Tensor:
    if intervention is None:
        return t
    mask = torch.zeros_like(t, dtype=torch.bool)
    mask[intervention.unit] = True
    return torch.where(mask, torch.full_like(t, float(intervention.value)), t)  # no gradient through it


def read_scope(ac: CharAutocomplete, text: str, cursor: int | None = None,
               intervention: Intervention | None = None) -> ScopeReading:  # fmt: skip
    """Run ``ac``'s model (use ``ac.dequantised()`` for what the page computes) over ``text``.

    ``cursor`` (default: the end) counts characters (code points) from the start, 1 to
    ``len(text)``. The character after the cursor is the text's own next character, or, at
    the end of the text, the model's most likely one; the connectivity is for it.
    """
    model = ac.model
    check_lstm(model)
    ids = ac.read(text)
    text = text.replace(TYPOGRAPHIC_APOSTROPHE, "'")
    if len(text) > MAX_SCOPE_CHARS:
        raise ValueError(f"the scope reads at most {MAX_SCOPE_CHARS} characters, got {len(text)}")
    cursor = len(text) if cursor is None else cursor
    if not is_int(cursor) or not 1 <= cursor <= len(text):
        raise ValueError(f"the cursor must be after one of the text's {len(text)} characters (1 to {len(text)}), got {cursor!r}")
    check_intervention(intervention, model.hidden_size)
    dtype = model.head.weight.dtype
    x = model.embed.weight.detach()[ids].clone().requires_grad_(True)  # one leaf per position
    h = c = torch.zeros(model.hidden_size, dtype=dtype)
    hs, cs, gates = [], [], []
    with torch.enable_grad():
        for t in range(len(text)):
            h, c, g = _step(model, x[t], h, c)
            h, c = _clamp(h, intervention), _clamp(c, intervention)
            hs.append(h)
            cs.append(c)
            gates.append(g.detach())
        logp = torch.log_softmax(model.head(hs[cursor - 1]), dim=-1)
        target = int(ids[cursor]) if cursor < len(text) else int(logp.argmax())
        (grad,) = torch.autograd.grad(logp[target], x)
    connectivity = grad[:cursor].norm(dim=1)
    with torch.no_grad():  # greedy continuation from the cursor, under the same intervention
        h, c, added = hs[cursor - 1], cs[cursor - 1], []
        step_logp = logp.detach()
        for _ in range(GREEDY_CHARS):
            nxt = int(step_logp.argmax())
            added.append(nxt)
            h, c, _ = _step(model, model.embed.weight[nxt], h, c)
            h, c = _clamp(h, intervention), _clamp(c, intervention)
            step_logp = torch.log_softmax(model.head(h), dim=-1)
    return ScopeReading(
        text=text, cursor=cursor,
        h=torch.stack(hs).detach().double().numpy(), c=torch.stack(cs).detach().double().numpy(),
        gates=torch.stack(gates).double().numpy(),
        probabilities=logp.detach().exp().double().numpy(), target=target,
        connectivity=connectivity.double().numpy(), greedy=ac.vocab.decode(added),
    )  # fmt: skip


def switch_off_losses(model: CharLM, ids: Tensor, variants: Sequence[int | None], streams: int = 8) -> Tensor:
    """The loss (nats) of every predicted character of ``ids``, once per variant: ``None``
    is the model as trained, a unit index is the model with that unit switched off (its h
    and c set to 0 after every step, so neither the head nor the next step sees it).

    The text is cut into ``streams`` contiguous pieces read side by side from a zero state,
    all variants in one batch. Returns (variants, streams * (piece - 1)), in the order of the
    predicted characters, and ``targets`` to go with it: ``switch_off_targets(ids, streams)``.
    """
    check_lstm(model)
    piece = len(ids) // streams
    tokens = ids[: piece * streams].view(streams, piece)
    n = len(variants)
    dtype = model.rnn.weight_hh_l0.dtype
    keep = torch.ones(n, 1, model.hidden_size, dtype=dtype)
    for v, unit in enumerate(variants):
        if unit is not None:
            keep[v, 0, unit] = 0.0
    rnn = model.rnn
    with torch.no_grad():
        xw = model.embed(tokens) @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + rnn.bias_hh_l0  # (streams, piece, 4H)
        h = c = torch.zeros(n, streams, model.hidden_size, dtype=dtype)
        losses = torch.empty(n, streams, piece - 1, dtype=dtype)
        for t in range(piece - 1):
            zi, zf, zg, zo = (xw[:, t] + h @ rnn.weight_hh_l0.T).chunk(4, dim=-1)
            c = (torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)) * keep
            h = torch.sigmoid(zo) * torch.tanh(c) * keep
            logp = torch.log_softmax(model.head(h), dim=-1)
            losses[:, :, t] = -logp.gather(2, tokens[:, t + 1].expand(n, -1)[..., None])[..., 0]
    return losses.reshape(n, -1)


def switch_off_targets(ids: Tensor, streams: int = 8) -> Tensor:
    """The predicted characters that ``switch_off_losses`` scores, in its order."""
    piece = len(ids) // streams
    return ids[: piece * streams].view(streams, piece)[:, 1:].reshape(-1)
