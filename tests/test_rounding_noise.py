"""The rounding-noise check reaches every computation and fails where it must.

The noise patches a process for good (``threading.Thread.run``), so each probe runs in a
child Python; the chaotic notebook runs through ``scripts/check_reproducible.py`` itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))

import check_reproducible  # noqa: E402

# Each computation prints its results as exact hex floats, once without and once with noise.
PROBE = r"""
import json, sys
from concurrent.futures import ThreadPoolExecutor
import torch
sys.path.insert(0, sys.argv[1])

def lstm_step(dtype):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 8, batch_first=True).to(dtype)  # float32: oneDNN's fused kernel
    optimizer = torch.optim.Adam(lstm.parameters(), lr=0.01)  # _foreach_ updates
    x = torch.randn(4, 10, 3, dtype=dtype)
    hidden = lstm(x)[0]
    hidden.pow(2).sum().backward()
    grad = lstm.weight_hh_l0.grad.clone()
    torch.nn.utils.clip_grad_norm_(lstm.parameters(), 1e6)  # _foreach_norm, never clipping
    optimizer.step()
    return {"forward": hidden.flatten().tolist(), "backward": grad.flatten().tolist(),
            "step": lstm.weight_hh_l0.flatten().tolist()}

def raw():
    a = torch.linspace(0.1, 0.9, 50, dtype=torch.float64)
    x = a
    for _ in range(3):  # elementwise arithmetic only (three steps of a logistic map)
        x = 3.9 * x * (1 - x)
    return {"matmul": (a[:, None] @ a[None, :]).flatten().tolist(), "tanh": torch.tanh(a).tolist(),
            "elementwise": x.tolist()}

def exact():
    a = torch.linspace(0.1, 0.9, 50, dtype=torch.float64)
    b = torch.cat([a, a.flip(0)]).clone()
    return {"max": b.max().item(), "index": b[7].item(), "where": torch.where(b > 0.5, b, -b)[3].item(),
            "cast": b.float().double()[11].item(), "relu": torch.relu(b)[60].item(),
            "count": (b > 0.5).double().sum().item()}

def results():
    out = {"raw": raw(), "exact": exact(), "float64": lstm_step(torch.float64), "float32": lstm_step(torch.float32)}
    with ThreadPoolExecutor(1) as pool:
        out["thread"] = pool.submit(lstm_step, torch.float64).result()
    return out

def is_view_or_composite(name):  # views hand back their input; composites run as others the mode sees
    packet = getattr(torch.ops.aten, name)
    for overload in packet.overloads():
        try:
            op = getattr(packet, overload)
            if op.is_view or torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), "CompositeImplicitAutograd"):
                return True
        except RuntimeError:  # an overload that only TorchScript knows
            pass
    return False

before = results()
import rounding_noise
mode = rounding_noise.enable(int(sys.argv[2]))
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
    after = results()
def called_by_the_program(event):  # not from inside another kernel, whose own result gets the noise
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith("aten::") and not is_view_or_composite(parent.name[6:]):
            return False
        parent = parent.cpu_parent
    return True

# an independent record of every ATen operation run, in every thread: what did the noise miss?
recorded = {e.name[6:] for e in profiler.events() if e.name.startswith("aten::") and called_by_the_program(e)}
seen = {plan.name for plan in mode.plans.values()}
missed = sorted(name for name in recorded - seen
                if name not in rounding_noise.EXACT and name != "item" and not is_view_or_composite(name))
print(json.dumps({"before": before, "after": after, "counts": rounding_noise.counts(), "missed": missed}))
"""


@pytest.fixture(scope="module")
def probe() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(SCRIPTS), "1"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("part", ["raw", "float64", "float32", "thread"])
def test_noise_changes_every_rounded_result(probe: dict, part: str) -> None:
    eps = 2**-23 if part == "float32" else 2**-52
    for key, exact_values in probe["before"][part].items():
        pairs = list(zip(exact_values, probe["after"][part][key], strict=True))
        changed = sum(noisy != exact for exact, noisy in pairs)
        # one unit in the last place, or less, can round back to the same value: most change
        assert changed >= len(pairs) / 4, f"{part}/{key}: only {changed} of {len(pairs)} values perturbed"
        if key == "step":  # Adam's first step is lr * sign(gradient): a near-zero entry amplifies noise
            continue
        # a few operations deep, a change stays within some thousands of units in the last place
        worst = max(abs(noisy - exact) / max(abs(exact), 1e-3) for exact, noisy in pairs)
        assert worst <= 1e4 * eps, f"{part}/{key}: relative change {worst:.1e}"


def test_noise_leaves_exact_operations_exact(probe: dict) -> None:
    assert probe["after"]["exact"] == probe["before"]["exact"]


def test_noise_reaches_threads_fused_kernels_backward_and_optimizers(probe: dict) -> None:
    counts = probe["counts"]
    assert set(counts["threads"]) >= {"MainThread"} and len(counts["threads"]) == 2, counts["threads"]
    for operation in ["mm", "tanh", "mkldnn_rnn_layer", "mkldnn_rnn_layer_backward", "sigmoid_backward",
                      "_foreach_norm", "lerp_", "addcdiv_", "sum"]:
        assert counts["operations"].get(operation, 0) > 0, f"{operation} never perturbed"
    for operation in ["max", "cat", "index", "where", "_to_copy", "copy_", "relu", "t", "view"]:
        assert operation not in counts["operations"], f"exact {operation} perturbed"


def test_noise_misses_no_operation_the_profiler_records(probe: dict) -> None:
    # torch.profiler records every ATen operation in every thread, independently of the mode
    assert probe["missed"] == []


def test_check_flags_chaos_that_kernel_switches_miss(capsys: pytest.CaptureFixture[str]) -> None:
    notebook = str(ROOT / "tests" / "notebooks" / "logistic_map.ipynb")
    switches = {name: check_reproducible.BACKENDS[name] for name in ["generic", "avx2"]}
    assert check_reproducible.main([notebook], switches) == 0
    assert check_reproducible.main([notebook], {"noise-1": check_reproducible.BACKENDS["noise-1"]}) == 1
    report = capsys.readouterr().out
    assert "logistic_map.ipynb, generic: same as stored" in report
    assert "logistic_map.ipynb, noise-1: DIFFERS in code cells [0]" in report
    assert "stored: stdout: x after 200 steps: 0.400241" in report


def test_check_refuses_unknown_runs_and_missing_notebooks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        check_reproducible.parse(["--runs", "generic,nois-1"])
    assert "unknown run(s) ['nois-1']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        check_reproducible.parse(["chapters/no_such.ipynb"])
    assert "no such notebook: chapters/no_such.ipynb" in capsys.readouterr().err


# helpers.seeds forks worker processes on Linux: the noise must reach them too.
FORKED = r"""
import json, os, sys
import torch
sys.path.insert(0, sys.argv[1])
from helpers import Online, SequenceModel, train_experiments
from helpers.tasks import adding_problem

def sample(batch_size, generator):
    inputs, targets = adding_problem(batch_size, 10, generator)
    return inputs.double(), targets.double()

task = Online(sample, steps=20, batch_size=8)
experiments = {cell: (lambda c=cell: SequenceModel(2, 6, 1, c).double(), task, [0, 1]) for cell in ["lstm", "gru"]}
def losses():
    runs = train_experiments(experiments, method="threads")
    return {cell: [run.losses[-1].hex() for run in runs[cell]] for cell in runs}

before = losses()
import rounding_noise
rounding_noise.enable(1)
after = losses()
print(json.dumps({"before": before, "after": after, "parent": os.getpid()}))
"""


def test_noise_reaches_the_worker_processes_of_the_seeds_tool() -> None:
    from helpers.seeds import FORK

    if not FORK:
        pytest.skip("worker processes are forked on Linux only")
    out = subprocess.run([sys.executable, "-c", FORKED, str(SCRIPTS)], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    probe = json.loads(out.stdout)
    for cell in ["lstm", "gru"]:  # four equal jobs: two trained in this process, two in a forked copy
        for exact, noisy in zip(probe["before"][cell], probe["after"][cell], strict=True):
            assert exact != noisy, f"{cell}: the noise did not change a run"
