"""The seed notes' six sentences and the next-word pairs made from them."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .vocab import Vocab, tokenize

SEED_SENTENCES: tuple[str, ...] = (
    "i like dog",
    "i love coffee",
    "i hate milk",
    "you like cat",
    "you love milk",
    "you hate coffee",
)


def next_word_pairs(sentences: Sequence[str]) -> list[tuple[list[str], str]]:
    """Split each sentence into (all words but the last, the last word)."""
    pairs = []
    for sentence in sentences:
        words = tokenize(sentence)
        if len(words) < 2:
            raise ValueError(f"need at least two words to make a pair, got {sentence!r}")
        pairs.append((words[:-1], words[-1]))
    return pairs


def next_word_tensors(
    sentences: Sequence[str], vocab: Vocab
) -> tuple[torch.Tensor, torch.Tensor]:
    """Prefix ids ``(batch, time)`` and target ids ``(batch,)``; prefixes must be equally long."""
    pairs = next_word_pairs(sentences)
    lengths = {len(prefix) for prefix, _ in pairs}
    if len(lengths) != 1:
        raise ValueError(f"prefixes must all have the same length, got lengths {sorted(lengths)}")
    inputs = torch.tensor([vocab.encode(prefix) for prefix, _ in pairs])  # (batch, time)
    targets = torch.tensor([vocab.index(target) for _, target in pairs])  # (batch,)
    return inputs, targets
