"""The long-lag experiments of chapters 3 to 5, one protocol for every cell type.

Each run trains a fresh ``SequenceModel`` online (new sequences at every step) and scores
it on held-out sequences drawn with a fixed generator, so RNN, LSTM and GRU are always
compared on the very same test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .models import SequenceModel
from .tasks import AGREEMENT_VOCAB, adding_accuracy, adding_problem, agreement_task
from .training import seed_everything, train_online

TEST_SEED = 1234  # held-out sequences come from their own generator, not the training stream


@dataclass
class RunResult:
    """A trained model, its loss at every step and its held-out score."""

    model: SequenceModel
    losses: list[float]
    accuracy: float  # adding: fraction within 0.04; agreement: fraction of labels right
    test_loss: float  # adding: MSE; agreement: cross-entropy
    batch_size: int

    @property
    def sequences_seen(self) -> int:
        """Training sequences used, the unit Hochreiter & Schmidhuber (1997) report."""
        return len(self.losses) * self.batch_size


def run_adding(
    cell: str,
    length: int,
    steps: int,
    hidden_size: int = 32,
    batch_size: int = 64,
    lr: float = 0.01,
    clip_norm: float | None = None,
    seed: int = 0,
    n_test: int = 1000,
    model: SequenceModel | None = None,
) -> RunResult:
    """Train ``cell`` on the adding problem with sequences of ``length`` steps.

    ``model`` trains a network built beforehand (``cell`` and ``hidden_size`` are then
    ignored) instead of a fresh one drawn after seeding. The run itself touches no global
    random state, so several such runs may train at once in threads.
    """
    if model is None:
        seed_everything(seed)
        model = SequenceModel(2, hidden_size, 1, cell)
    losses = train_online(
        model, lambda n, g: adding_problem(n, length, g), steps, batch_size, lr,
        nn.functional.mse_loss, clip_norm, seed,
    )  # fmt: skip
    x, y = adding_problem(n_test, length, torch.Generator().manual_seed(TEST_SEED))
    with torch.no_grad():
        prediction = model(x)
    mse = nn.functional.mse_loss(prediction, y).item()
    return RunResult(model, losses, adding_accuracy(prediction, y), mse, batch_size)


def run_agreement(
    cell: str,
    distractors: int,
    steps: int,
    hidden_size: int = 32,
    batch_size: int = 64,
    lr: float = 0.01,
    clip_norm: float | None = None,
    seed: int = 0,
    n_test: int = 1000,
    model: SequenceModel | None = None,
) -> RunResult:
    """Train ``cell`` on the cat/cats agreement task with ``distractors`` filler words.

    ``model``, as in ``run_adding``: a network built beforehand, trained without touching
    global random state.
    """
    if model is None:
        seed_everything(seed)
        model = SequenceModel(len(AGREEMENT_VOCAB), hidden_size, 2, cell)

    def sample(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        ids, labels = agreement_task(n, distractors, generator)
        return AGREEMENT_VOCAB.one_hot(ids), labels

    losses = train_online(
        model, sample, steps, batch_size, lr, nn.functional.cross_entropy, clip_norm, seed
    )
    x, y = sample(n_test, torch.Generator().manual_seed(TEST_SEED))
    with torch.no_grad():
        logits = model(x)
    accuracy = (logits.argmax(-1) == y).float().mean().item()
    test_loss = nn.functional.cross_entropy(logits, y).item()
    return RunResult(model, losses, accuracy, test_loss, batch_size)
