"""Putting numbers from cells into the book's prose."""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any, digits: int = 3, significant: int | None = None) -> None:
    """Store ``value`` under ``name`` for the prose (`{glue:text}` in MyST).

    Floats are rounded first, to ``digits`` decimals or, for tiny or huge numbers, to
    ``significant`` significant digits, so the stored text is stable across machines.
    Where myst-nb is absent (on Colab, say) it does nothing.
    """
    if isinstance(value, float):
        value = float(f"{value:.{significant}g}") if significant else round(value, digits)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=False)
