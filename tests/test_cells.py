import pytest
import torch
from torch import nn

from helpers import RNNWeights, rnn_forward

CASES = [(seed, batch_first, with_state) for seed in range(4) for batch_first in (True, False) for with_state in (True, False)]


@pytest.mark.parametrize("seed,batch_first,with_state", CASES)
def test_scratch_rnn_equals_nn_rnn(seed, batch_first, with_state):
    gen = torch.Generator().manual_seed(seed)
    batch, time, inp, hid = (int(v) for v in torch.randint(1, 9, (4,), generator=gen))
    torch.manual_seed(seed)
    rnn = nn.RNN(inp, hid, batch_first=batch_first).double()
    w = RNNWeights.from_torch(rnn)
    shape = (batch, time, inp) if batch_first else (time, batch, inp)
    x = torch.randn(shape, dtype=torch.double, generator=gen)
    h0 = torch.randn(1, batch, hid, dtype=torch.double, generator=gen) if with_state else None
    x_ref, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    args_ref = (x_ref,) if h0 is None else (x_ref, h0.clone().requires_grad_())
    args_ours = (x_ours,) if h0 is None else (x_ours, h0.clone().requires_grad_())

    out_ref, h_ref = rnn(*args_ref)
    out, h = rnn_forward(args_ours[0], w, *args_ours[1:], batch_first=batch_first)
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(h, h_ref, rtol=0, atol=1e-12)

    # the same loss, back-propagated through both, gives the same gradients
    probe = torch.randn(out.shape, dtype=torch.double, generator=gen)
    ((out_ref * probe).sum() + h_ref.square().sum()).backward()
    ((out * probe).sum() + h.square().sum()).backward()
    torch.testing.assert_close(w.W_x.grad, rnn.weight_ih_l0.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(w.W_h.grad, rnn.weight_hh_l0.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(w.b.grad, rnn.bias_ih_l0.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(w.b.grad, rnn.bias_hh_l0.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=0, atol=1e-10)
    if with_state:
        torch.testing.assert_close(args_ours[1].grad, args_ref[1].grad, rtol=0, atol=1e-10)


def test_float32_matches_within_float_precision():
    torch.manual_seed(0)
    rnn = nn.RNN(9, 5, batch_first=True)
    x = torch.randn(6, 2, 9)
    out, h = rnn_forward(x, RNNWeights.from_torch(rnn))
    torch.testing.assert_close(out, rnn(x)[0], rtol=1e-6, atol=1e-6)


def test_weights_are_copies_not_views():
    rnn = nn.RNN(3, 4)
    w = RNNWeights.from_torch(rnn)
    with torch.no_grad():
        w.W_x.zero_()
    assert rnn.weight_ih_l0.abs().sum() > 0


def test_clear_errors_for_wrong_shapes_and_layers():
    w = RNNWeights.from_torch(nn.RNN(3, 4))
    with pytest.raises(ValueError, match=r"\(batch, time, input\) with input=3, got shape \(2, 5\)"):
        rnn_forward(torch.zeros(2, 5), w)
    with pytest.raises(ValueError, match=r"input=3, got shape \(2, 5, 7\)"):
        rnn_forward(torch.zeros(2, 5, 7), w)
    with pytest.raises(ValueError, match=r"initial state of shape \(1, 2, 4\)"):
        rnn_forward(torch.zeros(2, 5, 3), w, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="num_layers=2"):
        RNNWeights.from_torch(nn.RNN(3, 4, num_layers=2))
    with pytest.raises(ValueError, match="relu"):
        RNNWeights.from_torch(nn.RNN(3, 4, nonlinearity="relu"))
