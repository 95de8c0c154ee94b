"""Train chapter 6's two character-level models on Tiny Shakespeare and ship them (`make train`).

A race on equal terms: a one-layer LSTM (`helpers.charlm`) and a small transformer
(`helpers.transformer`, nanoGPT's recipe), each given the same CPU time, a fixed number of
steps per setting that takes as long as the LSTM's 1000 steps of 384 units on two cores
(about 4 minutes; `calibrate` measures the ratios, and the steps below are its result), so a
run is repeatable on one machine with the same thread count.

1. `select`: each model's size is chosen on the training text alone, as the n-gram's order
   is in chapter 6: every candidate trains (seed 0) on the first 90% of the training text and
   is scored on its last 10%, by the evaluator every model shares (`charlm.validation_loss`).
2. `final`: the chosen setting of each model trains on the whole training text, from seeds 0
   and 1; each is scored on the validation text (its float16 weights, as shipped) and written
   to `data/` (seed 0 as `shakespeare_<model>.pt`, seed 1 as `shakespeare_<model>_seed1.pt`).

Every result goes into `data/training_record.json` (held-out losses of every candidate, the
choice, each shipped run's validation loss and seconds of training); chapter 6 reads it.

    python scripts/train_shakespeare.py [all|select|final|calibrate] [--jobs N] [--only lstm|transformer]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.charlm import (  # noqa: E402
    DATA_DIR,
    TRAINING_RECORD_PATH,
    CharLM,
    CharVocab,
    half_precision_copy,
    load_shakespeare,
    load_training_record,
    save_checkpoint,
    split_text,
    train_charlm,
    validation_loss,
)
from helpers.modelfile import write_file  # noqa: E402
from helpers.transformer import CharTransformer, save_transformer, train_transformer  # noqa: E402

SEEDS = [0, 1]
# What stays fixed for each model (its recipe) and what is chosen (its size, with the steps
# that give it the CPU time of the LSTM-384's REFERENCE_STEPS; measured by `calibrate` on the
# 2-core machine, rounded to tens).
REFERENCE_STEPS = 1000
RECIPES = {
    "lstm": dict(model=dict(cell="lstm", embedding_size=64, num_layers=1, dropout=0.1),
                 run=dict(batch_size=32, seq_len=128, lr=3e-3, final_lr=1e-4, clip_norm=1.0)),
    "transformer": dict(model=dict(n_layer=4, n_head=4, dropout=0.0),
                        run=dict(batch_size=32, lr=1e-3, final_lr=1e-4, warmup=100, weight_decay=0.1, clip_norm=1.0)),
}
CANDIDATES = {
    "lstm": [dict(hidden_size=256, steps=1680), dict(hidden_size=384, steps=REFERENCE_STEPS),
             dict(hidden_size=512, steps=650)],
    "transformer": [dict(n_embd=128, block_size=64, steps=1530), dict(n_embd=128, block_size=128, steps=700),
                    dict(n_embd=192, block_size=64, steps=820)],
}


def build(kind: str, size: dict, vocab_size: int) -> torch.nn.Module:
    """The model of ``kind`` with its recipe and the chosen ``size`` (steps aside)."""
    settings = {**RECIPES[kind]["model"], **{k: v for k, v in size.items() if k != "steps"}}
    return (CharLM if kind == "lstm" else CharTransformer)(vocab_size, **settings)


def train(kind: str, size: dict, ids: torch.Tensor, vocab_size: int, seed: int, report: bool = False):
    """Train one model from ``seed``; returns it (eval mode) and the seconds it took."""
    torch.manual_seed(seed)
    model = build(kind, size, vocab_size)
    start = time.perf_counter()

    def on_step(step: int, loss: float) -> None:
        if report and (step + 1) % 100 == 0:
            print(f"  {kind} step {step + 1:5d}  training loss {loss:.3f}  {time.perf_counter() - start:6.0f} s", flush=True)

    fit = train_charlm if kind == "lstm" else train_transformer
    fit(model, ids, size["steps"], seed=seed, on_step=on_step, **RECIPES[kind]["run"])
    return model, time.perf_counter() - start


def corpus() -> tuple[CharVocab, torch.Tensor, torch.Tensor]:
    text = load_shakespeare()
    vocab = CharVocab.from_text(text)
    train_text, val_text = split_text(text)
    return vocab, vocab.encode(train_text), vocab.encode(val_text)


def select_one(kind: str, index: int, threads: int) -> dict:
    """Train candidate ``index`` of ``kind`` on the first 90% of the training text, score it on the rest."""
    torch.set_num_threads(threads)
    vocab, train_ids, _ = corpus()
    cut = int(0.9 * len(train_ids))  # the same cut as the n-gram's choice of order
    size = CANDIDATES[kind][index]
    model, seconds = train(kind, size, train_ids[:cut], len(vocab), seed=0)
    loss = validation_loss(model, train_ids[cut:])
    print(f"{kind} {size}: held-out training text {loss:.4f} nats per character, {seconds:.0f} s", flush=True)
    return {**size, "held_out_loss": loss, "seconds": round(seconds, 1), "threads": threads}


def load_record() -> dict:
    return load_training_record(TRAINING_RECORD_PATH) if TRAINING_RECORD_PATH.is_file() else {}


def save_record(record: dict) -> None:
    write_file(TRAINING_RECORD_PATH, (json.dumps(record, indent=1) + "\n").encode())


def select(kinds: list[str], jobs: int) -> None:
    record = load_record()
    tasks = [(kind, i) for kind in kinds for i in range(len(CANDIDATES[kind]))]
    threads = 2 if jobs == 1 else 1
    print(f"choosing on the held-out end of the training text: {len(tasks)} runs, {jobs} at a time, {threads} thread(s) each")
    if jobs == 1:
        results = [select_one(kind, i, threads) for kind, i in tasks]
    else:
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(select_one, *zip(*tasks), [threads] * len(tasks)))
    for kind in kinds:
        runs = [r for (k, _), r in zip(tasks, results) if k == kind]
        best = min(runs, key=lambda r: r["held_out_loss"])
        record.setdefault("selection", {})[kind] = {"candidates": runs,
                                                    "chosen": {k: v for k, v in best.items() if k in CANDIDATES[kind][0]}}
        print(f"{kind}: chose {record['selection'][kind]['chosen']}")
    save_record(record)


def shipped_path(kind: str, seed: int) -> Path:
    return DATA_DIR / f"shakespeare_{kind}{'' if seed == 0 else f'_seed{seed}'}.pt"


def final(kinds: list[str], threads: int) -> None:
    torch.set_num_threads(threads)
    vocab, train_ids, val_ids = corpus()
    record = load_record()
    for kind in kinds:
        size = record["selection"][kind]["chosen"]
        for seed in SEEDS:
            print(f"{kind} {size}, seed {seed}, {threads} threads", flush=True)
            model, seconds = train(kind, size, train_ids, len(vocab), seed, report=True)
            shipped = half_precision_copy(model)  # measure what the file holds: float16 weights
            val = validation_loss(shipped, val_ids)
            path = shipped_path(kind, seed)
            extra = dict(steps=size["steps"], seed=seed, seconds=round(seconds, 1), threads=threads, **RECIPES[kind]["run"])
            if kind == "lstm":
                save_checkpoint(model, vocab, path, val, **extra)
            else:
                save_transformer(model, vocab.chars, path, val, **extra)
            runs = record.setdefault("final", {}).setdefault(kind, {})
            runs[str(seed)] = {"file": path.name, "val_loss": val, "seconds": round(seconds, 1), "threads": threads}
            save_record(record)
            print(f"wrote {path.name} after {seconds:.0f} s: validation loss {val:.4f} nats per character", flush=True)


def calibrate(rounds: int = 4, steps: int = 12) -> None:
    """Seconds per training step of every candidate, measured in turn (2 threads), and the
    steps that give each the CPU time of the LSTM-384's ``REFERENCE_STEPS``."""
    torch.set_num_threads(2)
    vocab, train_ids, _ = corpus()
    timings: dict[tuple[str, int], list[float]] = {}
    for r in range(rounds):
        for kind, sizes in CANDIDATES.items():
            for i, size in enumerate(sizes):
                _, seconds = train(kind, {**size, "steps": steps}, train_ids, len(vocab), seed=r)
                timings.setdefault((kind, i), []).append(seconds / steps)
    per_step = {key: statistics.median(t[1:]) for key, t in timings.items()}  # the first round warms up
    budget = REFERENCE_STEPS * per_step[("lstm", 1)]
    print(f"budget: {budget:.0f} s (the LSTM-384's {REFERENCE_STEPS} steps, here)")
    for (kind, i), t in per_step.items():
        print(f"{kind} {CANDIDATES[kind][i]}: {t:.3f} s per step -> {round(budget / t, -1):.0f} steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", nargs="?", default="all", choices=["all", "select", "final", "calibrate"])
    parser.add_argument("--jobs", type=int, default=1, help="candidates trained at once while choosing (one thread each)")
    parser.add_argument("--threads", type=int, default=2, help="threads of each final run")
    parser.add_argument("--only", choices=sorted(RECIPES), help="one model instead of both")
    args = parser.parse_args()
    kinds = [args.only] if args.only else list(RECIPES)
    if args.stage == "calibrate":
        calibrate()
    if args.stage in ("all", "select"):
        select(kinds, args.jobs)
    if args.stage in ("all", "final"):
        final(kinds, args.threads)


if __name__ == "__main__":
    main()
