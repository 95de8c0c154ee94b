"""Train many seeds of one experiment: one call, one result per seed.

    runs = train_seeds(lambda: SequenceModel(2, 32, 1, "rnn"), Online(sample, steps=800), seeds=range(10))

Every run keeps exactly what it would have alone: the weights drawn by ``build()`` right
after ``seed_everything(seed)`` (all networks are built first, one after another, since
seeding is global), its own stream of batches (``torch.Generator().manual_seed(seed)``, as
``train_online`` and ``train_charlm`` use), its own optimiser state, its own gradient
clipping (by its own gradient norm) and its own stopping rule. Three ways to get there:

- ``"serial"``: one run after another, the reference;
- ``"threads"``: the same per-run loop (PyTorch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU``),
  one run per thread on ``workers`` cores; results are identical to ``"serial"``, bit for bit;
- ``"stacked"``: the S networks' weights stacked along a leading seed axis and trained as
  one batched computation (``helpers.stacked``: the book's recurrences written out over the
  seed axis, a network's own ``stacked_forward``, or ``torch.func.vmap`` over its forward);
  Adam or SGD elementwise over one row of weights per seed; each seed clipped by its own
  gradient norm; a seed that stops leaves the stack with its optimiser state. Equal to
  ``"serial"`` to rounding, since batched products sum in another order. ``CharText`` runs
  in threads.

``"auto"`` stacks what can be stacked, except where ``AUTO_LARGE`` and ``LARGE_STEP``
(measured on the book's 2-core machine, see there) say threads of fused kernels are faster.

Whatever the method, the jobs (a run, or a stack) share the ``workers`` cores. On Linux they
run in processes (``FORK``): this one and ``workers - 1`` forked copies of it, each taking
the next job from a shared queue when it is free; the copies send back every run's trained
weights and records. A job's arithmetic is the same as in a thread, bit for bit, without
Python's one interpreter lock between the cores. Elsewhere, in threads.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import traceback
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial

import torch
from torch import Tensor, nn
from torch.func import vmap

from . import stacked
from .checks import check_choice, check_positive, check_seeds
from .models import NextWordModel, SequenceModel
from .training import seed_everything

Build = Callable[[], nn.Module]
Sampler = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]
Data = tuple[Tensor, Tensor] | Callable[[int], tuple[Tensor, Tensor]]
Loss = str | Callable[[Tensor, Tensor], Tensor]
METHODS = ("auto", "stacked", "threads", "serial")
LOSSES = ("mse", "cross_entropy")
OPTIMIZERS = ("adam", "sgd")

# What "auto" picks. Measured with scripts/benchmark.py on the book's 2-core machine (torch 2.13
# CPU; processor time, since other jobs shared the machine): one training step of 10 seeds,
# one after another against stacked, both on one core, in milliseconds for all 10 seeds:
#
#   task, size                      cell   float32 serial/stacked    float64 serial/stacked
#   adding T=100, 32 units, B=64    rnn      69 / 21   (3.4x)          92 / 55   (1.7x)
#                                   lstm     76 / 113  (0.7x)         310 / 352  (0.9x)
#                                   gru     234 / 99   (2.4x)         274 / 256  (1.1x)
#   agreement T=21, 32 units, B=32  rnn      20 / 4.7  (4.2x)          26 / 10   (2.5x)
#                                   lstm     25 / 13   (1.8x)          67 / 32   (2.1x)
#                                   gru      55 / 19   (3.0x)          53 / 23   (2.3x)
#   six sentences, 5 units, B=6     all     6-8 / 0.6-1.3 (6-11x, every cell and dtype)
#
# Threads of the fused kernels gain at most 2x on two cores, so a stack must beat one after
# another on one core by about that much. It does for the RNN at every size and for every
# cell on small steps; on large steps (time x batch x hidden units >= LARGE_STEP, the adding
# problem at T=100) the LSTM (float32: the fused oneDNN kernel) and the float64 GRU do not,
# and train in threads.
LARGE_STEP = 100_000
AUTO_LARGE: dict[tuple[str, torch.dtype], str] = {
    ("rnn", torch.float32): "stacked",
    ("rnn", torch.float64): "stacked",
    ("gru", torch.float32): "stacked",
    ("gru", torch.float64): "threads",
    ("lstm", torch.float32): "threads",
    ("lstm", torch.float64): "threads",
}


# --- what to train ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Online:
    """``train_online``'s protocol: a fresh batch ``sample(batch_size, generator)`` every step.

    ``sample`` returns ``(inputs, targets)``; ``inputs`` may be a tuple of tensors, passed to
    the network as its arguments. ``loss`` is "mse", "cross_entropy", or a function
    ``loss(output, targets)`` giving the batch's mean loss (such as a cross-entropy that skips
    padding). ``clip_norm`` rescales a run's gradient whose norm exceeds it (``math.inf``: measure the
    norm through ``clip_grad_norm_`` and never clip). With ``target``, a run stops once its
    last ``window`` batches, each scored before learning from it, average at least ``target``
    in accuracy (``loss="cross_entropy"``) or at most ``target`` in loss (``loss="mse"``); see
    ``helpers.stacked.reached_target``. A run whose loss is not finite stops
    before that step's update (its weights stay the last finite ones).
    ``record_updates`` keeps the size of every update, ``||theta_after - theta_before||``.
    ``adam_eps`` is Adam's ``eps``, added to each weight's running gradient size before it divides.
    """

    sample: Sampler
    steps: int
    batch_size: int = 64
    lr: float = 0.01
    loss: Loss = "mse"
    clip_norm: float | None = None
    optimizer: str = "adam"
    target: float | None = None
    window: int = 10
    record_updates: bool = False
    adam_eps: float = 1e-8

    def __post_init__(self) -> None:
        check_positive(steps=self.steps, batch_size=self.batch_size, window=self.window)
        if isinstance(self.adam_eps, bool) or not isinstance(self.adam_eps, (int, float)) or not 0 < self.adam_eps < 1:
            raise ValueError(f"adam_eps must be a number above 0 and below 1, got {self.adam_eps!r}")
        if not callable(self.loss):
            check_choice("loss", self.loss, LOSSES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.target is not None and self.loss not in LOSSES:
            raise ValueError("target stops on batch accuracy or mean squared error, so it needs loss='cross_entropy' "
                             "or 'mse', not a loss function")


@dataclass(frozen=True)
class Fit:
    """``fit``'s protocol: Adam over a fixed data set for ``epochs`` epochs.

    ``data`` is ``(inputs, targets)``, shared by every seed, or ``data(seed)`` giving each seed
    its own. ``batch_size=None`` trains on the whole set at once; otherwise each epoch visits
    it in a random order drawn, as ``fit`` draws it, from the global random state that building
    the network left behind (each run gets its own copy of that state).
    """

    data: Data
    epochs: int
    lr: float = 0.01
    loss: str = "cross_entropy"
    batch_size: int | None = None
    clip_norm: float | None = None

    def __post_init__(self) -> None:
        check_positive(epochs=self.epochs)
        if self.batch_size is not None:
            check_positive(batch_size=self.batch_size)
        check_choice("loss", self.loss, LOSSES)


@dataclass(frozen=True)
class CharText:
    """``charlm.train_charlm``'s protocol (truncated BPTT on one text); its arguments."""

    train_ids: Tensor
    steps: int
    batch_size: int = 32
    seq_len: int = 128
    lr: float = 3e-3
    final_lr: float | None = None
    clip_norm: float = 1.0

    def __post_init__(self) -> None:
        check_positive(steps=self.steps, batch_size=self.batch_size, seq_len=self.seq_len)


Task = Online | Fit | CharText


@dataclass
class SeedRun:
    """One seed's trained network and what happened at every step."""

    seed: int
    model: nn.Module
    losses: list[float] = field(default_factory=list)  # every step (Fit: every epoch's mean)
    grad_norms: list[float] = field(default_factory=list)  # Online: before clipping
    updates: list[float] = field(default_factory=list)  # Online with record_updates
    batch_accuracy: list[float] = field(default_factory=list)  # Online, cross_entropy
    reached: int | None = None  # Online with target: the step it was reached


# --- the API -------------------------------------------------------------------------------


def train_seeds(build: Build, task: Task, seeds: Iterable[int], method: str = "auto", workers: int = 2) -> list[SeedRun]:
    """Train ``build()``'s network once per seed on ``task``; one ``SeedRun`` per seed, in order."""
    return train_experiments({None: (build, task, seeds)}, method, workers)[None]


def train_experiments(
    experiments: Mapping[Hashable, tuple[Build, Task, Iterable[int]]], method: str = "auto", workers: int = 2
) -> dict[Hashable, list[SeedRun]]:
    """Several experiments ``{name: (build, task, seeds)}`` sharing the cores; ``{name: runs}``.

    Every network is built first, in order; then the work (one stack per experiment, or one
    job per run) is spread over ``workers`` processes (``FORK``, on Linux) or threads.
    """
    check_choice("method", method, METHODS)
    check_positive(workers=workers)
    if not isinstance(experiments, Mapping) or not experiments:
        raise ValueError("experiments must be a non-empty mapping {name: (build, task, seeds)}")
    jobs: list[Callable[[], list[SeedRun]]] = []
    costs: list[float] = []  # a rough size of each job, to start the longest first
    stacks: list[tuple] = []  # (name, models, task, seeds, rng states) of the stacked experiments
    slots: list[tuple[Hashable, list[int]]] = []  # which experiment and seeds each job fills
    checked: dict[Hashable, list[int]] = {}  # each experiment's seeds, as a list
    for name, spec in experiments.items():
        if not (isinstance(spec, tuple) and len(spec) == 3):
            raise TypeError(f"{_where(name)}expected (build, task, seeds), got {spec!r}")
        build, task, seeds = spec
        seeds = checked[name] = check_seeds(seeds, _where(name))
        if isinstance(build, nn.Module) or not callable(build):
            raise TypeError(f"{_where(name)}build must be a function returning a network "
                            f"(such as lambda: SequenceModel(...)), got {type(build).__name__}")
        if not isinstance(task, (Online, Fit, CharText)):
            raise TypeError(f"{_where(name)}task must be Online, Fit or CharText, got {type(task).__name__}")
        models, rng_states = [], []
        for seed in seeds:  # one after another: seeding is global
            seed_everything(seed)
            models.append(build())
            rng_states.append(torch.get_rng_state())  # where fit's shuffling would go on from
        chosen = _choose(method, models, task, name)
        if chosen == "stacked":  # one stack per experiment: splitting it over the cores measured no faster
            stacks.append((name, models, task, seeds, rng_states))
        else:
            for model, seed, state in zip(models, seeds, rng_states):
                jobs.append(partial(_train_alone, model, task, seed, state))
                slots.append((name, [seed]))
                costs.append(_cost(task))
    for name, models, task, seeds, rng_states in stacks:
        jobs.append(partial(_train_stacked, models, task, seeds, rng_states))
        slots.append((name, seeds))
        costs.append(_cost(task) * len(seeds))
    if method == "serial" or workers == 1 or len(jobs) == 1:
        done = [job() for job in jobs]
    elif FORK and len(jobs) <= MAX_QUEUED:
        done = _in_processes(jobs, costs, workers)
    else:
        done = _in_threads(jobs, costs, workers)
    results: dict[Hashable, dict[int, SeedRun]] = {name: {} for name in experiments}
    for (name, _), runs in zip(slots, done):
        results[name].update({run.seed: run for run in runs})
    return {name: [results[name][seed] for seed in checked[name]] for name in experiments}


# --- sharing the cores ---------------------------------------------------------------------------------

# Fork where it is safe and cheap: Linux (macOS's system libraries do not support fork without exec).
FORK = sys.platform == "linux" and hasattr(os, "fork")


def _models_of(job: Callable[[], list[SeedRun]]) -> list[nn.Module]:
    """The networks a job trains: one (``_train_alone``) or a stack's (``_train_stacked``)."""
    first = job.args[0]
    return list(first) if isinstance(first, list) else [first]


def _in_threads(jobs: list[Callable[[], list[SeedRun]]], costs: list[float], workers: int) -> list[list[SeedRun]]:
    """Run ``jobs`` in ``workers`` threads, the longest first, so that no core is left waiting
    on one long job at the end."""
    order = sorted(range(len(jobs)), key=lambda i: -costs[i])
    with ThreadPoolExecutor(workers) as pool:
        futures = {i: pool.submit(jobs[i]) for i in order}
        return [futures[i].result() for i in range(len(jobs))]


def _in_processes(jobs: list[Callable[[], list[SeedRun]]], costs: list[float], workers: int) -> list[list[SeedRun]]:
    """Run ``jobs`` in this process and ``workers - 1`` forked copies of it. The job numbers
    wait in a pipe, longest first; each process takes the next one whenever it is free, so
    no core idles while another still has a queue (costs are only estimates). A copy trains
    on one thread, prints nothing (its output comes back as text) and sends back, per run,
    the trained weights and the records; the networks here take those weights."""
    queue, fill = os.pipe()
    os.write(fill, b"".join(_JOB.pack(i) for i in sorted(range(len(jobs)), key=lambda i: -costs[i])))
    os.close(fill)  # the queue is complete: an empty read now means no job is left
    children: list[tuple[int, int]] = []
    threads = torch.get_num_threads()
    try:
        for _ in range(workers - 1):
            read, write = os.pipe()
            with warnings.catch_warnings():  # Python 3.12+ warns that a threaded process forks: this copy only trains
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                os.close(read)
                _child(jobs, queue, write)  # never returns
            os.close(write)
            children.append((pid, read))
        torch.set_num_threads(1)  # one core per process
        done: dict[int, list[SeedRun]] = {i: jobs[i]() for i in _take(queue)}
    finally:  # even if a job here failed, take every copy's results, so that none is left waiting
        torch.set_num_threads(threads)
        received = [_receive(pid, read) for pid, read in children]
        os.close(queue)
    failure = None
    for data in received:
        if not data:
            failure = failure or "a worker process ended without sending its results"
            continue
        printed, results = pickle.loads(data)
        sys.stdout.write(printed)
        if isinstance(results, str):  # the worker's traceback
            failure = failure or f"a worker process failed:\n{results}"
            continue
        for i, runs in results:
            models = _models_of(jobs[i])
            for run in runs:
                state, training, position = run.model
                models[position].load_state_dict(state)
                models[position].train(training)
            done[i] = [replace(run, model=models[run.model[2]]) for run in runs]
    if failure:
        raise RuntimeError(failure)
    return [done[i] for i in range(len(jobs))]


_JOB = struct.Struct("<I")  # one job number in the queue
# The queue is written whole before any process reads it, so it must fit in a pipe: one page
# (4 KiB) is what Linux guarantees. More jobs than that train in threads.
MAX_QUEUED = 4096 // _JOB.size


def _take(queue: int) -> Iterator[int]:
    """The next job numbers from the shared queue until it is empty. Reads of a few bytes from
    a pipe are atomic, so no two processes take the same job."""
    while record := os.read(queue, _JOB.size):
        yield _JOB.unpack(record)[0]


def _receive(pid: int, read: int) -> bytes:
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return data


def _child(jobs: list[Callable[[], list[SeedRun]]], queue: int, write: int) -> None:
    """A forked worker: run jobs from ``queue``, send (printed text, results or a traceback), exit at once."""
    printed = io.StringIO()
    sys.stdout = sys.stderr = printed  # the parent's streams belong to its threads (a kernel's, say)
    try:
        torch.set_num_threads(1)  # OpenMP's thread pool does not survive a fork; the book trains on one thread
        results: list | str = []
        for i in _take(queue):
            models = _models_of(jobs[i])
            runs = jobs[i]()
            positions = [next(k for k, m in enumerate(models) if m is run.model) for run in runs]
            results.append((i, [replace(run, model=(run.model.state_dict(), run.model.training, k))
                                for run, k in zip(runs, positions)]))
    except BaseException:
        results = traceback.format_exc()
    try:
        payload = pickle.dumps((printed.getvalue(), results))
        with os.fdopen(write, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(0)  # no cleanup: the parent's files, sockets and threads are not this copy's


# --- choosing the method --------------------------------------------------------------------------------


def _cost(task: Task) -> float:
    """Steps times sequence length: what one run of ``task`` costs, roughly."""
    if isinstance(task, Online):
        return task.steps * _first(task.sample(2, torch.Generator().manual_seed(0))[0]).shape[1]
    if isinstance(task, CharText):
        return task.steps * task.seq_len
    return task.epochs


def _where(name: Hashable) -> str:
    return "" if name is None else f"experiment {name!r}: "


def _first(inputs: stacked.Inputs) -> Tensor:
    return inputs[0] if isinstance(inputs, tuple) else inputs


def _one_batch(task: Online | Fit) -> stacked.Inputs:
    if isinstance(task, Online):
        return task.sample(task.batch_size, torch.Generator().manual_seed(0))[0]
    return (task.data(0) if callable(task.data) else task.data)[0]


def _stackable(model: nn.Module, task: Task) -> str | None:
    """Why ``model`` cannot be stacked, or None if it can."""
    if isinstance(task, CharText):
        return "CharLM (its truncated BPTT runs in threads)"
    if hasattr(type(model), "stacked_forward"):
        return None
    if type(model) not in (SequenceModel, NextWordModel):
        try:  # torch.func.vmap runs the forward pass over a seed axis, if it can batch every operation
            inputs = _one_batch(task)
            inputs = inputs if isinstance(inputs, tuple) else (inputs,)
            with torch.no_grad():
                vmap(lambda *one: model(*one))(*(x[None, :1] for x in inputs))
        except RuntimeError as error:  # such as "Batching rule not implemented for aten::lstm"
            return f"{type(model).__name__}: torch.func.vmap cannot batch its forward pass ({str(error).splitlines()[0]})"
        return None
    rnn = model.rnn
    if rnn.num_layers != 1 or rnn.bidirectional or not rnn.bias or not rnn.batch_first or rnn.proj_size:
        return "a recurrent layer other than one unidirectional layer with biases"
    if isinstance(rnn, nn.RNN) and rnn.nonlinearity != "tanh":
        return "nn.RNN with ReLU"
    return None


def _signature(model: nn.Module) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    return [(n, tuple(p.shape), p.dtype) for n, p in model.named_parameters()]


def _choose(method: str, models: list[nn.Module], task: Task, name: Hashable) -> str:
    first = _signature(models[0])
    for model in models[1:]:
        if type(model) is not type(models[0]) or _signature(model) != first:
            raise ValueError(f"{_where(name)}build() gave networks of different shapes or dtypes "
                             f"({type(models[0]).__name__} {first} vs {type(model).__name__} {_signature(model)})")
    if isinstance(task, CharText) and getattr(models[0], "dropout", 0.0) and method != "serial":
        raise ValueError(f"{_where(name)}dropout draws from the global random state, so only "
                         "method='serial' keeps each run as it is alone")
    why_not = _stackable(models[0], task)
    if method == "stacked" and why_not:
        raise ValueError(f"{_where(name)}cannot stack {why_not}; use method='threads'")
    if method != "auto":
        return method
    if why_not:
        return "threads"
    return _auto(models[0], task)


def _auto(model: nn.Module, task: Online | Fit) -> str:
    """By AUTO_LARGE for the book's recurrent models on large steps; stacked otherwise (see
    the table above)."""
    if type(model) not in (SequenceModel, NextWordModel):
        return "stacked"
    x = _one_batch(task)  # a look at one batch's shape
    batch, time = (task.batch_size if isinstance(task, Online) else task.batch_size or len(x)), x.shape[1]
    if batch * time * model.rnn.hidden_size < LARGE_STEP:
        return "stacked"
    cell = {nn.RNN: "rnn", nn.LSTM: "lstm", nn.GRU: "gru"}[type(model.rnn)]
    return AUTO_LARGE.get((cell, next(model.parameters()).dtype), "threads")


# --- one run: the reference loop ---------------------------------------------------------------


def _loss_fn(loss: Loss) -> Callable[[Tensor, Tensor], Tensor]:
    if callable(loss):
        return loss
    return nn.functional.mse_loss if loss == "mse" else nn.functional.cross_entropy


def _train_alone(model: nn.Module, task: Task, seed: int, rng_state: Tensor) -> list[SeedRun]:
    return [_train_one(model, task, seed, rng_state)]


def _train_one(model: nn.Module, task: Task, seed: int, rng_state: Tensor) -> SeedRun:
    run = SeedRun(seed, model)
    if isinstance(task, CharText):
        from .charlm import train_charlm

        run.losses = train_charlm(model, task.train_ids, task.steps, task.batch_size, task.seq_len, task.lr,
                                  task.final_lr, task.clip_norm, seed)  # fmt: skip
        return run
    loss_fn = _loss_fn(task.loss)
    params = list(model.parameters())
    model.train()
    if isinstance(task, Fit):  # helpers.fit's loop, its shuffling from its own copy of the global state
        inputs, targets = task.data(seed) if callable(task.data) else task.data
        generator = torch.Generator()
        generator.set_state(rng_state)
        optimizer = torch.optim.Adam(params, lr=task.lr)
        for _ in range(task.epochs):
            if task.batch_size is None:
                batches = [(inputs, targets)]
            else:
                order = torch.randperm(len(inputs), generator=generator).split(task.batch_size)
                batches = [(inputs[idx], targets[idx]) for idx in order]
            total = 0.0
            for batch_inputs, batch_targets in batches:
                loss = loss_fn(model(batch_inputs), batch_targets)
                optimizer.zero_grad()
                loss.backward()
                if task.clip_norm is not None:
                    nn.utils.clip_grad_norm_(params, task.clip_norm)
                optimizer.step()
                total += loss.item() * len(batch_targets)
            run.losses.append(total / len(inputs))
        model.eval()
        return run
    generator = torch.Generator().manual_seed(seed)  # train_online's stream of batches
    if task.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=task.lr, eps=task.adam_eps)
    else:
        optimizer = torch.optim.SGD(params, lr=task.lr)
    for step in range(1, task.steps + 1):
        inputs, targets = task.sample(task.batch_size, generator)
        output = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
        loss = loss_fn(output, targets)
        if not torch.isfinite(loss):
            break
        if task.loss == "cross_entropy":
            run.batch_accuracy.append((output.argmax(-1) == targets).float().mean().item())
        optimizer.zero_grad()
        loss.backward()
        if task.clip_norm is None:
            norm = nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
        else:
            norm = nn.utils.clip_grad_norm_(params, task.clip_norm)  # the norm before clipping
        before = torch.cat([p.detach().flatten() for p in params]) if task.record_updates else None
        optimizer.step()
        run.losses.append(loss.item())
        run.grad_norms.append(norm.item())
        if before is not None:
            run.updates.append((torch.cat([p.detach().flatten() for p in params]) - before).norm().item())
        if task.target is not None and step >= task.window and stacked.reached_target(task, run):
            run.reached = step
            break
    model.eval()
    return run




def _train_stacked(models: list[nn.Module], task: Task, seeds: list[int], rng_states: list[Tensor]) -> list[SeedRun]:
    """All seeds of one experiment as one stacked computation (``helpers.stacked``)."""
    runs = [SeedRun(seed, model) for seed, model in zip(seeds, models)]
    if isinstance(task, Fit):
        return stacked.fit(models, task, runs, rng_states)
    return stacked.train_online(models, task, runs)
