"""Next-word autocomplete on top of a trained `NextWordModel` and its `Vocab`.

Queries are read with `tokenize`, the same rule that made the training data, so case,
punctuation and extra spaces never matter. Every bad input gets a clear answer:

- no words in the prefix, a non-string prefix, an out-of-range ``k``, ``n_words`` or
  ``temperature``: refused with a ``ValueError`` or ``TypeError`` that names what was wrong;
- unknown words: mapped to ``<unk>`` and listed in the answer when the vocabulary has
  ``<unk>``; otherwise refused with an ``UnknownWordError`` that names them;
- a prefix longer than ``max_prefix``: only its last ``max_prefix`` words are read, and
  the dropped words are listed in the answer.

``<unk>`` is never suggested: its probability is removed and the rest renormalised.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .data import SEED_SENTENCES, next_word_tensors
from .models import NextWordModel
from .training import fit, seed_everything
from .vocab import WORD_PATTERN, UnknownWordError, Vocab, tokenize

FORMAT = "helpers.autocomplete/1"  # written into every saved or exported file
WEIGHTS_FILE = "weights.pt"
CONFIG_FILE = "config.json"
MAX_NEW_WORDS = 1000  # longest continuation one call may ask for


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
        if max_prefix is not None and (not _is_int(max_prefix) or max_prefix < 1):
            raise ValueError(f"max_prefix must be a positive integer or None, got {max_prefix!r}")
        if vocab.unk is not None and len(vocab) < 2:
            raise ValueError("the vocabulary has no word to suggest besides <unk>")
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
        words = tokenize(prefix)
        if not words:
            raise ValueError(
                f"the prefix {prefix!r} contains no words (words are letters, digits and "
                "apostrophes; case, punctuation and spaces are ignored)"
            )
        dropped: tuple[str, ...] = ()
        if self.max_prefix is not None and len(words) > self.max_prefix:
            dropped, words = tuple(words[: -self.max_prefix]), words[-self.max_prefix :]
        unknown = tuple(dict.fromkeys(w for w in words if w not in self.vocab))
        if unknown and self.vocab.unk is None:
            raise UnknownWordError(self._unknown_message(unknown))
        return Prefix([self.vocab.index(w) for w in words], tuple(words), unknown, dropped)

    def _unknown_message(self, unknown: tuple[str, ...]) -> str:
        hints = []
        for word in unknown:
            close = difflib.get_close_matches(word, self.vocab.words, n=1, cutoff=0.75)
            if close:
                hints.append(f"{close[0]!r} for {word!r}")
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        return (
            f"unknown word{'s' if len(unknown) > 1 else ''} {_quote(unknown)}{hint}: not among the "
            f"{len(self.vocab)} words of this vocabulary ({self.vocab._sample()})"
        )

    # ------------------------------------------------------------------ predicting
    @torch.no_grad()
    def probabilities(self, ids: list[int]) -> Tensor:
        """Next-word probabilities after the word ids ``ids``, with ``<unk>`` removed and
        the rest renormalised: shape (vocab,)."""
        logits = self.model(torch.tensor([ids], dtype=torch.long))[0].double()
        if self.vocab.unk is not None:
            logits[self.vocab.ids[self.vocab.unk]] = -math.inf
        return torch.softmax(logits, dim=-1)

    def suggest(self, prefix: str, k: int = 3) -> Suggestions:
        """The ``k`` most likely next words after ``prefix``, with probabilities, best first."""
        if not _is_int(k):
            raise TypeError(f"k must be an integer, got {type(k).__name__}: {k!r}")
        if not 1 <= k <= self.n_suggestible:
            raise ValueError(
                f"k must be between 1 and {self.n_suggestible} (the words this model can "
                f"suggest), got {k}"
            )
        read = self.read(prefix)
        probs = self.probabilities(read.ids)
        order = torch.sort(probs, descending=True, stable=True).indices[:k]  # ties: lower id first
        ranked = tuple((self.vocab.words[i], probs[i].item()) for i in order.tolist())
        return Suggestions(read.words, ranked, read.unknown, read.dropped)

    def continue_text(
        self,
        prefix: str,
        n_words: int,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> Completion:
        """Add ``n_words`` words to ``prefix``, one at a time.

        ``temperature=None`` is greedy (always the most likely word). A positive
        temperature samples from ``softmax(logits / temperature)``: below 1 sharper,
        above 1 flatter. ``seed`` makes sampling repeatable.
        """
        if not _is_int(n_words):
            raise TypeError(f"n_words must be an integer, got {type(n_words).__name__}: {n_words!r}")
        if not 1 <= n_words <= MAX_NEW_WORDS:
            raise ValueError(f"n_words must be between 1 and {MAX_NEW_WORDS}, got {n_words}")
        if temperature is not None:
            if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
                raise TypeError(
                    f"temperature must be a number or None, got {type(temperature).__name__}"
                )
            if not (math.isfinite(temperature) and temperature > 0):
                raise ValueError(
                    f"temperature must be a positive finite number (or None for greedy), got {temperature}"
                )
        if seed is not None and not _is_int(seed):
            raise TypeError(f"seed must be an integer or None, got {type(seed).__name__}: {seed!r}")
        read = self.read(prefix)
        ids = list(read.ids)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        new_words = []
        for _ in range(n_words):
            context = ids[-self.max_prefix :] if self.max_prefix else ids
            probs = self.probabilities(context)
            if temperature is None:
                next_id = int(probs.argmax())
            else:
                scaled = torch.log(probs) / temperature  # log 0 = -inf stays -inf
                weights = torch.softmax(scaled - scaled.max(), dim=-1)
                next_id = int(torch.multinomial(weights, 1, generator=generator))
            ids.append(next_id)
            new_words.append(self.vocab.words[next_id])
        return Completion(read.dropped + read.words, tuple(new_words), read.unknown)

    # ------------------------------------------------------------------ saving
    def settings(self) -> dict[str, Any]:
        """The model's settings: enough to rebuild it before loading its weights."""
        embed = self.model.embed
        return {
            "cell": self.model.cell,
            "vocab_size": self.model.vocab_size,
            "hidden_size": self.model.rnn.hidden_size,
            "embedding_size": embed.embedding_dim if embed is not None else None,
            "max_prefix": self.max_prefix,
        }

    def save(self, folder: str | Path) -> Path:
        """Write ``weights.pt`` (a state dict) and ``config.json`` (vocabulary and
        settings) into ``folder``, creating it if needed; return the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / WEIGHTS_FILE)
        config = {"format": FORMAT, "vocab": self.vocab.words, "unk": self.vocab.unk, **self.settings()}
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Autocomplete:
        """Rebuild what ``save`` wrote. Weights are read with ``weights_only=True``, so
        a file cannot run code while it loads."""
        folder = Path(folder)
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"{folder / name} not found: is {folder} a saved Autocomplete?")
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("format") != FORMAT:
            raise ValueError(f"{folder / CONFIG_FILE} has format {config.get('format')!r}, expected {FORMAT!r}")
        vocab = Vocab(config["vocab"], unk=config["unk"])
        if vocab.words != config["vocab"] or len(vocab) != config["vocab_size"]:
            raise ValueError(f"{folder / CONFIG_FILE}: the vocabulary does not match vocab_size")
        model = NextWordModel(
            config["vocab_size"], config["hidden_size"], config["cell"], config["embedding_size"]
        )
        model.load_state_dict(torch.load(folder / WEIGHTS_FILE, weights_only=True))
        return cls(model, vocab, config["max_prefix"])

    def export_dict(self) -> dict[str, Any]:
        """Everything a browser needs to run the model, as plain JSON-ready data.

        Weights keep PyTorch's names and layout (``weight_ih_l0`` is (gates * hidden,
        input); LSTM gates are stacked input, forget, cell, output; GRU gates reset,
        update, new). ``input`` says whether a word enters one-hot or through
        ``embed.weight``. Prefixes must be tokenised with ``token_pattern`` after lower-casing
        and turning the typographic apostrophe (U+2019) into a plain one, as ``tokenize`` does.
        """
        return {
            "format": FORMAT,
            **self.settings(),
            "input": "one-hot" if self.model.embed is None else "embedding",
            "vocab": self.vocab.words,
            "unk": self.vocab.unk,
            "token_pattern": WORD_PATTERN.pattern,
            "lowercase": True,
            "weights": {name: t.tolist() for name, t in self.model.state_dict().items()},
        }

    def export_json(self, path: str | Path) -> Path:
        """Write ``export_dict()`` into one JSON file; return its path."""
        path = Path(path)
        path.write_text(json.dumps(self.export_dict(), separators=(",", ":")) + "\n", encoding="utf-8")
        return path


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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _quote(words: tuple[str, ...]) -> str:
    return ", ".join(repr(w) for w in words)
