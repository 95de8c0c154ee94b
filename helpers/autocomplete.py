"""Next-word autocomplete on top of a trained `NextWordModel` and its `Vocab`.

Queries are read with `tokenize`, the same rule that made the training data, so case,
punctuation and extra spaces never matter. Every bad input gets a clear answer:

- no words in the prefix, a non-string prefix, an out-of-range ``k``, ``n_words``,
  ``temperature`` or ``seed``: refused with a ``ValueError`` or ``TypeError`` that names
  what was wrong (temperature follows the book's one policy, `decoding.check_temperature`:
  0 is greedy, a positive finite number samples);
- unknown words: mapped to ``<unk>`` and listed in the answer when the vocabulary has
  ``<unk>``; otherwise refused with an ``UnknownWordError`` that quotes them as typed;
- a prefix longer than ``max_prefix``: only its last ``max_prefix`` words are read, and
  the dropped words are listed in the answer;
- a model whose weights are not finite (NaN or infinity): refused when it is given, loaded,
  saved, exported and asked, with the names of the broken weights; the weights themselves
  are checked, so the refusal does not depend on a kernel passing a NaN through.

``<unk>`` is never suggested: its probability is removed and the rest renormalised.

``save`` and ``load`` keep a model in a folder of two files, written together or not at
all, and ``export_json`` writes one JSON file with all a browser needs to run it; their
formats, and the checks that refuse a damaged or mismatched file with a
``ModelFileError``, are `autocomplete_files`'s.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from . import autocomplete_files as files
from .checks import check_int, is_int
from .data import SEED_SENTENCES, next_word_tensors
from .decoding import check_temperature, sample, top_k, torch_uniforms
from .modelfile import check_finite
from .models import NextWordModel
from .training import fit, seed_everything
from .vocab import UnknownWordError, Vocab, split_words

MAX_NEW_WORDS = 1000  # longest continuation one call may ask for
MAX_SEED = 2**64 - 1  # torch.Generator takes seeds from 0 to 2**64 - 1


class Prefix(NamedTuple):
    """A prefix as the model reads it."""

    ids: list[int]  # word ids, <unk> for unknown words
    words: tuple[str, ...]  # the words read (after tokenising and shortening)
    unknown: tuple[str, ...]  # words not in the vocabulary, each once
    dropped: tuple[str, ...]  # leading words cut because the prefix was longer than max_prefix


@dataclass(frozen=True)
class Suggestions:
    """The ``k`` most likely next words, best first, and how the prefix was read."""

    prefix: tuple[str, ...]  # the words the model read
    ranked: tuple[tuple[str, float], ...]  # (word, probability), best first
    unknown: tuple[str, ...] = ()  # words of the prefix not in the vocabulary (read as <unk>)
    dropped: tuple[str, ...] = ()  # leading words cut because the prefix was too long

    def __iter__(self) -> Iterator[tuple[str, float]]:
        return iter(self.ranked)

    def __len__(self) -> int:
        return len(self.ranked)

    def __getitem__(self, i: int) -> tuple[str, float]:
        return self.ranked[i]

    @property
    def words(self) -> list[str]:
        """The suggested words alone, best first."""
        return [word for word, _ in self.ranked]

    def notes(self) -> list[str]:
        """What the reader should know about how the prefix was read."""
        notes = []
        if self.unknown:
            notes.append(f"unknown words read as <unk>: {_quote(self.unknown)}")
        if self.dropped:
            notes.append(f"only the last {len(self.prefix)} words were read; dropped {_quote(self.dropped)}")
        return notes

    def table(self, digits: int = 3) -> str:
        """A small text table: rank, word, probability; then any notes."""
        width = max((len(w) for w in self.words), default=0)
        lines = [f"{' '.join(self.prefix)!r} ->"]
        lines += [f"  {i}. {w:<{width}}  {p:.{digits}f}" for i, (w, p) in enumerate(self.ranked, 1)]
        return "\n".join(lines + [f"  ({n})" for n in self.notes()])

    def __str__(self) -> str:
        return self.table()


@dataclass(frozen=True)
class Completion:
    """A prefix continued by ``new_words``."""

    prefix: tuple[str, ...]  # the prefix as tokenised (before any shortening)
    new_words: tuple[str, ...]
    unknown: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.prefix + self.new_words)

    def __str__(self) -> str:
        return f"{' '.join(self.prefix)} [{' '.join(self.new_words)}]"


class Autocomplete:
    """Suggest and continue text with a trained next-word model.

    ``max_prefix`` is the longest prefix the model was trained on; longer prefixes are
    cut to their last ``max_prefix`` words (``None``: no limit).
    """

    def __init__(self, model: NextWordModel, vocab: Vocab, max_prefix: int | None = None) -> None:
        if not isinstance(model, NextWordModel):
            raise TypeError(f"model must be a NextWordModel, got {type(model).__name__}")
        if not isinstance(vocab, Vocab):
            raise TypeError(f"vocab must be a Vocab, got {type(vocab).__name__}")
        if model.vocab_size != len(vocab):
            raise ValueError(
                f"the model scores {model.vocab_size} words but the vocabulary has {len(vocab)}"
            )
        if max_prefix is not None and (not is_int(max_prefix) or max_prefix < 1):
            raise ValueError(f"max_prefix must be a positive integer or None, got {max_prefix!r}")
        if vocab.unk is not None and len(vocab) < 2:
            raise ValueError("the vocabulary has no word to suggest besides <unk>")
        check_finite(model, "cannot use this model")
        self.model = model.eval()
        self.vocab = vocab
        self.max_prefix = max_prefix

    @property
    def n_suggestible(self) -> int:
        """How many words can be suggested (every word but ``<unk>``)."""
        return len(self.vocab) - (self.vocab.unk is not None)

    # ------------------------------------------------------------------ reading
    def read(self, prefix: str) -> Prefix:
        """Tokenise ``prefix`` with `tokenize` and encode it; refuse what cannot be read."""
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {type(prefix).__name__}: {prefix!r}")
        pairs = split_words(prefix)
        words = [word for word, _ in pairs]
        if not words:
            raise ValueError(
                f"the prefix {prefix!r} contains no words (words are letters, digits and "
                "apostrophes; case, punctuation and spaces are ignored)"
            )
        dropped: tuple[str, ...] = ()
        if self.max_prefix is not None and len(words) > self.max_prefix:
            dropped, words = tuple(words[: -self.max_prefix]), words[-self.max_prefix :]
            pairs = pairs[-self.max_prefix :]
        typed = {}  # each unknown word, as first typed
        for word, as_typed in pairs:
            if word not in self.vocab:
                typed.setdefault(word, as_typed)
        unknown = tuple(typed)
        if unknown and self.vocab.unk is None:
            raise UnknownWordError(self._unknown_message(unknown, tuple(typed.values())))
        return Prefix([self.vocab.index(w) for w in words], tuple(words), unknown, dropped)

    def _unknown_message(self, unknown: tuple[str, ...], typed: tuple[str, ...]) -> str:
        hints = []
        for word, as_typed in zip(unknown, typed):
            close = difflib.get_close_matches(word, self.vocab.words, n=1, cutoff=0.75)
            if close:
                hints.append(f"{close[0]!r} for {as_typed!r}")
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        return (
            f"unknown word{'s' if len(unknown) > 1 else ''} {_quote(typed)}{hint}: not among the "
            f"{len(self.vocab)} words of this vocabulary ({self.vocab._sample()})"
        )

    # ------------------------------------------------------------------ predicting
    @torch.no_grad()
    def probabilities(self, ids: list[int]) -> Tensor:
        """Next-word probabilities after the word ids ``ids``, with ``<unk>`` removed and
        the rest renormalised: shape (vocab,)."""
        self._check_weights()
        return self._probabilities(self.model(torch.tensor([ids], dtype=torch.long))[0])

    def _check_weights(self) -> None:
        """Refuse to answer with weights that hold NaN or infinity (naming them)."""
        check_finite(self.model, "the model has no probabilities to give")

    def _probabilities(self, logits: Tensor) -> Tensor:
        """Softmax of one row of logits, without ``<unk>``; refuses scores that are not
        finite (finite weights so large that they overflow)."""
        if not torch.isfinite(logits).all():
            raise ValueError(
                "the model's scores are not finite (NaN or infinity), so it has no probabilities "
                "to give: its weights overflow on this prefix"
            )
        logits = logits.double()
        if self.vocab.unk is not None:
            logits[self.vocab.ids[self.vocab.unk]] = -math.inf
        return torch.softmax(logits, dim=-1)

    def suggest(self, prefix: str, k: int = 3) -> Suggestions:
        """The ``k`` most likely next words after ``prefix``, with probabilities, best first."""
        check_int("k", k, 1, self.n_suggestible, why=" (the words this model can suggest)")
        read = self.read(prefix)
        probs = self.probabilities(read.ids)
        ranked = tuple((self.vocab.words[i], probs[i].item()) for i in top_k(probs, k))  # ties: lower id first
        return Suggestions(read.words, ranked, read.unknown, read.dropped)

    def continue_text(
        self,
        prefix: str,
        n_words: int,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Completion:
        """Add ``n_words`` words to ``prefix``, one at a time.

        ``temperature=0`` (the default) is greedy: always the most likely word. A positive
        finite temperature samples from ``softmax(logits / temperature)``: below 1 sharper
        (as it nears 0, greedy), above 1 flatter (as it grows, uniform); anything else is
        refused (`decoding.check_temperature`). ``seed`` (0 to 2**64 - 1) makes sampling
        repeatable: uniform numbers from torch's generator, drawn by `decoding.sample`.

        With ``max_prefix`` each new word is predicted from the last ``max_prefix`` words,
        as in training. Without it the recurrent state is carried forward: the prefix is
        read once, then each new word costs one step.
        """
        check_int("n_words", n_words, 1, MAX_NEW_WORDS)
        temperature = check_temperature(temperature)
        check_int("seed", seed, 0, MAX_SEED, high_text="2**64 - 1", none_ok=True)
        read = self.read(prefix)
        self._check_weights()
        ids = list(read.ids)
        random = torch_uniforms(seed)
        new_words: list[str] = []
        with torch.no_grad():
            if self.max_prefix is None:  # read the prefix once, then carry the state
                logits, state = self.model.run(torch.tensor([ids], dtype=torch.long))
            for step in range(n_words):
                if self.max_prefix is None:
                    probs = self._probabilities(logits[0, -1])
                else:
                    probs = self._probabilities(self.model(torch.tensor([ids[-self.max_prefix :]]))[0])
                next_id = sample(torch.log(probs), temperature, random)  # log 0 = -inf: never drawn
                ids.append(next_id)
                new_words.append(self.vocab.words[next_id])
                if self.max_prefix is None and step < n_words - 1:
                    logits, state = self.model.run(torch.tensor([[next_id]], dtype=torch.long), state)
        return Completion(read.dropped + read.words, tuple(new_words), read.unknown)

    # ------------------------------------------------------------------ files
    def settings(self) -> dict[str, Any]:
        """The model's settings: enough to rebuild it before loading its weights."""
        return files.settings(self.model, self.max_prefix)

    def config(self) -> dict[str, Any]:
        """What ``config.json`` holds: the format, the vocabulary and the settings."""
        return files.config(self.model, self.vocab, self.max_prefix)

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``weights.pt`` and ``config.json`` into ``folder``, atomically together
        (`autocomplete_files.save`); return the folder."""
        return files.save(folder, self.model, self.vocab, self.max_prefix)

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Autocomplete:
        """Rebuild what ``save`` wrote, or raise a ``ModelFileError`` naming the file and
        what is wrong (`autocomplete_files.load`)."""
        return files.load(folder, cls)

    def export_dict(self) -> dict[str, Any]:
        """Everything a browser needs to run the model, as plain JSON-ready data
        (`autocomplete_files.export_dict`)."""
        return files.export_dict(self.model, self.vocab, self.max_prefix)

    def export_json(self, path: str | os.PathLike[str]) -> Path:
        """Write ``export_dict()`` into one JSON file, creating its folder if needed and
        replacing any old file only once the new one is complete; return its path."""
        return files.write_json(self.export_dict(), path)


def seed_autocomplete(cell: str = "rnn", seed: int = 0) -> tuple[Autocomplete, list[float]]:
    """The seed notes' model, trained as they train it: the six sentences, one-hot inputs,
    5 hidden units, Adam at learning rate 0.01 for 500 full-batch epochs. Returns the
    autocomplete (two-word prefixes) and the loss of every epoch. Chapter 6 and the
    book's in-page demo both use it, so they show the very same model."""
    vocab = Vocab.build(SEED_SENTENCES, unk=None)  # the nine words, no <unk>
    inputs, targets = next_word_tensors(SEED_SENTENCES, vocab)  # (6, 2) and (6,)
    seed_everything(seed)
    model = NextWordModel(len(vocab), hidden_size=5, cell=cell)
    losses = fit(model, inputs, targets, epochs=500, lr=0.01)
    return Autocomplete(model, vocab, max_prefix=2), losses


def _quote(words: tuple[str, ...]) -> str:
    return ", ".join(repr(w) for w in words)
