"""Argument checks shared by the autocompletes: integers that are integers (not ``True``,
not ``2.0``), inside a stated range, with messages that name the argument and the value."""

from __future__ import annotations

from numbers import Integral


def is_int(value: object) -> bool:
    """An integer of any kind (Python's or NumPy's), but not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_int(
    name: str, value: object, low: int, high: int, *, high_text: str | None = None, why: str = "", none_ok: bool = False
) -> None:
    """Refuse ``value`` unless it is an integer from ``low`` to ``high`` (or None, if
    ``none_ok``): a TypeError for the wrong type, a ValueError with the range otherwise.
    ``high_text`` writes the upper bound (``2**64 - 1``); ``why`` follows the range."""
    if none_ok and value is None:
        return
    if not is_int(value):
        raise TypeError(f"{name} must be an integer{' or None' if none_ok else ''}, got {type(value).__name__}: {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high_text or high}{why}, got {value}")
