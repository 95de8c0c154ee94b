"""Train the book's best character-level model on Tiny Shakespeare and ship it (`make train`).

A one-layer LSTM (384 hidden units, 64-wide embeddings, dropout 0.1 on its outputs) trained
with Adam on truncated-BPTT windows of 128 characters, 32 streams side by side, the learning
rate falling along a cosine; a fixed number of steps, so a run is repeatable on one machine
(with the same thread count). It writes data/shakespeare_lstm.pt (float16 weights, 1.4 MB)
and, as its last line, the
validation loss of the weights it wrote, over the whole validation text, so anyone can
retrain and compare with the loss recorded in the shipped file (chapter 6 shows it).

    python scripts/train_shakespeare.py [--steps N] [--seed S] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.charlm import (  # noqa: E402
    CHECKPOINT_PATH,
    CharLM,
    CharVocab,
    half_precision_copy,
    load_shakespeare,
    save_checkpoint,
    split_text,
    train_charlm,
    validation_loss,
)

SETTINGS = {
    "cell": "lstm",
    "hidden_size": 384,
    "embedding_size": 64,
    "num_layers": 1,
    "dropout": 0.1,
    "batch_size": 32,
    "seq_len": 128,
    "lr": 3e-3,
    "final_lr": 1e-4,
    "clip_norm": 1.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=CHECKPOINT_PATH)
    for name in ["hidden_size", "dropout", "batch_size", "seq_len", "lr"]:  # to try other settings
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(SETTINGS[name]), default=SETTINGS[name])
    args = parser.parse_args()
    s = {**SETTINGS, **{k: getattr(args, k) for k in ["hidden_size", "dropout", "batch_size", "seq_len", "lr"]}}

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    text = load_shakespeare()
    vocab = CharVocab.from_text(text)
    train_text, val_text = split_text(text)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    model = CharLM(len(vocab), s["cell"], s["hidden_size"], s["embedding_size"], s["num_layers"], s["dropout"])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{s['cell'].upper()} {s['num_layers']}x{s['hidden_size']}, {n_params:,} parameters; "
          f"{args.steps} steps of {s['batch_size']}x{s['seq_len']} characters, seed {args.seed}, "
          f"{args.threads} threads", flush=True)
    start = time.perf_counter()

    def report(step: int, loss: float) -> None:
        if (step + 1) % 50 == 0:
            print(f"step {step + 1:5d}  training loss {loss:.3f}  {time.perf_counter() - start:6.0f} s", flush=True)

    train_charlm(
        model, train_ids, args.steps, batch_size=s["batch_size"], seq_len=s["seq_len"], lr=s["lr"],
        final_lr=s["final_lr"], clip_norm=s["clip_norm"], seed=args.seed, on_step=report,
    )
    shipped = half_precision_copy(model)  # measure what the file holds: float16 weights
    val = validation_loss(shipped, val_ids)
    save_checkpoint(model, vocab, args.out, val, steps=args.steps, seed=args.seed,
                    **{k: v for k, v in s.items() if k not in model.config()})
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) after {time.perf_counter() - start:.0f} s")
    print(f"validation loss {val:.4f} nats per character (perplexity {torch.tensor(val).exp().item():.3f})")


if __name__ == "__main__":
    main()
