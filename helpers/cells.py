"""Recurrent cells written from scratch, to be read, and their `torch.nn` twins' weights.

Each cell is a function of one time step; ``*_forward`` unrolls it over a sequence
with a plain Python loop and has the interface of the `torch.nn` layer (one layer, one
direction). ``*_trace`` returns every intermediate value, for plots. Tests check every
cell against `torch.nn`, forward and backward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

# ---------------------------------------------------------------- vanilla RNN


@dataclass
class RNNWeights:
    """Weights of one vanilla RNN layer: ``h_t = tanh(W_x x_t + W_h h_{t-1} + b)``."""

    W_x: Tensor  # (hidden, input)
    W_h: Tensor  # (hidden, hidden)
    b: Tensor  # (hidden,)

    @classmethod
    def from_torch(cls, rnn: nn.RNN) -> RNNWeights:
        """Copy the weights of a one-layer, one-direction ``nn.RNN`` with tanh.

        `torch.nn` keeps two biases (``b_ih`` and ``b_hh``); they only ever appear
        summed, so the scratch cell keeps one.
        """
        _check_single_layer(rnn, nn.RNN)
        if rnn.nonlinearity != "tanh":
            raise ValueError(f"expected nonlinearity='tanh', got {rnn.nonlinearity!r}")
        W_x, W_h, b_x, b_h = _copy_weights(rnn)
        return cls(W_x=W_x, W_h=W_h, b=(b_x + b_h).detach().requires_grad_())


def rnn_cell(x: Tensor, hidden: Tensor, w: RNNWeights) -> Tensor:
    """One step. ``x``: (batch, input), ``hidden``: (batch, hidden) -> (batch, hidden)."""
    return torch.tanh(x @ w.W_x.T + hidden @ w.W_h.T + w.b)


def rnn_forward(
    x: Tensor, w: RNNWeights, hidden: Tensor | None = None, batch_first: bool = True
) -> tuple[Tensor, Tensor]:
    """Unroll ``rnn_cell`` over a sequence, with the interface of ``nn.RNN``.

    ``x`` is (batch, time, input) if ``batch_first`` else (time, batch, input);
    ``hidden`` is the initial state (1, batch, hidden), zeros if omitted.
    Returns every step's hidden state (shaped like ``x`` but with ``hidden`` features)
    and the last one, ``h_n``, of shape (1, batch, hidden).
    """
    steps = _time_first(x, batch_first, w.W_x.shape[1])  # (time, batch, input)
    h = _initial_state(hidden, steps, w.W_h.shape[1])  # (batch, hidden)
    outputs = []
    for x_t in steps:
        h = rnn_cell(x_t, h, w)
        outputs.append(h)
    return _stack(outputs, batch_first), h.unsqueeze(0)


# ---------------------------------------------------------------- LSTM


@dataclass
class LSTMWeights:
    """Weights of one LSTM layer. The four row blocks of ``W_x``, ``W_h`` and ``b`` belong,
    in `torch.nn`'s order, to the input gate, the forget gate, the candidate and the
    output gate."""

    W_x: Tensor  # (4 * hidden, input)
    W_h: Tensor  # (4 * hidden, hidden)
    b: Tensor  # (4 * hidden,)

    @classmethod
    def from_torch(cls, lstm: nn.LSTM) -> LSTMWeights:
        """Copy the weights of a one-layer, one-direction ``nn.LSTM`` (biases summed)."""
        _check_single_layer(lstm, nn.LSTM)
        if lstm.proj_size:
            raise ValueError(f"projections are not modelled, got proj_size={lstm.proj_size}")
        W_x, W_h, b_x, b_h = _copy_weights(lstm)
        return cls(W_x=W_x, W_h=W_h, b=(b_x + b_h).detach().requires_grad_())


def lstm_gates(x: Tensor, hidden: Tensor, w: LSTMWeights) -> dict[str, Tensor]:
    """The three gates and the candidate at one step, each (batch, hidden)."""
    pre = x @ w.W_x.T + hidden @ w.W_h.T + w.b  # (batch, 4 * hidden)
    i, f, g, o = pre.chunk(4, dim=1)
    return {
        "input": torch.sigmoid(i),  # how much of the candidate to write
        "forget": torch.sigmoid(f),  # how much of the old cell to keep
        "candidate": torch.tanh(g),  # what could be written
        "output": torch.sigmoid(o),  # how much of the cell to show as h
    }


def lstm_cell(
    x: Tensor, state: tuple[Tensor, Tensor], w: LSTMWeights
) -> tuple[Tensor, Tensor]:
    """One step: (hidden, cell) -> new (hidden, cell), each (batch, hidden)."""
    hidden, cell = state
    gate = lstm_gates(x, hidden, w)
    cell = gate["forget"] * cell + gate["input"] * gate["candidate"]  # the conveyor belt
    hidden = gate["output"] * torch.tanh(cell)
    return hidden, cell


def lstm_forward(
    x: Tensor,
    w: LSTMWeights,
    state: tuple[Tensor, Tensor] | None = None,
    batch_first: bool = True,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """Unroll ``lstm_cell``, with the interface of ``nn.LSTM``: returns
    ``output, (h_n, c_n)``; ``state`` is ``(h_0, c_0)``, each (1, batch, hidden)."""
    steps = _time_first(x, batch_first, w.W_x.shape[1])
    size = w.W_h.shape[1]
    h0, c0 = (None, None) if state is None else state
    h, c = _initial_state(h0, steps, size), _initial_state(c0, steps, size)
    outputs = []
    for x_t in steps:
        h, c = lstm_cell(x_t, (h, c), w)
        outputs.append(h)
    return _stack(outputs, batch_first), (h.unsqueeze(0), c.unsqueeze(0))


def lstm_trace(x: Tensor, w: LSTMWeights) -> dict[str, Tensor]:
    """Every gate, the cell and the hidden state at every step, for x (batch, time, input);
    each value is (batch, time, hidden)."""
    steps = _time_first(x, True, w.W_x.shape[1])
    h = c = steps.new_zeros(steps.shape[1], w.W_h.shape[1])
    trace: dict[str, list[Tensor]] = {}
    for x_t in steps:
        gate = lstm_gates(x_t, h, w)
        c = gate["forget"] * c + gate["input"] * gate["candidate"]
        h = gate["output"] * torch.tanh(c)
        for name, value in {**gate, "cell": c, "hidden": h}.items():
            trace.setdefault(name, []).append(value)
    return {name: torch.stack(values, dim=1) for name, values in trace.items()}


# ---------------------------------------------------------------- GRU


@dataclass
class GRUWeights:
    """Weights of one GRU layer. The three row blocks belong, in `torch.nn`'s order, to
    the reset gate, the update gate and the candidate. The GRU keeps both biases: the
    reset gate multiplies ``W_h h + b_h`` of the candidate, so they do not simply add."""

    W_x: Tensor  # (3 * hidden, input)
    W_h: Tensor  # (3 * hidden, hidden)
    b_x: Tensor  # (3 * hidden,)
    b_h: Tensor  # (3 * hidden,)

    @classmethod
    def from_torch(cls, gru: nn.GRU) -> GRUWeights:
        """Copy the weights of a one-layer, one-direction ``nn.GRU``."""
        _check_single_layer(gru, nn.GRU)
        return cls(*_copy_weights(gru))


def gru_gates(x: Tensor, hidden: Tensor, w: GRUWeights) -> dict[str, Tensor]:
    """The two gates and the candidate at one step, each (batch, hidden)."""
    x_r, x_z, x_n = (x @ w.W_x.T + w.b_x).chunk(3, dim=1)
    h_r, h_z, h_n = (hidden @ w.W_h.T + w.b_h).chunk(3, dim=1)
    reset = torch.sigmoid(x_r + h_r)  # how much of the past the candidate may read
    return {
        "reset": reset,
        "update": torch.sigmoid(x_z + h_z),  # how much of the old state to keep
        "candidate": torch.tanh(x_n + reset * h_n),  # the proposed new state
    }


def gru_cell(x: Tensor, hidden: Tensor, w: GRUWeights) -> Tensor:
    """One step. ``x``: (batch, input), ``hidden``: (batch, hidden) -> (batch, hidden)."""
    gate = gru_gates(x, hidden, w)
    return (1 - gate["update"]) * gate["candidate"] + gate["update"] * hidden


def gru_forward(
    x: Tensor, w: GRUWeights, hidden: Tensor | None = None, batch_first: bool = True
) -> tuple[Tensor, Tensor]:
    """Unroll ``gru_cell``, with the interface of ``nn.GRU``."""
    steps = _time_first(x, batch_first, w.W_x.shape[1])
    h = _initial_state(hidden, steps, w.W_h.shape[1])
    outputs = []
    for x_t in steps:
        h = gru_cell(x_t, h, w)
        outputs.append(h)
    return _stack(outputs, batch_first), h.unsqueeze(0)


def gru_trace(x: Tensor, w: GRUWeights) -> dict[str, Tensor]:
    """Both gates, the candidate and the hidden state at every step, for x (batch, time,
    input); each value is (batch, time, hidden)."""
    steps = _time_first(x, True, w.W_x.shape[1])
    h = steps.new_zeros(steps.shape[1], w.W_h.shape[1])
    trace: dict[str, list[Tensor]] = {}
    for x_t in steps:
        gate = gru_gates(x_t, h, w)
        h = (1 - gate["update"]) * gate["candidate"] + gate["update"] * h
        for name, value in {**gate, "hidden": h}.items():
            trace.setdefault(name, []).append(value)
    return {name: torch.stack(values, dim=1) for name, values in trace.items()}


# ---------------------------------------------------------------- any of the three

CELLS: dict[type[nn.RNNBase], tuple[type, Callable[..., Any]]] = {
    nn.RNN: (RNNWeights, rnn_cell),
    nn.LSTM: (LSTMWeights, lstm_cell),
    nn.GRU: (GRUWeights, gru_cell),
}


def hidden_gradient_norms(
    layer: nn.RNN | nn.LSTM | nn.GRU,
    x: Tensor,
    loss_fn: Callable[[Tensor], Tensor] = torch.sum,
) -> Tensor:
    """How strongly a loss on the *last* hidden state reaches back to every step.

    Runs the scratch twin of ``layer`` (one layer) over ``x``, laid out as the layer
    expects: (batch, time, input) if ``layer.batch_first``, else (time, batch, input).
    Takes ``L = loss_fn(h_T)`` and returns ``||dL/dh_t||``, averaged over the batch, for
    t = 1..T, shape (time,). ``norms[-1 - d]`` is the gradient at distance ``d`` from the loss.
    """
    kind = type(layer)
    if kind not in CELLS:
        raise TypeError(f"expected nn.RNN, nn.LSTM or nn.GRU, got {kind.__name__}")
    weights_type, cell = CELLS[kind]
    w = weights_type.from_torch(layer)
    steps = _time_first(x, layer.batch_first, layer.input_size)
    h = steps.new_zeros(steps.shape[1], layer.hidden_size)
    state: Any = (h, h) if kind is nn.LSTM else h
    hiddens = []
    for x_t in steps:
        state = cell(x_t, state, w)
        h = state[0] if kind is nn.LSTM else state
        h.retain_grad()
        hiddens.append(h)
    loss_fn(hiddens[-1]).backward()
    return torch.stack([h.grad.norm(dim=-1).mean() for h in hiddens]).detach()


# ---------------------------------------------------------------- shared plumbing


def _check_single_layer(module: nn.RNNBase, kind: type[nn.RNNBase]) -> None:
    if not isinstance(module, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(module).__name__}")
    if module.num_layers != 1 or module.bidirectional:
        raise ValueError(
            "the scratch cells model one layer in one direction, got "
            f"num_layers={module.num_layers}, bidirectional={module.bidirectional}"
        )


def _copy_weights(module: nn.RNNBase) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Detached copies of (W_x, W_h, b_x, b_h), zeros for absent biases; all require grad."""
    rows = module.weight_hh_l0.shape[0]
    zeros = torch.zeros(rows, dtype=module.weight_hh_l0.dtype)
    b_x = module.bias_ih_l0 if module.bias else zeros
    b_h = module.bias_hh_l0 if module.bias else zeros
    tensors = (module.weight_ih_l0, module.weight_hh_l0, b_x, b_h)
    return tuple(t.detach().clone().requires_grad_() for t in tensors)  # type: ignore[return-value]


def _time_first(x: Tensor, batch_first: bool, input_size: int) -> Tensor:
    layout = "(batch, time, input)" if batch_first else "(time, batch, input)"
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a tensor of shape {layout}, got {type(x).__name__}")
    if x.dim() != 3 or x.shape[-1] != input_size:
        raise ValueError(
            f"expected an input of shape {layout} with input={input_size}, "
            f"got shape {tuple(x.shape)}"
        )
    steps = x.transpose(0, 1) if batch_first else x
    if steps.shape[0] == 0:  # as torch.nn, which refuses a sequence of length 0
        raise ValueError(f"expected at least one time step, got an input of shape {tuple(x.shape)} {layout}")
    return steps


def _initial_state(state: Tensor | None, steps: Tensor, size: int) -> Tensor:
    batch = steps.shape[1]
    if state is None:
        return steps.new_zeros(batch, size)
    if state.shape != (1, batch, size):
        raise ValueError(
            f"expected an initial state of shape (1, {batch}, {size}), got {tuple(state.shape)}"
        )
    return state[0]


def _stack(outputs: list[Tensor], batch_first: bool) -> Tensor:
    return torch.stack(outputs, dim=1 if batch_first else 0)
