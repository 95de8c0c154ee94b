"""scripts/train_shakespeare.py (`make train`) end to end, with tiny models and a few steps:
it chooses each model's size on the training text, ships what it chose, and records it."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from helpers.charlm import load_checkpoint, validation_loss
from helpers.transformer import load_transformer

SPEC = importlib.util.spec_from_file_location("train_shakespeare", Path(__file__).resolve().parents[1] / "scripts" / "train_shakespeare.py")


@pytest.fixture()
def script(tmp_path, monkeypatch):
    module = importlib.util.module_from_spec(SPEC)
    SPEC.loader.exec_module(module)
    monkeypatch.setattr(module, "DATA_DIR", tmp_path)
    monkeypatch.setattr(module, "TRAINING_RECORD_PATH", tmp_path / "training_record.json")
    monkeypatch.setattr(module, "CANDIDATES", {
        "lstm": [dict(hidden_size=8, steps=3), dict(hidden_size=16, steps=2)],
        "transformer": [dict(n_embd=8, block_size=64, steps=3), dict(n_embd=16, block_size=32, steps=2)],
    })
    return module


def test_it_chooses_on_training_text_then_ships_two_seeds_of_each_choice(script, tmp_path):
    script.select(["lstm", "transformer"], jobs=1)
    script.final(["lstm", "transformer"], threads=1)
    record = json.loads((tmp_path / "training_record.json").read_text())
    _, _, val_ids = script.corpus()
    for kind in ["lstm", "transformer"]:
        candidates = record["selection"][kind]["candidates"]
        assert [c["steps"] for c in candidates] == [3, 2]
        best = min(candidates, key=lambda c: c["held_out_loss"])
        assert record["selection"][kind]["chosen"] == {k: best[k] for k in script.CANDIDATES[kind][0]}
        for seed in ["0", "1"]:
            run = record["final"][kind][seed]
            path = tmp_path / run["file"]
            model = load_checkpoint(path)[0] if kind == "lstm" else load_transformer(path)
            assert model.checkpoint_info["seed"] == int(seed) and model.checkpoint_info["steps"] == best["steps"]
            with torch.no_grad():
                assert validation_loss(model, val_ids) == pytest.approx(run["val_loss"], abs=1e-6)
    assert record["final"]["lstm"]["0"]["file"] == "shakespeare_lstm.pt"
    assert record["final"]["transformer"]["1"]["file"] == "shakespeare_transformer_seed1.pt"
