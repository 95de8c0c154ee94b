"""The autocomplete API: suggestions, continuations, every bad input, saving, loading,
and the JSON export checked against a plain NumPy forward pass."""

import copy
import json
import math
import os
import re

import numpy as np
import pytest
import torch

from helpers import SEED_SENTENCES, NextWordModel, UnknownWordError, Vocab, fit, next_word_tensors, seed_everything, tokenize
from helpers.autocomplete import Autocomplete, Completion, Suggestions, seed_autocomplete
from helpers.modelfile import ModelFileError, checksum

PREFIXES = [" ".join(s.split()[:2]) for s in SEED_SENTENCES]
LAST_WORDS = [s.split()[2] for s in SEED_SENTENCES]


def train_seed_model(unk, cell="rnn", epochs=500, embedding_size=None):
    """The seed notes' model: six sentences, hidden size 5, Adam lr 0.01."""
    seed_everything(0)
    vocab = Vocab.build(SEED_SENTENCES, unk=unk)
    inputs, targets = next_word_tensors(SEED_SENTENCES, vocab)
    model = NextWordModel(len(vocab), 5, cell=cell, embedding_size=embedding_size)
    fit(model, inputs, targets, epochs=epochs, lr=0.01)
    return model, vocab


@pytest.fixture(scope="module")
def seed_ac():
    """The model of chapter 6 and of the in-page demo. Nine words, no <unk>: unknown
    words are refused."""
    return seed_autocomplete("rnn")[0]


def test_seed_autocomplete_is_the_seed_recipe_and_repeatable():
    ac, losses = seed_autocomplete("lstm")
    again, losses_again = seed_autocomplete("lstm")
    assert losses == losses_again and len(losses) == 500 and losses[-1] < 0.05
    assert ac.settings() == {"cell": "lstm", "vocab_size": 9, "hidden_size": 5, "embedding_size": None, "max_prefix": 2}
    assert ac.suggest("you like", k=1).words == ["cat"]
    assert ac.suggest("i hate", k=1).words == ["milk"]
    assert ac.export_dict() == again.export_dict()


@pytest.fixture(scope="module")
def unk_ac():
    """Ten words with <unk> at id 0: unknown words are read as <unk>."""
    model, vocab = train_seed_model(unk="<unk>", epochs=200)
    return Autocomplete(model, vocab, max_prefix=2)


def random_model(cell, vocab_size, embedding_size, seed=0, scale=3.0):
    """An untrained model with weights scaled up so that its outputs are far from uniform."""
    torch.manual_seed(seed)
    model = NextWordModel(vocab_size, 6, cell=cell, embedding_size=embedding_size)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)
    return model


# ---------------------------------------------------------------- suggestions


def test_reproduces_the_six_seed_sentences(seed_ac):
    for prefix, last in zip(PREFIXES, LAST_WORDS):
        best_word, best_p = seed_ac.suggest(prefix, k=1)[0]
        assert best_word == last, prefix
        assert best_p > 0.9
    assert seed_ac.suggest("you like").words[0] == "cat"


def test_suggestions_are_ranked_and_are_the_model_probabilities(seed_ac):
    sugg = seed_ac.suggest("i hate", k=9)
    assert isinstance(sugg, Suggestions)
    probs = [p for _, p in sugg]
    assert len(sugg) == 9 and probs == sorted(probs, reverse=True)
    assert sorted(sugg.words) == sorted(seed_ac.vocab.words)
    assert sum(probs) == pytest.approx(1.0)
    ids = torch.tensor([seed_ac.vocab.encode("i hate")])
    expected = torch.softmax(seed_ac.model(ids)[0], -1)
    for word, p in sugg:
        assert p == pytest.approx(expected[seed_ac.vocab.index(word)].item(), abs=1e-6)
    assert seed_ac.suggest("i hate", k=3).ranked == sugg.ranked[:3]
    assert sugg.prefix == ("i", "hate") and sugg.unknown == () and sugg.dropped == ()


def test_table_shows_rank_word_and_probability(seed_ac):
    table = seed_ac.suggest("you like", k=2).table()
    lines = table.splitlines()
    assert lines[0] == "'you like' ->"
    assert re.fullmatch(r"  1\. cat +0\.9\d\d", lines[1])
    assert lines[2].startswith("  2. ") and len(lines) == 3
    assert str(seed_ac.suggest("you like", k=2)) == table


def test_unk_is_never_suggested_and_the_rest_is_renormalised(unk_ac):
    assert unk_ac.vocab.words[0] == "<unk>" and unk_ac.n_suggestible == 9
    sugg = unk_ac.suggest("you love", k=9)
    assert "<unk>" not in sugg.words and len(sugg) == 9
    logits = unk_ac.model(torch.tensor([unk_ac.vocab.encode("you love")]))[0]
    expected = torch.softmax(logits[1:], -1)  # everything but <unk>
    got = torch.tensor([p for _, p in sorted(sugg, key=lambda wp: unk_ac.vocab.index(wp[0]))], dtype=torch.float64)
    torch.testing.assert_close(got, expected.double(), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="between 1 and 9"):
        unk_ac.suggest("you love", k=10)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("prefix", ["", "   ", "\n\t", "?!...", "--"])
def test_a_prefix_without_words_is_refused(seed_ac, prefix):
    with pytest.raises(ValueError, match="contains no words"):
        seed_ac.suggest(prefix)
    with pytest.raises(ValueError, match="contains no words"):
        seed_ac.continue_text(prefix, 2)


def test_unknown_words_are_refused_by_name_without_unk(seed_ac):
    # the seed notes' own commented-out test input
    with pytest.raises(UnknownWordError) as info:
        seed_ac.suggest("he liks")
    message = str(info.value)
    assert "'he', 'liks'" in message
    assert "9 words" in message
    assert "did you mean 'like' for 'liks'" in message
    assert isinstance(info.value, ValueError)  # never a bare KeyError
    with pytest.raises(UnknownWordError, match="unknown word 'cats'.*'cat' for 'cats'"):
        seed_ac.suggest("you cats")
    with pytest.raises(UnknownWordError, match="'liks'"):
        seed_ac.continue_text("he liks", 3)


def test_unknown_words_are_read_as_unk_and_reported_with_unk(unk_ac):
    sugg = unk_ac.suggest("he liks", k=3)
    assert sugg.unknown == ("he", "liks")
    assert sugg.prefix == ("he", "liks")
    assert len(sugg) == 3 and "<unk>" not in sugg.words
    assert unk_ac.read("he liks").ids == [0, 0]
    assert "unknown words read as <unk>: 'he', 'liks'" in sugg.table()
    mixed = unk_ac.suggest("you liks liks", k=2)
    assert mixed.unknown == ("liks",)  # each unknown word reported once
    assert unk_ac.continue_text("he liks", 2).unknown == ("he", "liks")


def test_case_punctuation_and_spaces_do_not_matter(seed_ac):
    plain = seed_ac.suggest("you like", k=3)
    for messy in ["You Like", "YOU LIKE!", "  you,   like...", "you\tlike\n", '"you" like?']:
        assert seed_ac.suggest(messy, k=3) == plain, messy


def test_a_prefix_longer_than_trained_keeps_its_last_words(seed_ac):
    long = seed_ac.suggest("i you like", k=3)
    short = seed_ac.suggest("you like", k=3)
    assert long.ranked == short.ranked
    assert long.prefix == ("you", "like") and long.dropped == ("i",)
    assert "only the last 2 words were read; dropped 'i'" in long.table()
    completion = seed_ac.continue_text("i you like", 1)
    assert completion.prefix == ("i", "you", "like") and completion.new_words == ("cat",)
    # a dropped word is not read, so it cannot be unknown either
    dropped_unknown = seed_ac.suggest("he liks you like", k=3)
    assert dropped_unknown.ranked == short.ranked
    assert dropped_unknown.dropped == ("he", "liks") and dropped_unknown.unknown == ()


def test_unknown_words_are_those_read_after_shortening(unk_ac):
    sugg = unk_ac.suggest("xyz you liks", k=2)
    assert sugg.dropped == ("xyz",) and sugg.unknown == ("liks",)


def test_without_max_prefix_the_whole_prefix_is_read(seed_ac):
    whole = Autocomplete(seed_ac.model, seed_ac.vocab)
    sugg = whole.suggest("i you like", k=3)
    assert sugg.dropped == () and sugg.prefix == ("i", "you", "like")
    assert sugg.ranked != seed_ac.suggest("you like", k=3).ranked


@pytest.mark.parametrize("prefix", [None, 3, 2.5, ["you", "like"], b"you like", ("you",)])
def test_a_prefix_that_is_not_a_string_is_refused(seed_ac, prefix):
    with pytest.raises(TypeError, match="prefix must be a string, got " + type(prefix).__name__):
        seed_ac.suggest(prefix)
    with pytest.raises(TypeError, match="prefix must be a string"):
        seed_ac.continue_text(prefix, 1)


@pytest.mark.parametrize("k", [0, -1, 10, 1000])
def test_k_out_of_range_is_refused(seed_ac, k):
    with pytest.raises(ValueError, match=rf"k must be between 1 and 9 .*got {k}"):
        seed_ac.suggest("you like", k=k)


@pytest.mark.parametrize("k", [2.0, "3", True, None])
def test_k_that_is_not_an_integer_is_refused(seed_ac, k):
    with pytest.raises(TypeError, match="k must be an integer"):
        seed_ac.suggest("you like", k=k)


@pytest.mark.parametrize("temperature", [0, 0.0, -0.0])
def test_a_temperature_of_zero_is_greedy(seed_ac, temperature):
    # the book's one temperature policy (tests/test_decoding.py refuses the rest for both APIs)
    greedy = seed_ac.continue_text("you like", 4)
    assert seed_ac.continue_text("you like", 4, temperature=temperature, seed=0) == greedy
    assert seed_ac.continue_text("you like", 4, temperature=temperature) == greedy  # no seed needed


def test_n_words_and_seed_are_checked(seed_ac):
    for n in (0, -3, 1001):
        with pytest.raises(ValueError, match=rf"n_words must be between 1 and 1000, got {n}"):
            seed_ac.continue_text("you like", n)
    with pytest.raises(TypeError, match="n_words must be an integer"):
        seed_ac.continue_text("you like", 2.0)
    with pytest.raises(TypeError, match="seed must be an integer or None"):
        seed_ac.continue_text("you like", 2, temperature=1.0, seed="zero")


def test_the_constructor_refuses_mismatched_parts():
    vocab = Vocab.build(SEED_SENTENCES, unk=None)
    with pytest.raises(ValueError, match="scores 10 words but the vocabulary has 9"):
        Autocomplete(NextWordModel(10, 5), vocab)
    with pytest.raises(ValueError, match="max_prefix must be a positive integer or None, got 0"):
        Autocomplete(NextWordModel(9, 5), vocab, max_prefix=0)
    with pytest.raises(TypeError, match="model must be a NextWordModel"):
        Autocomplete(torch.nn.Linear(9, 9), vocab)
    with pytest.raises(TypeError, match="vocab must be a Vocab"):
        Autocomplete(NextWordModel(9, 5), vocab.words)


# ---------------------------------------------------------------- continuing


def test_greedy_continuation_follows_the_top_suggestion(seed_ac):
    completion = seed_ac.continue_text("i like", 4)
    assert isinstance(completion, Completion) and len(completion.new_words) == 4
    words = ["i", "like"]
    for new in completion.new_words:
        assert new == seed_ac.suggest(" ".join(words), k=1).words[0]
        words.append(new)
    assert completion.text == " ".join(words)
    assert str(completion) == "i like [" + " ".join(completion.new_words) + "]"
    assert completion.new_words[0] == "dog"


def test_sampling_is_repeatable_with_a_seed_and_varies_between_seeds(seed_ac):
    first = seed_ac.continue_text("you", 6, temperature=2.0, seed=1)
    assert first == seed_ac.continue_text("you", 6, temperature=2.0, seed=1)
    others = {seed_ac.continue_text("you", 6, temperature=2.0, seed=s).new_words for s in range(8)}
    assert len(others) > 1
    assert all(w in seed_ac.vocab for words in others for w in words)


def test_a_low_temperature_approaches_greedy(seed_ac):
    greedy = seed_ac.continue_text("i love", 5)
    for seed in range(5):
        assert seed_ac.continue_text("i love", 5, temperature=1e-3, seed=seed) == greedy
        # far below 1e-3 the scaled logits overflow float32; they must still give greedy
        assert seed_ac.continue_text("i love", 5, temperature=1e-300, seed=seed) == greedy


def test_any_positive_finite_temperature_works(seed_ac):
    greedy = seed_ac.continue_text("i love", 5)
    smallest = 5e-324  # the smallest positive float: sampling is greedy, not a crash
    assert seed_ac.continue_text("i love", 5, temperature=smallest, seed=0) == greedy
    huge = {seed_ac.continue_text("i", 6, temperature=1e300, seed=s).new_words for s in range(6)}
    assert len(huge) > 1  # near uniform, and still words
    assert seed_ac.continue_text("i love", 2, temperature=np.float32(0.5), seed=0).new_words


@pytest.mark.parametrize("seed", [-1, 2**64, 2**70])
def test_a_seed_out_of_range_is_refused(seed_ac, seed):
    with pytest.raises(ValueError, match=rf"seed must be between 0 and 2\*\*64 - 1, got {seed}"):
        seed_ac.continue_text("you like", 2, temperature=1.0, seed=seed)


def test_the_largest_seed_and_numpy_integers_are_accepted(seed_ac):
    assert len(seed_ac.continue_text("you like", 2, temperature=1.0, seed=2**64 - 1).new_words) == 2
    assert len(seed_ac.suggest("you like", k=np.int64(2))) == 2
    assert len(seed_ac.continue_text("you", np.int64(2), temperature=1.0, seed=np.uint64(3)).new_words) == 2
    with pytest.raises(TypeError, match="seed must be an integer or None, got bool"):
        seed_ac.continue_text("you like", 2, temperature=1.0, seed=True)


def test_unknown_words_are_quoted_as_typed(seed_ac):
    with pytest.raises(UnknownWordError, match=r"unknown word 'Café'"):
        seed_ac.suggest("I like Café")
    with pytest.raises(UnknownWordError, match=r"unknown words 'He', 'LIKS' \(did you mean 'like' for 'LIKS'\?\)"):
        seed_ac.suggest("He LIKS")
    with pytest.raises(UnknownWordError, match=r"unknown word 'STRAẞE'"):
        seed_ac.continue_text("you STRAẞE", 2)


def test_prefixes_in_any_script(tmp_path):
    vocab = Vocab.build(["Die Straße ist lang", "순환 신경망은 좋다", "Éclair au café"], unk=None)
    ac = Autocomplete(random_model("gru", len(vocab), 4), vocab)
    assert ac.read("die STRASSE").words == ("die", "strasse")
    assert ac.suggest("die STRAẞE", k=3) == ac.suggest("Die Straße", k=3)
    assert ac.suggest("순환 신경망은", k=2).prefix == ("순환", "신경망은")
    loaded = Autocomplete.load(ac.save(tmp_path / "saved"))
    assert loaded.suggest("ÉCLAIR au", k=3) == ac.suggest("éclair AU", k=3)
    assert "순환" in (tmp_path / "saved" / "config.json").read_text(encoding="utf-8")


class StepCounter:
    """Counts the time steps a recurrent layer is run for, inside a ``with`` block."""

    def __init__(self, layer):
        self.layer, self.steps = layer, 0

    def __enter__(self):
        self.hook = self.layer.register_forward_hook(self.count)
        return self

    def __exit__(self, *exc):
        self.hook.remove()

    def count(self, module, inputs, output):
        self.steps += inputs[0].shape[1]  # batch_first: (batch, time, features)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_continuation_without_max_prefix_carries_the_state(cell):
    vocab = Vocab.build(SEED_SENTENCES)
    ac = Autocomplete(random_model(cell, len(vocab), 3), vocab)  # max_prefix=None
    prefix = " ".join(SEED_SENTENCES * 20)  # 360 words
    n_words = 40
    with StepCounter(ac.model.rnn) as counter:
        completion = ac.continue_text(prefix, n_words)
    # the prefix once, then one step per new word but the last: O(n), not O(n * prefix)
    assert counter.steps == 360 + n_words - 1
    # and the same words as reading the whole text again before every word
    text = prefix
    for new in completion.new_words[:10]:
        assert new == ac.suggest(text, k=1).words[0]
        text += " " + new
    sampled = ac.continue_text("i like", 30, temperature=1.0, seed=4)
    assert sampled == ac.continue_text("i like", 30, temperature=1.0, seed=4)


def test_continuation_with_max_prefix_still_reads_the_last_words(seed_ac):
    with StepCounter(seed_ac.model.rnn) as counter:
        seed_ac.continue_text("i like", 5)
    assert counter.steps == 5 * 2  # each word from the last two, as trained


def test_sampling_never_produces_unk(unk_ac):
    for seed in range(10):
        words = unk_ac.continue_text("he liks", 8, temperature=5.0, seed=seed).new_words
        assert "<unk>" not in words


# ---------------------------------------------------------------- save and load


@pytest.mark.parametrize(
    "cell, embedding_size, unk", [("rnn", None, None), ("lstm", 4, "<unk>"), ("gru", None, "<unk>")]
)
def test_save_and_load_give_identical_suggestions(tmp_path, cell, embedding_size, unk):
    model, vocab = train_seed_model(unk=unk, cell=cell, epochs=30, embedding_size=embedding_size)
    original = Autocomplete(model, vocab, max_prefix=2)
    folder = original.save(tmp_path / "saved")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.pt"]
    config = json.loads((folder / "config.json").read_text())
    assert config["vocab"] == vocab.words and config["cell"] == cell
    assert config["embedding_size"] == embedding_size and config["max_prefix"] == 2
    # the weights are a state dict, with the config's fingerprint, that loads without running any code
    saved = torch.load(folder / "weights.pt", weights_only=True)
    assert set(saved) == {"format", "config_sha256", "weights_sha256", "state_dict"}
    assert set(saved["state_dict"]) == set(model.state_dict())
    loaded = Autocomplete.load(folder)
    assert loaded.vocab.words == vocab.words and loaded.vocab.unk == unk
    assert loaded.settings() == original.settings()
    n = original.n_suggestible
    for prefix in PREFIXES + ["you i like"]:
        assert loaded.suggest(prefix, k=n) == original.suggest(prefix, k=n)
    sample = dict(n_words=5, temperature=1.5, seed=3)
    assert loaded.continue_text("i", **sample) == original.continue_text("i", **sample)


def test_load_explains_what_is_missing_or_wrong(tmp_path, seed_ac):
    with pytest.raises(ModelFileError, match="nowhere not found"):
        Autocomplete.load(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "weights.pt").write_bytes(b"")
    with pytest.raises(ModelFileError, match="config.json not found"):
        Autocomplete.load(tmp_path / "half")
    folder = seed_ac.save(tmp_path / "saved")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "format": "something else"}))
    with pytest.raises(ModelFileError, match="has format 'something else'"):
        Autocomplete.load(folder)
    (folder / "config.json").write_text(json.dumps({**config, "vocab_size": 12}))
    with pytest.raises(ModelFileError, match="the vocabulary has 9 words but 'vocab_size' is 12"):
        Autocomplete.load(folder)
    assert issubclass(ModelFileError, ValueError)


def save_once(tmp_path, ac):
    """Save ``ac``; return the folder and the bytes of its two files."""
    folder = ac.save(tmp_path / "saved")
    before = {name: (folder / name).read_bytes() for name in ("config.json", "weights.pt")}
    return folder, before


def test_a_failed_save_leaves_the_previous_save_intact(tmp_path, seed_ac, unk_ac, monkeypatch):
    folder, before = save_once(tmp_path, seed_ac)

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half")  # part of a file, then the disk is full
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(torch, "save", broken_save)
        with pytest.raises(OSError, match="No space left"):
            unk_ac.save(folder)
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.pt"]  # no leftovers
    assert Autocomplete.load(folder).suggest("you like", k=9) == seed_ac.suggest("you like", k=9)

    # the config's rename fails after the weights' rename: the weights are put back
    real_replace = os.replace

    def replace(source, target):
        if str(target).endswith("config.json"):
            raise OSError(5, "Input/output error")
        real_replace(source, target)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", replace)
        with pytest.raises(OSError, match="Input/output"):
            unk_ac.save(folder)
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.pt"]
    # and a save that succeeds replaces both files
    unk_ac.save(folder)
    assert Autocomplete.load(folder).vocab.words == unk_ac.vocab.words


def test_a_save_stopped_between_its_renames_loads_the_previous_model(tmp_path, seed_ac, unk_ac):
    folder, _ = save_once(tmp_path, seed_ac)
    other = unk_ac.save(tmp_path / "other")
    # what a crash between the two renames leaves: new weights, old config, the old weights kept
    os.link(folder / "weights.pt", folder / ".weights.pt.previous")
    (folder / "new.tmp").write_bytes((other / "weights.pt").read_bytes())
    os.replace(folder / "new.tmp", folder / "weights.pt")
    loaded = Autocomplete.load(folder)
    assert loaded.vocab.words == seed_ac.vocab.words
    assert loaded.suggest("i hate", k=9) == seed_ac.suggest("i hate", k=9)
    # without the old weights, the mismatch is refused rather than mixed
    (folder / ".weights.pt.previous").unlink()
    with pytest.raises(ModelFileError, match="config.json does not belong to .*weights.pt"):
        Autocomplete.load(folder)


def test_a_config_that_does_not_belong_to_the_weights_is_refused(tmp_path, seed_ac):
    folder = seed_ac.save(tmp_path / "saved")
    config = json.loads((folder / "config.json").read_text())
    edits = {
        "vocabulary reversed": {**config, "vocab": config["vocab"][::-1]},
        "two words swapped": {**config, "vocab": ["you", *config["vocab"][1:7], "i", *config["vocab"][8:]]},
        "max_prefix changed": {**config, "max_prefix": 3},
        "another cell": {**config, "cell": "gru"},
    }
    for name, edited in edits.items():
        (folder / "config.json").write_text(json.dumps(edited))
        with pytest.raises(ModelFileError, match="does not belong to"):
            Autocomplete.load(folder)
    # a config from another model, with the same vocabulary
    other = Autocomplete(NextWordModel(9, 7), seed_ac.vocab, max_prefix=2).save(tmp_path / "other")
    (folder / "config.json").write_bytes((other / "config.json").read_bytes())
    with pytest.raises(ModelFileError, match="does not belong to"):
        Autocomplete.load(folder)
    # key order and spacing are not content: the same config rewritten still loads
    (folder / "config.json").write_text(json.dumps(dict(reversed(config.items()))))
    assert Autocomplete.load(folder).suggest("i like", k=1).words == ["dog"]


class NotATensor:
    """What an attacker might pickle: any object other than tensors and plain data."""

    def __reduce__(self):
        return (print, ("this must never run",))


def broken_files(folder, weights, config):
    """(what, file name, bytes) for every kind of damage a user has met."""
    payload = torch.load(folder / "weights.pt", weights_only=True)
    nudged = {**payload, "state_dict": {k: v + 1e-3 for k, v in payload["state_dict"].items()}}
    with open(folder / "nudged.pt", "wb") as f:
        torch.save(nudged, f)
    with open(folder / "bare.pt", "wb") as f:
        torch.save(payload["state_dict"], f)
    with open(folder / "evil.pt", "wb") as f:
        torch.save({"state_dict": NotATensor()}, f)
    return [
        ("truncated weights", "weights.pt", weights[: len(weights) // 2], "truncated or damaged"),
        ("empty weights", "weights.pt", b"", "truncated or damaged"),
        ("text as weights", "weights.pt", b"hello", "truncated or damaged"),
        ("tensors changed", "weights.pt", (folder / "nudged.pt").read_bytes(), "damaged: its tensors do not match"),
        ("old bare state dict", "weights.pt", (folder / "bare.pt").read_bytes(), "bare state dict"),
        ("a pickle that runs code", "weights.pt", (folder / "evil.pt").read_bytes(), "could run code"),
        ("config not UTF-8", "config.json", b"\xff\xfe{}", "not UTF-8"),
        ("config not JSON", "config.json", b"{vocab: ", "not valid JSON"),
        ("config a list", "config.json", b"[1, 2]", "should hold a JSON object"),
        ("config without hidden_size", "config.json",
         json.dumps({k: v for k, v in json.loads(config).items() if k != "hidden_size"}).encode(), "lacks 'hidden_size'"),
        ("config with a text size", "config.json",
         json.dumps({**json.loads(config), "hidden_size": "5"}).encode(), "'hidden_size' must be a positive integer"),
    ]  # fmt: skip


def test_every_damaged_file_gives_one_clear_error(tmp_path, seed_ac, capsys):
    folder = seed_ac.save(tmp_path / "saved")
    weights, config = (folder / "weights.pt").read_bytes(), (folder / "config.json").read_text()
    for what, name, content, message in broken_files(tmp_path / "saved", weights, config):
        (folder / "weights.pt").write_bytes(weights)
        (folder / "config.json").write_text(config)
        (folder / name).write_bytes(content)
        with pytest.raises(ModelFileError) as info:
            Autocomplete.load(folder)
        text = str(info.value)
        assert str(folder / name) in text and message in text, what
        assert "weights_only=False" not in text and "weights_only" not in repr(info.value.__cause__), what
    assert "this must never run" not in capsys.readouterr().out


def test_weights_that_are_not_finite_are_refused_everywhere(tmp_path, seed_ac):
    # (tests/test_finite_weights.py breaks every weight of every cell type, for both APIs)
    broken = copy.deepcopy(seed_ac)
    with torch.no_grad():
        broken.model.rnn.weight_hh_l0[0, 0] = math.nan
    with pytest.raises(ValueError, match=r"no probabilities to give: its weights contain NaN or infinity \(rnn.weight_hh_l0\)"):
        broken.suggest("you like")
    with pytest.raises(ValueError, match=r"NaN or infinity \(rnn.weight_hh_l0\)"):
        broken.continue_text("you like", 3)
    with pytest.raises(ValueError, match=r"cannot export this model: its weights contain NaN or infinity \(rnn.weight_hh_l0\)"):
        broken.export_json(tmp_path / "broken.json")
    assert not (tmp_path / "broken.json").exists()
    with pytest.raises(ValueError, match="cannot save this model: .*NaN"):
        broken.save(tmp_path / "broken")
    # a file that holds NaN weights (written by hand, checksum and fingerprint right)
    folder = seed_ac.save(tmp_path / "saved")
    payload = torch.load(folder / "weights.pt", weights_only=True)
    payload["state_dict"]["head.bias"][0] = math.inf
    payload["weights_sha256"] = checksum(payload["state_dict"])
    torch.save(payload, folder / "weights.pt")
    with pytest.raises(ModelFileError, match=r"weights.pt: refused: its weights contain NaN or infinity \(head.bias\)"):
        Autocomplete.load(folder)


# ---------------------------------------------------------------- JSON for the browser


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_logits(exported, text):
    """What the browser will do, in plain NumPy: tokenise the text (the JavaScript demo's
    tokenizer is checked against `tokenize` elsewhere), then run the exported cell's
    equations (PyTorch's gate order) and the head."""
    vocab = exported["vocab"]
    assert exported["lowercase"]
    words = tokenize(text)
    ids = [vocab.index(w) if w in vocab else vocab.index(exported["unk"]) for w in words]
    if exported["max_prefix"]:
        ids = ids[-exported["max_prefix"]:]
    W = {name: np.array(value, dtype=np.float64) for name, value in exported["weights"].items()}
    h = np.zeros(exported["hidden_size"])
    c = np.zeros(exported["hidden_size"])  # LSTM memory cell
    for i in ids:
        x = W["embed.weight"][i] if exported["input"] == "embedding" else np.eye(len(vocab))[i]
        gx = W["rnn.weight_ih_l0"] @ x + W["rnn.bias_ih_l0"]  # input part of every gate
        gh = W["rnn.weight_hh_l0"] @ h + W["rnn.bias_hh_l0"]  # recurrent part
        if exported["cell"] == "rnn":
            h = np.tanh(gx + gh)
        elif exported["cell"] == "lstm":
            i_gate, f_gate, g, o_gate = np.split(gx + gh, 4)
            c = sigmoid(f_gate) * c + sigmoid(i_gate) * np.tanh(g)
            h = sigmoid(o_gate) * np.tanh(c)
        else:  # gru: reset, update, new
            r_x, z_x, n_x = np.split(gx, 3)
            r_h, z_h, n_h = np.split(gh, 3)
            r, z = sigmoid(r_x + r_h), sigmoid(z_x + z_h)
            h = (1 - z) * np.tanh(n_x + r * n_h) + z * h
    return W["head.weight"] @ h + W["head.bias"]


def numpy_suggestion_probs(exported, text):
    logits = numpy_logits(exported, text)
    if exported["unk"] is not None:
        logits[exported["vocab"].index(exported["unk"])] = -np.inf
    e = np.exp(logits - logits.max())
    return e / e.sum()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("embedding_size", [None, 3])
def test_json_export_reproduces_the_model_in_numpy(tmp_path, cell, embedding_size):
    vocab = Vocab.build(SEED_SENTENCES)  # with <unk>
    ac = Autocomplete(random_model(cell, len(vocab), embedding_size), vocab, max_prefix=3)
    exported = json.loads(ac.export_json(tmp_path / "model.json").read_text())
    assert exported["cell"] == cell and exported["vocab"] == vocab.words
    assert exported["input"] == ("one-hot" if embedding_size is None else "embedding")
    for text in PREFIXES + ["He LIKS coffee!", "i", "you love milk and i hate coffee"]:
        ids = ac.read(text).ids
        with torch.no_grad():
            torch_logits = ac.model(torch.tensor([ids]))[0].double().numpy()
        np.testing.assert_allclose(numpy_logits(exported, text), torch_logits, atol=1e-5, rtol=0)
        assert np.ptp(torch_logits) > 1.0  # far from uniform, so the comparison has teeth
        sugg = ac.suggest(text, k=ac.n_suggestible)
        probs = numpy_suggestion_probs(exported, text)
        assert probs.argmax() == vocab.index(sugg.words[0])
        for word, p in sugg:
            assert probs[vocab.index(word)] == pytest.approx(p, abs=1e-5)


def test_json_export_of_the_seed_model(tmp_path, seed_ac):
    path = seed_ac.export_json(tmp_path / "new" / "folders" / "seed.json")  # folders created
    assert sorted(p.name for p in path.parent.iterdir()) == ["seed.json"]
    exported = json.loads(path.read_text())
    assert exported["input"] == "one-hot" and exported["unk"] is None
    assert exported["hidden_size"] == 5 and exported["vocab_size"] == 9
    assert {k: np.array(v).shape for k, v in exported["weights"].items()} == {
        "rnn.weight_ih_l0": (5, 9),
        "rnn.weight_hh_l0": (5, 5),
        "rnn.bias_ih_l0": (5,),
        "rnn.bias_hh_l0": (5,),
        "head.weight": (9, 5),
        "head.bias": (9,),
    }
    for prefix, last in zip(PREFIXES, LAST_WORDS):
        probs = numpy_suggestion_probs(exported, prefix)
        assert exported["vocab"][probs.argmax()] == last
        assert probs.max() == pytest.approx(seed_ac.suggest(prefix, k=1)[0][1], abs=1e-5)
