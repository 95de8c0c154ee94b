import pytest
import torch

from helpers import AGREEMENT_VOCAB, SequenceModel, adding_sweep, agreement_sweep, run_adding, run_agreement, train_online


def test_runs_are_reproducible():
    a = run_adding("rnn", length=10, steps=20, hidden_size=8)
    b = run_adding("rnn", length=10, steps=20, hidden_size=8)
    assert a.losses == b.losses and a.accuracy == b.accuracy
    assert a.sequences_seen == 20 * 64


def test_lstm_learns_short_adding_problem_and_agreement():
    adding = run_adding("lstm", length=10, steps=400, hidden_size=16)
    assert adding.test_loss < 0.02 < 1 / 6  # far below the mean-predicting baseline
    assert adding.accuracy > 0.3
    agreement = run_agreement("gru", distractors=5, steps=150, hidden_size=16)
    assert agreement.accuracy > 0.95


def test_untrained_steps_stay_at_chance_on_agreement():
    result = run_agreement("rnn", distractors=3, steps=1, hidden_size=4)
    assert 0.3 < result.accuracy < 0.7


def test_sequence_model_and_train_online_check_their_inputs():
    model = SequenceModel(2, 4, 1, "gru")
    assert model(torch.zeros(3, 5, 2)).shape == (3,)
    assert SequenceModel(2, 4, 3)(torch.zeros(3, 5, 2)).shape == (3, 3)
    with pytest.raises(ValueError, match=r"\(batch, time, 2\), got \(3, 5\)"):
        model(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceModel(2, 4, 1, "lstmm")
    with pytest.raises(ValueError, match="at least 1"):
        train_online(model, lambda n, g: (torch.zeros(n, 5, 2), torch.zeros(n)), steps=0)


def test_runs_on_given_models_in_threads_equal_runs_one_after_another():
    from concurrent.futures import ThreadPoolExecutor

    from helpers import seed_everything

    def fresh(seed):
        seed_everything(seed)
        return SequenceModel(2, 8, 1, "lstm")

    alone = [run_adding("lstm", 10, 15, hidden_size=8, seed=s) for s in (0, 1, 2)]
    assert [r.losses for r in alone] == [run_adding("", 10, 15, seed=s, model=fresh(s)).losses for s in (0, 1, 2)]
    models = [fresh(s) for s in (0, 1, 2)]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda s: run_adding("", 10, 15, seed=s, model=models[s]), (0, 1, 2)))
    assert [r.losses for r in together] == [r.losses for r in alone]
    assert alone[0].losses != alone[1].losses  # the seeds really differ


def test_agreement_runs_on_given_models_equal_fresh_runs():
    from helpers import seed_everything

    seed_everything(3)
    model = SequenceModel(len(AGREEMENT_VOCAB), 8, 2, "gru")
    given = run_agreement("gru", 4, 10, seed=3, model=model)
    assert given.losses == run_agreement("gru", 4, 10, hidden_size=8, seed=3).losses


def test_agreement_sample_equals_the_one_hot_of_agreement_task():
    from helpers import agreement_task
    from helpers.experiments import _agreement_sample

    for dtype in (torch.float32, torch.float64):
        for distractors, n in [(0, 2), (5, 7), (50, 64)]:
            ids, labels = agreement_task(n, distractors, torch.Generator().manual_seed(distractors))
            x, y = _agreement_sample(distractors, dtype)(n, torch.Generator().manual_seed(distractors))
            assert x.dtype == dtype and torch.equal(y, labels)
            assert torch.equal(x, AGREEMENT_VOCAB.one_hot(ids).to(dtype))


def _opened_gru(hidden_size: int) -> SequenceModel:
    """A GRU for the agreement task with its update gate's input bias raised by 1."""
    model = SequenceModel(len(AGREEMENT_VOCAB), hidden_size, 2, "gru")
    with torch.no_grad():
        model.rnn.bias_ih_l0[hidden_size : 2 * hidden_size] += 1.0
    return model


def test_long_lag_sweep_gives_what_the_sweeps_give() -> None:
    from helpers.experiments import LongLag, default_dtype, long_lag_sweep

    together = long_lag_sweep({
        "add": LongLag("adding", "rnn", 6, 5, range(2), hidden_size=4, dtype=torch.float32),
        "agree": LongLag("agreement", "lstm", 3, 5, range(2), hidden_size=4, target=0.99),
    })  # fmt: skip
    alone_add = adding_sweep("rnn", [6], 5, range(2), hidden_size=4, dtype=torch.float32)[6]
    alone_agree = agreement_sweep("lstm", [3], 5, range(2), hidden_size=4, target=0.99)[3]
    assert [r.losses for r in together["add"]] == [r.losses for r in alone_add]
    assert [r.losses for r in together["agree"]] == [r.losses for r in alone_agree]
    # an adding run with a target can stop early, and then keeps only the losses up to its stop
    # (that the rule holds at the stop step and not before, stacked or alone: tests/test_seeds.py)
    stopping = LongLag("adding", "gru", 4, 200, range(2), hidden_size=8, lr=0.03, target=0.08, window=5)
    stopped = long_lag_sweep({"add": stopping})["add"]
    assert any(r.reached is not None for r in stopped)
    for r in stopped:
        assert len(r.losses) == (r.reached or 200)
    opened = lambda: _opened_gru(4)  # noqa: E731
    built = long_lag_sweep({"gru": LongLag("agreement", "gru", 3, 5, range(2), hidden_size=4, build=opened)})["gru"]
    alone_built = agreement_sweep("gru", [3], 5, range(2), hidden_size=4, build=opened)[3]
    assert [r.losses for r in built] == [r.losses for r in alone_built]
    assert [r.losses for r in built] != [r.losses for r in agreement_sweep("gru", [3], 5, range(2), hidden_size=4)[3]]
    before = torch.get_default_dtype()
    with default_dtype(torch.float64):
        assert torch.get_default_dtype() == torch.float64
    assert torch.get_default_dtype() == before
    with pytest.raises(ValueError, match="task must be 'adding' or 'agreement'"):
        LongLag("adding2", "rnn", 6, 5, range(2))
