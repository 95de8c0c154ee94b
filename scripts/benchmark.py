"""Measure the book against its budgets and print a table (also written as Markdown).

    python scripts/benchmark.py [--markdown PATH]

For every chapter: the wall time of executing it top to bottom in a fresh kernel and the
kernel's peak memory (resident set size). Then the whole book, the HTML build without
execution, and the overhead of `helpers.fit` against a bare PyTorch loop. Rows over budget
are marked. Notebooks are executed in a temporary copy; nothing in the repository changes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_BUDGET_S = 30.0
BOOK_BUDGET_S = 120.0
MEMORY_BUDGET_MB = 1536.0
BUILD_BUDGET_S = 60.0
OVERHEAD_BUDGET = 1.1

# Run in a child process: execute one notebook, then report the kernel's peak memory,
# which is the largest resident set among the child's own (waited-for) children.
WORKER = """
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": sys.argv[2]}})
start = time.perf_counter()
client.execute()
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))
"""


def run_chapter(path: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as tmp:  # the kernel's working directory
        out = subprocess.run(
            [sys.executable, "-c", WORKER, str(path), tmp],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_build() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--path-output", tmp],
            capture_output=True, check=True,
        )  # fmt: skip
        return time.perf_counter() - start


def fit_overhead(repeats: int = 5) -> float:
    """Median time of `helpers.fit` over a bare Adam loop doing the same work."""
    import torch

    from helpers import SEED_SENTENCES, NextWordModel, Vocab, fit, next_word_tensors, seed_everything

    vocab = Vocab.build(SEED_SENTENCES, unk=None)
    inputs, targets = next_word_tensors(SEED_SENTENCES, vocab)

    def bare(model: torch.nn.Module, epochs: int) -> list[float]:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        losses = []
        for _ in range(epochs):
            loss = torch.nn.functional.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    ratios = []
    for _ in range(repeats):
        times = []
        for loop in (lambda m: fit(m, inputs, targets, epochs=300), lambda m: bare(m, 300)):
            seed_everything(0)
            model = NextWordModel(len(vocab), 32)
            start = time.perf_counter()
            loop(model)
            times.append(time.perf_counter() - start)
        ratios.append(times[0] / times[1])
    return statistics.median(ratios)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, default=ROOT / "_build" / "benchmark.md")
    args = parser.parse_args()

    rows: list[tuple[str, str, str, str, bool]] = []  # what, measured, memory, budget, over
    total = 0.0
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        result = run_chapter(path)
        total += result["seconds"]
        over = result["seconds"] > CHAPTER_BUDGET_S or result["peak_mb"] > MEMORY_BUDGET_MB
        rows.append((path.stem, f"{result['seconds']:.1f} s", f"{result['peak_mb']:.0f} MB",
                     f"<= {CHAPTER_BUDGET_S:.0f} s, <= {MEMORY_BUDGET_MB:.0f} MB", over))  # fmt: skip
    rows.append(("whole book", f"{total:.1f} s", "", f"<= {BOOK_BUDGET_S:.0f} s", total > BOOK_BUDGET_S))
    build = time_build()
    rows.append(("HTML build (no execution)", f"{build:.1f} s", "", f"<= {BUILD_BUDGET_S:.0f} s", build > BUILD_BUDGET_S))
    ratio = fit_overhead()
    rows.append(("helpers.fit / bare loop", f"{ratio:.2f}x", "", f"<= {OVERHEAD_BUDGET}x", ratio > OVERHEAD_BUDGET))

    header = ("what", "time", "peak memory", "budget", "")
    table = [header] + [(a, b, c, d, "OVER BUDGET" if over else "ok") for a, b, c, d, over in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    lines = ["| " + " | ".join(header[:4]) + " | status |", "|" + " --- |" * 5]
    lines += ["| " + " | ".join(row) + " |" for row in table[1:]]
    args.markdown.write_text("\n".join(lines) + "\n")
    print(f"Markdown table written to {args.markdown.relative_to(ROOT) if args.markdown.is_relative_to(ROOT) else args.markdown}")
    return 1 if any(over for *_, over in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
