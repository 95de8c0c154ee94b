"""Autocomplete with a character-level language model (`CharLM`) on Tiny Shakespeare.

Three questions, each answered from one run of the model over the text, with the recurrent
state then carried forward character by character (the text is never read twice):

- ``complete(text, k)``: the ``k`` most likely endings of the word being typed
  (``"Rom"`` -> ``"Romeo"``), found by beam search over characters;
- ``next_words(text, k)``: the ``k`` most likely words after the text, the same way;
- ``continue_text(text, n_chars, temperature, seed)``: a sampled (or, at temperature 0,
  greedy) continuation, repeatable for a given seed.

The searches and the sampler are `decoding`'s (``beam_search``, ``sample``, ``mulberry32``),
with the book's one temperature policy.

Words are runs of ``WORD_CHARS`` (letters and the apostrophe, as in ``o'er`` or ``'tis``);
every other character (space, newline, punctuation, the digit 3) ends a word. The
probability of a word is the product of its characters' probabilities times the
probability that a word-ending character comes next (summed over all of them), so
``"Romeo"`` covers ``"Romeo "``, ``"Romeo,"`` and ``"Romeo:"`` alike.

Every bad input gets an error that names the problem: a text that is not a ``str`` or is
empty, characters outside the model's alphabet (each named, with its position, and the
alphabet described), ``k``, ``n_chars``, ``temperature`` or ``seed`` of the wrong type or out
of range, and a model whose weights (checked when it is given and before every answer,
each broken one named) or outputs are not finite. The typographic apostrophe (U+2019,
which phone keyboards type) is read as the plain one.

The in-page demo of chapter 6 runs the same searches in JavaScript on weights quantised to
int8 (``export_dict``, ``write_script``; the format is `char_export`'s); ``dequantised``
rebuilds exactly the model the page computes with, so the two can be compared to rounding
error.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from . import char_export
from .charlm import CharLM, CharVocab, State, load_checkpoint
from .checks import check_int, is_int
from .decoding import Hypothesis, beam_search, check_temperature, mulberry32, sample
from .modelfile import check_finite

WORD_CHARS = frozenset(string.ascii_letters + "'")  # characters that continue a word
MAX_K = 20  # most suggestions one call may ask for
MAX_CHARS = 2000  # longest continuation one call may ask for
TYPOGRAPHIC_APOSTROPHE = "\u2019"


class UnknownCharacterError(ValueError):
    """The text holds characters the model has never seen; ``characters`` lists them."""

    def __init__(self, message: str, characters: tuple[str, ...]) -> None:
        super().__init__(message)
        self.characters = characters


@dataclass(frozen=True)
class WordCandidate:
    """One suggested word, how the model gets there, and its probability."""

    word: str  # the whole word, any typed part included: "Romeo"
    added: str  # the characters the model adds before the word ends: "eo"
    probability: float


@dataclass(frozen=True)
class WordSuggestions:
    """The ``k`` most likely words, best first. ``typed`` is the part of the word already
    typed (``complete``), or empty (``next_words``)."""

    text: str
    typed: str
    ranked: tuple[WordCandidate, ...]

    def __iter__(self) -> Iterator[WordCandidate]:
        return iter(self.ranked)

    def __len__(self) -> int:
        return len(self.ranked)

    def __getitem__(self, i: int) -> WordCandidate:
        return self.ranked[i]

    @property
    def words(self) -> list[str]:
        """The suggested words alone, best first."""
        return [c.word for c in self.ranked]

    def table(self, digits: int = 3) -> str:
        """A small text table: rank, word, probability, and what the model adds."""
        tail = self.text[-40:]
        lines = [f"{('...' if len(self.text) > 40 else '') + tail!r} ->"]
        width = max((len(c.word) for c in self.ranked), default=0)
        for i, c in enumerate(self.ranked, 1):
            lines.append(f"  {i}. {c.word:<{width}}  {c.probability:.{digits}f}  (adds {c.added!r})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


@dataclass(frozen=True)
class CharContinuation:
    """A text continued by ``added``: sampled at ``temperature`` with ``seed``, or greedy
    (temperature 0)."""

    text: str
    added: str
    temperature: float
    seed: int

    @property
    def full(self) -> str:
        return self.text + self.added

    def __str__(self) -> str:
        return f"{self.text}[{self.added}]"


class CharAutocomplete:
    """Complete words, suggest next words and continue text with a trained `CharLM`.

    ``beam_width`` partial words are kept at each character of a search; a search adds at
    most ``max_search_chars`` characters (longer words are not found).
    """

    def __init__(self, model: CharLM, vocab: CharVocab, beam_width: int = 8, max_search_chars: int = 30) -> None:
        if not isinstance(model, CharLM):
            raise TypeError(f"model must be a CharLM, got {type(model).__name__}")
        if not isinstance(vocab, CharVocab):
            raise TypeError(f"vocab must be a CharVocab, got {type(vocab).__name__}")
        if model.head.out_features != len(vocab) or model.embed.num_embeddings != len(vocab):
            raise ValueError(
                f"the model reads and scores {model.embed.num_embeddings} and {model.head.out_features} "
                f"characters but the vocabulary has {len(vocab)}"
            )
        for name, value, top in (("beam_width", beam_width, 256), ("max_search_chars", max_search_chars, 200)):
            if not is_int(value) or not 1 <= value <= top:
                raise ValueError(f"{name} must be an integer between 1 and {top}, got {value!r}")
        check_finite(model, "cannot use this model")
        self.model = model.eval()
        self.vocab = vocab
        self.beam_width = beam_width
        self.max_search_chars = max_search_chars
        self._known = frozenset(vocab.chars)
        self._word_ids = torch.tensor([c in WORD_CHARS for c in vocab.chars])
        self._end_ids = (~self._word_ids).nonzero().flatten()

    @classmethod
    def shipped(cls, path: str | Path | None = None, **kwargs: Any) -> CharAutocomplete:
        """The shipped Shakespeare LSTM (``load_checkpoint``), ready to autocomplete."""
        model, vocab = load_checkpoint(path)
        return cls(model, vocab, **kwargs)

    # ------------------------------------------------------------------ reading
    def read(self, text: str) -> Tensor:
        """Check ``text`` and encode it: a LongTensor of character ids."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}: {text!r:.60}")
        if not text:
            raise ValueError("the text is empty: the model needs at least one character to go on")
        text = text.replace(TYPOGRAPHIC_APOSTROPHE, "'")
        unknown: dict[str, list[int]] = {}
        for position, char in enumerate(text):
            if char not in self._known:
                unknown.setdefault(char, []).append(position)
        if unknown:
            raise UnknownCharacterError(self._unknown_message(unknown), tuple(unknown))
        return self.vocab.encode(text)

    def _unknown_message(self, unknown: dict[str, list[int]]) -> str:
        parts = []
        for char, positions in unknown.items():
            where = ", ".join(str(p) for p in positions[:3]) + (", ..." if len(positions) > 3 else "")
            parts.append(f"{char!r} (U+{ord(char):04X}) at position{'s' if len(positions) > 1 else ''} {where}")
        n = sum(len(p) for p in unknown.values())
        return (
            f"{n} character{'s' if n > 1 else ''} outside the model's alphabet: {'; '.join(parts)} "
            f"(positions count from 0). The model knows {len(self.vocab)} characters: "
            f"{describe_alphabet(self.vocab.chars)}"
        )

    # ------------------------------------------------------------------ the model
    def _run(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Run (batch, time) ids from ``state``; the last position's log-probabilities in
        float64, shape (batch, vocab), and the state after it. Weights are checked by the
        public methods before they run the model (``_check_weights``)."""
        with torch.no_grad():
            logits, state = self.model(ids, state)
        last = logits[:, -1].double()
        if not torch.isfinite(last).all():
            raise FloatingPointError(
                "the model produced a non-finite score (nan or inf) for the next character; "
                "its weights overflow on this text"
            )
        return torch.log_softmax(last, dim=-1), state

    def _check_weights(self) -> None:
        """Refuse to answer with weights that hold NaN or infinity (naming them)."""
        check_finite(self.model, "the model cannot answer")

    def next_char_probabilities(self, text: str) -> Tensor:
        """Probabilities of every character following ``text``: float64, shape (vocab,)."""
        ids = self.read(text)
        self._check_weights()
        logp, _ = self._run(ids[None])
        return logp[0].exp()

    def log_probability(self, text: str, continuation: str) -> float:
        """log p(continuation | text), summed character by character in one forward pass
        (0 for an empty continuation)."""
        context = self.read(text)
        if continuation == "":
            return 0.0
        added = self.read(continuation)
        self._check_weights()
        with torch.no_grad():
            logits, _ = self.model(torch.cat([context, added])[None])
        logp = torch.log_softmax(logits[0, len(context) - 1 : -1].double(), dim=-1)
        return float(logp.gather(1, added[:, None]).sum())

    # ------------------------------------------------------------------ word searches
    def complete(self, text: str, k: int = 3) -> WordSuggestions:
        """The ``k`` most likely endings of the word that ``text`` ends in, best first.

        ``text`` must end inside a word (its last character a letter or apostrophe); a
        suggestion may be the typed word itself, when the model thinks it is finished.
        """
        _check_k(k)
        ids = self.read(text)
        text = text.replace(TYPOGRAPHIC_APOSTROPHE, "'")
        typed = _trailing_word(text)
        if not typed:
            raise ValueError(
                f"the text ends with {text[-1]!r}, not inside a word, so there is no word to "
                "complete (words are letters and apostrophes); next_words suggests the word that follows"
            )
        return WordSuggestions(text, typed, self._search(ids, "word", typed, k))

    def next_words(self, text: str, k: int = 3) -> WordSuggestions:
        """The ``k`` most likely words after ``text``, best first.

        If ``text`` ends inside a word, the model first finishes that word. A word's
        probability is that of the most likely way found to reach it (``added`` shows it:
        the rest of the current word and the spaces or punctuation before the word).
        """
        _check_k(k)
        ids = self.read(text)
        text = text.replace(TYPOGRAPHIC_APOSTROPHE, "'")
        phase = "word" if _trailing_word(text) else "gap"
        return WordSuggestions(text, "", self._search(ids, phase, "", k, next_word=True))

    def _search(self, ids: Tensor, phase: str, typed: str, k: int, next_word: bool = False) -> tuple[WordCandidate, ...]:
        """Beam search over characters from the end of ``ids``.

        A word ends when a non-word character follows it: that candidate's log-probability
        is the beam's plus the log of the total probability of the non-word characters.
        Live beams are ranked by log-probability (ties keep the order they were made in:
        beam by beam, characters in alphabet order); the search stops when ``k`` words are
        found and no live beam is more likely than the k-th, or after ``max_search_chars``.
        """
        self._check_weights()
        logp, state = self._run(ids[None])
        found: dict[str, WordCandidate] = {}
        chars = self.vocab.chars

        def visit(beams: list[Hypothesis], logp: Tensor) -> None:  # words that end here
            ended = torch.logsumexp(logp[:, self._end_ids], dim=-1).tolist()
            for b, beam in enumerate(beams):
                phase, word = beam.tag
                if phase != "gap" and (phase == "next" or not next_word) and word:
                    p = math.exp(beam.logp + ended[b])  # whatever non-word character follows
                    if word not in found or found[word].probability < p:
                        found[word] = WordCandidate(word, self.vocab.decode(list(beam.tokens)), p)

        def extend(beam: Hypothesis, c: int, lp: float) -> Hypothesis | None:
            phase, word = beam.tag
            is_word = chars[c] in WORD_CHARS
            if phase == "gap":
                tag = ("next", chars[c]) if is_word else ("gap", "")
            elif is_word:
                tag = (phase, word + chars[c])
            elif next_word and phase == "word":  # the current word ends: a gap follows
                tag = ("gap", "")
            else:
                return None  # a finished word is counted by visit
            return Hypothesis(beam.tokens + (c,), lp, tag)

        def stop(live: list[Hypothesis]) -> bool:
            best = sorted(found.values(), key=lambda w: -w.probability)
            return len(best) >= k and math.exp(live[0].logp) <= best[k - 1].probability

        def step(state: State, tokens: Tensor) -> tuple[Tensor, State]:
            return self._run(tokens[:, None], state)

        start = Hypothesis((), 0.0, (phase, typed if not next_word else ""))
        beam_search(step, logp, state, self.beam_width, self.max_search_chars,
                    start=start, extend=extend, visit=visit, stop=stop)
        best = sorted(found.values(), key=lambda w: -w.probability)
        return tuple(best[:k])

    # ------------------------------------------------------------------ sampling
    def continue_text(self, text: str, n_chars: int = 200, temperature: float = 0.8, seed: int = 0) -> CharContinuation:
        """Add ``n_chars`` characters to ``text``, one at a time.

        Each is drawn from ``softmax(logits / temperature)`` by inverse transform sampling
        with the 32-bit generator ``mulberry32(seed)``, the same that the in-page demo uses,
        so a seed gives the same text in Python and in the page. Temperature 0 is greedy:
        always the most likely character.
        """
        check_int("n_chars", n_chars, 1, MAX_CHARS)
        temperature = check_temperature(temperature)
        check_int("seed", seed, 0, 2**32 - 1, high_text="2**32 - 1")
        ids = self.read(text)
        text = text.replace(TYPOGRAPHIC_APOSTROPHE, "'")
        self._check_weights()
        logp, state = self._run(ids[None])
        random = mulberry32(seed)
        added = []
        for _ in range(n_chars):
            c = sample(logp[0].tolist(), temperature, random)
            added.append(c)
            logp, state = self._run(torch.tensor([[c]]), state)
        return CharContinuation(text, self.vocab.decode(added), temperature, seed)

    # ------------------------------------------------------------------ the page's copy
    def export_dict(self) -> dict[str, Any]:
        """Everything the in-page demo needs: the weights in int8 (`char_export.export_model`),
        the alphabet, the characters that continue a word, and the search settings."""
        return char_export.export_model(
            self.model,
            self.vocab,
            word_chars="".join(c for c in self.vocab.chars if c in WORD_CHARS),
            alphabet=describe_alphabet(self.vocab.chars),
            beam_width=self.beam_width,
            max_search_chars=self.max_search_chars,
        )

    def write_script(self, path: str | Path, variable: str = "SHAKESPEARE_MODEL") -> Path:
        """Write ``export_dict()`` as a script that sets ``window.<variable>``
        (`char_export.write_script`); return its path."""
        return char_export.write_script(self.export_dict(), path, variable)

    @classmethod
    def from_export(cls, export: dict[str, Any]) -> CharAutocomplete:
        """The model the in-page demo computes with: the exported (dequantised) weights in
        float64, with the same search settings."""
        model, vocab = char_export.read_model(export)
        return cls(model, vocab, export["beam_width"], export["max_search_chars"])

    def dequantised(self) -> CharAutocomplete:
        """This autocomplete after the export's int8 round trip, in float64: what the page computes."""
        return CharAutocomplete.from_export(json.loads(json.dumps(self.export_dict())))


def describe_alphabet(chars: str) -> str:
    """The alphabet in words: 'newline, space, !$&',-.3:;?, A-Z, a-z' for Tiny Shakespeare."""
    names = {"\n": "newline", " ": "space", "\t": "tab"}
    named = [names[c] for c in chars if c in names]
    others = "".join(c for c in chars if c not in names and not c.isalpha())
    runs: list[str] = []
    letters = [c for c in chars if c.isalpha()]
    i = 0
    while i < len(letters):
        j = i
        while j + 1 < len(letters) and ord(letters[j + 1]) == ord(letters[j]) + 1:
            j += 1
        runs.append(f"{letters[i]}-{letters[j]}" if j - i >= 2 else "".join(letters[i : j + 1]))
        i = j + 1
    return ", ".join(named + ([others] if others else []) + runs)


def _trailing_word(text: str) -> str:
    end = len(text)
    while end > 0 and text[end - 1] in WORD_CHARS:
        end -= 1
    return text[end:]


def _check_k(k: int) -> None:
    check_int("k", k, 1, MAX_K)

