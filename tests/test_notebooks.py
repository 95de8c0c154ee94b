"""Notebook hygiene: what strict nbval alone does not check."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
REMOTE_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*https?://|<img[^>]+src=[\"']https?://")


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_chapter_is_a_notebook_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    assert len(NOTEBOOKS) >= 2
    for path in NOTEBOOKS:
        assert f"chapters/{path.stem}" in toc, f"{path.name} is not listed in _toc.yml"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def nb(request):
    return load(request.param)


def test_kernel_is_python3(nb):
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_cells_ran_once_top_to_bottom(nb):
    counts = [c["execution_count"] for c in code_cells(nb) if "".join(c["source"]).strip()]
    assert counts == list(range(1, len(counts) + 1))


def test_outputs_are_stored_without_errors_or_stderr(nb):
    cells = code_cells(nb)
    assert sum(bool(c["outputs"]) for c in cells) >= len(cells) // 2
    for cell in cells:
        for out in cell["outputs"]:
            assert out["output_type"] != "error", "".join(cell["source"])[:80]
            assert out.get("name") != "stderr", "".join(cell["source"])[:80]


def test_first_cell_sets_up_colab_only(nb):
    first = "".join(code_cells(nb)[0]["source"])
    assert 'if "google.colab" in sys.modules:' in first
    assert "pip install" in first
    # outside Colab the set-up cell prints nothing
    assert code_cells(nb)[0]["outputs"] == []


def test_no_remote_images_and_every_figure_has_alt_text(nb):
    for cell in nb["cells"]:
        assert not REMOTE_IMAGE.search("".join(cell["source"]))
    for cell in code_cells(nb):
        if any("image/png" in out.get("data", {}) for out in cell["outputs"]):
            alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")
            assert len(alt) > 20, f"figure without alt text: {''.join(cell['source'])[:80]}"


def test_no_trailing_semicolon_to_hide_output(nb):
    for cell in code_cells(nb):
        lines = [l for l in "".join(cell["source"]).rstrip().splitlines() if l.strip()]
        assert not (lines and lines[-1].rstrip().endswith(";")), "".join(cell["source"])[:80]


def test_stored_outputs_have_no_addresses_or_timings(nb):
    for cell in code_cells(nb):
        for out in cell["outputs"]:
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert not re.search(r" at 0x[0-9a-f]{6,}", text), text[:120]
            assert not re.search(r"\b\d+(\.\d+)?\s?(ms|seconds|s/it|it/s)\b", text), text[:120]


def test_ends_with_exercises_and_collapsed_solutions(nb):
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    exercises = markdown.split("## Exercises")
    assert len(exercises) == 2, "one '## Exercises' section"
    solutions = exercises[1].count(":::{admonition} Solution\n:class: dropdown")
    assert solutions >= 3, f"{solutions} collapsed solutions"
