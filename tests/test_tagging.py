"""Chapter 2's taggers: the data match chapter 1's shapes, and many seeds trained as one
stack (``helpers.seeds`` with each tagger's ``stacked_forward``) follow the paths they follow
trained one by one with ``helpers.fit``."""

from __future__ import annotations

import pytest
import torch

from helpers import Fit, Vocab, fit, seed_everything, train_seeds
from helpers import tagging  # (its test_sets is data, not a test: imported through the module)
from helpers.tagging import RNNTagger, SharedTagger, WindowTagger, encode, right_tags, train_set

VOCAB = Vocab.build([words for words, _ in train_set()], unk="<unk>")
BUILD = {
    "window": lambda: WindowTagger(len(VOCAB)),
    "shared": lambda: SharedTagger(len(VOCAB)),
    "rnn": lambda: RNNTagger(len(VOCAB)),
    "bidirectional": lambda: RNNTagger(len(VOCAB), bidirectional=True),
    "two layers, both directions": lambda: RNNTagger(len(VOCAB), bidirectional=True, num_layers=2),
}


def test_every_sentence_has_a_tag_per_word() -> None:
    for words, tags in train_set() + [pair for data in tagging.test_sets().values() for pair in data]:
        assert len(words) == len(tags) and set(tags) <= {0, 1}


@pytest.mark.parametrize("kind", sorted(BUILD))
def test_stacked_seeds_equal_seeds_trained_one_by_one(kind: str) -> None:
    ids, tags = encode(VOCAB, [pair for pair in train_set() if len(pair[0]) == 6][:40])
    alone = []
    for seed in (0, 1, 2):
        seed_everything(seed)
        alone.append(BUILD[kind]().double())
    losses_alone = [fit(model, ids, tags, epochs=30, lr=0.01) for model in alone]
    runs = train_seeds(lambda: BUILD[kind]().double(), Fit((ids, tags), epochs=30), seeds=(0, 1, 2), method="stacked")
    # batched products sum in another order: equal to float64 rounding, amplified a little by 30 steps
    for model, run, losses in zip(alone, runs, losses_alone):
        assert torch.allclose(torch.tensor(losses), torch.tensor(run.losses), rtol=1e-9, atol=1e-12)
        for (name, pa), pb in zip(model.named_parameters(), run.model.parameters()):
            assert torch.allclose(pa, pb, rtol=1e-8, atol=1e-10), name
        assert run.losses[-1] < 0.9 * run.losses[0]  # it did learn
    assert right_tags(runs[0].model, VOCAB, tagging.test_sets()["same shape"]).shape[1] == 6


def test_auto_stacks_the_taggers() -> None:
    ids, tags = encode(VOCAB, [pair for pair in train_set() if len(pair[0]) == 6][:4])
    from helpers.seeds import _choose

    models = [BUILD["bidirectional"]() for _ in range(2)]
    assert _choose("auto", models, Fit((ids, tags), epochs=1), None) == "stacked"
