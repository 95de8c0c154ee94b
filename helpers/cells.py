"""Recurrent cells written from scratch, to be read, and their `torch.nn` twins' weights.

Each cell is a function of one time step; ``*_forward`` unrolls it over a sequence
with a plain Python loop. Tests check every one against `torch.nn`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


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
        _check_single_layer(rnn)
        if rnn.nonlinearity != "tanh":
            raise ValueError(f"expected nonlinearity='tanh', got {rnn.nonlinearity!r}")
        bias = rnn.bias_ih_l0 + rnn.bias_hh_l0 if rnn.bias else torch.zeros(rnn.hidden_size)
        return cls(
            W_x=rnn.weight_ih_l0.detach().clone().requires_grad_(),
            W_h=rnn.weight_hh_l0.detach().clone().requires_grad_(),
            b=bias.detach().clone().requires_grad_(),
        )

    @property
    def hidden_size(self) -> int:
        return self.W_h.shape[0]


def rnn_cell(x: Tensor, hidden: Tensor, w: RNNWeights) -> Tensor:
    """One step. ``x``: (batch, input), ``hidden``: (batch, hidden) -> (batch, hidden)."""
    return torch.tanh(x @ w.W_x.T + hidden @ w.W_h.T + w.b)


def rnn_forward(
    x: Tensor, w: RNNWeights, hidden: Tensor | None = None, batch_first: bool = True
) -> tuple[Tensor, Tensor]:
    """Unroll ``rnn_cell`` over a sequence, with the same interface as ``nn.RNN``.

    ``x`` is (batch, time, input) if ``batch_first`` else (time, batch, input);
    ``hidden`` is the initial state (1, batch, hidden), zeros if omitted.
    Returns every step's hidden state (shaped like ``x`` but with ``hidden`` features)
    and the last one, ``h_n``, of shape (1, batch, hidden).
    """
    steps = _time_first(x, batch_first, w.W_x.shape[1])  # (time, batch, input)
    h = _initial_state(hidden, steps, w.hidden_size)  # (batch, hidden)
    outputs = []
    for x_t in steps:
        h = rnn_cell(x_t, h, w)
        outputs.append(h)
    output = torch.stack(outputs, dim=1 if batch_first else 0)
    return output, h.unsqueeze(0)


def _check_single_layer(module: nn.RNNBase) -> None:
    if module.num_layers != 1 or module.bidirectional:
        raise ValueError(
            "the scratch cells model one layer in one direction, got "
            f"num_layers={module.num_layers}, bidirectional={module.bidirectional}"
        )


def _time_first(x: Tensor, batch_first: bool, input_size: int) -> Tensor:
    layout = "(batch, time, input)" if batch_first else "(time, batch, input)"
    if x.dim() != 3 or x.shape[-1] != input_size:
        raise ValueError(
            f"expected an input of shape {layout} with input={input_size}, "
            f"got shape {tuple(x.shape)}"
        )
    return x.transpose(0, 1) if batch_first else x


def _initial_state(hidden: Tensor | None, steps: Tensor, size: int) -> Tensor:
    batch = steps.shape[1]
    if hidden is None:
        return steps.new_zeros(batch, size)
    if hidden.shape != (1, batch, size):
        raise ValueError(
            f"expected an initial state of shape (1, {batch}, {size}), got {tuple(hidden.shape)}"
        )
    return hidden[0]
