"""NextWordModel: sizes checked at the door, any float dtype, empty batches, and a state
that can be carried from one call to the next."""

import pytest
import torch

from helpers import NextWordModel


@pytest.mark.parametrize("embedding_size", [None, 4])
def test_double_precision_models_run(embedding_size):
    torch.manual_seed(0)
    model = NextWordModel(7, 5, "lstm", embedding_size)
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    single = model(ids)
    double = model.double()(ids)
    assert double.dtype == torch.float64
    torch.testing.assert_close(double.float(), single, atol=1e-5, rtol=0)


def test_an_empty_batch_gives_empty_logits():
    model = NextWordModel(7, 5, "gru")
    assert model(torch.zeros(0, 3, dtype=torch.long)).shape == (0, 7)
    assert model.step_logits(torch.zeros(0, 3, dtype=torch.long)).shape == (0, 3, 7)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(embedding_size=0), ValueError, r"embedding_size must be at least 1 \(None means one-hot inputs\), got 0"),
        (dict(embedding_size=-2), ValueError, "embedding_size must be at least 1"),
        (dict(embedding_size=2.5), TypeError, "embedding_size must be an integer, got float"),
        (dict(hidden_size=True), TypeError, "hidden_size must be an integer, got bool"),
        (dict(vocab_size=0), ValueError, "vocab_size must be at least 1, got 0"),
        (dict(cell="LSTM "), ValueError, "cell must be one of"),
    ],
)
def test_sizes_are_checked(kwargs, error, message):
    args = dict(vocab_size=7, hidden_size=5, cell="rnn", embedding_size=None) | kwargs
    with pytest.raises(error, match=message):
        NextWordModel(**args)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_run_carries_the_state_between_calls(cell):
    torch.manual_seed(1)
    model = NextWordModel(9, 6, cell, 3)
    ids = torch.randint(0, 9, (2, 7))
    whole = model.step_logits(ids)
    first, state = model.run(ids[:, :4])
    rest, _ = model.run(ids[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), whole, atol=1e-6, rtol=0)
