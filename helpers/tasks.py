"""Synthetic long-lag tasks: what a network must remember over a distance it is told."""

from __future__ import annotations

import torch
from torch import Tensor

from .vocab import Vocab

ADDING_TOLERANCE = 0.04  # Hochreiter & Schmidhuber (1997) count |error| < 0.04 as correct


def adding_problem(n: int, length: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """The adding problem: ``n`` sequences of ``length`` steps with two features each.

    Feature 0 is a random number in [0, 1); feature 1 marks exactly two steps, one in
    the first half and one in the second. The target is the sum of the two marked numbers.
    Predicting the mean (1.0) every time gives an MSE of 1/6, the baseline to beat.
    Returns inputs (n, length, 2) and targets (n,).
    """
    if n < 1 or length < 2:
        raise ValueError(f"need n >= 1 and length >= 2, got n={n}, length={length}")
    values = torch.rand(n, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, length, (n,), generator=generator)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    inputs = torch.stack([values, markers], dim=-1)  # (n, length, 2)
    targets = values[rows, first] + values[rows, second]  # (n,)
    return inputs, targets


def adding_accuracy(predictions: Tensor, targets: Tensor) -> float:
    """Fraction of predictions within ``ADDING_TOLERANCE`` of the target."""
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions {tuple(predictions.shape)} vs targets {tuple(targets.shape)}")
    return ((predictions - targets).abs() < ADDING_TOLERANCE).float().mean().item()


# "The cat(s), which already ate ..., was/were full": the subject's number decides the verb.
SUBJECTS = ("cat", "cats")
VERBS = ("was", "were")
FILLER = (
    "which", "already", "ate", "the", "a", "fish", "mouse", "mice", "dog", "dogs",
    "bird", "birds", "quickly", "and", "then", "slept", "in", "sun", "garden", "yesterday",
)  # fmt: skip
AGREEMENT_VOCAB = Vocab(list(SUBJECTS) + list(FILLER), unk=None)


def agreement_task(
    n: int, distractors: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Number agreement over a gap: ``cat``/``cats`` followed by ``distractors`` filler words.

    The label is 0 when the verb that follows must be ``was`` (singular subject) and 1 for
    ``were``. The filler includes singular and plural nouns ("dog", "mice"), so the nearest
    noun is no guide: only the first word decides. Labels are balanced exactly (to within
    one for odd ``n``). Returns word ids (n, 1 + distractors) in ``AGREEMENT_VOCAB`` and
    labels (n,).
    """
    if n < 2 or distractors < 0:
        raise ValueError(f"need n >= 2 and distractors >= 0, got n={n}, distractors={distractors}")
    labels = (torch.arange(n) % 2)[torch.randperm(n, generator=generator)]  # balanced 0/1
    filler_ids = torch.randint(len(SUBJECTS), len(AGREEMENT_VOCAB), (n, distractors), generator=generator)
    inputs = torch.cat([labels.unsqueeze(1), filler_ids], dim=1)  # subject id == label
    return inputs, labels


def agreement_sentence(ids: Tensor, label: int | None = None) -> str:
    """Readable text of one agreement example, with the right verb if ``label`` is given."""
    words = AGREEMENT_VOCAB.decode(ids)
    if label is not None:
        words += [VERBS[label], "full"]
    return " ".join(words)
