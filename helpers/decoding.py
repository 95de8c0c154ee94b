"""Decoding: from a model's next-token log-probabilities to tokens.

One policy for temperature, used by every model in the book (``check_temperature``):
``temperature=0`` is greedy, always the most likely token (the lowest id on ties); a
positive finite number ``T`` samples from ``softmax(log p / T)``, sharper below 1, flatter
above; anything else (negative, NaN, infinite, a bool, a string, ``None``) is refused with
an error that quotes the value.

- ``top_k``: the ``k`` most likely tokens, best first;
- ``greedy`` and ``sample``: one token, the most likely or a draw at a temperature;
- ``mulberry32``: the seeded 32-bit generator that the in-page demo runs in JavaScript
  (``_ext/demo/shakespeare-demo.js``, whose ``sample`` is this module's, line for line), so
  a seed gives the same text in Python and in the page; ``torch_uniforms`` draws from
  torch's generator instead, for seeds up to 2**64 - 1;
- ``beam_search``: the ``width`` most likely continuations, generic over a step function
  ``step(state, tokens) -> (log-probabilities, new state)``, for a batch of beams.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import torch
from torch import Tensor

Uniform = Callable[[], float]  # a source of uniform floats in [0, 1)
Step = Callable[[Any, Tensor], tuple[Tensor, Any]]  # (state of B beams, B tokens) -> ((B, vocab), state)


# ---------------------------------------------------------------- temperature


def check_temperature(temperature: object) -> float:
    """``temperature`` as a float, if the book's one policy allows it: 0 (greedy) or a
    positive finite number. A TypeError for what is not a number (a bool is not one here),
    a ValueError for a negative, NaN or infinite one; both quote the value as given."""
    if isinstance(temperature, bool) or not isinstance(temperature, Real):
        raise TypeError(
            f"temperature must be 0 (greedy) or a positive finite number, got "
            f"{type(temperature).__name__}: {temperature!r}"
        )
    if not (temperature == 0 or (math.isfinite(temperature) and temperature > 0)):
        raise ValueError(f"temperature must be 0 (greedy) or a positive finite number, got {temperature}")
    return float(temperature)


# ---------------------------------------------------------------- one token


def top_k(scores: Tensor, k: int) -> list[int]:
    """The ids of the ``k`` highest of 1-D ``scores``, best first (ties: the lower id first)."""
    return torch.sort(scores, descending=True, stable=True).indices[:k].tolist()


def greedy(logp: Sequence[float] | Tensor) -> int:
    """The most likely id (the lowest on ties)."""
    if isinstance(logp, Tensor):
        logp = logp.tolist()
    return max(range(len(logp)), key=lambda i: (logp[i], -i))


def sample(logp: Sequence[float] | Tensor, temperature: float, random: Uniform) -> int:
    """An id drawn from ``softmax(logp / temperature)`` by inverse transform sampling, with
    one number from ``random``; temperature 0: ``greedy``.

    The largest score is subtracted before dividing, so the best id weighs 1 at every
    temperature: a tiny temperature cannot overflow (it becomes greedy), a huge one gives
    every id with a finite score the same weight, and an id with log-probability -inf is
    never drawn.
    """
    if isinstance(logp, Tensor):
        logp = logp.tolist()
    if temperature == 0:
        return greedy(logp)
    top = max(logp)
    weights = [math.exp((x - top) / temperature) for x in logp]
    threshold = random() * sum(weights)
    total = 0.0
    for i, w in enumerate(weights):
        total += w
        if total > threshold:
            return i
    return max(i for i, w in enumerate(weights) if w > 0)  # rounding at the very end


def mulberry32(seed: int) -> Uniform:
    """A small 32-bit random generator (mulberry32), written to give exactly the numbers of
    its usual JavaScript form: uniform floats in [0, 1)."""
    a = seed & 0xFFFFFFFF
    mask = 0xFFFFFFFF

    def next_float() -> float:
        nonlocal a
        a = (a + 0x6D2B79F5) & mask
        t = ((a ^ (a >> 15)) * (a | 1)) & mask
        t = ((t + (((t ^ (t >> 7)) * (t | 61)) & mask)) & mask) ^ t
        return ((t ^ (t >> 14)) & mask) / 4294967296

    return next_float


def torch_uniforms(seed: int | None) -> Uniform:
    """Uniform floats in [0, 1) from a torch generator seeded with ``seed`` (0 to 2**64 - 1),
    or from torch's global generator when ``seed`` is None."""
    generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    return lambda: torch.rand((), generator=generator, dtype=torch.float64).item()


# ---------------------------------------------------------------- beam search


@dataclass(frozen=True)
class Hypothesis:
    """A partial or finished output: its tokens, their total log-probability, and what the
    caller's ``extend`` keeps about it (``tag``)."""

    tokens: tuple[int, ...]
    logp: float
    tag: Any = None
    finished: bool = False


def select_beams(state: Any, rows: Tensor, dim: int = 1) -> Any:
    """The state of the beams ``rows``: a tensor, or a tuple of them, whose batch is
    dimension ``dim`` (1 for PyTorch's recurrent layers: (layers, batch, hidden))."""
    if isinstance(state, tuple):
        return tuple(select_beams(s, rows, dim) for s in state)
    return state.index_select(dim, rows)


def beam_search(
    step: Step,
    logp: Tensor,
    state: Any,
    width: int,
    max_steps: int,
    *,
    end: int | None = None,
    start: Hypothesis | None = None,
    extend: Callable[[Hypothesis, int, float], Hypothesis | None] | None = None,
    visit: Callable[[list[Hypothesis], Tensor], None] | None = None,
    stop: Callable[[list[Hypothesis]], bool] | None = None,
    select: Callable[[Any, Tensor], Any] = select_beams,
) -> list[Hypothesis]:
    """The most likely continuations, found ``width`` at a time.

    ``logp`` (shape (vocab,) or (1, vocab)) holds the log-probabilities of the first token
    and ``state`` is the state they came with; ``step(state, tokens)`` runs the model one
    token further for a batch of beams (``tokens`` of shape (beams,)) and returns their
    log-probabilities, (beams, vocab), and the new state.

    Each round, ``visit(hypotheses, logp)`` (if given) sees the live hypotheses and their
    next-token log-probabilities; then every hypothesis is extended by every token of finite
    log-probability: ``extend(hypothesis, token, new_logp)`` returns the new hypothesis, or
    None to drop it (by default the token is appended, and ``end`` finishes it). The
    ``width`` most likely are kept (ties in the order made: hypothesis by hypothesis, tokens
    in id order); the finished ones among them leave the beam. The search stops when no
    hypothesis is live, when ``stop(live)`` says so (by default: when a finished hypothesis
    is at least as likely as every live one, which can then only fall), or after
    ``max_steps`` rounds.

    Returns the finished hypotheses, best first; if none finished, the live ones.
    """
    if extend is None:
        def extend(hyp: Hypothesis, token: int, new_logp: float) -> Hypothesis:
            return Hypothesis(hyp.tokens + (token,), new_logp, hyp.tag, token == end)

    finished: list[Hypothesis] = []
    if stop is None:
        def stop(live: list[Hypothesis]) -> bool:
            return bool(finished) and max(h.logp for h in finished) >= live[0].logp

    beams = [start if start is not None else Hypothesis((), 0.0)]
    logp = logp.reshape(1, -1)
    live: list[Hypothesis] = []
    for round_ in range(max_steps):
        if visit is not None:
            visit(beams, logp)
        rows = logp.tolist()
        made: list[tuple[int, Hypothesis]] = []
        for b, hyp in enumerate(beams):
            for token, lp in enumerate(rows[b]):
                if lp == -math.inf:
                    continue
                new = extend(hyp, token, hyp.logp + lp)
                if new is not None:
                    made.append((b, new))
        made.sort(key=lambda item: -item[1].logp)  # stable: ties keep the order made
        made = made[:width]
        finished += [hyp for _, hyp in made if hyp.finished]
        made = [(b, hyp) for b, hyp in made if not hyp.finished]
        live = [hyp for _, hyp in made]
        if not live or stop(live) or round_ == max_steps - 1:
            break
        state = select(state, torch.tensor([b for b, _ in made]))
        logp, state = step(state, torch.tensor([hyp.tokens[-1] for hyp in live]))
        beams = live
    return sorted(finished, key=lambda h: -h.logp) if finished else live
