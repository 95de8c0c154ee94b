"""Serve MathJax from the built book itself, so math renders with no network.

MathJax 3 comes from the `django-static-mathjax` wheel (a plain copy of MathJax's files);
this extension copies its `es5` folder to `_static/mathjax` after an HTML build.
`_config.yml` points `mathjax_path` at it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mathjax
from sphinx.application import Sphinx

SOURCE = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _needed(folder: str, names: list[str]) -> list[str]:
    """What to leave out: the other all-in-one bundles and the SVG output."""
    if Path(folder) == SOURCE:
        return [n for n in names if n.endswith(".js") and n != "tex-chtml.js"]
    return ["svg"] if Path(folder).name == "output" else []


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        shutil.copytree(SOURCE, target, ignore=_needed, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict[str, bool]:
    if not (SOURCE / "tex-chtml.js").exists():
        raise RuntimeError(f"MathJax not found at {SOURCE}; pip install django-static-mathjax")
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
