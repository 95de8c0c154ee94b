"""Re-execute notebooks in place, top to bottom, in a fresh `python3` kernel each.

    python scripts/execute_notebooks.py chapters/*.ipynb

The environment is fixed (hash seed, thread counts) so that the stored outputs are the
ones `pytest --nbval` will reproduce. Timing metadata is not recorded.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

FIXED_ENV = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_notebook(
    path: Path, timeout: int = 1800, before: str = "", after: str = "", env: dict[str, str] | None = None
) -> nbformat.NotebookNode:
    """Execute a notebook top to bottom in a fresh kernel; return it with its new outputs.

    ``timeout`` (seconds per cell) only guards against a hung kernel: a cell under rounding
    noise, in a kernel that shares the cores, runs many times slower than it does for a reader
    (the time budgets are measured by ``scripts/benchmark.py``, not here).
    ``before`` and ``after`` are code run in the same kernel before the first cell and after
    the last; their cells are not in the notebook returned (``after``'s is in
    ``nb.metadata["after_outputs"]``). ``env`` is the kernel's environment (default: this
    process's)."""
    nb = nbformat.read(path, as_version=4)
    if before:
        nb.cells.insert(0, nbformat.v4.new_code_cell(before))
    if after:
        nb.cells.append(nbformat.v4.new_code_cell(after))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(**({"env": env} if env is not None else {}))
    if after:
        nb.metadata["after_outputs"] = nb.cells.pop().outputs
    if before:
        nb.cells.pop(0)
    # keep diffs to what the code printed: no timings, no widget state with random ids
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def execute(path: Path) -> float:
    """Execute one notebook in place; return the seconds it took."""
    start = time.perf_counter()
    nb = run_notebook(path)
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    os.environ.update(FIXED_ENV)
    for name in paths:
        seconds = execute(Path(name))
        print(f"{name}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
