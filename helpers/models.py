"""The next-word model: a recurrent layer reads a prefix, a linear layer scores the next word."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import torch
from torch import Tensor, nn

RECURRENT_LAYERS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class NextWordModel(nn.Module):
    """Word ids in, a score (logit) for every word of the vocabulary out.

    With ``embedding_size=None`` each word enters as a one-hot vector, as in the
    seed notes; otherwise through a learned embedding of that size.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        cell: str = "rnn",
        embedding_size: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(cell, str) or cell not in RECURRENT_LAYERS:
            raise ValueError(f"cell must be one of {sorted(RECURRENT_LAYERS)}, got {cell!r}")
        for name, size in [("vocab_size", vocab_size), ("hidden_size", hidden_size), ("embedding_size", embedding_size)]:
            if size is None and name == "embedding_size":
                continue
            if isinstance(size, bool) or not isinstance(size, Integral):
                raise TypeError(f"{name} must be an integer, got {type(size).__name__}: {size!r}")
            if size < 1:
                hint = " (None means one-hot inputs)" if name == "embedding_size" else ""
                raise ValueError(f"{name} must be at least 1{hint}, got {size}")
        self.vocab_size = int(vocab_size)
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embedding_size) if embedding_size is not None else None
        input_size = embedding_size if embedding_size is not None else vocab_size
        self.rnn = RECURRENT_LAYERS[cell](input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def step_logits(self, ids: Tensor) -> Tensor:
        """Logits after every prefix: ids (batch, time) -> (batch, time, vocab)."""
        return self.run(ids)[0]

    def run(self, ids: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Logits after every prefix and the recurrent state at the end: ids (batch, time)
        -> ((batch, time, vocab), state). Passing that state back in continues the same
        sequence, so a long text can be read piece by piece."""
        self._check(ids)
        if self.embed is None:
            weight = self.head.weight  # one-hot vectors in the model's own dtype
            x = nn.functional.one_hot(ids, self.vocab_size).to(weight.dtype)  # (batch, time, vocab)
        else:
            x = self.embed(ids)  # (batch, time, embedding)
        hidden, state = self.rnn(x, state)  # (batch, time, hidden); no state: zeros
        return self.head(hidden), state  # (batch, time, vocab)

    def forward(self, ids: Tensor) -> Tensor:
        """Logits for the word after the whole prefix: ids (batch, time) -> (batch, vocab)."""
        return self.step_logits(ids)[:, -1]

    def _check(self, ids: Tensor) -> None:
        if not isinstance(ids, Tensor) or ids.dtype != torch.long:
            kind = ids.dtype if isinstance(ids, Tensor) else type(ids).__name__
            raise TypeError(f"expected a LongTensor of word ids, got {kind}")
        if ids.dim() != 2 or ids.shape[1] == 0:
            raise ValueError(
                f"expected word ids of shape (batch, time) with time >= 1, got shape {tuple(ids.shape)}"
            )
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"word ids must lie in [0, {self.vocab_size}), got min {ids.min().item()}, "
                f"max {ids.max().item()}"
            )


class SequenceModel(nn.Module):
    """A recurrent layer reads a sequence of vectors; a linear layer maps its last hidden
    state to ``output_size`` numbers (one number for regression, or class logits)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 1, cell: str = "rnn") -> None:
        super().__init__()
        if cell not in RECURRENT_LAYERS:
            raise ValueError(f"cell must be one of {sorted(RECURRENT_LAYERS)}, got {cell!r}")
        self.cell = cell
        self.rnn = RECURRENT_LAYERS[cell](input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, time, input) -> (batch, output_size), or (batch,) if output_size is 1."""
        if x.dim() != 3 or x.shape[-1] != self.rnn.input_size:
            raise ValueError(
                f"expected inputs of shape (batch, time, {self.rnn.input_size}), got {tuple(x.shape)}"
            )
        hidden, _ = self.rnn(x)  # (batch, time, hidden)
        out = self.head(hidden[:, -1])  # (batch, output_size)
        return out.squeeze(-1) if out.shape[-1] == 1 else out
