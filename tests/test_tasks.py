import pytest
import torch

from helpers import (
    ADDING_TOLERANCE,
    AGREEMENT_VOCAB,
    adding_accuracy,
    adding_problem,
    agreement_sentence,
    agreement_task,
)


def test_adding_problem_shapes_markers_and_targets():
    x, y = adding_problem(500, 30, torch.Generator().manual_seed(0))
    assert x.shape == (500, 30, 2) and y.shape == (500,)
    markers = x[..., 1]
    assert torch.equal(markers.sum(1), torch.full((500,), 2.0))
    assert torch.equal(markers[:, :15].sum(1), torch.ones(500))  # one in each half
    torch.testing.assert_close((x[..., 0] * markers).sum(1), y)
    assert 0 <= x[..., 0].min() and x[..., 0].max() < 1


def test_adding_problem_mean_baseline_is_one_sixth():
    _, y = adding_problem(200_000, 10, torch.Generator().manual_seed(1))
    assert y.mean().item() == pytest.approx(1.0, abs=0.005)
    assert ((y - 1.0) ** 2).mean().item() == pytest.approx(1 / 6, abs=0.002)
    # and predicting the mean is "correct" for only a small fraction of sequences
    assert adding_accuracy(torch.ones_like(y), y) == pytest.approx(0.08 - 0.0016, abs=0.005)


def test_adding_problem_is_reproducible_and_checks_arguments():
    a = adding_problem(4, 8, torch.Generator().manual_seed(3))
    b = adding_problem(4, 8, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="length=1"):
        adding_problem(4, 1)


def test_adding_accuracy_uses_the_tolerance():
    y = torch.tensor([1.0, 1.0, 1.0])
    pred = torch.tensor([1.0 + ADDING_TOLERANCE / 2, 1.0 - ADDING_TOLERANCE * 2, 1.0])
    assert adding_accuracy(pred, y) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="predictions"):
        adding_accuracy(pred, y[:2])


def test_agreement_labels_are_balanced_and_decided_by_the_subject():
    x, y = agreement_task(1001, 12, torch.Generator().manual_seed(0))
    assert x.shape == (1001, 13) and y.shape == (1001,)
    assert abs(int(y.sum()) - 500) <= 1
    assert torch.equal(x[:, 0], y)  # first word: cat (0) -> was, cats (1) -> were
    assert (x[:, 1:] >= 2).all() and (x[:, 1:] < len(AGREEMENT_VOCAB)).all()  # never a subject again
    # the last filler word carries no information about the label
    last = x[:, -1]
    plural_rate = [y[last == v].float().mean().item() for v in last.unique()]
    assert max(abs(r - 0.5) for r in plural_rate) < 0.3


def test_agreement_sentence_text():
    x, y = agreement_task(2, 3, torch.Generator().manual_seed(0))
    text = agreement_sentence(x[0], int(y[0]))
    assert text.split()[0] in ("cat", "cats")
    assert text.endswith("was full" if y[0] == 0 else "were full")
    with pytest.raises(ValueError, match="distractors=-1"):
        agreement_task(4, -1)
