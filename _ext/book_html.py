"""What the HTML pages need beyond Jupyter Book's defaults: offline math, no console
errors, and the in-page autocomplete demo of chapter 6.

1. MathJax 3 is served from the book itself: it comes from the `django-static-mathjax`
   wheel (a plain copy of MathJax's files), and after an HTML build its `es5` folder is
   copied to `_static/mathjax`; `_config.yml` points `mathjax_path` at it.
2. Each script is included once: sphinx-thebe registers its inline configuration twice
   under Jupyter Book 1, and the second copy fails with "Identifier 'THEBE_JS_URL' has
   already been declared".
3. The demo page, and only it, gets `autocomplete-demo.js` and `.css` from `_ext/demo`
   (not `_static`, whose scripts Jupyter Book adds to every page), and
   `_static/demo/seed-models.js`, which this extension writes: the seed models of chapter 6,
   trained by `helpers.seed_autocomplete` and exported with `Autocomplete.export_dict()`.
   A script file rather than JSON, so the demo also works from `file://` pages.
4. The same page also gets `shakespeare-demo.js` and `.css` and
   `_static/demo/shakespeare-model.js`: the shipped Shakespeare LSTM (`data/`), quantised
   to int8 by `CharAutocomplete.write_script` (the format is `helpers.char_export`'s);
   `window.SHAKESPEARE_MODEL = null` when the checkpoint is not trained yet (`make train`),
   and the demo then says so.
5. After them, `lstm-scope.js` and `.css`: the scope on the same model (its units, gates,
   interventions and connectivity), which reuses the demo's loaded weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import mathjax
from sphinx.application import Sphinx

SOURCE = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
DEMO_PAGE = "chapters/06_autocomplete"
DEMO_CELLS = ("rnn", "lstm")
DEMO_ASSETS = Path(__file__).parent / "demo"
SHAKESPEARE_MODEL = "demo/shakespeare-model.js"


def _not_needed(folder: str, names: list[str]) -> list[str]:
    """What to leave out: the other all-in-one bundles and the SVG output."""
    if Path(folder) == SOURCE:
        return [n for n in names if n.endswith(".js") and n != "tex-chtml.js"]
    return ["svg"] if Path(folder).name == "output" else []


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        shutil.copytree(SOURCE, target, ignore=_not_needed, dirs_exist_ok=True)


def write_demo_models(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from helpers import seed_autocomplete  # imports torch: only when the book is built

    models = {cell: seed_autocomplete(cell)[0].export_dict() for cell in DEMO_CELLS}
    target = Path(app.outdir) / "_static" / "demo" / "seed-models.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"window.BOOK_MODELS = {json.dumps(models, separators=(',', ':'))};\n")


def write_shakespeare_model(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from helpers.char_autocomplete import CharAutocomplete  # imports torch

    target = Path(app.outdir) / "_static" / SHAKESPEARE_MODEL
    try:
        CharAutocomplete.shipped().write_script(target)
    except FileNotFoundError:  # not trained yet
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("window.SHAKESPEARE_MODEL = null;\n")


def add_shakespeare_assets(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    if pagename == DEMO_PAGE:  # deferred: the page shows before the model (about 1.6 MB) loads
        app.builder.add_css_file("shakespeare-demo.css")
        app.builder.add_css_file("lstm-scope.css")
        for script in (SHAKESPEARE_MODEL, "shakespeare-demo.js", "lstm-scope.js"):
            app.builder.add_js_file(script, defer="defer")


def add_demo_assets(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    if pagename == DEMO_PAGE:  # the builder's lists are reset for every page
        app.builder.add_css_file("autocomplete-demo.css")
        for script in ("demo/seed-models.js", "autocomplete-demo.js"):
            app.builder.add_js_file(script)


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    seen, unique = set(), []
    for script in context["script_files"]:
        # the same inline script is registered once with filename None and once with ""
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # in place: later handlers append to this list


def add_demo_folder(app: Sphinx, config: Any) -> None:
    config.html_static_path.append(str(DEMO_ASSETS))


def setup(app: Sphinx) -> dict[str, bool]:
    if not (SOURCE / "tex-chtml.js").exists():
        raise RuntimeError(f"MathJax not found at {SOURCE}; pip install django-static-mathjax")
    app.connect("config-inited", add_demo_folder)
    app.connect("build-finished", copy_mathjax)
    app.connect("build-finished", write_demo_models)
    app.connect("build-finished", write_shakespeare_model)
    app.connect("html-page-context", drop_repeated_scripts, priority=100)
    app.connect("html-page-context", add_demo_assets)
    app.connect("html-page-context", add_shakespeare_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
