"""helpers.transformer: the character transformer of chapter 6's race, its evaluator and
its checkpoint; and the shipped runs of both models against data/training_record.json."""

import json

import pytest
import torch
from torch.nn import functional as F

from helpers.charlm import DATA_DIR, TRAINING_RECORD_PATH, CharLM, CharVocab, load_checkpoint, load_shakespeare, split_text, validation_loss
from helpers.modelfile import ModelFileError
from helpers.transformer import CharTransformer, load_transformer, save_transformer, train_transformer, window_loss

RECORD = TRAINING_RECORD_PATH


def small(block_size=16, seed=0):
    torch.manual_seed(seed)
    return CharTransformer(11, block_size=block_size, n_layer=2, n_head=2, n_embd=16).eval()


def test_a_position_sees_only_itself_and_what_came_before():
    model = small()
    tokens = torch.randint(11, (3, 16))
    changed = tokens.clone()
    changed[:, 9] = (changed[:, 9] + 1) % 11
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    assert torch.equal(before[:, :9], after[:, :9])  # the past does not see the change
    assert not torch.allclose(before[:, 9:], after[:, 9:])  # the change and what follows do


def test_too_long_or_badly_shaped_input_is_refused():
    model = small(block_size=8)
    with pytest.raises(ValueError, match="9 characters do not fit the model's window of 8"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(batch, time\)"):
        model(torch.zeros(9, dtype=torch.long))
    with pytest.raises(ValueError, match="multiple of n_head"):
        CharTransformer(11, n_embd=10, n_head=4)


def reference_window_loss(model, ids):
    """Each target predicted, one window at a time, from the first window that reaches it
    with the windows window_loss describes: start every block // 2, the last flush with the end."""
    block, stride, n = model.block_size, model.block_size // 2, len(ids) - 1
    if n <= block:
        starts = [0]
    else:
        starts = list(range(0, n - block + 1, stride))
        starts += [n - block] if starts[-1] + block < n else []
    total, covered, contexts = 0.0, 0, []
    for start in starts:
        end = min(start + block, n)
        logits = model(ids[start:end][None])[0].double()
        for i in range(end - start):
            target = start + i + 1
            if target > covered:
                total += F.cross_entropy(logits[i : i + 1], ids[target : target + 1]).item()
                covered = target
                contexts.append(i + 1)
    assert covered == n
    return total / n, contexts


@pytest.mark.parametrize("length", [2, 9, 17, 18, 40, 41, 57, 100])
def test_window_loss_scores_every_character_once_with_half_a_window_or_more_behind_it(length):
    model = small()
    ids = torch.randint(11, (length,), generator=torch.Generator().manual_seed(length))
    expected, contexts = reference_window_loss(model, ids)
    with torch.no_grad():
        assert window_loss(model, ids, batch_size=3) == pytest.approx(expected, abs=1e-9)
    assert validation_loss(model, ids) == pytest.approx(expected, abs=1e-9)  # the one evaluator dispatches
    if length > 17:  # beyond the first window every prediction has 9 to 16 characters behind it
        assert min(contexts[16:]) >= 9 and max(contexts) == 16
    if length >= 40:
        assert min(contexts[16:]) == 9


def test_training_learns_a_repeating_text_and_is_repeatable():
    ids = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 40)
    runs = []
    for _ in range(2):
        model = small(block_size=16)
        losses = train_transformer(model, ids, steps=60, batch_size=8, lr=1e-2, final_lr=1e-3, warmup=5)
        runs.append(losses)
    assert runs[0] == runs[1]  # the same seed, the same windows, the same numbers
    assert sum(runs[0][:5]) / 5 > 2.0 and sum(runs[0][-5:]) / 5 < 0.2  # ln 11 = 2.4 at first; then it knows
    assert not model.training
    with pytest.raises(ValueError, match="shorter than one window"):
        train_transformer(small(block_size=16), ids[:17], steps=1)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        train_transformer(small(), ids, steps=0)


def test_checkpoint_round_trip_and_a_damaged_file_is_refused(tmp_path):
    model = small()
    path = save_transformer(model, "abcdefghijk", tmp_path / "t.pt", val_loss=2.5, steps=7)
    loaded = load_transformer(path)
    assert loaded.config() == model.config() and loaded.checkpoint_info["steps"] == 7
    ids = torch.randint(11, (1, 16))
    with torch.no_grad():
        assert torch.allclose(loaded(ids), model(ids), atol=2e-2)  # float16 weights
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "bad.pt").write_bytes(bytes(raw))
    with pytest.raises(ModelFileError):
        load_transformer(tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="not found"):
        load_transformer(tmp_path / "missing.pt")


# --- the shipped runs ------------------------------------------------------------------------


def shipped_runs():
    record = json.loads(RECORD.read_text())
    return [(kind, seed, run) for kind, runs in record["final"].items() for seed, run in runs.items()]


@pytest.mark.parametrize("kind, seed, run", shipped_runs(), ids=lambda v: str(v) if not isinstance(v, dict) else "")
def test_every_shipped_run_gives_the_loss_its_record_and_its_file_hold(kind, seed, run):
    """What the chapter prints from the record is what the shipped weights score, by the one evaluator."""
    text = load_shakespeare()
    _, val = split_text(text)
    vocab = CharVocab.from_text(text)
    path = DATA_DIR / run["file"]
    assert path.stat().st_size < 5e6
    if kind == "lstm":
        model, file_vocab = load_checkpoint(path)
        assert isinstance(model, CharLM) and file_vocab.chars == vocab.chars
    else:
        model = load_transformer(path)
        assert isinstance(model, CharTransformer) and model.checkpoint_info["chars"] == vocab.chars
    assert model.checkpoint_info["seed"] == int(seed)
    assert model.checkpoint_info["val_loss"] == run["val_loss"]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        measured = validation_loss(model, vocab.encode(val))
    finally:
        torch.set_num_threads(threads)
    assert measured == pytest.approx(run["val_loss"], abs=1e-4)  # see CHECKPOINT_TOLERANCE in test_charlm


def test_each_model_shipped_the_setting_it_chose_on_training_text():
    record = json.loads(RECORD.read_text())
    for kind, selection in record["selection"].items():
        best = min(selection["candidates"], key=lambda c: c["held_out_loss"])
        assert selection["chosen"] == {k: best[k] for k in selection["chosen"]}
        for seed, run in record["final"][kind].items():
            info = (load_checkpoint(DATA_DIR / run["file"])[0] if kind == "lstm" else load_transformer(DATA_DIR / run["file"])).checkpoint_info
            assert info["steps"] == selection["chosen"]["steps"]
            assert all(info["config"][k] == v for k, v in selection["chosen"].items() if k != "steps")
