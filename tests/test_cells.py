"""The scratch cells against their torch.nn twins, in double precision."""

import pytest
import torch
from torch import nn

from helpers import (
    GRUWeights,
    LSTMWeights,
    RNNWeights,
    gru_forward,
    gru_trace,
    hidden_gradient_norms,
    lstm_forward,
    lstm_trace,
    rnn_forward,
)

KINDS = {
    "rnn": (nn.RNN, RNNWeights, rnn_forward),
    "lstm": (nn.LSTM, LSTMWeights, lstm_forward),
    "gru": (nn.GRU, GRUWeights, gru_forward),
}
CASES = [
    (kind, seed, batch_first, with_state)
    for kind in KINDS
    for seed in range(3)
    for batch_first in (True, False)
    for with_state in (True, False)
]


def leaves(tensors):
    return tuple(t.detach().clone().requires_grad_() for t in tensors)


@pytest.mark.parametrize("kind,seed,batch_first,with_state", CASES)
def test_scratch_cell_equals_torch_nn(kind, seed, batch_first, with_state):
    layer_type, weights_type, forward = KINDS[kind]
    gen = torch.Generator().manual_seed(seed)
    batch, time, n_in, n_hid = (int(v) for v in torch.randint(1, 9, (4,), generator=gen))
    torch.manual_seed(seed)
    layer = layer_type(n_in, n_hid, batch_first=batch_first).double()
    w = weights_type.from_torch(layer)
    shape = (batch, time, n_in) if batch_first else (time, batch, n_in)
    x = torch.randn(shape, dtype=torch.double, generator=gen)
    n_states = 2 if kind == "lstm" else 1
    states = [torch.randn(1, batch, n_hid, dtype=torch.double, generator=gen) for _ in range(n_states)]

    x_ref, x_ours = leaves([x]) + leaves([x])
    s_ref, s_ours = leaves(states), leaves(states)
    pack = (lambda s: tuple(s)) if kind == "lstm" else (lambda s: s[0])
    if with_state:
        out_ref, last_ref = layer(x_ref, pack(s_ref))
        out, last = forward(x_ours, w, pack(s_ours), batch_first=batch_first)
    else:
        out_ref, last_ref = layer(x_ref)
        out, last = forward(x_ours, w, batch_first=batch_first)
    last_ref = last_ref if kind == "lstm" else (last_ref,)
    last = last if kind == "lstm" else (last,)
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-12)
    for mine, theirs in zip(last, last_ref, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-12)

    # the same loss, back-propagated through both, gives the same gradients
    probe = torch.randn(out.shape, dtype=torch.double, generator=gen)
    ((out_ref * probe).sum() + sum(s.square().sum() for s in last_ref)).backward()
    ((out * probe).sum() + sum(s.square().sum() for s in last)).backward()
    close = dict(rtol=0, atol=1e-10)
    torch.testing.assert_close(w.W_x.grad, layer.weight_ih_l0.grad, **close)
    torch.testing.assert_close(w.W_h.grad, layer.weight_hh_l0.grad, **close)
    if kind == "gru":
        torch.testing.assert_close(w.b_x.grad, layer.bias_ih_l0.grad, **close)
        torch.testing.assert_close(w.b_h.grad, layer.bias_hh_l0.grad, **close)
    else:  # one summed bias: its gradient equals each torch bias's gradient
        torch.testing.assert_close(w.b.grad, layer.bias_ih_l0.grad, **close)
        torch.testing.assert_close(w.b.grad, layer.bias_hh_l0.grad, **close)
    torch.testing.assert_close(x_ours.grad, x_ref.grad, **close)
    if with_state:
        for mine, theirs in zip(s_ours, s_ref, strict=True):
            torch.testing.assert_close(mine.grad, theirs.grad, **close)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_and_no_bias(kind):
    layer_type, weights_type, forward = KINDS[kind]
    torch.manual_seed(0)
    layer = layer_type(9, 5, batch_first=True, bias=False)
    x = torch.randn(6, 2, 9)
    torch.testing.assert_close(forward(x, weights_type.from_torch(layer))[0], layer(x)[0], rtol=1e-6, atol=1e-6)


def test_traces_agree_with_torch_and_gates_lie_in_range():
    torch.manual_seed(0)
    x = torch.randn(3, 7, 4)
    lstm, gru = nn.LSTM(4, 5, batch_first=True), nn.GRU(4, 5, batch_first=True)
    trace = lstm_trace(x, LSTMWeights.from_torch(lstm))
    output, (_, c_n) = lstm(x)
    torch.testing.assert_close(trace["hidden"], output)
    torch.testing.assert_close(trace["cell"][:, -1], c_n[0])
    for gate in ("input", "forget", "output"):
        assert trace[gate].shape == (3, 7, 5)
        assert 0 < trace[gate].min() and trace[gate].max() < 1
    assert trace["candidate"].abs().max() < 1
    g_trace = gru_trace(x, GRUWeights.from_torch(gru))
    torch.testing.assert_close(g_trace["hidden"], gru(x)[0])
    assert set(g_trace) == {"reset", "update", "candidate", "hidden"}


@pytest.mark.parametrize("layer_type", [nn.RNN, nn.LSTM, nn.GRU])
def test_gradient_norms_match_autograd_through_torch_nn(layer_type):
    torch.manual_seed(0)
    layer = layer_type(3, 6, batch_first=True).double()
    x = torch.randn(2, 10, 3, dtype=torch.double)
    norms = hidden_gradient_norms(layer, x)
    assert norms.shape == (10,)
    # reference: dL/dh_t via nn.RNN run in two pieces, with h_t fed in as a leaf
    for t in (0, 4, 9):
        prefix_out, state = layer(x[:, : t + 1])
        state = tuple(s.detach().requires_grad_() for s in state) if layer_type is nn.LSTM else state.detach().requires_grad_()
        h_t = state[0] if layer_type is nn.LSTM else state
        if t < 9:
            _, last = layer(x[:, t + 1 :], state)
            last_h = last[0] if layer_type is nn.LSTM else last
        else:
            last_h = h_t
        last_h[0].sum().backward()
        expected = h_t.grad[0].norm(dim=-1).mean()
        torch.testing.assert_close(norms[t], expected, rtol=1e-9, atol=1e-12)


def test_vanilla_rnn_gradients_vanish_with_small_recurrent_weights_and_grow_with_large():
    torch.manual_seed(0)
    x = torch.randn(8, 40, 4)
    ratios = []
    for scale in (0.5, 3.0):
        rnn = nn.RNN(4, 32, batch_first=True)
        with torch.no_grad():
            q, _ = torch.linalg.qr(torch.randn(32, 32))
            rnn.weight_hh_l0.copy_(scale * q)  # orthogonal, every singular value == scale
            rnn.weight_ih_l0.mul_(0.1)
        norms = hidden_gradient_norms(rnn, x)
        ratios.append((norms[0] / norms[-1]).item())
    assert ratios[0] < 1e-6  # 40 steps back, almost nothing is left
    assert ratios[1] > 1  # large recurrent weights: the gradient grows going back


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
    with pytest.raises(ValueError, match="bidirectional=True"):
        GRUWeights.from_torch(nn.GRU(3, 4, bidirectional=True))
    with pytest.raises(ValueError, match="relu"):
        RNNWeights.from_torch(nn.RNN(3, 4, nonlinearity="relu"))
    with pytest.raises(TypeError, match="expected LSTM, got GRU"):
        LSTMWeights.from_torch(nn.GRU(3, 4))
    with pytest.raises(ValueError, match="proj_size=2"):
        LSTMWeights.from_torch(nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(TypeError, match="nn.RNN, nn.LSTM or nn.GRU"):
        hidden_gradient_norms(nn.Linear(3, 4), torch.zeros(1, 2, 3))


def test_weights_are_copies_not_views():
    rnn = nn.RNN(3, 4)
    w = RNNWeights.from_torch(rnn)
    with torch.no_grad():
        w.W_x.zero_()
    assert rnn.weight_ih_l0.abs().sum() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_sequence_of_length_zero_is_refused_clearly(kind):
    layer_type, weights_type, forward = KINDS[kind]
    layer = layer_type(3, 4, batch_first=True)
    w = weights_type.from_torch(layer)
    with pytest.raises(RuntimeError):  # torch.nn refuses it too
        layer(torch.zeros(2, 0, 3))
    for batch_first, shape in [(True, (2, 0, 3)), (False, (0, 2, 3))]:
        with pytest.raises(ValueError, match=r"at least one time step, got an input of shape"):
            forward(torch.zeros(shape), w, batch_first=batch_first)
    with pytest.raises(ValueError, match="at least one time step"):
        hidden_gradient_norms(layer, torch.zeros(2, 0, 3))
    trace = {"lstm": lstm_trace, "gru": gru_trace}.get(kind)
    if trace is not None:
        with pytest.raises(ValueError, match="at least one time step"):
            trace(torch.zeros(2, 0, 3), w)


@pytest.mark.parametrize("kind", KINDS)
def test_hidden_gradient_norms_reads_a_time_first_layer_as_time_first(kind):
    layer_type = KINDS[kind][0]
    torch.manual_seed(0)
    batch_first = layer_type(3, 4, batch_first=True).double()
    time_first = layer_type(3, 4, batch_first=False).double()
    time_first.load_state_dict(batch_first.state_dict())
    x = torch.randn(5, 8, 3, dtype=torch.double)  # (batch 5, time 8, input 3)
    expected = hidden_gradient_norms(batch_first, x)
    assert expected.shape == (8,)
    torch.testing.assert_close(hidden_gradient_norms(time_first, x.transpose(0, 1)), expected)
