"""Putting numbers from cells into the book's prose."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

# myst-nb's prefix for a glued value that is stored but not shown (glue(..., display=False))
GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value: Any, digits: int = 3, significant: int | None = None) -> None:
    """Store ``value`` under ``name`` for the prose (`{glue:text}` in MyST).

    Floats are rounded first, to ``digits`` decimals or, for tiny or huge numbers, to
    ``significant`` significant digits, so the stored text is stable across machines.
    Where myst-nb is absent (on Colab, say) it does nothing.

    The output is exactly what ``myst_nb.glue(name, value, display=False)`` stores (a test
    checks it), written here because importing ``myst_nb.ext.glue`` loads docutils: about
    three seconds of processor time in every chapter, for one ``display`` call.
    """
    if isinstance(value, float):
        value = float(f"{value:.{significant}g}") if significant else round(value, digits)
    if find_spec("myst_nb") is None:
        return
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    bundle, metadata = format_display_data(value)
    metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_PREFIX}
    display({GLUE_PREFIX + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)
