"""Rounding noise for PyTorch: every rounded floating-point result of a torch operation is
multiplied by ``1 + e * u``, with ``u`` in [-1, 1) and ``e`` one unit in the last place of 1
in the tensor's dtype (2**-52 for float64, 2**-23 for float32). ``u`` is a hash of the value's
bits and the noise seed, spread evenly over [-1, 1): as on a real CPU, the same computation
done twice gives the same bits, and another seed stands for another CPU.

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
  same mode before it runs anything;
- a process forked from a thread in the mode (``helpers.seeds``' workers) is a copy of that
  thread, mode included; its ``counts()`` stay in the copy.

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

import threading
from collections import Counter

import numpy as np
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
    t_ transpose_ swapdims_ swapaxes_ squeeze_ unsqueeze_ as_strided_ detach_ resize_as_
    _foreach_copy_ _foreach_zero_ unsafe_split unsafe_split_with_sizes unsafe_chunk _unsafe_view
    """.split()
)


ALIAS_CHECKS = 20  # calls of each operation checked for outputs that alias an input


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


# the unsigned integer type that holds each float type's bits, for the hash of a value
BITS = {torch.float64: np.uint64, torch.float32: np.uint32, torch.float16: np.uint16}
UNIT = {np.dtype(t): np.finfo(t).eps for t in (np.float64, np.float32, np.float16)}
BITS_NP = {np.dtype(np.float64): np.uint64, np.dtype(np.float32): np.uint32, np.dtype(np.float16): np.uint16}
MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9))  # splitmix64's odd constants


class RoundingNoise(TorchDispatchMode):
    """Multiply the rounded floating-point results of every torch operation by 1 + e*u.

    ``u`` is a hash of the value's own bits and of ``seed``: like a real CPU, the noise is a
    fixed function of what is computed, so the same computation twice gives the same bits
    (a chapter may show that two results are identical) while another seed is another CPU.
    Each thread gets a mode of its own (a mode lives in thread-local state); the plans and
    counts are shared."""

    def __init__(self, seed: int, shared: RoundingNoise | None = None) -> None:
        super().__init__()
        self.salt = np.uint64(seed * int(MIX[1]) % (1 << 64))
        self.thread = threading.current_thread().name
        self.plans: dict = {} if shared is None else shared.plans  # operation -> _Plan
        self.counts: Counter = Counter() if shared is None else shared.counts  # (operation, thread) -> results

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # no torch.compile here: spare every operation the wrapper that skips it

    def factors(self, values: np.ndarray) -> np.ndarray:
        """1 + e*u for every element, u in [-1, 1) a hash of the element's bits and the seed,
        e one unit in the last place of 1 in its dtype. (NumPy: its small operations cost a
        tenth of torch's, and an array's unsigned arithmetic wraps around silently.)"""
        h = np.atleast_1d(values.view(BITS_NP[values.dtype])).astype(np.uint64)
        h ^= self.salt
        h *= MIX[0]  # multiplicative hashing: the top bits depend on every bit of the value
        u = (h >> np.uint64(11)).astype(np.float64)  # the top 53 bits: u * 2**-53 is in [0, 1)
        e = UNIT[values.dtype]
        u *= 2 * e * 2.0**-53
        u += 1 - e
        return u.astype(values.dtype, copy=False)

    def perturb(self, value, name: str, before: torch.Tensor | None = None) -> None:
        """Perturb ``value`` in place; with ``before`` (its value before an in-place
        operation), only the elements that the operation changed: ``x.add_(0)`` is exact."""
        if not (isinstance(value, torch.Tensor) and value.dtype in BITS and value.layout == torch.strided):
            return
        n = value.numel()
        if n == 0 or (n == 1 and float(value).is_integer()):
            return  # (a single whole number is a count or a step number: exact on every CPU)
        if before is not None and before.shape != value.shape:
            return  # an in-place change of shape, not of values
        values = value.detach().numpy()  # the same memory
        factors = self.factors(values).reshape(values.shape)
        if before is not None:
            factors[values == before.numpy()] = 1
        values *= factors
        self.counts[name, self.thread] += 1

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        plan = self.plans.get(func)
        if plan is None:
            plan = self.plans[func] = _Plan(func)
        if plan.exact:
            return func._op(*args, **kwargs)
        written = []  # (tensor, its value before) for the arguments an in-place operation writes
        for position, argument in plan.written:
            value = args[position] if position < len(args) else kwargs.get(argument)
            for tensor in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(tensor, torch.Tensor) and tensor.dtype in BITS:
                    written.append((tensor, tensor.detach().clone()))
        out = func._op(*args, **kwargs)
        outputs = plan.fresh_outputs(out)
        if plan.checks_left > 0 and self.aliases_check(plan, args, kwargs, outputs):
            return out
        for tensor, before in written:
            self.perturb(tensor, plan.name, before)
        for value in outputs:
            for tensor in value if isinstance(value, (list, tuple)) else [value]:
                self.perturb(tensor, plan.name)
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

    def run_with_noise(thread: threading.Thread) -> None:
        with RoundingNoise(seed, shared=mode):  # the thread's own mode
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
