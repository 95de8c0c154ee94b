"""Execute every chapter as other CPUs would, and compare the text outputs with the stored ones.

    python scripts/check_reproducible.py [chapters/NN_name.ipynb ...]

Strict nbval compares one fresh run on this machine with the stored outputs. Readers run
the book on other CPUs (Intel, AMD, Apple), where PyTorch picks other kernels and rounds
some floating-point sums differently. This script stands in for them: it executes each
chapter under numerical back ends that differ from the native one, and each must print
exactly what the notebook stores:

- ``generic``: ATen's portable kernels (``ATEN_CPU_CAPABILITY=default``), no AVX at all;
- ``avx2``: ATen's AVX2 kernels, oneDNN (the fused LSTM) limited to AVX and MKL (matrix
  products) on its conservative ``COMPATIBLE`` code path.

Each changes the last bits of different operations (checked: the first changes ATen's
elementwise kernels and matrix products, the second the fused LSTM and matrix products),
as another CPU would.

Each run also uses another ``PYTHONHASHSEED``, so an output that depends on set order is
caught, and none sets the thread counts that ``execute_notebooks.py`` fixes: the chapters
must fix what they need themselves, as they do when a reader runs ``pytest``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from execute_notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
# what nbval compares, and the numbers glued into the prose (myst-nb stores them under their own type)
TEXT_KEYS = ("text/plain", "text/html", "text/markdown", "text/latex", "application/papermill.record/text/plain")
BACKENDS = {
    "generic": {"ATEN_CPU_CAPABILITY": "default", "PYTHONHASHSEED": "1"},
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX",
        "MKL_CBWR": "COMPATIBLE",
        "PYTHONHASHSEED": "2",
    },
}


def text_outputs(nb: nbformat.NotebookNode) -> list[list[str]]:
    """Per code cell, its text outputs: streams, the text forms of rich outputs and glued values.

    Consecutive writes to one stream are joined, as nbval does: how the kernel splits
    printed text into messages depends on timing.
    """
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts: list[str] = []
        for out in cell.outputs:
            if out.output_type == "stream":
                head = f"{out.name}: "
                if texts and texts[-1].startswith(head):
                    texts[-1] += out.text
                else:
                    texts.append(head + out.text)
            for key in TEXT_KEYS:
                if key in out.get("data", {}):
                    texts.append(f"{key}: {out.data[key]}")
        cells.append(texts)
    return cells


def show_difference(stored: list[str], fresh: list[str]) -> None:
    """Print the first differing output of a cell, stored then fresh."""
    for a, b in zip(stored + [""] * len(fresh), fresh + [""] * len(stored)):
        if a != b:
            print("    stored:", a.strip().replace("\n", "\n            "))
            print("    fresh: ", b.strip().replace("\n", "\n            "))
            return


def main(paths: list[str], backends: dict[str, dict[str, str]] = BACKENDS) -> int:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "chapters").glob("*.ipynb"))
    native = dict(os.environ)
    failures = 0
    for path in notebooks:
        stored = text_outputs(nbformat.read(path, as_version=4))
        for name, settings in backends.items():
            os.environ.clear()
            os.environ.update(native | settings)
            try:
                fresh = text_outputs(run_notebook(path))
            finally:
                os.environ.clear()
                os.environ.update(native)
            diffs = [i for i, (a, b) in enumerate(zip(stored, fresh, strict=True)) if a != b]
            print(f"{path.name}, {name}: {'same as stored' if not diffs else f'DIFFERS in code cells {diffs}'}")
            for i in diffs:
                print(f"  code cell {i}:")
                show_difference(stored[i], fresh[i])
            failures += bool(diffs)
    runs = len(notebooks) * len(backends)
    print(f"{runs - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
