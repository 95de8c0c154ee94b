"""The long-lag experiments of chapters 3 to 5, one protocol for every cell type.

Each run trains a fresh ``SequenceModel`` online (new sequences at every step) and scores
it on held-out sequences drawn with a fixed generator, so RNN, LSTM and GRU are always
compared on the very same test set.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .models import RECURRENT_LAYERS, SequenceModel
from .seeds import Online, SeedRun, _train_one, train_experiments
from .tasks import AGREEMENT_VOCAB, adding_accuracy, adding_problem, agreement_task

TEST_SEED = 1234  # held-out sequences come from their own generator, not the training stream


@dataclass
class RunResult:
    """A trained model, its loss at every step and its held-out score."""

    model: SequenceModel
    losses: list[float]
    accuracy: float  # adding: fraction within 0.04; agreement: fraction of labels right
    test_loss: float  # adding: MSE; agreement: cross-entropy
    batch_size: int
    seed: int | None = None
    batch_accuracy: list[float] = field(default_factory=list)  # agreement: each batch, scored before learning
    reached: int | None = None  # with a target: the step it was reached (None: not within the steps)

    @property
    def sequences_seen(self) -> int:
        """Training sequences used, the unit Hochreiter & Schmidhuber (1997) report."""
        return len(self.losses) * self.batch_size


def _adding_sample(length: int, dtype: torch.dtype) -> Callable[[int, torch.Generator], tuple[Tensor, Tensor]]:
    def sample(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        x, y = adding_problem(n, length, generator)
        return x.to(dtype), y.to(dtype)  # no copy when the dtype is already right

    return sample


def _agreement_sample(distractors: int, dtype: torch.dtype) -> Callable[[int, torch.Generator], tuple[Tensor, Tensor]]:
    vocab_size = len(AGREEMENT_VOCAB)

    def sample(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        ids, labels = agreement_task(n, distractors, generator)
        # AGREEMENT_VOCAB.one_hot(ids).to(dtype), the same tensor, written straight into ``dtype``
        # without one_hot's checks of ids that agreement_task made: half the time of a call,
        # which runs at every step of every seed
        return torch.zeros(n, distractors + 1, vocab_size, dtype=dtype).scatter_(2, ids.unsqueeze(-1), 1.0), labels

    return sample


def _adding_result(run: SeedRun, length: int, n_test: int, batch_size: int) -> RunResult:
    dtype = next(run.model.parameters()).dtype
    x, y = _adding_sample(length, dtype)(n_test, torch.Generator().manual_seed(TEST_SEED))
    with torch.no_grad():
        prediction = run.model(x)
    mse = nn.functional.mse_loss(prediction, y).item()
    return RunResult(run.model, run.losses, adding_accuracy(prediction, y), mse, batch_size, run.seed,
                     run.batch_accuracy, run.reached)  # fmt: skip


def _agreement_result(run: SeedRun, distractors: int, n_test: int, batch_size: int) -> RunResult:
    dtype = next(run.model.parameters()).dtype
    x, y = _agreement_sample(distractors, dtype)(n_test, torch.Generator().manual_seed(TEST_SEED))
    with torch.no_grad():
        logits = run.model(x)
    accuracy = (logits.argmax(-1) == y).float().mean().item()
    test_loss = nn.functional.cross_entropy(logits, y).item()
    return RunResult(run.model, run.losses, accuracy, test_loss, batch_size, run.seed, run.batch_accuracy, run.reached)


def _builder(cell: str, n_in: int, hidden_size: int, n_out: int, dtype: torch.dtype | None,
             build: Callable[[], SequenceModel] | None) -> Callable[[], SequenceModel]:  # fmt: skip
    if build is not None:
        return build
    if not isinstance(cell, str) or cell not in RECURRENT_LAYERS:
        raise ValueError(f"cell must be one of {sorted(RECURRENT_LAYERS)}, got {cell!r}")
    return lambda: SequenceModel(n_in, hidden_size, n_out, cell).to(dtype or torch.get_default_dtype())


def adding_sweep(
    cell: str,
    lengths: Iterable[int],
    steps: int,
    seeds: Iterable[int],
    hidden_size: int = 32,
    batch_size: int = 64,
    lr: float = 0.01,
    clip_norm: float | None = None,
    n_test: int = 1000,
    dtype: torch.dtype | None = None,
    build: Callable[[], SequenceModel] | None = None,
    method: str = "auto",
) -> dict[int, list[RunResult]]:
    """``run_adding`` for every length and seed, trained together by ``helpers.seeds``
    (the lengths share the cores); ``{length: one result per seed}``.

    ``dtype`` (default: torch's default dtype) is the sequences' and the network's: a fresh
    network is converted with ``.to(dtype)``, as ``.double()`` does. ``build`` replaces the
    network (called right after ``seed_everything(seed)``; it must return that dtype).
    """
    builder = _builder(cell, 2, hidden_size, 1, dtype, build)
    dtype = dtype or torch.get_default_dtype()
    seeds = list(seeds)
    experiments = {length: (builder, Online(_adding_sample(length, dtype), steps, batch_size, lr, "mse", clip_norm), seeds)
                   for length in lengths}  # fmt: skip
    runs = train_experiments(experiments, method)
    return {length: [_adding_result(run, length, n_test, batch_size) for run in runs[length]] for length in runs}


def agreement_sweep(
    cell: str,
    distractors: Iterable[int],
    steps: int,
    seeds: Iterable[int],
    hidden_size: int = 32,
    batch_size: int = 64,
    lr: float = 0.01,
    clip_norm: float | None = None,
    n_test: int = 1000,
    dtype: torch.dtype | None = None,
    build: Callable[[], SequenceModel] | None = None,
    target: float | None = None,
    window: int = 10,
    method: str = "auto",
) -> dict[int, list[RunResult]]:
    """``run_agreement`` for every number of distractors and seed (see ``adding_sweep``). With
    ``target``, a run stops once its last ``window`` batches, each scored before learning from
    it, averaged ``target``."""
    builder = _builder(cell, len(AGREEMENT_VOCAB), hidden_size, 2, dtype, build)
    dtype = dtype or torch.get_default_dtype()
    seeds = list(seeds)
    experiments = {d: (builder, Online(_agreement_sample(d, dtype), steps, batch_size, lr, "cross_entropy", clip_norm,
                                       target=target, window=window), seeds)
                   for d in distractors}  # fmt: skip
    runs = train_experiments(experiments, method)
    return {d: [_agreement_result(run, d, n_test, batch_size) for run in runs[d]] for d in runs}


@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """torch's default dtype set to ``dtype`` inside the block, restored after it. Chapter 3
    draws its networks and sequences in float64 and then trains its sweeps in float32; a
    chapter that wants the very same runs draws them the same way."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


@dataclass(frozen=True)
class LongLag:
    """One long-lag experiment for ``long_lag_sweep``: ``task`` "adding" (``length`` = sequence
    length) or "agreement" (``length`` = filler words), with the settings of ``adding_sweep``
    and ``agreement_sweep``; ``build`` replaces the network as there. ``target`` stops a run
    as in ``agreement_sweep``; for adding, once its last ``window`` batches average at most
    ``target`` in MSE. ``adam_eps``: Adam's ``eps``, as in ``Online``."""

    task: str
    cell: str
    length: int
    steps: int
    seeds: tuple[int, ...]
    hidden_size: int = 32
    batch_size: int = 64
    lr: float = 0.01
    clip_norm: float | None = None
    n_test: int = 1000
    dtype: torch.dtype | None = None
    target: float | None = None
    window: int = 10
    build: Callable[[], SequenceModel] | None = None
    adam_eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.task not in ("adding", "agreement"):
            raise ValueError(f"task must be 'adding' or 'agreement', got {self.task!r}")
        object.__setattr__(self, "seeds", tuple(self.seeds))


def long_lag_sweep(experiments: dict[Hashable, LongLag], method: str = "auto") -> dict[Hashable, list[RunResult]]:
    """Several ``LongLag`` experiments, adding and agreement, any cells, trained together by
    ``helpers.seeds`` (so they share the cores); ``{name: one result per seed}``. Each
    experiment gives what ``adding_sweep`` or ``agreement_sweep`` gives with its settings."""
    runs = train_experiments(long_lag_specs(experiments), method)
    results = {}
    for name, e in experiments.items():
        score = _adding_result if e.task == "adding" else _agreement_result
        results[name] = [score(run, e.length, e.n_test, e.batch_size) for run in runs[name]]
    return results


def long_lag_specs(experiments: dict[Hashable, LongLag]) -> dict[Hashable, tuple]:
    """What ``long_lag_sweep`` gives ``train_experiments``: ``{name: (build, task, seeds)}``."""
    specs = {}
    for name, e in experiments.items():
        dtype = e.dtype or torch.get_default_dtype()
        if e.task == "adding":
            builder = _builder(e.cell, 2, e.hidden_size, 1, e.dtype, e.build)
            task = Online(_adding_sample(e.length, dtype), e.steps, e.batch_size, e.lr, "mse", e.clip_norm,
                          target=e.target, window=e.window, adam_eps=e.adam_eps)  # fmt: skip
        else:
            builder = _builder(e.cell, len(AGREEMENT_VOCAB), e.hidden_size, 2, e.dtype, e.build)
            task = Online(_agreement_sample(e.length, dtype), e.steps, e.batch_size, e.lr, "cross_entropy",
                          e.clip_norm, target=e.target, window=e.window, adam_eps=e.adam_eps)  # fmt: skip
        specs[name] = (builder, task, e.seeds)
    return specs


def run_adding_seeds(cell: str, length: int, steps: int, seeds: Iterable[int], **settings) -> list[RunResult]:
    """``run_adding`` once per seed: ``adding_sweep`` at one length."""
    return adding_sweep(cell, [length], steps, seeds, **settings)[length]


def run_agreement_seeds(cell: str, distractors: int, steps: int, seeds: Iterable[int], **settings) -> list[RunResult]:
    """``run_agreement`` once per seed: ``agreement_sweep`` at one number of distractors."""
    return agreement_sweep(cell, [distractors], steps, seeds, **settings)[distractors]


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
        return run_adding_seeds(cell, length, steps, [seed], hidden_size=hidden_size, batch_size=batch_size, lr=lr,
                                clip_norm=clip_norm, n_test=n_test, method="serial")[0]  # fmt: skip
    dtype = next(model.parameters()).dtype
    task = Online(_adding_sample(length, dtype), steps, batch_size, lr, "mse", clip_norm)
    return _adding_result(_train_one(model, task, seed, None), length, n_test, batch_size)


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
        return run_agreement_seeds(cell, distractors, steps, [seed], hidden_size=hidden_size, batch_size=batch_size,
                                   lr=lr, clip_norm=clip_norm, n_test=n_test, method="serial")[0]  # fmt: skip
    dtype = next(model.parameters()).dtype
    task = Online(_agreement_sample(distractors, dtype), steps, batch_size, lr, "cross_entropy", clip_norm)
    return _agreement_result(_train_one(model, task, seed, None), distractors, n_test, batch_size)
