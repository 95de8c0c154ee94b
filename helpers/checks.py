"""Argument checks shared by the autocompletes and the seeds tool: integers that are
integers (not ``True``, not ``2.0``), inside a stated range, choices and lists of seeds,
with messages that name the argument and the value."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def check_positive(**values: object) -> None:
    """Refuse any of ``values`` (given by name) that is not an integer of at least 1."""
    for name, value in values.items():
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")


def check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    """Refuse ``value`` unless it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_seeds(seeds: Iterable[int], where: str = "") -> list[int]:
    """The seeds as a list of distinct Python integers, or an error that says what is wrong
    (``where`` starts the message, such as "experiment 'T=20': ")."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"{where}seeds must be a list of integers, got {seeds!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError(f"{where}no seeds given")
    for seed in seeds:
        if not is_int(seed):
            raise TypeError(f"{where}every seed must be an integer, got {type(seed).__name__}: {seed!r}")
    repeated = sorted({int(s) for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"{where}seeds must differ; repeated: {repeated}")
    return [int(s) for s in seeds]
