"""Many networks of one shape trained as one: weights stacked along a leading seed axis.

S networks become one row each of one weight tensor; a training step is one batched
computation for all S. How the forward pass runs over the seed axis depends on the network:

- ``SequenceModel`` and ``NextWordModel`` (one recurrent layer): the recurrences and their
  backpropagation through time are written out here, in torch.nn's gate order and with its
  biases, as autograd functions over ``torch.bmm`` and ``torch.baddbmm``;
- a network class with a static ``stacked_forward(params, inputs)`` (chapter 2's taggers):
  that function, given every parameter's stack ``(S, *shape)`` and the inputs ``(S, ...)``;
- any other network: its own ``forward``, batched over the seeds by ``torch.func.vmap``
  (which has no batching rule for the fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` kernels).

Adam or SGD (torch.optim's arithmetic) updates every row elementwise, each seed is clipped by
its own gradient norm, and a seed that stops leaves the stack with its optimiser state.
``helpers.seeds`` decides when to use it; its tests check it against runs one by one.
"""

from __future__ import annotations

import math
import statistics

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from .models import NextWordModel, SequenceModel

Inputs = Tensor | tuple[Tensor, ...]  # what a network's forward takes: one tensor, or several

class Stack:
    """S networks of one shape as stacked leaf tensors, seed axis first, with their optimiser.

    The LSTM's gate rows are kept internally as (i, f, o, g) instead of torch's (i, f, g, o), so
    one sigmoid covers three gates; Adam and SGD are elementwise, so the order changes nothing.
    """

    def __init__(self, models: list[nn.Module], optimizer: str, lr: float, eps: float = 1e-8) -> None:
        self.models = models
        first = models[0]
        self.cell = None  # which recurrence this module runs by hand, if any
        if type(first) in (SequenceModel, NextWordModel):
            self.cell = {nn.RNN: "rnn", nn.LSTM: "lstm", nn.GRU: "gru"}[type(first.rnn)]
            self.one_hot = isinstance(first, NextWordModel) and first.embed is None
        self.names = [n for n, _ in first.named_parameters()]
        self.perm = None
        if self.cell == "lstm":  # (i, f, g, o) -> (i, f, o, g); swapping two blocks is its own inverse
            hidden = first.rnn.hidden_size
            self.perm = torch.cat([torch.arange(2 * hidden), torch.arange(3 * hidden, 4 * hidden),
                                   torch.arange(2 * hidden, 3 * hidden)])  # fmt: skip
        self.shapes = [first.get_parameter(n).shape for n in self.names]
        rows = [torch.cat([self._order(n, m.get_parameter(n).detach()[None])[0].flatten() for n in self.names])
                for m in models]  # fmt: skip
        self.weights = torch.stack(rows).requires_grad_()  # (S, all weights): one tensor for the optimiser
        self.optimizer, self.lr, self.eps, self.steps = optimizer, lr, eps, 0
        self.state = (torch.zeros_like(self.weights), torch.zeros_like(self.weights))

    @property
    def params(self) -> dict[str, Tensor]:
        """Each parameter's stack, (S, *shape), as views into ``weights``."""
        pieces = self.weights.split([math.prod(shape) for shape in self.shapes], dim=1)
        return {n: t.view(len(t), *shape) for n, t, shape in zip(self.names, pieces, self.shapes)}

    def _order(self, name: str, tensor: Tensor) -> Tensor:
        if self.perm is not None and name.startswith("rnn."):
            return tensor[:, self.perm]
        return tensor

    def forward(self, x: Inputs) -> Tensor:
        """Every seed's output on its own inputs, each with a leading seed axis (S, ...)."""
        first = self.models[0]
        if self.cell is None and hasattr(type(first), "stacked_forward"):
            return type(first).stacked_forward(self.params, x)
        if self.cell is None:
            inputs = x if isinstance(x, tuple) else (x,)
            return vmap(lambda p, *one: functional_call(first, p, one))(self.params, *inputs)
        return self._recurrent(x)

    def _recurrent(self, x: Tensor) -> Tensor:
        """x: (S, batch, time, input) floats, or (S, batch, time) word ids -> (S, batch[, out])."""
        p = self.params
        w_ih, w_hh, b_ih, b_hh = (p[f"rnn.{k}_l0"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        S, B, T = x.shape[:3]
        H = w_hh.shape[-1]
        bias = b_ih if self.cell == "gru" else b_ih + b_hh  # GRU: b_hn must stay inside the reset product
        if self.one_hot:  # a one-hot input selects a column of W_ih
            xp = w_ih.transpose(1, 2)[torch.arange(S).view(S, 1, 1), x.transpose(1, 2)] + bias[:, None, None]
        else:
            if x.dtype == torch.long:  # NextWordModel with an embedding
                x = p["embed.weight"][torch.arange(S).view(S, 1, 1), x]
            xt = x.transpose(1, 2).reshape(S, T * B, x.shape[-1])  # time-major inside each seed
            xp = torch.baddbmm(bias[:, None], xt, w_ih.transpose(1, 2)).view(S, T, B, -1)
        scan = {"rnn": _RNNScan, "lstm": _LSTMScan, "gru": _GRUScan}[self.cell]
        h = scan.apply(xp, w_hh, b_hh) if self.cell == "gru" else scan.apply(xp, w_hh)  # the last state (S, B, H)
        out = torch.baddbmm(p["head.bias"][:, None], h, p["head.weight"].transpose(1, 2))  # (S, B, out)
        return out.squeeze(-1) if isinstance(self.models[0], SequenceModel) and out.shape[-1] == 1 else out

    def grad_norms(self) -> Tensor:
        """Each seed's gradient norm over its own weights, what clip_grad_norm_ computes: (S,)."""
        return torch.linalg.vector_norm(self.weights.grad, dim=1)

    @torch.no_grad()
    def clip(self, norms: Tensor, clip_norm: float) -> None:
        self.weights.grad.mul_(torch.clamp(clip_norm / (norms + 1e-6), max=1.0)[:, None])

    @torch.no_grad()
    def step(self) -> None:
        """torch.optim.Adam's (single-tensor) or SGD's update, elementwise over the stack."""
        self.steps += 1
        param, grad = self.weights, self.weights.grad
        if self.optimizer == "sgd":
            param.add_(grad, alpha=-self.lr)
            return
        beta1, beta2, eps = 0.9, 0.999, self.eps
        exp_avg, exp_avg_sq = self.state
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step = float(self.steps)
        denom = (exp_avg_sq.sqrt() / (1 - beta2**step) ** 0.5).add_(eps)
        param.addcdiv_(exp_avg, denom, value=-self.lr / (1 - beta1**step))

    def flat(self) -> Tensor:
        return self.weights.detach().clone()  # (S, n_weights)

    @torch.no_grad()
    def keep(self, rows: list[int]) -> None:
        """Write the other seeds' weights back into their networks and drop them from the stack."""
        index = torch.tensor(rows, dtype=torch.long)
        self.write_back([i for i in range(len(self.models)) if i not in rows])
        self.models = [self.models[i] for i in rows]
        grad = self.weights.grad
        self.weights = self.weights.detach()[index].requires_grad_()
        if grad is not None:
            self.weights.grad = grad[index]
        self.state = tuple(t[index] for t in self.state)

    @torch.no_grad()
    def write_back(self, rows: list[int] | None = None) -> None:
        params = self.params
        for i in range(len(self.models)) if rows is None else rows:
            for name in self.names:
                self.models[i].get_parameter(name).copy_(self._order(name, params[name].detach()[i : i + 1])[0])


# --- the recurrences over a leading seed axis, with backpropagation through time by hand -----------
#
# Each scan takes xp = x W_ih^T + biases for every step, (S, T, B, gates * H), and returns the
# last hidden state (S, B, H), the only one SequenceModel and NextWordModel read. Written as
# autograd Functions because recording ~10 small operations per step costs more than they do;
# the backward pass also sums the recurrent weights' gradient over all steps in one product.


def _tanh(x: Tensor, out: Tensor | None = None) -> Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1: equal to rounding, and 3 to 6 times faster than torch.tanh
    on the book's CPU (measured on tensors of 20,000 numbers, float32 and float64)."""
    return torch.sigmoid(x * 2, out=out).mul_(2).sub_(1)


class _RNNScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp: Tensor, w_hh: Tensor) -> Tensor:  # noqa: ANN001
        S, T, B, H = xp.shape
        w_t = w_hh.transpose(1, 2)
        hs = xp.new_zeros(S, T + 1, B, H)  # h_0 = 0, h_1, ..., h_T
        for t in range(T):
            _tanh(torch.baddbmm(xp[:, t], hs[:, t], w_t), out=hs[:, t + 1])
        ctx.save_for_backward(w_hh, hs)
        return hs[:, T].clone()

    @staticmethod
    def backward(ctx, d_h: Tensor) -> tuple[Tensor, Tensor]:  # noqa: ANN001
        w_hh, hs = ctx.saved_tensors
        S, T1, B, H = hs.shape
        d_pre = torch.empty(S, T1 - 1, B, H, dtype=hs.dtype)
        for t in range(T1 - 2, -1, -1):
            h = hs[:, t + 1]
            torch.mul(d_h, 1 - h * h, out=d_pre[:, t])
            d_h = torch.bmm(d_pre[:, t], w_hh)
        d_w = _weight_grad(hs[:, : T1 - 1], d_pre)
        return d_pre, d_w


class _LSTMScan(torch.autograd.Function):
    """Gate rows in the stack's order (i, f, o, g), biases already in xp."""

    @staticmethod
    def forward(ctx, xp: Tensor, w_hh: Tensor) -> Tensor:  # noqa: ANN001
        S, T, B, G = xp.shape
        H = G // 4
        w_t = w_hh.transpose(1, 2)
        hs = xp.new_zeros(S, T + 1, B, H)
        cs = xp.new_zeros(S, T + 1, B, H)
        acts = torch.empty_like(xp)  # sigmoid(i, f, o), tanh(g) at every step
        tcs = xp.new_empty(S, T, B, H)  # tanh(c_t)
        for t in range(T):
            pre = torch.baddbmm(xp[:, t], hs[:, t], w_t)
            a = acts[:, t]
            torch.sigmoid(pre[..., : 3 * H], out=a[..., : 3 * H])
            _tanh(pre[..., 3 * H :], out=a[..., 3 * H :])
            c = cs[:, t + 1]
            torch.mul(a[..., H : 2 * H], cs[:, t], out=c).addcmul_(a[..., :H], a[..., 3 * H :])
            torch.mul(a[..., 2 * H : 3 * H], _tanh(c, out=tcs[:, t]), out=hs[:, t + 1])
        ctx.save_for_backward(w_hh, hs, cs, acts, tcs)
        return hs[:, T].clone()

    @staticmethod
    def backward(ctx, d_h: Tensor) -> tuple[Tensor, Tensor]:  # noqa: ANN001
        w_hh, hs, cs, acts, tcs = ctx.saved_tensors
        S, T, B, G = acts.shape
        H = G // 4
        d_pre = torch.empty_like(acts)
        d_c = torch.zeros_like(d_h)
        for t in range(T - 1, -1, -1):
            a, tc, dp = acts[:, t], tcs[:, t], d_pre[:, t]
            i, f, o, g = a[..., :H], a[..., H : 2 * H], a[..., 2 * H : 3 * H], a[..., 3 * H :]
            torch.mul(d_h, tc, out=dp[..., 2 * H : 3 * H])  # d o
            d_c = d_c + d_h * o * (1 - tc * tc)
            torch.mul(d_c, g, out=dp[..., :H])  # d i
            torch.mul(d_c, cs[:, t], out=dp[..., H : 2 * H])  # d f
            torch.mul(d_c, i, out=dp[..., 3 * H :])  # d g
            d_c = d_c * f
            s = a[..., : 3 * H]
            dp[..., : 3 * H].mul_(s * (1 - s))
            dp[..., 3 * H :].mul_(1 - g * g)
            d_h = torch.bmm(dp, w_hh)
        return d_pre, _weight_grad(hs[:, :T], d_pre)


class _GRUScan(torch.autograd.Function):
    """torch.nn.GRU's step: r, z from x and h; n = tanh(x_n + r (W_hn h + b_hn)); h' = n + z (h - n)."""

    @staticmethod
    def forward(ctx, xp: Tensor, w_hh: Tensor, b_hh: Tensor) -> Tensor:  # noqa: ANN001
        S, T, B, G = xp.shape
        H = G // 3
        w_t, bias = w_hh.transpose(1, 2), b_hh[:, None]
        hs = xp.new_zeros(S, T + 1, B, H)
        rz = xp.new_empty(S, T, B, 2 * H)
        ns = xp.new_empty(S, T, B, H)
        h_ns = xp.new_empty(S, T, B, H)  # W_hn h + b_hn
        for t in range(T):
            gh = torch.baddbmm(bias, hs[:, t], w_t)
            torch.sigmoid(xp[:, t, ..., : 2 * H] + gh[..., : 2 * H], out=rz[:, t])
            h_ns[:, t] = gh[..., 2 * H :]
            n = _tanh(torch.addcmul(xp[:, t, ..., 2 * H :], rz[:, t, ..., :H], h_ns[:, t]), out=ns[:, t])
            torch.addcmul(n, rz[:, t, ..., H:], hs[:, t] - n, out=hs[:, t + 1])
        ctx.save_for_backward(w_hh, hs, rz, ns, h_ns)
        return hs[:, T].clone()

    @staticmethod
    def backward(ctx, d_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # noqa: ANN001
        w_hh, hs, rz, ns, h_ns = ctx.saved_tensors
        S, T, B, H = ns.shape
        d_xp = torch.empty(S, T, B, 3 * H, dtype=hs.dtype)
        d_gh = torch.empty_like(d_xp)
        for t in range(T - 1, -1, -1):
            r, z, n = rz[:, t, ..., :H], rz[:, t, ..., H:], ns[:, t]
            dx, dg = d_xp[:, t], d_gh[:, t]
            d_n = torch.mul(d_h * (1 - z), 1 - n * n, out=dx[..., 2 * H :])  # through tanh: d x_n
            torch.mul(d_h * (hs[:, t] - n), z * (1 - z), out=dx[..., H : 2 * H])  # d z pre-activation
            torch.mul(d_n * h_ns[:, t], r * (1 - r), out=dx[..., :H])  # d r pre-activation
            dg[..., : 2 * H] = dx[..., : 2 * H]
            torch.mul(d_n, r, out=dg[..., 2 * H :])
            d_h = torch.baddbmm(d_h * z, dg, w_hh)
        return d_xp, _weight_grad(hs[:, :T], d_gh), d_gh.sum(dim=(1, 2))


def _weight_grad(h_prev: Tensor, d_pre: Tensor) -> Tensor:
    """d W_hh summed over every step and sequence at once: (S, gates * H, H)."""
    S, T, B, H = h_prev.shape
    return torch.bmm(d_pre.reshape(S, T * B, -1).transpose(1, 2), h_prev.reshape(S, T * B, H))


def stacked_loss(loss, output: Tensor, targets: Tensor) -> Tensor:
    """Each seed's mean loss over its own batch: (S,). ``loss`` is "mse", "cross_entropy"
    (scores of each class along the axis after the batch's, as ``cross_entropy`` reads them),
    or a function ``loss(output, targets)`` of one seed's batch, run over the seeds by vmap."""
    if callable(loss):
        return vmap(loss)(output, targets)
    if loss == "mse":
        return nn.functional.mse_loss(output, targets, reduction="none").flatten(1).mean(dim=1)
    per_item = nn.functional.cross_entropy(output.flatten(0, 1), targets.flatten(0, 1), reduction="none")
    return per_item.view(len(targets), -1).mean(dim=1)


def stack_batches(parts: list[Inputs]) -> Inputs:
    """One batch per seed -> one batch with a leading seed axis (a tuple stays a tuple)."""
    if isinstance(parts[0], tuple):
        return tuple(torch.stack(column) for column in zip(*parts))
    return torch.stack(parts)


def reached_target(task, run) -> bool:  # noqa: ANN001
    """Whether an ``Online`` ``run``'s last ``task.window`` batches meet ``task.target``: their accuracies
    average at least the target (cross-entropy) or their losses at most the target (MSE)."""
    if task.loss == "cross_entropy":
        return statistics.mean(run.batch_accuracy[-task.window :]) >= task.target
    return statistics.mean(run.losses[-task.window :]) <= task.target


def train_online(models: list[nn.Module], task, runs: list) -> list:
    """Train the stacked ``models`` on ``task`` (an ``Online``), filling each seed's ``runs`` entry."""
    seeds = [run.seed for run in runs]
    stack = Stack(models, task.optimizer, task.lr, task.adam_eps)
    active = list(range(len(runs)))  # which run each row of the stack is
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    for step in range(1, task.steps + 1):
        batches = [task.sample(task.batch_size, generators[i]) for i in active]
        inputs = stack_batches([x for x, _ in batches])
        targets = torch.stack([y for _, y in batches])
        output = stack.forward(inputs)
        losses = stacked_loss(task.loss, output, targets)
        finite = torch.isfinite(losses).tolist()
        rows = [r for r, ok in enumerate(finite) if ok]  # a run with a non-finite loss stops before its update
        stack.weights.grad = None
        if rows:
            (losses.sum() if len(rows) == len(active) else losses[rows].sum()).backward()
        if len(rows) < len(active):
            stack.keep(rows)
            active = [active[r] for r in rows]
            if not active:
                break
            output, losses, targets = output[rows], losses[rows], targets[rows]
        if task.loss == "cross_entropy":
            scores = (output.argmax(-1) == targets).float().mean(dim=1).tolist()
            for i, score in zip(active, scores):
                runs[i].batch_accuracy.append(score)
        norms = stack.grad_norms()
        if task.clip_norm is not None:
            stack.clip(norms, task.clip_norm)
        before = stack.flat() if task.record_updates else None
        stack.step()
        sizes = (stack.flat() - before).norm(dim=1).tolist() if before is not None else None
        for r, (i, loss, norm) in enumerate(zip(active, losses.tolist(), norms.tolist())):
            runs[i].losses.append(loss)
            runs[i].grad_norms.append(norm)
            if sizes is not None:
                runs[i].updates.append(sizes[r])
        if task.target is not None and step >= task.window:
            done = [r for r, i in enumerate(active) if reached_target(task, runs[i])]
            for r in done:
                runs[active[r]].reached = step
            if done:
                rows = [r for r in range(len(active)) if r not in done]
                stack.keep(rows)
                active = [active[r] for r in rows]
                if not active:
                    break
    stack.write_back()
    for run in runs:
        run.model.eval()
    return runs


def fit(models: list[nn.Module], task, runs: list, rng_states: list[Tensor]) -> list:
    """Train the stacked ``models`` on ``task`` (a ``Fit``), shuffling as ``fit`` would from
    each seed's ``rng_states``; fill each seed's ``runs`` entry."""
    stack = Stack(models, "adam", task.lr)
    data = [task.data(run.seed) if callable(task.data) else task.data for run in runs]
    sizes = {len(x) for x, _ in data}
    if len(sizes) != 1 or any(len(x) != len(y) for x, y in data):
        raise ValueError(f"every seed's data must have as many inputs as targets, and the same number: got {sizes}")
    n = sizes.pop()
    generators = []
    for state in rng_states:
        generators.append(torch.Generator())
        generators[-1].set_state(state)
    if task.batch_size is None:
        whole = (stack_batches([x for x, _ in data]), torch.stack([y for _, y in data]))
    for _ in range(task.epochs):
        if task.batch_size is None:
            batches = [whole]
        else:
            orders = [torch.randperm(n, generator=g).split(task.batch_size) for g in generators]
            batches = [(torch.stack([x[idx[k]] for (x, _), idx in zip(data, orders)]),
                        torch.stack([y[idx[k]] for (_, y), idx in zip(data, orders)])) for k in range(len(orders[0]))]  # fmt: skip
        totals = [0.0] * len(runs)
        for inputs, targets in batches:
            losses = stacked_loss(task.loss, stack.forward(inputs), targets)
            stack.weights.grad = None
            losses.sum().backward()
            if task.clip_norm is not None:
                stack.clip(stack.grad_norms(), task.clip_norm)
            stack.step()
            totals = [total + loss * targets.shape[1] for total, loss in zip(totals, losses.tolist())]
        for run, total in zip(runs, totals):
            run.losses.append(total / n)
    stack.write_back()
    for run in runs:
        run.model.eval()
    return runs
