"""Seeding, a small training loop and accuracy."""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

LossFn = Callable[[Tensor, Tensor], Tensor]


def seed_everything(seed: int = 0, threads: int = 1) -> None:
    """Make a run repeatable: seed Python, NumPy and torch, use deterministic
    kernels and a fixed number of CPU threads (the order of float sums depends on it)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def fit(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    epochs: int,
    lr: float = 0.01,
    loss_fn: LossFn = nn.functional.cross_entropy,
    batch_size: int | None = None,
    clip_norm: float | None = None,
) -> list[float]:
    """Train with Adam; return the mean training loss of every epoch.

    ``batch_size=None`` uses the whole data set as one batch (as the seed notes do);
    otherwise each epoch visits the examples in a fresh random order.
    ``clip_norm`` rescales the gradient whenever its norm exceeds it.
    """
    if len(inputs) != len(targets):
        raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    model.train()
    for _ in range(epochs):
        if batch_size is None:
            batches = [(inputs, targets)]
        else:
            order = torch.randperm(len(inputs)).split(batch_size)
            batches = [(inputs[idx], targets[idx]) for idx in order]
        total = 0.0
        for batch_inputs, batch_targets in batches:
            loss = loss_fn(model(batch_inputs), batch_targets)
            _update(model, optimizer, loss, clip_norm)
            total += loss.item() * len(batch_targets)
        history.append(total / len(inputs))
    model.eval()
    return history


def _update(model: nn.Module, optimizer: torch.optim.Optimizer, loss: Tensor, clip_norm: float | None) -> None:
    """One optimiser step on ``loss``; the gradient's norm is clipped to ``clip_norm`` if given."""
    optimizer.zero_grad()
    loss.backward()
    if clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()


@torch.no_grad()
def accuracy(logits: Tensor, targets: Tensor) -> float:
    """Fraction of rows whose highest logit is the target class."""
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} do not match targets {tuple(targets.shape)}"
        )
    return (logits.argmax(-1) == targets).float().mean().item()


Sampler = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]


def train_online(
    model: nn.Module,
    sample: Sampler,
    steps: int,
    batch_size: int = 64,
    lr: float = 0.01,
    loss_fn: LossFn = nn.functional.mse_loss,
    clip_norm: float | None = None,
    seed: int = 0,
) -> list[float]:
    """Train with Adam on a fresh batch ``sample(batch_size, generator)`` at every step,
    as on the long-lag tasks (each step sees new sequences); return every step's loss.
    The model saw ``steps * batch_size`` training sequences in all."""
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be at least 1, got {steps}, {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    model.train()
    for _ in range(steps):
        inputs, targets = sample(batch_size, generator)
        loss = loss_fn(model(inputs), targets)
        _update(model, optimizer, loss, clip_norm)
        history.append(loss.item())
    model.eval()
    return history
