"""A vocabulary whose word order never changes from run to run."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch

UNK = "<unk>"
WORD_PATTERN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")  # applied to lower-cased text


def tokenize(text: str) -> list[str]:
    """Split text into lower-case words; punctuation and extra spaces are dropped, and a
    typographic apostrophe counts as a plain one.

    >>> tokenize("Yesterday, Harry  met Hermione! It\u2019s")
    ['yesterday', 'harry', 'met', 'hermione', "it's"]
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a string, got {type(text).__name__}")
    return WORD_PATTERN.findall(text.lower().replace("\u2019", "'"))


class UnknownWordError(ValueError):
    """A word that is not in the vocabulary (and the vocabulary has no <unk>)."""


class Vocab:
    """Maps words to ids and back.

    Ids follow the order in which words are first seen (or, with ``min_count``,
    most frequent first, ties broken by first appearance), never a ``set()``
    order, so they are the same in every Python process.
    """

    def __init__(self, words: Sequence[str], unk: str | None = None) -> None:
        words = list(words)
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
        """Build from sentences (strings are tokenised with ``tokenize``)."""
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(tokenize(sentence) if isinstance(sentence, str) else sentence)
        if not counts:
            raise ValueError("cannot build a vocabulary from no words")
        # Counter keeps first-appearance order; sorted() is stable.
        kept = [w for w, c in counts.items() if c >= min_count]
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

    def index(self, word: str) -> int:
        """The id of ``word``; unknown words map to ``<unk>`` or raise ``UnknownWordError``."""
        if word in self.ids:
            return self.ids[word]
        if self.unk is not None:
            return self.ids[self.unk]
        raise UnknownWordError(
            f"unknown word {word!r}: it is not among the {len(self)} words of this "
            f"vocabulary ({self._sample()})"
        )

    def encode(self, words: str | Sequence[str]) -> list[int]:
        """Ids of a sentence (a string is tokenised first). Empty input is an error."""
        tokens = tokenize(words) if isinstance(words, str) else list(words)
        if not tokens:
            raise ValueError(f"nothing to encode: {words!r} contains no words")
        return [self.index(w) for w in tokens]

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Words of a sequence of ids."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < len(self)]
        if bad:
            raise ValueError(f"ids {bad} are outside this vocabulary of {len(self)} words")
        return [self.words[i] for i in ids]

    def one_hot(self, ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """One-hot float vectors, shape ``ids.shape + (len(self),)``."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        if ids.numel() and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in [0, {len(self)}), got {ids.tolist()}")
        return torch.nn.functional.one_hot(ids, len(self)).float()

    def _sample(self) -> str:
        shown = ", ".join(repr(w) for w in self.words[:8])
        return shown + (", ..." if len(self) > 8 else "")
