"""The character-level autocomplete: word completions and next words found by beam search,
their probabilities recomputed by a direct forward pass, seeded sampling, every bad input,
and the int8 export the in-page demo runs."""

import math

import pytest
import torch

from helpers import seed_everything
from helpers.char_autocomplete import (
    MAX_K,
    WORD_CHARS,
    CharAutocomplete,
    CharContinuation,
    UnknownCharacterError,
    WordSuggestions,
    describe_alphabet,
)
from helpers.char_export import quantise_rows, read_script
from helpers.charlm import CHECKPOINT_PATH, CharLM, CharVocab, train_charlm
from helpers.decoding import mulberry32

ALPHABET = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # Tiny Shakespeare's 65
TINY = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\n"
    "JULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\n\n"
)
TEXTS = ["O Rom", "through yon", "JULIET:\nO Romeo, Rom", "wherefore art", "ROMEO:\n", "But soft, what li"]


def tiny_model(cell: str = "lstm", hidden: int = 24, num_layers: int = 1) -> CharLM:
    """A CharLM over the 65 characters that has learnt two lines of Romeo and Juliet (150
    steps, well under a second)."""
    vocab = CharVocab(ALPHABET)
    seed_everything(0)
    model = CharLM(len(vocab), cell, hidden, 8, num_layers)
    train_charlm(model, vocab.encode(TINY * 12), steps=150, batch_size=4, seq_len=32, lr=2e-2)
    return model


@pytest.fixture(scope="module")
def ac() -> CharAutocomplete:
    return CharAutocomplete(tiny_model(), CharVocab(ALPHABET))


def end_probability(ac: CharAutocomplete, text: str) -> float:
    """p(the next character ends a word | text), from a fresh forward pass."""
    probs = ac.next_char_probabilities(text)
    return sum(float(probs[i]) for i, c in enumerate(ac.vocab.chars) if c not in WORD_CHARS)


def direct_probability(ac: CharAutocomplete, text: str, added: str) -> float:
    """The probability of ``added`` after ``text``, then of any word-ending character,
    from forward passes over the whole text (no carried state, no beam)."""
    return math.exp(ac.log_probability(text, added)) * end_probability(ac, text + added)


# ---------------------------------------------------------------- completing a word


def test_completes_the_known_word(ac):
    best = ac.complete("O Rom", k=3)[0]
    assert (best.word, best.added) == ("Romeo", "eo") and best.probability > 0.5
    assert ac.complete("through yon", k=1).words == ["yonder"]


@pytest.mark.parametrize("text", [t for t in TEXTS if t[-1] in WORD_CHARS])
def test_completions_are_continuations_with_the_model_probabilities(ac, text):
    result = ac.complete(text, k=5)
    assert isinstance(result, WordSuggestions) and len(result) == 5
    typed = text.split()[-1].split(",")[-1]
    assert result.typed == typed
    probs = [c.probability for c in result]
    assert probs == sorted(probs, reverse=True) and len(set(result.words)) == 5
    for c in result:
        assert c.word == typed + c.added and set(c.added) <= WORD_CHARS
        assert c.probability == pytest.approx(direct_probability(ac, text, c.added), rel=1e-4)
    assert sum(probs) <= 1 + 1e-9


@pytest.mark.parametrize("text", TEXTS)
def test_next_words_are_continuations_with_the_model_probabilities(ac, text):
    result = ac.next_words(text, k=4)
    assert len(result) == 4 and result.typed == ""
    probs = [c.probability for c in result]
    assert probs == sorted(probs, reverse=True) and len(set(result.words)) == 4
    for c in result:
        assert c.word and set(c.word) <= WORD_CHARS and c.added.endswith(c.word)
        gap = c.added[: -len(c.word)]
        if text[-1] in WORD_CHARS:  # the current word is finished first, then a gap
            rest = gap.rstrip("".join(set(ALPHABET) - WORD_CHARS))
            assert set(rest) <= WORD_CHARS and gap[len(rest) :]
        else:
            assert gap == "" or not set(gap) & WORD_CHARS
        assert c.probability == pytest.approx(direct_probability(ac, text, c.added), rel=1e-4)


def test_next_word_after_the_question(ac):
    assert ac.next_words("wherefore art", k=1).words == ["thou"]
    assert ac.next_words("wherefore art", k=1)[0].added == " thou"


def test_k_is_respected_and_a_wider_beam_finds_at_least_as_much(ac):
    for k in (1, 2, 7):
        assert len(ac.complete("O Rom", k=k)) == k
        assert len(ac.next_words("ROMEO:\n", k=k)) == k
    wide = CharAutocomplete(ac.model, ac.vocab, beam_width=64)
    for text in ("O Rom", "But soft, what li"):
        narrow_best, wide_best = ac.complete(text, k=3), wide.complete(text, k=3)
        for a, b in zip(narrow_best, wide_best):
            assert b.probability >= a.probability - 1e-12


def test_the_state_is_carried_not_recomputed(ac):
    """Searching runs the text once, then one character per beam per step."""
    lengths = []
    forward = ac.model.forward

    def counting(tokens, state=None):
        lengths.append(tokens.shape[1])
        return forward(tokens, state)

    ac.model.forward = counting
    try:
        ac.complete("JULIET:\nO Romeo, Rom", k=3)
    finally:
        del ac.model.forward
    assert lengths[0] == len("JULIET:\nO Romeo, Rom") and set(lengths[1:]) == {1}


def test_tables_read_well(ac):
    table = str(ac.complete("O Rom", k=2))
    assert table.startswith("'O Rom' ->\n  1. Romeo") and "(adds 'eo')" in table
    assert "  2. " in table
    assert str(ac.continue_text("O", 3, temperature=0)).startswith("O[")


# ---------------------------------------------------------------- continuing text


def test_greedy_continuation_follows_the_argmax(ac):
    result = ac.continue_text("ROMEO:\n", 40, temperature=0)
    assert isinstance(result, CharContinuation) and len(result.added) == 40
    assert result.added.startswith("But so")
    text = "ROMEO:\n"
    for char in result.added[:10]:
        probs = ac.next_char_probabilities(text)
        assert ac.vocab.chars[int(probs.argmax())] == char
        text += char


def test_sampling_is_seeded_and_temperature_shapes_it(ac):
    a = ac.continue_text("ROMEO:\n", 80, temperature=1.0, seed=3)
    assert a == ac.continue_text("ROMEO:\n", 80, temperature=1.0, seed=3)
    others = {ac.continue_text("ROMEO:\n", 80, temperature=1.0, seed=s).added for s in range(4, 8)}
    assert len(others) > 1
    cold = ac.continue_text("ROMEO:\n", 80, temperature=0.01, seed=3)
    assert cold.added == ac.continue_text("ROMEO:\n", 80, temperature=0).added


def test_mulberry32_gives_the_javascript_numbers():
    # from the usual JavaScript mulberry32, run in node
    assert [mulberry32(0)() for _ in range(1)] == [0.26642920868471265]
    r = mulberry32(123456789)
    assert [r(), r(), r()] == [0.2577907438389957, 0.9707721115555614, 0.7853280142880976]
    r = mulberry32(2**32 - 1)
    assert [r(), r()] == [0.8964226141106337, 0.189478256739676]


# ---------------------------------------------------------------- bad input


def test_characters_outside_the_alphabet_are_named_with_positions(ac):
    with pytest.raises(UnknownCharacterError) as info:
        ac.complete("héllo 😀 wor😀", k=1)
    message = str(info.value)
    assert "3 characters outside the model's alphabet" in message
    assert "'é' (U+00E9) at position 1" in message and "'😀' (U+1F600) at positions 6, 11" in message
    assert "65 characters: newline, space, !$&',-.3:;?, A-Z, a-z" in message
    assert info.value.characters == ("é", "😀")
    for call in (ac.next_words, ac.next_char_probabilities):
        with pytest.raises(UnknownCharacterError, match="'\\\\t' \\(U\\+0009\\) at position 3"):
            call("Rom\tx")
    with pytest.raises(UnknownCharacterError, match='\'"\''):
        ac.continue_text('"Rom', 3)


def test_the_typographic_apostrophe_reads_as_the_plain_one(ac):
    assert ac.next_words("O Romeo\u2019", k=2) == ac.next_words("O Romeo'", k=2)


@pytest.mark.parametrize("method", ["complete", "next_words", "continue_text"])
@pytest.mark.parametrize(
    "text, error, message",
    [
        ("", ValueError, "the text is empty"),
        (b"Rom", TypeError, "text must be a str, got bytes"),
        (None, TypeError, "text must be a str, got NoneType"),
        (42, TypeError, "text must be a str, got int"),
    ],
)
def test_empty_or_non_string_text_is_refused(ac, method, text, error, message):
    with pytest.raises(error, match=message):
        getattr(ac, method)(text)


def test_complete_needs_a_word_being_typed(ac):
    for text, last in (("Romeo ", "' '"), ("Romeo,", "','"), ("ROMEO:\n", "'\\\\n'")):
        with pytest.raises(ValueError, match=f"ends with {last}, not inside a word.*next_words"):
            ac.complete(text)


@pytest.mark.parametrize(
    "k, error, message",
    [
        (0, ValueError, f"k must be between 1 and {MAX_K}, got 0"),
        (MAX_K + 1, ValueError, f"k must be between 1 and {MAX_K}"),
        (-2, ValueError, "got -2"),
        (True, TypeError, "k must be an integer, got bool"),
        (2.0, TypeError, "k must be an integer, got float"),
        ("3", TypeError, "got str"),
    ],
)
def test_bad_k_is_refused(ac, k, error, message):
    for call in (ac.complete, ac.next_words):
        with pytest.raises(error, match=message):
            call("O Rom", k=k)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n_chars": 0}, ValueError, "n_chars must be between 1 and 2000"),
        ({"n_chars": 2001}, ValueError, "n_chars must be between 1 and 2000"),
        ({"n_chars": 5.0}, TypeError, "n_chars must be an integer"),
        ({"seed": -1}, ValueError, "seed must be between 0 and 2\\*\\*32 - 1"),
        ({"seed": 2**32}, ValueError, "seed must be between"),
        ({"seed": False}, TypeError, "seed must be an integer, got bool"),
        ({"seed": None}, TypeError, "seed must be an integer, got NoneType"),
    ],
)
def test_bad_sampling_settings_are_refused(ac, kwargs, error, message):
    with pytest.raises(error, match=message):
        ac.continue_text("ROMEO:\n", **kwargs)


def test_any_zero_or_positive_finite_temperature_is_allowed(ac):
    # the rest is refused by the book's one temperature policy: tests/test_decoding.py
    assert len(ac.continue_text("O", 5, temperature=0).added) == 5
    assert len(ac.continue_text("O", 5, temperature=10).added) == 5
    assert len(ac.continue_text("O", 5, temperature=1e6, seed=2).added) == 5  # no upper bound
    assert len(ac.continue_text("O", 5, temperature=1).added) == 5  # an int is a number


def test_bad_construction_is_refused():
    model, vocab = tiny_model(), CharVocab(ALPHABET)
    with pytest.raises(TypeError, match="model must be a CharLM, got Linear"):
        CharAutocomplete(torch.nn.Linear(2, 2), vocab)
    with pytest.raises(TypeError, match="vocab must be a CharVocab, got str"):
        CharAutocomplete(model, ALPHABET)
    with pytest.raises(ValueError, match="the vocabulary has 64"):
        CharAutocomplete(model, CharVocab(ALPHABET[1:]))
    for bad in (0, 257, True):
        with pytest.raises(ValueError, match="beam_width must be an integer between 1 and 256"):
            CharAutocomplete(model, vocab, beam_width=bad)


def test_alphabet_description():
    assert describe_alphabet(ALPHABET) == "newline, space, !$&',-.3:;?, A-Z, a-z"
    assert describe_alphabet("abdxyz") == "ab, d, x-z"


# ---------------------------------------------------------------- the export for the page


def test_quantisation_is_per_row_int8():
    torch.manual_seed(0)
    weight = torch.randn(7, 5) * torch.arange(1, 8)[:, None]
    weight[3] = 0
    q, scale = quantise_rows(weight)
    assert q.dtype == torch.int8 and scale.dtype == torch.float32 and scale.shape == (7,)
    assert q.abs().amax(dim=1).tolist() == [127] * 3 + [0] + [127] * 3
    assert ((q.double() * scale.double()[:, None]) - weight).abs().le(scale[:, None] / 2 + 1e-7).all()


@pytest.mark.parametrize("cell, layers", [("lstm", 1), ("gru", 2), ("rnn", 1)])
def test_export_round_trip(tmp_path, cell, layers):
    ac = CharAutocomplete(tiny_model(cell, 16, layers), CharVocab(ALPHABET), beam_width=8)
    export = read_script(ac.write_script(tmp_path / "model.js"))
    assert (tmp_path / "model.js").read_text().startswith("window.SHAKESPEARE_MODEL = {")
    assert export["cell"] == cell and export["num_layers"] == layers and export["beam_width"] == 8
    assert export["word_chars"] == "'" + ALPHABET[13:]
    page = CharAutocomplete.from_export(export)
    assert page.dequantised().model.state_dict().keys() == ac.model.state_dict().keys()
    for name, original in ac.model.state_dict().items():
        restored = page.model.state_dict()[name]
        assert restored.dtype == torch.float64
        if original.dim() == 2:
            step = original.abs().amax(dim=1, keepdim=True) / 127
            assert (restored - original.double()).abs().le(step / 2 + 1e-7).all(), name
        else:
            assert torch.equal(restored, original.double()), name
    probs, page_probs = ac.next_char_probabilities("O Rom"), page.next_char_probabilities("O Rom")
    assert (probs - page_probs).abs().max() < 0.05


# ---------------------------------------------------------------- the shipped model


@pytest.mark.skipif(not CHECKPOINT_PATH.is_file(), reason="the shipped checkpoint is not trained yet (make train)")
def test_the_shipped_model_completes_romeo():
    ac = CharAutocomplete.shipped()
    assert ac.model.cell == "lstm" and len(ac.vocab) == 65
    # with Juliet's words before it the model spells Romeo; after "O Rom" alone, Rome comes
    # first (the corpus holds much of Coriolanus), with Romeo among the three best
    assert ac.complete("JULIET:\nO Romeo, Rom", k=3)[0].word == "Romeo"
    assert "Romeo" in ac.complete("JULIET:\nO Rom", k=3).words
