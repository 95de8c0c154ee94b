"""Putting numbers from cells into the book's prose."""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any, digits: int = 3) -> Any:
    """Store ``value`` under ``name`` for the prose (`{glue:text}` in MyST) and return it.

    Floats are rounded to ``digits`` decimals first, so the stored text is stable across
    machines. Outside a book build (on Colab, say, where myst-nb is absent) it only
    returns the value.
    """
    if isinstance(value, float):
        value = round(value, digits)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, value, display=False)
    return value
