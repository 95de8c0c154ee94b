"""helpers.seeds: many seeds trained together equal the same seeds trained one by one."""

import math
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from helpers import (
    AGREEMENT_VOCAB,
    SEED_SENTENCES,
    CharText,
    Fit,
    NextWordModel,
    Online,
    SequenceModel,
    Vocab,
    adding_problem,
    agreement_task,
    fit,
    next_word_tensors,
    run_adding,
    adding_sweep,
    run_adding_seeds,
    run_agreement_seeds,
    seed_everything,
    train_experiments,
    train_seeds,
)

CELLS = ["rnn", "lstm", "gru"]
# Stacked runs multiply with batched kernels, which sum in another order than the fused
# ones, so they agree with the serial runs to rounding, not bit for bit. In float64 one
# rounding is 1.1e-16 relative; measured after 50 steps the gap is at most about 1e-14
# (a few roundings per step, hardly amplified in runs this short). 1e-9 leaves room for
# other CPUs' kernels while still catching any real difference (a wrong gate order, a
# missed clip, a shared Adam state), which shows at 1e-3 or more within a step or two.
RTOL = 1e-9


def adding64(n, generator):
    x, y = adding_problem(n, 8, generator)
    return x.double(), y.double()


def agreement64(n, generator):
    ids, labels = agreement_task(n, 4, generator)
    return AGREEMENT_VOCAB.one_hot(ids).double(), labels


def f64(values):
    return torch.tensor(values, dtype=torch.float64)


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def assert_close_runs(runs, reference):
    assert [r.seed for r in runs] == [r.seed for r in reference]
    for run, ref in zip(runs, reference):
        assert len(run.losses) == len(ref.losses) and run.reached == ref.reached
        torch.testing.assert_close(f64(run.losses), f64(ref.losses), rtol=RTOL, atol=0)
        torch.testing.assert_close(f64(run.grad_norms), f64(ref.grad_norms), rtol=RTOL, atol=0)
        torch.testing.assert_close(weights(run.model), weights(ref.model), rtol=RTOL, atol=1e-12)


def assert_same_runs(runs, reference):
    for run, ref in zip(runs, reference):
        assert run.losses == ref.losses and run.grad_norms == ref.grad_norms and run.reached == ref.reached
        assert torch.equal(weights(run.model), weights(ref.model))


@pytest.mark.parametrize("cell", CELLS)
def test_online_runs_together_equal_runs_one_by_one(cell):
    build = lambda: SequenceModel(2, 8, 1, cell).double()  # noqa: E731
    task = Online(adding64, steps=50, batch_size=16, lr=0.02, clip_norm=0.5)  # clipping is active
    serial = train_seeds(build, task, [0, 1, 2], method="serial")
    assert any(norm > 0.5 for run in serial for norm in run.grad_norms)
    assert len({tuple(r.losses) for r in serial}) == 3  # the seeds really differ
    assert_same_runs(train_seeds(build, task, [0, 1, 2], method="threads"), serial)
    assert_close_runs(train_seeds(build, task, [0, 1, 2], method="stacked"), serial)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("embedding", [None, 4])
def test_fit_runs_together_equal_helpers_fit(cell, embedding):
    vocab = Vocab.build(SEED_SENTENCES, unk=None)
    inputs, targets = next_word_tensors(SEED_SENTENCES, vocab)
    build = lambda: NextWordModel(len(vocab), 5, cell, embedding).double()  # noqa: E731
    task = Fit((inputs, targets), epochs=25, batch_size=4)  # shuffled: 50 steps
    alone = []
    for seed in (0, 1, 2):
        seed_everything(seed)
        model = build()
        alone.append((fit(model, inputs, targets, epochs=25, batch_size=4), model))
    serial = train_seeds(build, task, [0, 1, 2], method="serial")
    for run, (losses, model) in zip(serial, alone):  # fit's own loop, shuffling included
        assert run.losses == losses and torch.equal(weights(run.model), weights(model))
    for run, (losses, model) in zip(train_seeds(build, task, [0, 1, 2], method="stacked"), alone):
        torch.testing.assert_close(f64(run.losses), f64(losses), rtol=RTOL, atol=0)
        torch.testing.assert_close(weights(run.model), weights(model), rtol=RTOL, atol=1e-12)


def test_fit_with_data_per_seed_and_the_full_batch():
    def data(seed):
        x, y = agreement64(16, torch.Generator().manual_seed(100 + seed))
        return x, y

    build = lambda: SequenceModel(len(AGREEMENT_VOCAB), 6, 2, "gru").double()  # noqa: E731
    for batch_size in (None, 8):
        task = Fit(data, epochs=30, batch_size=batch_size, clip_norm=0.1)
        serial = train_seeds(build, task, [0, 1], method="serial")
        stacked = train_seeds(build, task, [0, 1], method="stacked")
        for run, ref in zip(stacked, serial):
            torch.testing.assert_close(f64(run.losses), f64(ref.losses), rtol=RTOL, atol=0)
            torch.testing.assert_close(weights(run.model), weights(ref.model), rtol=RTOL, atol=1e-12)


def test_sgd_with_recorded_updates_and_a_norm_measured_but_never_clipped():
    build = lambda: SequenceModel(2, 8, 1, "rnn").double()  # noqa: E731
    task = Online(adding64, steps=50, batch_size=16, lr=0.05, optimizer="sgd", clip_norm=math.inf, record_updates=True)
    serial = train_seeds(build, task, [0, 1], method="serial")
    stacked = train_seeds(build, task, [0, 1], method="stacked")
    assert_close_runs(stacked, serial)
    for run, ref in zip(stacked, serial):
        assert len(ref.updates) == 50
        torch.testing.assert_close(f64(run.updates), f64(ref.updates), rtol=RTOL, atol=0)
        torch.testing.assert_close(f64(ref.updates), 0.05 * f64(ref.grad_norms), rtol=1e-12, atol=0)


@pytest.mark.parametrize("method", ["stacked", "threads"])
def test_a_run_does_not_depend_on_the_seeds_beside_it(method):
    build = lambda: SequenceModel(2, 8, 1, "lstm").double()  # noqa: E731
    task = Online(adding64, steps=50, batch_size=16, clip_norm=1.0)
    with_three = train_seeds(build, task, [0, 1, 2], method=method)[2]
    with_two = train_seeds(build, task, [2, 5], method=method)[0]
    assert with_three.seed == with_two.seed == 2
    torch.testing.assert_close(f64(with_three.losses), f64(with_two.losses), rtol=RTOL, atol=0)
    torch.testing.assert_close(weights(with_three.model), weights(with_two.model), rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_a_run_that_reaches_its_target_stops_while_the_others_go_on(cell):
    build = lambda: SequenceModel(len(AGREEMENT_VOCAB), 8, 2, cell).double()  # noqa: E731
    task = Online(agreement64, steps=120, batch_size=16, lr=0.02, loss="cross_entropy", target=0.9, window=5)
    seeds = [0, 1, 2, 3]
    serial = train_seeds(build, task, seeds, method="serial")
    reached = [run.reached for run in serial]
    assert len({r for r in reached}) > 1 and any(r is not None for r in reached)  # they stop at different steps
    stacked = train_seeds(build, task, seeds, method="stacked")
    assert_close_runs(stacked, serial)
    for run in stacked:
        if run.reached is not None:
            assert len(run.losses) == len(run.batch_accuracy) == run.reached
            assert sum(run.batch_accuracy[-5:]) / 5 >= 0.9 > sum(run.batch_accuracy[-6:-1]) / 5
    # a stopped run's weights are those after its last step: the same run without a target, cut there
    first = min((r for r in reached if r is not None))
    stopped = next(run for run in stacked if run.reached == first)
    cut = train_seeds(build, Online(agreement64, first, 16, 0.02, "cross_entropy"), [stopped.seed], "stacked")[0]
    torch.testing.assert_close(weights(stopped.model), weights(cut.model), rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_run_that_reaches_its_mse_target_stops_while_the_others_go_on(cell):
    build = lambda: SequenceModel(2, 16, 1, cell).double()  # noqa: E731
    task = Online(adding64, steps=300, batch_size=16, lr=0.03, target=0.05, window=5)
    seeds = [0, 1, 2, 3]
    serial = train_seeds(build, task, seeds, method="serial")
    reached = [run.reached for run in serial]
    assert len(set(reached)) > 1 and any(r is not None for r in reached)  # they stop at different steps
    stacked = train_seeds(build, task, seeds, method="stacked")
    assert_close_runs(stacked, serial)
    assert [r.reached for r in stacked] == reached
    for run in stacked:
        if run.reached is not None:
            assert len(run.losses) == run.reached
            assert sum(run.losses[-5:]) / 5 <= 0.05 < sum(run.losses[-6:-1]) / 5
        else:
            assert len(run.losses) == 300


def test_a_run_whose_loss_overflows_stops_before_its_update():
    def exploding():
        model = SequenceModel(2, 8, 1, "rnn").double()
        with torch.no_grad():
            model.rnn.weight_hh_l0.mul_(6.0)  # SGD with a big step soon overflows
        return model

    task = Online(adding64, steps=60, batch_size=16, lr=50.0, optimizer="sgd")
    serial = train_seeds(exploding, task, [0, 1, 2], method="serial")
    assert any(len(run.losses) < 60 for run in serial)
    stacked = train_seeds(exploding, task, [0, 1, 2], method="stacked")
    for run, ref in zip(stacked, serial):
        assert len(run.losses) == len(ref.losses)
        assert torch.isfinite(weights(run.model)).all() == torch.isfinite(weights(ref.model)).all()


def test_the_protocol_wrappers_give_what_the_single_runs_give():
    runs = run_adding_seeds("gru", 6, 20, [0, 1], hidden_size=8, clip_norm=1.0, method="threads")
    for seed, run in zip((0, 1), runs):
        alone = run_adding("gru", 6, 20, hidden_size=8, clip_norm=1.0, seed=seed)
        assert run.seed == seed and run.losses == alone.losses and run.accuracy == alone.accuracy
    stacked = run_agreement_seeds("lstm", 3, 60, [0, 1], hidden_size=8, batch_size=16, dtype=torch.float64,
                                  target=0.95, window=5, method="stacked")  # fmt: skip
    serial = run_agreement_seeds("lstm", 3, 60, [0, 1], hidden_size=8, batch_size=16, dtype=torch.float64,
                                 target=0.95, window=5, method="serial")  # fmt: skip
    for run, ref in zip(stacked, serial):
        assert run.reached == ref.reached and abs(run.accuracy - ref.accuracy) < 1e-12
        assert next(run.model.parameters()).dtype == torch.float64


def test_several_experiments_share_the_cores():
    task = Online(adding64, steps=10, batch_size=8)
    experiments = {cell: (lambda c=cell: SequenceModel(2, 4, 1, c).double(), task, [0, 1]) for cell in CELLS}
    together = train_experiments(experiments, method="auto")
    for cell in CELLS:
        alone = train_seeds(experiments[cell][0], task, [0, 1], method="serial")
        assert_close_runs(together[cell], alone)


def test_character_models_train_in_threads_as_alone():
    from helpers.charlm import CharLM

    ids = torch.randint(0, 10, (600,), generator=torch.Generator().manual_seed(0))
    task = CharText(ids, steps=6, batch_size=2, seq_len=16, lr=1e-2, final_lr=1e-3)
    build = lambda: CharLM(10, "gru", hidden_size=8, embedding_size=4)  # noqa: E731
    assert_same_runs(train_seeds(build, task, [0, 1, 2], method="threads"), train_seeds(build, task, [0, 1, 2], "serial"))
    with pytest.raises(ValueError, match="cannot stack CharLM"):
        train_seeds(build, task, [0, 1], method="stacked")


class LastStepMLP(torch.nn.Module):
    """A network helpers.stacked knows nothing about: vmap batches its own forward pass."""

    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(16, 8)
        self.out = torch.nn.Linear(8, 1)

    def forward(self, x):  # x (B, 8, 2): the whole sequence, end to end
        return self.out(torch.tanh(self.hidden(x.flatten(1)))).squeeze(-1)


class FusedLSTMTagger(torch.nn.Module):
    """A fused nn.LSTM inside a network of its own: vmap has no batching rule for it."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(2, 4, batch_first=True)
        self.out = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.out(self.lstm(x)[0][:, -1]).squeeze(-1)


def test_any_network_vmap_can_batch_is_stacked_and_the_others_run_in_threads():
    from helpers.seeds import _choose

    task = Online(adding64, steps=50, batch_size=8, clip_norm=0.5)
    build = lambda: LastStepMLP().double()  # noqa: E731
    stacked = train_seeds(build, task, [0, 1, 2], method="stacked")
    assert_close_runs(stacked, train_seeds(build, task, [0, 1, 2], method="serial"))
    assert stacked[0].losses[-1] < 0.5 * stacked[0].losses[0]
    assert _choose("auto", [build(), build()], task, None) == "stacked"
    fused = lambda: FusedLSTMTagger().double()  # noqa: E731
    assert _choose("auto", [fused(), fused()], task, None) == "threads"
    with pytest.raises(ValueError, match="cannot stack FusedLSTMTagger: torch.func.vmap cannot batch"):
        train_seeds(fused, task, [0, 1], method="stacked")


def test_bad_arguments_are_named():
    build = lambda: SequenceModel(2, 4, 1, "rnn")  # noqa: E731
    task = Online(lambda n, g: adding_problem(n, 4, g), steps=2, batch_size=4)
    with pytest.raises(ValueError, match="no seeds given"):
        train_seeds(build, task, [])
    with pytest.raises(ValueError, match=r"repeated: \[1\]"):
        train_seeds(build, task, [0, 1, 1])
    with pytest.raises(TypeError, match="every seed must be an integer, got float: 1.5"):
        train_seeds(build, task, [0, 1.5])
    with pytest.raises(TypeError, match="every seed must be an integer, got bool"):
        train_seeds(build, task, [True])
    with pytest.raises(TypeError, match="seeds must be a list of integers"):
        train_seeds(build, task, 3)
    with pytest.raises(ValueError, match="method must be one of 'auto', 'stacked', 'threads', 'serial', got 'fast'"):
        train_seeds(build, task, [0], method="fast")
    with pytest.raises(ValueError, match="cell must be one of"):
        run_adding_seeds("lstmm", 4, 2, [0])
    with pytest.raises(ValueError, match="loss must be one of 'mse', 'cross_entropy', got 'l1'"):
        Online(task.sample, steps=2, loss="l1")
    with pytest.raises(ValueError, match="loss must be one of 'mse', 'cross_entropy', got None"):
        Fit((torch.zeros(2, 3), torch.zeros(2)), epochs=1, loss=None)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        Online(task.sample, steps=2, optimizer="rmsprop")
    with pytest.raises(ValueError, match="steps must be an integer of at least 1, got 0"):
        Online(task.sample, steps=0)
    with pytest.raises(ValueError, match="target stops on batch accuracy or mean squared error"):
        Online(task.sample, steps=2, loss=lambda output, targets: output.sum(), target=0.9)
    with pytest.raises(TypeError, match="task must be Online, Fit or CharText, got dict"):
        train_seeds(build, {"steps": 2}, [0])
    with pytest.raises(TypeError, match="build must be a function"):
        train_seeds(SequenceModel(2, 4), task, [0])
    sizes = iter([4, 4, 5])
    with pytest.raises(ValueError, match="networks of different shapes or dtypes"):
        train_seeds(lambda: SequenceModel(2, next(sizes), 1, "rnn"), task, [0, 1, 2])
    with pytest.raises(ValueError, match="cannot stack .*ReLU"):
        relu = lambda: SequenceModel(2, 4, 1, "rnn")  # noqa: E731

        def relu_build():
            model = relu()
            model.rnn = torch.nn.RNN(2, 4, batch_first=True, nonlinearity="relu")
            return model

        train_seeds(relu_build, task, [0, 1], method="stacked")


def test_a_sweep_gives_each_setting_what_it_gives_alone() -> None:
    sweep = adding_sweep("rnn", [3, 5], 20, [0, 1], hidden_size=8, dtype=torch.float64)
    for length in (3, 5):
        alone = run_adding_seeds("rnn", length, 20, [0, 1], hidden_size=8, dtype=torch.float64)
        for a, b in zip(sweep[length], alone):
            assert a.seed == b.seed and a.losses == b.losses and a.test_loss == b.test_loss


def meet(folder: Path, processes: int = 2) -> None:
    """Wait until ``processes`` different processes have called this with ``folder``."""
    (folder / str(os.getpid())).touch()
    deadline = time.monotonic() + 60
    while len(list(folder.iterdir())) < processes:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(folder.iterdir()))} of {processes} processes started a job")
        time.sleep(0.01)


class TalkativeNet(torch.nn.Module):
    """On its first forward pass in training, waits until both processes of the call have
    started a job (so two such jobs run one in each process), then prints, or with
    ``fail_in_copy`` fails if it is in a forked copy."""

    meeting: Path
    fail_in_copy = False
    home = os.getpid()

    def __init__(self):
        super().__init__()
        self.spoke = False
        self.out = torch.nn.Linear(2, 1)

    def forward(self, x):
        if torch.is_grad_enabled() and not self.spoke:  # in training, not when probed for stacking
            self.spoke = True
            meet(TalkativeNet.meeting)
            if TalkativeNet.fail_in_copy and os.getpid() != TalkativeNet.home:
                raise ValueError("this network refuses to train")
            print(f"forward in process {os.getpid()}")
        return self.out(x[:, -1]).squeeze(-1)


def talkative_experiments(folder: Path) -> dict:
    """Two one-run experiments of ``TalkativeNet``, meeting in a fresh ``folder``."""
    folder.mkdir()
    TalkativeNet.meeting = folder
    return {name: (lambda: TalkativeNet().double(), Online(adding64, steps=2, batch_size=4), [seed])
            for seed, name in enumerate("ab")}


def test_processes_give_what_threads_give_and_bring_back_what_they_print(monkeypatch, capsys, tmp_path):
    import helpers.seeds as seeds

    if not seeds.FORK:
        pytest.skip("worker processes are forked on Linux only")
    task = Online(adding64, steps=30, batch_size=8, clip_norm=0.5)
    experiments = {"stacked": (lambda: SequenceModel(2, 6, 1, "rnn").double(), task, [0, 1, 2]),
                   "alone": (lambda: SequenceModel(2, 6, 1, "lstm").double(), task, [0, 1])}
    in_processes = train_experiments(experiments, method="auto")
    monkeypatch.setattr(seeds, "FORK", False)
    in_threads = train_experiments(experiments, method="auto")
    for name in experiments:
        assert_same_runs(in_processes[name], in_threads[name])
        assert [r.model.training for r in in_processes[name]] == [r.model.training for r in in_threads[name]]
    monkeypatch.setattr(seeds, "FORK", True)
    monkeypatch.setattr(TalkativeNet, "fail_in_copy", True)
    with pytest.raises(RuntimeError, match="(?s)a worker process failed.*this network refuses to train"):
        train_experiments(talkative_experiments(tmp_path / "failing"), method="threads")
    capsys.readouterr()
    monkeypatch.setattr(TalkativeNet, "fail_in_copy", False)
    train_experiments(talkative_experiments(tmp_path / "talking"), method="threads")
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(set(printed)) == 2  # one line from each process, the copy's brought back
    assert f"forward in process {os.getpid()}" in printed


def test_a_queue_of_many_jobs_runs_each_once_whatever_the_costs(monkeypatch, tmp_path):
    import helpers.seeds as seeds

    log = tmp_path / "ran"
    train_alone = seeds._train_alone

    def logged(model, task, seed, rng_state):  # one line per job started, from whichever process runs it
        with open(log, "a") as f:  # an append of one short line is atomic, across processes too
            f.write(f"{task.steps} {seed}\n")
        return train_alone(model, task, seed, rng_state)

    def jobs_run():
        lines = sorted(log.read_text().splitlines())
        log.unlink()
        return lines

    monkeypatch.setattr(seeds, "_train_alone", logged)
    monkeypatch.setattr(seeds, "_cost", lambda task: 1.0 if task.steps > 20 else 100.0)  # wrong on purpose
    experiments = {steps: (lambda: SequenceModel(2, 5, 1, "lstm").double(), Online(adding64, steps=steps, batch_size=8), range(3))
                   for steps in (5, 10, 40)}
    every_job_once = sorted(f"{steps} {seed}" for steps in experiments for seed in range(3))
    shared = train_experiments(experiments, method="threads")
    assert jobs_run() == every_job_once
    monkeypatch.setattr(seeds, "MAX_QUEUED", 4)  # more jobs than the queue holds: threads
    in_threads = train_experiments(experiments, method="threads")
    assert jobs_run() == every_job_once
    for steps, (build, task, seeds_) in experiments.items():
        serial = train_seeds(build, task, seeds_, method="serial")
        assert_same_runs(shared[steps], serial)
        assert_same_runs(in_threads[steps], serial)


def test_adams_eps_is_the_runs_own_and_stacked_runs_use_it_as_torch_does():
    build = lambda: SequenceModel(len(AGREEMENT_VOCAB), 8, 2, "rnn").double()  # noqa: E731
    seed_everything(0)
    start = weights(build())  # seed 0's initial weights
    task = Online(agreement64, steps=30, batch_size=16, loss="cross_entropy")
    tiny = train_seeds(build, replace(task, adam_eps=1e-30), [0, 1], method="serial")  # torch.optim.Adam's eps
    assert_close_runs(train_seeds(build, replace(task, adam_eps=1e-30), [0, 1], method="stacked"), tiny)
    default = train_seeds(build, task, [0], method="stacked")[0]
    # eps enters every step's divisor, so 1e-30 instead of 1e-8 moves every weight a little
    assert not torch.equal(weights(default.model), weights(tiny[0].model))
    # a large eps shrinks every step: the weights travel far less from where they started
    large = train_seeds(build, replace(task, adam_eps=0.5), [0], method="stacked")[0]
    assert (weights(large.model) - start).abs().max() < 0.5 * (weights(tiny[0].model) - start).abs().max()
    for bad in (0, -1e-8, 1.0, True, "1e-8"):
        with pytest.raises(ValueError, match="adam_eps must be a number above 0 and below 1"):
            Online(agreement64, steps=1, adam_eps=bad)
