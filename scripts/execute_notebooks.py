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


def run_notebook(path: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """Execute a notebook top to bottom in a fresh kernel; return it with its new outputs."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
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
