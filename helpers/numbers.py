"""Numbers written out in English words and in Sino-Korean numerals: chapter 7's task.

``english(2007)`` is ``"two thousand and seven"`` (British usage: "and" before the last two
digits when a hundred or a thousand comes first) and ``korean(2007)`` is ``"이천칠"``. The
Korean numerals are the Sino-Korean ones: the digits 일 이 삼 사 오 육 칠 팔 구 and the
place words 십 (10), 백 (100), 천 (1000) and 만 (10 000). A digit 1 before a place word is
not said (10 is 십, 1000 is 천, 10 000 is 만), and a zero digit is simply skipped (2007 is
이천칠: "two thousand seven"). English groups digits by thousands, Korean by ten thousands,
so 12 345 is "twelve thousand ..." but 만이천... ("ten-thousand two-thousand ..."): the two
languages do not line up word for word.

Both functions take an integer from 1 to ``MAX_NUMBER`` (99 999) and refuse anything else
with an error that quotes the value. ``number_pairs`` gives the (English, Korean) pair of
every such number and ``split_numbers`` a seeded random split into training and held-out
numbers.
"""

from __future__ import annotations

import random

from .checks import check_int

MAX_NUMBER = 99_999

ONES = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

KOREAN_DIGITS = "_일이삼사오육칠팔구"  # index 0 is never used: a zero digit is skipped
KOREAN_PLACES = ["", "십", "백", "천"]  # 10**0 .. 10**3 inside a group of four digits
KOREAN_MAN = "만"  # 10**4


def _check(n: object) -> int:
    check_int("n", n, 1, MAX_NUMBER)
    return int(n)  # type: ignore[call-overload]


def _english_below_100(n: int) -> str:
    if n < 10:
        return ONES[n]
    if n < 20:
        return TEENS[n - 10]
    return TENS[n // 10] + ("-" + ONES[n % 10] if n % 10 else "")


def _english_below_1000(n: int) -> list[str]:
    """The words of 1 <= n <= 999, without the "and" that links to a higher group."""
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [ONES[hundreds], "hundred"]
        if rest:
            words.append("and")
    if rest:
        words.append(_english_below_100(rest))
    return words


def english(n: int) -> str:
    """``n`` (1 to 99 999) in English words: 2007 -> "two thousand and seven",
    12345 -> "twelve thousand three hundred and forty-five"."""
    n = _check(n)
    thousands, rest = divmod(n, 1000)
    words: list[str] = []
    if thousands:
        words += [_english_below_100(thousands), "thousand"]
        if 0 < rest < 100:
            words.append("and")
    if rest:
        words += _english_below_1000(rest)
    return " ".join(words)


def english_words(n: int) -> list[str]:
    """The tokens of ``english(n)``: split at spaces and hyphens ("forty-five" is two)."""
    return english(n).replace("-", " ").split()


def _korean_below_10000(n: int) -> str:
    text = ""
    for place in (3, 2, 1, 0):
        digit = n // 10**place % 10
        if digit == 0:
            continue
        # a 1 before a place word is not said: 10 is 십, not 일십
        text += ("" if digit == 1 and place > 0 else KOREAN_DIGITS[digit]) + KOREAN_PLACES[place]
    return text


def korean(n: int) -> str:
    """``n`` (1 to 99 999) in Sino-Korean numerals: 2007 -> "이천칠", 11 -> "십일",
    12345 -> "만이천삼백사십오"."""
    n = _check(n)
    man, rest = divmod(n, 10_000)
    text = ""
    if man:
        text = ("" if man == 1 else KOREAN_DIGITS[man]) + KOREAN_MAN
    return text + _korean_below_10000(rest)


def number_pairs(low: int = 1, high: int = MAX_NUMBER) -> list[tuple[int, str, str]]:
    """``(n, english(n), korean(n))`` for every n from ``low`` to ``high``, in order."""
    check_int("low", low, 1, MAX_NUMBER)
    check_int("high", high, low, MAX_NUMBER)
    return [(n, english(n), korean(n)) for n in range(low, high + 1)]


def split_numbers(numbers: list[int], held_out: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded random split of ``numbers`` into (training, held-out), each sorted; a
    fraction ``held_out`` (strictly between 0 and 1) of them, rounded, is held out."""
    if isinstance(held_out, bool) or not isinstance(held_out, (int, float)) or not 0 < held_out < 1:
        raise ValueError(f"held_out must be a fraction strictly between 0 and 1, got {held_out!r}")
    shuffled = list(numbers)
    random.Random(seed).shuffle(shuffled)
    cut = round(held_out * len(shuffled))
    return sorted(shuffled[cut:]), sorted(shuffled[:cut])


# For figures, where a Hangul font may be missing: each numeral's Revised Romanization and value.
ROMANIZED: dict[str, str] = {
    "일": "il 1", "이": "i 2", "삼": "sam 3", "사": "sa 4", "오": "o 5", "육": "yuk 6", "칠": "chil 7",
    "팔": "pal 8", "구": "gu 9", "십": "sip 10", "백": "baek 100", "천": "cheon 1000", "만": "man 10000",
}
