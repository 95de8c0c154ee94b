"""Words, read the same way in every script, and a vocabulary whose order never changes."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from numbers import Integral

import torch

UNK = "<unk>"
# A word is a run of letters, marks and digits of any script, optionally followed by an
# apostrophe and more letters ("it's", "l'eau"). This is the pattern as a JavaScript regular
# expression (flag "u"); Python's `re` has no \p{...} classes, so `split_words` applies the
# same pattern to a string of character kinds (see `_KINDS`). The in-page demo uses this text.
TOKEN_PATTERN = r"[\p{L}\p{M}\p{N}]+(?:'[\p{L}\p{M}]+)?"
_KIND_PATTERN = re.compile(r"[a0]+(?:'a+)?")  # TOKEN_PATTERN over kinds: a letter/mark, 0 digit


class _Kinds(dict):
    """Maps a code point to its kind for `str.translate`: "a" (letter or mark, Unicode
    categories L and M), "0" (number, N), "'" (the apostrophe) or " " (anything else)."""

    def __missing__(self, code: int) -> str:
        category = unicodedata.category(chr(code))[0]
        kind = "a" if category in "LM" else "0" if category == "N" else "'" if code == 39 else " "
        self[code] = kind
        return kind


_KINDS = _Kinds()


def fold_case(word: str) -> str:
    """Unicode's default full case folding, then NFC: ``"Straße"`` and ``"STRASSE"`` both
    become ``"strasse"``; no language's special rules (Turkish ``"İ"`` folds to ``"i̇"``,
    ``"i"`` with a combining dot, and ``"ı"`` stays ``"ı"``)."""
    return unicodedata.normalize("NFC", word.casefold())


def split_words(text: str) -> list[tuple[str, str]]:
    """Each word of ``text`` as ``(word, as typed)``: the word case-folded with `fold_case`,
    and the same stretch of the text as typed (after NFC normalisation and reading the
    typographic apostrophe U+2019 as a plain one)."""
    if not isinstance(text, str):
        raise TypeError(f"expected a string, got {type(text).__name__}: {text!r}")
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'")
    kinds = text.translate(_KINDS)
    spans = [text[m.start() : m.end()] for m in _KIND_PATTERN.finditer(kinds)]
    return [(fold_case(span), span) for span in spans]


def tokenize(text: str) -> list[str]:
    """Split text into case-folded words of any script; punctuation, symbols and spaces are
    dropped, and a typographic apostrophe counts as a plain one. The in-page demo's
    JavaScript applies the same rule.

    >>> tokenize("Yesterday, Harry  met Hermione! It\u2019s")
    ['yesterday', 'harry', 'met', 'hermione', "it's"]
    >>> tokenize("Éclair café, naïve Straße; 한국어 단어")
    ['éclair', 'café', 'naïve', 'strasse', '한국어', '단어']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a string, got {type(text).__name__}: {text!r}")
    return [word for word, _ in split_words(text)]


class UnknownWordError(ValueError):
    """A word that is not in the vocabulary (and the vocabulary has no <unk>)."""


class Vocab:
    """Maps words to ids and back.

    Ids follow the order in which words are first seen (or, with ``min_count``,
    most frequent first, ties broken by first appearance), never a ``set()``
    order, so they are the same in every Python process.
    """

    def __init__(self, words: Sequence[str], unk: str | None = None) -> None:
        words = _word_list(words, "words")
        if unk is not None and not isinstance(unk, str):
            raise TypeError(f"unk must be a string or None, got {type(unk).__name__}: {unk!r}")
        if unk is not None and unk in words:
            words.remove(unk)
        self.unk = unk
        self.words: list[str] = ([unk] if unk is not None else []) + words
        self.ids: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        if len(self.ids) != len(self.words):
            raise ValueError("a vocabulary cannot list the same word twice")

    @classmethod
    def build(
        cls,
        sentences: Iterable[str | Sequence[str]],
        unk: str | None = UNK,
        min_count: int = 1,
    ) -> Vocab:
        """Build from a list of sentences: strings are tokenised with ``tokenize``, lists of
        words are taken as they are. Words seen fewer than ``min_count`` times are left out."""
        if isinstance(sentences, (str, bytes)):
            raise TypeError(
                f"Vocab.build expects a list of sentences, got one {type(sentences).__name__} "
                f"{_short(sentences)}; to build from one sentence, pass [sentence]"
            )
        if isinstance(min_count, bool) or not isinstance(min_count, Integral):
            raise TypeError(f"min_count must be an integer, got {type(min_count).__name__}: {min_count!r}")
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        counts: Counter[str] = Counter()
        for i, sentence in enumerate(sentences):
            if isinstance(sentence, str):
                counts.update(tokenize(sentence))
            else:
                counts.update(_word_list(sentence, f"sentence {i}"))
        if not counts:
            raise ValueError("cannot build a vocabulary from no words")
        # Counter keeps first-appearance order; sorted() is stable.
        kept = [w for w, c in counts.items() if c >= min_count]
        if not kept:
            word, count = counts.most_common(1)[0]
            raise ValueError(
                f"min_count={min_count} keeps no word: the most frequent, {word!r}, is seen {count} "
                f"time{'s' if count > 1 else ''}"
            )
        if min_count > 1:
            kept = sorted(kept, key=lambda w: -counts[w])
        return cls(kept, unk=unk)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.ids

    def __repr__(self) -> str:
        head = ", ".join(self.words[:10])
        more = f", ... ({len(self)} words)" if len(self) > 10 else ""
        return f"Vocab([{head}{more}])"

    def index(self, word: str, typed: str | None = None) -> int:
        """The id of ``word``; unknown words map to ``<unk>`` or raise ``UnknownWordError``,
        which quotes the word ``typed`` (default: ``word`` itself)."""
        if not isinstance(word, str):
            raise TypeError(f"a word must be a string, got {type(word).__name__}: {word!r}")
        if word in self.ids:
            return self.ids[word]
        if self.unk is not None:
            return self.ids[self.unk]
        raise UnknownWordError(
            f"unknown word {typed if typed is not None else word!r}: it is not among the "
            f"{len(self)} words of this vocabulary ({self._sample()})"
        )

    def encode(self, words: str | Sequence[str]) -> list[int]:
        """Ids of a sentence: a string is tokenised first, a list of words is taken as it is.
        Empty input is an error."""
        if isinstance(words, str):
            pairs = split_words(words)
        elif isinstance(words, (list, tuple)):
            pairs = [(w, w) for w in _word_list(words, "words")]
        else:
            raise TypeError(
                f"encode expects a string or a list of words, got {type(words).__name__}: {_short(words)}"
            )
        if not pairs:
            raise ValueError(f"nothing to encode: {words!r} contains no words")
        return [self.index(word, typed) for word, typed in pairs]

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Words of a sequence of integer ids."""
        if isinstance(ids, torch.Tensor):
            if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
                raise TypeError(f"ids must be integers, got a tensor of {ids.dtype}")
            ids = ids.tolist()
        elif isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise TypeError(f"decode expects a sequence of integer ids, got {type(ids).__name__}: {_short(ids)}")
        ids = list(ids)
        not_ints = [i for i in ids if isinstance(i, bool) or not isinstance(i, Integral)]
        if not_ints:
            raise TypeError(f"ids must be integers (not bools), got {not_ints[:5]!r}")
        bad = [i for i in ids if not 0 <= i < len(self)]
        if bad:
            raise ValueError(f"ids {bad} are outside this vocabulary of {len(self)} words")
        return [self.words[i] for i in ids]

    def one_hot(self, ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """One-hot vectors in the default float dtype, shape ``ids.shape + (len(self),)``."""
        ids = torch.as_tensor(ids)
        if ids.numel() and (ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool):
            raise TypeError(f"ids must be integers, got {ids.dtype}")
        ids = ids.long()
        if ids.numel() and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in [0, {len(self)}), got {ids.tolist()}")
        return torch.nn.functional.one_hot(ids, len(self)).to(torch.get_default_dtype())

    def _sample(self) -> str:
        shown = ", ".join(repr(w) for w in self.words[:8])
        return shown + (", ..." if len(self) > 8 else "")


def _word_list(words: object, what: str) -> list[str]:
    """``words`` as a list of strings, or a TypeError that says what was expected."""
    if isinstance(words, (str, bytes)) or not isinstance(words, Iterable):
        raise TypeError(f"{what} must be a list of word strings, got {type(words).__name__}: {_short(words)}")
    words = list(words)
    for w in words:
        if not isinstance(w, str):
            raise TypeError(f"{what} must be a list of word strings, but holds {type(w).__name__}: {_short(w)}")
    return words


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
