"""Rounding noise for PyTorch: every rounded floating-point result of a torch operation is
multiplied by ``1 + e * u``, with ``u`` uniform in [-1, 1] and ``e`` one unit in the last
place of 1 in the tensor's dtype (2**-52 for float64, 2**-23 for float32).

This is Monte Carlo arithmetic (Parker 1997; the idea behind Verificarlo, CADNA and verrou)
at the level of torch operations. Another CPU rounds some sums differently, by about that
much; a printed result that the noise changes is one that another CPU may change too.

    import rounding_noise
    rounding_noise.enable(seed=1)  # in this thread and in every thread started from now on

How it reaches everything a chapter computes:

- a ``TorchDispatchMode`` sees every ATen operation, whether it comes from an ``nn.Module``
  or from code on raw tensors, forward and backward (autograd carries the mode into its
  engine), down to the fused RNN, LSTM and GRU kernels and the optimisers' ``_foreach_``
  updates;
- the mode lives in thread-local state, so ``enable`` also wraps ``threading.Thread.run``:
  every thread started afterwards (a ``ThreadPoolExecutor``'s workers among them) enters the
  same mode before it runs anything.

What is left exact: operations whose result is exact on every CPU, because they only move,
select, compare or create values (copies, casts, indexing, concatenation, ``max``,
``where``, ``relu``, constructors, random draws); views, whose output is their input; and a
single result that is a whole number (a count, an optimiser's step number), since integer
arithmetic in floating point is exact.
Everything else gets noise: freshly computed outputs and the arguments that an in-place
operation writes. ``counts()`` tells which operations were perturbed and in which threads;
``tests/test_rounding_noise.py`` checks the reach.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

# Operations whose floating-point result is exact on every CPU (no rounding to vary):
# they move, select, compare or create values. Names without the overload (".Tensor").
EXACT = frozenset(
    """
    _copy_from _copy_from_and_resize _to_copy alias clone copy copy_ detach lift_fresh lift_fresh_copy
    empty empty_like empty_strided new_empty new_empty_strided zeros zeros_like ones ones_like
    full full_like new_zeros new_ones new_full fill fill_ zero zero_ scalar_tensor arange
    linspace logspace eye resize_ set_
    cat stack index index_select index_put index_put_ _index_put_impl_ gather scatter
    scatter_ masked_fill masked_fill_ masked_select masked_scatter masked_scatter_ where
    select_scatter slice_scatter diagonal_scatter as_strided_scatter embedding take
    index_fill index_fill_ index_copy index_copy_ flip roll repeat constant_pad_nd tril triu
    diag_embed diag tril_ triu_ one_hot nonzero unique _unique2 unique_consecutive
    abs neg sign sgn relu relu_ threshold threshold_backward clamp clamp_ clamp_min clamp_max
    clamp_min_ clamp_max_ max min amax amin maximum minimum argmax argmin sort topk
    kthvalue floor ceil round trunc isnan isinf isfinite isclose equal eq ne lt le gt ge
    logical_and logical_or logical_not logical_xor bitwise_and bitwise_or bitwise_not any all
    count_nonzero _local_scalar_dense bucketize searchsorted
    rand rand_like randn randn_like randint randint_like randperm bernoulli bernoulli_
    normal normal_ uniform_ exponential_ multinomial native_dropout random_
    _foreach_copy_ _foreach_zero_ unsafe_split unsafe_split_with_sizes unsafe_chunk _unsafe_view
    """.split()
)


ALIAS_CHECKS = 20  # calls of each operation checked for outputs that alias an input
POOL = 1 << 16  # noise factors drawn ahead of time, per dtype: a slice per result is cheap


def _strides(shape: torch.Size) -> tuple[int, ...]:
    """The strides of a contiguous tensor of ``shape``."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _tensors(value) -> list[torch.Tensor]:
    return [t for t in tree_leaves(value) if isinstance(t, torch.Tensor) and t.layout == torch.strided]


class _Plan:
    """What to perturb for one operation, worked out once from its schema."""

    def __init__(self, func) -> None:
        namespace, self.name = func._schema.name.split("::")
        self.exact = (namespace != "aten" or self.name in EXACT or func.is_view
                      or torch.Tag.nondeterministic_seeded in func.tags)  # fmt: skip
        # arguments that an in-place operation writes (add_, _foreach_mul_, out=)
        self.written = [(i, a.name) for i, a in enumerate(func._schema.arguments)
                        if a.alias_info is not None and a.alias_info.is_write]  # fmt: skip
        # returns that are new tensors, not an input handed back (add_ returns its input)
        self.fresh = [r.alias_info is None for r in func._schema.returns]
        self.checks_left = ALIAS_CHECKS

    def fresh_outputs(self, out) -> list:
        if not self.fresh:
            return []
        if len(self.fresh) == 1:
            return [out] if self.fresh[0] else []
        return [value for value, fresh in zip(out, self.fresh) if fresh]

    def aliases(self, args, kwargs, outputs: list) -> bool:
        """Does a new output share memory with an input? Some operations that do are not
        marked as views (``unsafe_split``), so the first calls of each one are checked."""
        self.checks_left -= 1
        inputs = {t.untyped_storage().data_ptr() for t in _tensors((args, kwargs))}
        return any(t.untyped_storage().data_ptr() in inputs for t in _tensors(outputs))


class RoundingNoise(TorchDispatchMode):
    """Multiply the rounded floating-point results of every torch operation by 1 + e*u.

    Each thread gets a mode of its own (a mode lives in thread-local state) with its own
    noise stream, seeded from ``seed`` and the thread's number; plans and counts are shared."""

    def __init__(self, seed: int, thread_number: int = 0, shared: RoundingNoise | None = None) -> None:
        super().__init__()
        self.generator = torch.Generator().manual_seed(seed * 1_000_003 + thread_number)
        self.pools: dict[torch.dtype, torch.Tensor] = {}
        self.offset = 0
        self.thread = threading.current_thread().name
        self.plans: dict = {} if shared is None else shared.plans  # operation -> _Plan
        self.counts: Counter = Counter() if shared is None else shared.counts  # (operation, thread) -> results

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # no torch.compile here: spare every operation the wrapper that skips it

    def factors(self, dtype: torch.dtype, n: int) -> torch.Tensor:
        """``n`` factors 1 + e*u, u uniform in [-1, 1), e one unit in the last place of 1."""
        if n > POOL // 4:  # a large result: draw its own
            return self.draw(dtype, n)
        pool = self.pools.get(dtype)
        if pool is None:
            pool = self.pools[dtype] = self.draw(dtype, POOL)
        # a pseudo-random start, so that consecutive results do not share factors
        self.offset = (self.offset * 1103515245 + 12345) % (POOL - n + 1)
        return pool.as_strided((n,), (1,), self.offset)  # (as_strided is the cheapest slice)

    def draw(self, dtype: torch.dtype, n: int) -> torch.Tensor:
        unit = torch.finfo(dtype).eps
        return torch.rand(n, generator=self.generator, dtype=dtype).mul_(2 * unit).add_(1 - unit)

    def perturb(self, value, name: str) -> None:
        if isinstance(value, (list, tuple)):
            for item in value:
                self.perturb(item, name)
        elif isinstance(value, torch.Tensor) and value.is_floating_point() and value.layout == torch.strided:
            n = value.numel()
            if n == 1 and float(value).is_integer():
                return  # a count or a step number: integer arithmetic is exact on every CPU
            if n:
                factors = self.factors(value.dtype, n)
                value.mul_(factors if value.dim() == 1 else factors.as_strided(value.shape, _strides(value.shape)))
                self.counts[name, self.thread] += 1

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func._op(*args, **kwargs)
        plan = self.plans.get(func)
        if plan is None:
            plan = self.plans[func] = _Plan(func)
        if plan.exact:
            return out
        outputs = plan.fresh_outputs(out)
        if plan.checks_left > 0 and self.aliases_check(plan, args, kwargs, outputs):
            return out
        for position, argument in plan.written:
            self.perturb(args[position] if position < len(args) else kwargs.get(argument), plan.name)
        self.perturb(outputs, plan.name)
        return out

    def aliases_check(self, plan: _Plan, args, kwargs, outputs: list) -> bool:
        if plan.aliases(args, kwargs, outputs):
            plan.exact = True  # it hands back (part of) an input: no result of its own
        return plan.exact


_active: RoundingNoise | None = None


def enable(seed: int) -> RoundingNoise:
    """Enter rounding noise in this thread and in every thread started from now on."""
    global _active
    if _active is not None:
        raise RuntimeError("rounding noise is already enabled in this process")
    mode = _active = RoundingNoise(seed)
    mode.__enter__()
    original_run = threading.Thread.run
    started = itertools.count(1)

    def run_with_noise(thread: threading.Thread) -> None:
        with RoundingNoise(seed, next(started), shared=mode):  # the thread's own mode
            original_run(thread)

    threading.Thread.run = run_with_noise
    return mode


def counts() -> dict[str, dict[str, int]]:
    """What the active noise reached: results perturbed per operation and per thread."""
    if _active is None:
        raise RuntimeError("rounding noise is not enabled")
    operations: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for (operation, thread), n in list(_active.counts.items()):
        operations[operation] += n
        threads[thread] += n
    return {"operations": dict(operations), "threads": dict(threads)}
