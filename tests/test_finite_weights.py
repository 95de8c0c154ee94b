"""A broken model is refused on every CPU: both autocompletes check the weights themselves
(when given a model, and before every answer), not the kernel's output, and name the
broken weight. Each weight of each cell type gets one NaN or infinity in its last entry: the
embedding row of a token the query never reads, and recurrent weights that the first step
multiplies by the zero initial state (0 * NaN is NaN in IEEE arithmetic, but a kernel may
skip the product: the check must not care)."""

import math

import pytest
import torch

from helpers import SEED_SENTENCES, NextWordModel, Vocab
from helpers.autocomplete import Autocomplete
from helpers.char_autocomplete import CharAutocomplete
from helpers.charlm import CharLM, CharVocab

CELLS = ["rnn", "lstm", "gru"]
WEIGHTS = ["embed.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
           "head.weight", "head.bias"]  # fmt: skip
CHARS = "\n !'abcdefghijklmnopqrstuvwxyz"


def break_weight(model: torch.nn.Module, name: str, value: float) -> None:
    with torch.no_grad():
        dict(model.named_parameters())[name].view(-1)[-1] = value


def word_model(cell: str) -> tuple[NextWordModel, Vocab]:
    torch.manual_seed(0)
    vocab = Vocab.build(SEED_SENTENCES, unk=None)  # the last word, 'cat', is never in a query below
    return NextWordModel(len(vocab), 5, cell, embedding_size=3), vocab


def char_model(cell: str) -> tuple[CharLM, CharVocab]:
    torch.manual_seed(0)
    return CharLM(len(CHARS), cell, 8, 4), CharVocab(CHARS)  # the last character, 'z', is never read


@pytest.mark.parametrize("value", [math.nan, math.inf])
@pytest.mark.parametrize("name", WEIGHTS)
@pytest.mark.parametrize("cell", CELLS)
def test_the_word_autocomplete_refuses_each_broken_weight(cell, name, value):
    model, vocab = word_model(cell)
    ac = Autocomplete(model, vocab, max_prefix=2)
    ac.suggest("you", k=2)  # a good model answers
    break_weight(model, name, value)
    named = rf"its weights contain NaN or infinity \({name}\)$"
    with pytest.raises(ValueError, match="cannot use this model: " + named):
        Autocomplete(model, vocab, max_prefix=2)
    for call in (
        lambda: ac.suggest("you", k=2),  # one word: the first step, from h0 = 0
        lambda: ac.suggest("i like", k=2),
        lambda: ac.probabilities([0]),
        lambda: ac.continue_text("you", 2),
        lambda: ac.continue_text("you", 2, temperature=1.0, seed=0),
    ):
        with pytest.raises(ValueError, match="the model has no probabilities to give: " + named):
            call()
    with pytest.raises(ValueError, match="cannot export this model: " + named):
        ac.export_dict()
    ac.max_prefix = None  # the state carried forward: the same check
    with pytest.raises(ValueError, match=named):
        ac.continue_text("you", 2)


@pytest.mark.parametrize("value", [math.nan, math.inf])
@pytest.mark.parametrize("name", WEIGHTS)
@pytest.mark.parametrize("cell", CELLS)
def test_the_char_autocomplete_refuses_each_broken_weight(cell, name, value):
    model, vocab = char_model(cell)
    ac = CharAutocomplete(model, vocab, beam_width=2, max_search_chars=3)
    ac.next_char_probabilities("a")  # a good model answers
    break_weight(model, name, value)
    named = rf"its weights contain NaN or infinity \({name}\)$"
    with pytest.raises(ValueError, match="cannot use this model: " + named):
        CharAutocomplete(model, vocab)
    for call in (
        lambda: ac.next_char_probabilities("a"),  # one character: the first step, from h0 = 0
        lambda: ac.log_probability("a", "b"),
        lambda: ac.complete("a", k=1),
        lambda: ac.next_words("a ", k=1),
        lambda: ac.continue_text("a", 2, temperature=0),
        lambda: ac.continue_text("a", 2, temperature=1.0, seed=1),
    ):
        with pytest.raises(ValueError, match="the model cannot answer: " + named):
            call()
    with pytest.raises(ValueError, match="cannot export this model: " + named):
        ac.export_dict()


def test_every_broken_weight_is_named():
    model, vocab = char_model("lstm")
    break_weight(model, "rnn.weight_hh_l0", math.nan)
    break_weight(model, "head.bias", -math.inf)
    with pytest.raises(ValueError, match=r"\(rnn.weight_hh_l0, head.bias\)$"):
        CharAutocomplete(model, vocab)
