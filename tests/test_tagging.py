"""Chapter 2's taggers: the data match chapter 1's shapes, and many seeds trained as one
stack follow exactly the paths they follow trained one by one with ``helpers.fit``."""

from __future__ import annotations

import pytest
import torch

from helpers import Vocab, fit, seed_everything
from helpers import tagging  # (its test_sets is data, not a test: imported through the module)
from helpers.tagging import RNNTagger, SharedTagger, WindowTagger, encode, right_tags, train_set, train_stacked

VOCAB = Vocab.build([words for words, _ in train_set()], unk="<unk>")
BUILD = {
    "window": lambda: WindowTagger(len(VOCAB)),
    "shared": lambda: SharedTagger(len(VOCAB)),
    "rnn": lambda: RNNTagger(len(VOCAB)),
    "bidirectional": lambda: RNNTagger(len(VOCAB), bidirectional=True),
}


def test_every_sentence_has_a_tag_per_word() -> None:
    for words, tags in train_set() + [pair for data in tagging.test_sets().values() for pair in data]:
        assert len(words) == len(tags) and set(tags) <= {0, 1}


@pytest.mark.parametrize("kind", sorted(BUILD))
def test_stacked_seeds_equal_seeds_trained_one_by_one(kind: str) -> None:
    ids, tags = encode(VOCAB, [pair for pair in train_set() if len(pair[0]) == 6][:40])
    alone, stacked = [], []
    for seed in (0, 1, 2):
        seed_everything(seed)
        alone.append(BUILD[kind]().double())
        seed_everything(seed)
        stacked.append(BUILD[kind]().double())
    losses_alone = [fit(model, ids, tags, epochs=30, lr=0.01) for model in alone]
    losses_stacked = train_stacked(stacked, ids, tags, epochs=30)
    # batched products sum in another order: equal to float64 rounding, amplified a little by 30 steps
    for a, b, la, lb in zip(alone, stacked, losses_alone, losses_stacked):
        assert torch.allclose(torch.tensor(la), torch.tensor(lb), rtol=1e-9, atol=1e-12)
        for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
            assert torch.allclose(pa, pb, rtol=1e-8, atol=1e-10), name
    assert right_tags(stacked[0], VOCAB, tagging.test_sets()["same shape"]).shape[1] == 6


def test_stacked_training_refuses_what_it_cannot_stack() -> None:
    ids, tags = encode(VOCAB, [pair for pair in train_set() if len(pair[0]) == 6][:4])
    with pytest.raises(TypeError, match="train_stacked trains this module's taggers"):
        train_stacked([torch.nn.Linear(2, 2)], ids, tags, epochs=1)
    with pytest.raises(ValueError, match="one-layer"):
        train_stacked([RNNTagger(len(VOCAB), num_layers=2)], ids, tags, epochs=1)
