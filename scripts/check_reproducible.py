"""Execute every chapter twice, under two different hash seeds, and compare the text outputs.

    python scripts/check_reproducible.py [chapters/NN_name.ipynb ...]

Both runs must print exactly what the notebook stores. Strict nbval compares one fresh run
with the stored outputs; this adds a second run under another `PYTHONHASHSEED`, so an
output that depends on set or dict-of-hash order (or on anything else that varies from
process to process) is caught even if one run happens to match.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from execute_notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
TEXT_KEYS = ("text/plain", "text/html", "text/markdown", "text/latex")


def text_outputs(nb: nbformat.NotebookNode) -> list[list[str]]:
    """Per code cell, its text outputs: streams and the text forms of rich outputs.

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


def main(paths: list[str]) -> int:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "chapters").glob("*.ipynb"))
    failures = 0
    for path in notebooks:
        stored = text_outputs(nbformat.read(path, as_version=4))
        for hash_seed in ("1", "2"):
            os.environ["PYTHONHASHSEED"] = hash_seed
            fresh = text_outputs(run_notebook(path))
            diffs = [i for i, (a, b) in enumerate(zip(stored, fresh, strict=True)) if a != b]
            status = "same as stored" if not diffs else f"DIFFERS in code cells {diffs}"
            print(f"{path.name}, PYTHONHASHSEED={hash_seed}: {status}")
            failures += bool(diffs)
    print(f"{len(notebooks) * 2 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
