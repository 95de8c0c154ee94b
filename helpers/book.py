"""Putting numbers from cells into the book's prose."""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any, digits: int = 3) -> None:
    """Store ``value`` under ``name`` for the prose (`{glue:text}` in MyST).

    Floats are rounded to ``digits`` decimals first, so the stored text is stable across
    machines. Where myst-nb is absent (on Colab, say) it does nothing.
    """
    if isinstance(value, float):
        value = round(value, digits)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=False)
