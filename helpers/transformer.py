"""A small character transformer, nanoGPT-style, for chapter 6's race against the LSTM.

What is here, in reading order:

- ``CharTransformer``: token and learned position embeddings -> blocks of causal
  self-attention and an MLP (each behind a layer norm, each added back to its input)
  -> a layer norm and a linear head; it sees at most ``block_size`` characters;
- ``train_transformer``: AdamW on random windows of the training text (nanoGPT's
  ``get_batch``), the learning rate warming up, then falling along a cosine;
- ``window_loss``: the evaluator for a model with a fixed window, every character of a text
  scored once (``charlm.text_loss`` calls it for a transformer);
- ``save_transformer`` / ``load_transformer``: its checkpoint, as checked as the LSTM's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .modelfile import ModelFileError, ModelFileMissing, pack, read_payload, save_payload
from .training import _update

FORMAT = "helpers.transformer/1"


class SelfAttention(nn.Module):
    """Causal multi-head self-attention: position t attends to positions 0..t."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be a multiple of n_head ({n_head})")
        self.n_head, self.dropout = n_head, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd)  # queries, keys and values in one product
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: Tensor) -> Tensor:
        batch, time, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        # (batch, time, width) -> (batch, head, time, width / head)
        q, k, v = (t.view(batch, time, self.n_head, -1).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(batch, time, width))


class Block(nn.Module):
    """x + attention(norm(x)), then x + mlp(norm(x)): the transformer's one repeated layer."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn = SelfAttention(n_embd, n_head, dropout)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CharTransformer(nn.Module):
    """Character ids in, a score (logit) for every next character out, at every position,
    each from at most ``block_size`` characters (itself and those before it)."""

    def __init__(
        self, vocab_size: int, block_size: int = 128, n_layer: int = 4, n_head: int = 4, n_embd: int = 128, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_layer, self.n_head, self.n_embd, self.dropout = n_layer, n_head, n_embd, dropout
        self.tokens = nn.Embedding(vocab_size, n_embd)
        self.positions = nn.Embedding(block_size, n_embd)  # learned, one vector per place in the window
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.norm = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size)

    def config(self) -> dict:
        """The settings that rebuild this model: ``CharTransformer(**model.config())``."""
        return {"vocab_size": self.vocab_size, "block_size": self.block_size, "n_layer": self.n_layer,
                "n_head": self.n_head, "n_embd": self.n_embd, "dropout": self.dropout}

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (batch, time <= block_size) -> logits (batch, time, vocab)."""
        if tokens.dim() != 2:
            raise ValueError(f"expected tokens of shape (batch, time), got {tuple(tokens.shape)}")
        if tokens.shape[1] > self.block_size:
            raise ValueError(f"{tokens.shape[1]} characters do not fit the model's window of {self.block_size}")
        x = self.tokens(tokens) + self.positions(torch.arange(tokens.shape[1]))  # (batch, time, n_embd)
        x = self.drop(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def train_transformer(
    model: CharTransformer,
    train_ids: Tensor,
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    final_lr: float = 1e-4,
    warmup: int = 100,
    weight_decay: float = 0.1,
    clip_norm: float = 1.0,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """AdamW (betas 0.9, 0.99; weight decay on the matrices only) on ``batch_size`` windows of
    ``block_size`` characters drawn at random from the text, each predicting its next
    characters; the learning rate rises linearly for ``warmup`` steps, then falls along a
    cosine to ``final_lr``: nanoGPT's recipe. Returns the training loss of every step."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    block = model.block_size
    if len(train_ids) <= block + 1:
        raise ValueError(f"the text ({len(train_ids)} characters) is shorter than one window of {block + 1}")
    generator = torch.Generator().manual_seed(seed)
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": matrices, "weight_decay": weight_decay},
                                   {"params": others, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))
    offsets = torch.arange(block + 1)
    losses: list[float] = []
    model.train()
    for step in range(steps):
        if step < warmup:
            rate = lr * (step + 1) / warmup
        else:
            rate = final_lr + 0.5 * (lr - final_lr) * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))
        for group in optimizer.param_groups:
            group["lr"] = rate
        starts = torch.randint(len(train_ids) - block, (batch_size,), generator=generator)
        windows = train_ids[starts[:, None] + offsets]  # (batch, block + 1)
        logits = model(windows[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))
        _update(model, optimizer, loss, clip_norm)
        losses.append(loss.item())
        if on_step is not None:
            on_step(step, losses[-1])
    model.eval()
    return losses


@torch.no_grad()
def window_loss(model: CharTransformer, ids: Tensor, batch_size: int = 64) -> float:
    """Mean cross-entropy (nats per character) of predicting ``ids[1:]``, each character once.

    Windows of ``block_size`` characters start every ``block_size // 2`` characters. The first
    window scores all its predictions; every later one only its last ``block_size // 2``
    (a last window, flush with the text's end, scores whatever is left). So each character
    is predicted once, from between ``block_size - block_size // 2 + 1`` and ``block_size``
    characters of the text before it (fewer only in the text's first window).
    """
    model.eval()
    block, stride = model.block_size, model.block_size // 2
    n_targets = len(ids) - 1
    if n_targets < 1:
        raise ValueError("the text must hold at least two characters")
    if n_targets <= block:
        logits = model(ids[:-1][None])[0]
        return F.cross_entropy(logits.double(), ids[1:], reduction="sum").item() / n_targets
    starts = list(range(0, n_targets - block + 1, stride))
    first_scored = [0] + [block - stride] * (len(starts) - 1)  # position in the window of the first scored prediction
    if starts[-1] + block < n_targets:  # the text's end: one more window, flush with it
        first_scored.append(block - (n_targets - starts[-1] - block))
        starts.append(n_targets - block)
    windows = torch.tensor(starts)[:, None] + torch.arange(block + 1)
    inputs, targets = ids[windows[:, :-1]], ids[windows[:, 1:]].clone()  # (windows, block) each
    targets[torch.arange(block)[None, :] < torch.tensor(first_scored)[:, None]] = -1  # scored elsewhere
    if int((targets >= 0).sum()) != n_targets:
        raise AssertionError("every character must be scored exactly once")
    total = 0.0
    for i in range(0, len(starts), batch_size):
        logits = model(inputs[i : i + batch_size])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]).double(), targets[i : i + batch_size].reshape(-1),
                                 ignore_index=-1, reduction="sum").item()
    return total / n_targets


def save_transformer(model: CharTransformer, chars: str, path: str | Path, val_loss: float, **extra) -> Path:
    """Write the model in float16 with its settings, alphabet, validation loss and ``extra``."""
    state = {name: t.detach().to(torch.float16) for name, t in model.state_dict().items()}
    config = {"model": model.config(), "chars": chars, "val_loss": float(val_loss), **extra}
    return save_payload(path, pack(FORMAT, state, config, embed=True))


def load_transformer(path: str | Path) -> CharTransformer:
    """A transformer written by ``save_transformer``, in eval mode, float32; its other
    entries (alphabet, ``val_loss``, training settings) on ``model.checkpoint_info``."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileMissing(f"{path} not found: no checkpoint there (`make train` writes it)")
    payload = read_payload(path, FORMAT, "save_transformer")
    config, state = payload["config"], payload["state_dict"]
    try:
        model = CharTransformer(**config["model"])
        model.load_state_dict({name: t.float() for name, t in state.items()})
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ModelFileError(f"{path} does not fit its settings: {error}") from None
    model.eval()
    model.checkpoint_info = {"config": config["model"], **{k: v for k, v in config.items() if k != "model"}}
    return model
