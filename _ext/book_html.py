"""Two fixes to the HTML pages, so they work offline and log no errors in the browser.

1. MathJax 3 is served from the book itself: it comes from the `django-static-mathjax`
   wheel (a plain copy of MathJax's files), and after an HTML build its `es5` folder is
   copied to `_static/mathjax`; `_config.yml` points `mathjax_path` at it.
2. Each script is included once: sphinx-thebe registers its inline configuration twice
   under Jupyter Book 1, and the second copy fails with "Identifier 'THEBE_JS_URL' has
   already been declared".
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import mathjax
from sphinx.application import Sphinx

SOURCE = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _not_needed(folder: str, names: list[str]) -> list[str]:
    """What to leave out: the other all-in-one bundles and the SVG output."""
    if Path(folder) == SOURCE:
        return [n for n in names if n.endswith(".js") and n != "tex-chtml.js"]
    return ["svg"] if Path(folder).name == "output" else []


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        shutil.copytree(SOURCE, target, ignore=_not_needed, dirs_exist_ok=True)


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    seen, unique = set(), []
    for script in context["script_files"]:
        # the same inline script is registered once with filename None and once with ""
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # in place: later handlers append to this list


def setup(app: Sphinx) -> dict[str, bool]:
    if not (SOURCE / "tex-chtml.js").exists():
        raise RuntimeError(f"MathJax not found at {SOURCE}; pip install django-static-mathjax")
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", drop_repeated_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
