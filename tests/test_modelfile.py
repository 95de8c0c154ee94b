"""helpers.modelfile: every refusal, once for each format the book saves: the word
autocomplete's folder (``Autocomplete.save``) and the character model's checkpoint
(``save_checkpoint``, the format of the shipped ``data/shakespeare_lstm.pt``)."""

import json
import math
from pathlib import Path

import pytest
import torch

from helpers import SEED_SENTENCES, NextWordModel, Vocab
from helpers.autocomplete import Autocomplete
from helpers.charlm import CHECKPOINT_PATH, CharLM, CharVocab, load_checkpoint, save_checkpoint
from helpers.modelfile import ModelFileError, checksum, fingerprint, read_payload, write_file

CHARS = "\n !'abcdefghijklmnopqrstuvwxyz"


class NotATensor:
    """What an attacker might pickle: any object other than tensors and plain data."""

    def __reduce__(self):
        return (print, ("this must never run",))


def save_word(folder: Path) -> Path:
    torch.manual_seed(0)
    vocab = Vocab.build(SEED_SENTENCES, unk=None)
    Autocomplete(NextWordModel(len(vocab), 5, "lstm"), vocab, max_prefix=2).save(folder)
    return folder / "weights.pt"


def save_char(folder: Path) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(CharLM(len(CHARS), "gru", 8, 4), CharVocab(CHARS), folder / "model.pt", 2.5, steps=3)


FORMATS = {
    "word folder": (save_word, lambda weights: Autocomplete.load(weights.parent)),
    "char checkpoint": (save_char, load_checkpoint),
}


def resave(path: Path, edit) -> None:
    """Rewrite the payload in ``path`` after ``edit(payload)``, with a right checksum."""
    payload = torch.load(path, weights_only=True)
    edit(payload)
    payload["weights_sha256"] = checksum(payload["state_dict"])
    torch.save(payload, path)


def nan_weight(payload):
    payload["state_dict"][sorted(payload["state_dict"])[-1]].view(-1)[0] = math.inf


def damages(weights: Path):
    payload = torch.load(weights, weights_only=True)
    raw = weights.read_bytes()
    bare, evil, nudged = weights.with_name("bare.pt"), weights.with_name("evil.pt"), weights.with_name("nudged.pt")
    torch.save(payload["state_dict"], bare)
    torch.save({"state_dict": NotATensor()}, evil)
    torch.save({**payload, "state_dict": {k: v + 1 for k, v in payload["state_dict"].items()}}, nudged)
    return {
        "missing": (None, "not found"),
        "truncated": (raw[: len(raw) // 2], "truncated or damaged"),
        "empty": (b"", "truncated or damaged"),
        "text": (b"hello", "truncated or damaged"),
        "tensors changed": (nudged.read_bytes(), "damaged: its tensors do not match the checksum"),
        "bare state dict": (bare.read_bytes(), "bare state dict"),
        "a pickle that runs code": (evil.read_bytes(), "could run code"),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_damaged_file_is_refused_with_one_clear_error(tmp_path, fmt, capsys):
    save, load = FORMATS[fmt]
    weights = save(tmp_path)
    good = weights.read_bytes()
    load(weights)  # the undamaged file loads
    for what, (content, message) in damages(weights).items():
        if content is None:
            weights.unlink()
        else:
            weights.write_bytes(content)
        with pytest.raises(ModelFileError, match=message) as info:
            load(weights)
        assert str(weights) in str(info.value), what
        assert "weights_only=False" not in str(info.value), what
        weights.write_bytes(good)
    assert "this must never run" not in capsys.readouterr().out


@pytest.mark.parametrize("fmt", FORMATS)
def test_nan_or_infinite_weights_in_a_file_are_refused(tmp_path, fmt):
    save, load = FORMATS[fmt]
    weights = save(tmp_path)
    resave(weights, nan_weight)  # checksum and fingerprint right: only the values are wrong
    with pytest.raises(ModelFileError, match=r"refused: its weights contain NaN or infinity \(rnn.weight_ih_l0\)"):
        load(weights)


@pytest.mark.parametrize("fmt", FORMATS)
def test_settings_edited_after_saving_are_refused(tmp_path, fmt):
    save, load = FORMATS[fmt]
    weights = save(tmp_path)
    if fmt == "word folder":
        config_path = weights.with_name("config.json")
        config = json.loads(config_path.read_text())
        config_path.write_text(json.dumps({**config, "vocab": config["vocab"][::-1]}))
        message = "config.json does not belong to"
    else:
        resave(weights, lambda p: p["config"].update(chars=CHARS[::-1]))
        message = "its settings do not match the fingerprint saved with them"
    with pytest.raises(ModelFileError, match=message):
        load(weights)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_model_with_nan_weights_is_not_saved(tmp_path, fmt):
    if fmt == "word folder":
        vocab = Vocab.build(SEED_SENTENCES, unk=None)
        ac = Autocomplete(NextWordModel(len(vocab), 5), vocab)
        with torch.no_grad():
            ac.model.head.bias[0] = math.nan
        save = lambda: ac.save(tmp_path / "saved")  # noqa: E731
    else:
        model = CharLM(len(CHARS), "lstm", 8, 4)
        with torch.no_grad():
            model.head.bias[0] = math.nan
        save = lambda: save_checkpoint(model, CharVocab(CHARS), tmp_path / "saved" / "model.pt", 1.0)  # noqa: E731
    with pytest.raises(ValueError, match=r"cannot save this model: its weights contain NaN or infinity \(head.bias\)"):
        save()
    assert not (tmp_path / "saved").exists() or not any((tmp_path / "saved").iterdir())


def test_a_failed_checkpoint_write_leaves_the_previous_file(tmp_path, monkeypatch):
    path = save_char(tmp_path)
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(CharLM(len(CHARS), "rnn", 4, 2), CharVocab(CHARS), path, 9.9)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_the_shipped_checkpoint_is_in_the_checked_format():
    payload = read_payload(CHECKPOINT_PATH, "helpers.charlm/1", "save_checkpoint")
    assert set(payload) == {"format", "config_sha256", "weights_sha256", "state_dict", "config"}
    assert payload["config_sha256"] == fingerprint(payload["config"])
    assert {t.dtype for t in payload["state_dict"].values()} == {torch.float16}


def test_a_missing_checkpoint_is_also_a_file_not_found(tmp_path):
    # the book build writes a null in-page model when the checkpoint is not trained yet
    with pytest.raises(FileNotFoundError, match="make train"):
        load_checkpoint(tmp_path / "none.pt")


def test_write_file_replaces_whole_files_only(tmp_path):
    path = write_file(tmp_path / "a" / "b.txt", b"one")
    write_file(path, lambda f: f.write(b"two"))
    assert path.read_bytes() == b"two" and sorted(p.name for p in path.parent.iterdir()) == ["b.txt"]
