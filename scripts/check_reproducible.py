"""Execute every chapter as other CPUs would, and compare the text outputs with the stored ones.

    python scripts/check_reproducible.py [--runs generic,avx2,noise-1,noise-2] [chapters/NN_name.ipynb ...]

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
as another CPU would. But a kernel switch reaches only the operations that it switches, and
a chaotic result can survive both and still fall over on the next CPU. So two more runs
perturb everything:

- ``noise-1``, ``noise-2``: rounding noise (``rounding_noise.py``): every rounded result of
  every torch operation, in every thread, forward and backward, is multiplied by
  ``1 + e * u`` with ``u`` uniform in [-1, 1] and ``e`` one unit in the last place, under
  two noise seeds. A printed digit that this changes is not a result.

By default (as ``make test`` runs it) the script runs ``generic``, ``noise-1`` and ``noise-2``;
``avx2`` changes only operations that the noise reaches too, and is there to pick with
``--runs``.

Each run also uses another ``PYTHONHASHSEED``, so an output that depends on set order is
caught, and none sets the thread counts that ``execute_notebooks.py`` fixes: the chapters
must fix what they need themselves, as they do when a reader runs ``pytest``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from execute_notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent
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
    "noise-1": {"ROUNDING_NOISE_SEED": "1", "PYTHONHASHSEED": "3"},
    "noise-2": {"ROUNDING_NOISE_SEED": "2", "PYTHONHASHSEED": "4"},
}
# The runs of `make test`: the generic kernels and the noise. The AVX2 run (pick it with --runs)
# changes only operations that the noise perturbs too, and costs a whole run of the book.
DEFAULT_RUNS = ("generic", "noise-1", "noise-2")
# Run in the kernel before the first cell and after the last one when a run asks for noise.
NOISE_BEFORE = f"""import os, sys
sys.path.insert(0, {str(SCRIPTS)!r})
import rounding_noise
rounding_noise.enable(int(os.environ["ROUNDING_NOISE_SEED"]))"""
NOISE_AFTER = "import json; print(json.dumps(rounding_noise.counts()))"


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


def run(path: Path, settings: dict[str, str]) -> tuple[nbformat.NotebookNode, str]:
    """Execute ``path`` with ``settings`` added to the environment; return the notebook and,
    under rounding noise, a line on what the noise reached."""
    noise = "ROUNDING_NOISE_SEED" in settings
    nb = run_notebook(path, before=NOISE_BEFORE if noise else "", after=NOISE_AFTER if noise else "",
                      env={**os.environ, **settings})  # fmt: skip
    if not noise:
        return nb, ""
    reached = json.loads(nb.metadata.pop("after_outputs")[0]["text"])
    threads = ", ".join(f"{name} {n}" for name, n in sorted(reached["threads"].items()))
    return nb, f"  noise reached {sum(reached['threads'].values())} results of {len(reached['operations'])} operations; by thread: {threads}"


def main(paths: list[str], runs: dict[str, dict[str, str]] | None = None, workers: int = 2) -> int:
    """Run every notebook under every run, ``workers`` kernels at a time (under noise a kernel
    keeps about one core busy: the noise runs in Python, under its lock); report in order."""
    runs = runs or {name: BACKENDS[name] for name in DEFAULT_RUNS}
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "chapters").glob("*.ipynb"))
    failures = 0
    with ThreadPoolExecutor(workers) as pool:
        started = {(path, name): pool.submit(run, path, settings) for path in notebooks for name, settings in runs.items()}
        for path in notebooks:
            stored = text_outputs(nbformat.read(path, as_version=4))
            for name in runs:
                nb, reach = started[path, name].result()
                fresh = text_outputs(nb)
                diffs = [i for i, (a, b) in enumerate(zip(stored, fresh, strict=True)) if a != b]
                print(f"{path.name}, {name}: {'same as stored' if not diffs else f'DIFFERS in code cells {diffs}'}", flush=True)
                if reach:
                    print(reach)
                for i in diffs:
                    print(f"  code cell {i}:")
                    show_difference(stored[i], fresh[i])
                failures += bool(diffs)
    total = len(notebooks) * len(runs)
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures else 0


def parse(argv: list[str]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """``[--runs a,b] [notebook ...]`` -> (notebooks, the runs chosen), with a clear error."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default=",".join(DEFAULT_RUNS), help=f"comma-separated, from {', '.join(BACKENDS)}")
    parser.add_argument("notebooks", nargs="*")
    options = parser.parse_args(argv)
    names = [name for name in options.runs.split(",") if name]
    unknown = [name for name in names if name not in BACKENDS]
    if unknown or not names:
        parser.error(f"unknown run(s) {unknown or options.runs!r}; choose from {', '.join(BACKENDS)}")
    missing = [p for p in options.notebooks if not Path(p).is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    return options.notebooks, {name: BACKENDS[name] for name in names}


if __name__ == "__main__":
    sys.exit(main(*parse(sys.argv[1:])))
