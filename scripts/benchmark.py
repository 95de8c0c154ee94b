"""Measure the book against its budgets and print a table (also written as Markdown).

    python scripts/benchmark.py [--markdown PATH] [--seeds-only [--match TEXT]] [--chapters-only]

For every chapter: the wall time of executing it top to bottom in a fresh kernel and the
kernel's peak memory (resident set size). Then the whole book, the HTML build without
execution, and the overhead of `helpers.fit` against a bare PyTorch loop. Rows over budget
are marked. Then every multi-seed experiment the book runs, trained by `helpers.seeds` with
the method `auto` picks and one after another on one core (`--seeds-only`: just these), and
the time of one training step per cell type for each method (what `helpers.seeds.AUTO` rests on). Notebooks are executed in a temporary copy; nothing in the repository changes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_BUDGET_S = 45.0
BOOK_BUDGET_S = 240.0
MEMORY_BUDGET_MB = 1536.0
BUILD_BUDGET_S = 60.0
OVERHEAD_BUDGET = 1.1

# Run in a child process: execute one notebook, then report the kernel's peak memory,
# which is the largest resident set among the child's own (waited-for) children.
WORKER = """
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": sys.argv[2]}})
start = time.perf_counter()
client.execute()
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))
"""


def run_chapter(path: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as tmp:  # the kernel's working directory
        out = subprocess.run(
            [sys.executable, "-c", WORKER, str(path), tmp],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_build() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--path-output", tmp],
            capture_output=True, check=True,
        )  # fmt: skip
        return time.perf_counter() - start


def fit_overhead(repeats: int = 5) -> float:
    """Median time of `helpers.fit` over a bare Adam loop doing the same work."""
    import torch

    from helpers import SEED_SENTENCES, NextWordModel, Vocab, fit, next_word_tensors, seed_everything

    vocab = Vocab.build(SEED_SENTENCES, unk=None)
    inputs, targets = next_word_tensors(SEED_SENTENCES, vocab)

    def bare(model: torch.nn.Module, epochs: int) -> list[float]:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        losses = []
        for _ in range(epochs):
            loss = torch.nn.functional.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    ratios = []
    for _ in range(repeats):
        times = []
        for loop in (lambda m: fit(m, inputs, targets, epochs=300), lambda m: bare(m, 300)):
            seed_everything(0)
            model = NextWordModel(len(vocab), 32)
            start = time.perf_counter()
            loop(model)
            times.append(time.perf_counter() - start)
        ratios.append(times[0] / times[1])
    return statistics.median(ratios)


def _timed(job) -> tuple[float, object]:
    start = time.perf_counter()
    result = job()
    return time.perf_counter() - start, result


def seed_experiments() -> dict[str, tuple[dict, str]]:
    """The book's multi-seed experiments, with the chapters' settings: {row: (experiments, note)}."""
    import torch

    from helpers import (
        AGREEMENT_VOCAB, SEED_SENTENCES, CharText, Fit, Online, SequenceModel, Vocab, adding_problem,
        agreement_task, next_word_tensors,
    )  # fmt: skip
    from helpers.experiments import LongLag, long_lag_specs

    def adding(length, dtype):
        return lambda n, g: tuple(t.to(dtype) for t in adding_problem(n, length, g))

    def agreement(gap, dtype):
        def sample(n, g):
            ids, labels = agreement_task(n, gap, g)
            return AGREEMENT_VOCAB.one_hot(ids).to(dtype), labels

        return sample

    f64, seeds10 = torch.float64, list(range(10))
    q = torch.linalg.qr(torch.randn(32, 32, generator=torch.Generator().manual_seed(1), dtype=f64))[0]

    def exploding(scale=2.0):
        model = SequenceModel(2, 32, 1, "rnn").to(f64)
        with torch.no_grad():
            model.rnn.weight_hh_l0.copy_(scale * q)
        return model

    clips = [("no clipping", float("inf")), ("clip at 1", 1.0)]

    def seq(n_in, hidden, n_out, cell, dtype=f64, forget_bias=0.0):
        def build():
            model = SequenceModel(n_in, hidden, n_out, cell).to(dtype)
            if forget_bias:
                with torch.no_grad():
                    model.rnn.bias_ih_l0[hidden : 2 * hidden] += forget_bias
            return model

        return build

    vocab = Vocab.build(SEED_SENTENCES, unk=None)
    order = Vocab(["love", "you", "cat", "coffee", "milk", "dog", "like", "i", "hate"], unk=None)

    def transposed(v):
        inputs, targets = next_word_tensors(SEED_SENTENCES, v)
        return v.one_hot(inputs).transpose(1, 2).to(f64), targets  # (6, 9, 2): the seed's bug

    agree = lambda **kw: Online(agreement(20, f64), 150, 32, 0.01, "cross_entropy", target=0.95, window=10, **kw)  # noqa: E731
    text = None
    try:
        from helpers.charlm import CharLM, CharVocab, load_shakespeare, split_text

        train_text = split_text(load_shakespeare())[0]
        char_vocab = CharVocab.from_text(load_shakespeare())
        text = char_vocab.encode(train_text)
    except (FileNotFoundError, ValueError):
        pass
    rows = {
        "ch3 clipping, SGD and Adam x 2 settings (T=20, 150 steps, f64) and the rescue x 2 (T=5, 500 steps, f32), "
        "10 seeds each": (
            {**{(opt, name): (exploding, Online(adding(20, f64), 150, 64, lr, "mse", clip, opt, record_updates=True), seeds10)
                for opt, lr in [("sgd", 0.05), ("adam", 0.01)] for name, clip in clips},
             **{("rescue", name): (lambda: exploding(1.5).float(), Online(adding(5, torch.float32), 500, 64, 0.1, "mse",
                                   clip, "sgd"), seeds10) for name, clip in clips}}, ""),
        "ch3 adding sweep, RNN, T=2,5,10,20,50, 10 seeds each (800 steps, f32)": (
            {t: (seq(2, 32, 1, "rnn", torch.float32), Online(adding(t, torch.float32), 800), seeds10)
             for t in (2, 5, 10, 20, 50)}, ""),
        "ch3 agreement sweep, RNN, 6 gaps 5-50 and gaps 40, 50 with Adam's eps 1e-30, 10 seeds each "
        "(to 99%, <=200 steps, f32)": (
            {(d, eps): (seq(len(AGREEMENT_VOCAB), 32, 2, "rnn", torch.float32),
                        Online(agreement(d, torch.float32), 200, loss="cross_entropy", target=0.99, window=10,
                               adam_eps=eps), seeds10)
             for d, eps in [(5, 1e-8), (10, 1e-8), (20, 1e-8), (30, 1e-8), (40, 1e-8), (50, 1e-8), (40, 1e-30),
                            (50, 1e-30)]}, ""),
        "ch4 transposition lesson, LSTM, 20 seeds x 2 orders (500 epochs, f64)": (
            {name: (seq(2, 5, 9, "lstm"), Fit(transposed(v), 500), list(range(20))) for name, v in
             [("ours", vocab), ("set()", order)]}, ""),
        "ch4 RNN and LSTM, agreement 20 fillers (to 99%, <=200 steps), 10 seeds each, f32": (long_lag_specs(
            {cell: LongLag("agreement", cell, 20, 200, seeds10, dtype=torch.float32, target=0.99)
             for cell in ("rnn", "lstm")}), ""),
        "ch4b RNN and LSTM matched: adding T=20 (to MSE 0.01, <=800 steps), agreement 50 fillers (to 99%, <=200 steps), "
        "10 seeds each, and seed 0 at T=50 (800 steps), f32": (long_lag_specs(
            {**{(task, cell): LongLag(task, cell, n, steps, seeds10, dtype=torch.float32, target=target)
                for cell in ("rnn", "lstm")
                for task, n, steps, target in [("adding", 20, 800, 0.01), ("agreement", 50, 200, 0.99)]},
             **{("settled", cell): LongLag("adding", cell, 50, 800, [0], dtype=torch.float32) for cell in ("rnn", "lstm")}}),
            ""),
        "ch5 agreement gap 20, 10 seeds x RNN, LSTM, LSTM f+1, GRU, GRU z+1 (to 95%, <=150 steps, f64)": (
            {"rnn": (seq(22, 32, 2, "rnn"), agree(), seeds10), "lstm": (seq(22, 32, 2, "lstm"), agree(), seeds10),
             "lstm f+1": (seq(22, 32, 2, "lstm", forget_bias=1.0), agree(), seeds10),
             "gru": (seq(22, 32, 2, "gru"), agree(), seeds10),
             "gru z+1": (seq(22, 32, 2, "gru", forget_bias=1.0), agree(), seeds10)}, ""),
    }
    rows["ch2 taggers: window, shared, RNN, bidirectional, 10 seeds each (200 full-batch epochs, f64)"] = (
        _taggers(), "chapter 1's training sentences only")
    rows["ch7 encoder-decoder with and without attention, 10 seeds each (300 steps, batch 32, f64)"] = (
        _encoder_decoders(), "")
    if text is not None:
        rows["ch5 next character, LSTM 32 and GRU 37 units, 10k, 50k and 300k characters, 10 seeds each (200 steps, f32)"] = (
            _char_windows(text, len(char_vocab)), "")
        task = CharText(text, 100, 32, 64, 2e-2, 2e-3, 1.0)
        rows["ch6 short char-LM runs, RNN, LSTM, GRU 1x128, 3 seeds each (100 steps, f32)"] = (
            {cell: (lambda c=cell: CharLM(len(char_vocab), c, hidden_size=128, embedding_size=32), task, [0, 1, 2])
             for cell in ("rnn", "lstm", "gru")}, "")  # fmt: skip
    return rows


def _char_windows(train_ids, n_chars: int) -> dict:
    """Chapter 5's graded task: 12 characters in, the 13th out, at matched parameter counts."""
    import torch

    from helpers import NextWordModel, Online

    def sample(size):
        def draw(n, generator):
            rows = train_ids[torch.randint(size - 12, (n,), generator=generator)[:, None] + torch.arange(13)]
            return rows[:, :12], rows[:, 12]

        return draw

    widths = {"lstm": 32, "gru": 37}
    return {(cell, size): (lambda c=cell: NextWordModel(n_chars, widths[c], c, embedding_size=16),
                           Online(sample(size), 200, 64, 0.01, "cross_entropy"), list(range(10)))
            for size in (10_000, 50_000, 300_000) for cell in widths}  # fmt: skip


def _taggers() -> dict:
    """Chapter 2's four taggers, as the chapter trains them (on chapter 1's sentences)."""
    import torch

    from helpers import Fit, Vocab, tagging

    data = tagging.train_set()
    vocab = Vocab.build([words for words, _ in data], unk="<unk>")
    task = Fit(tagging.encode(vocab, data), epochs=200, lr=0.01)
    builds = {"window": lambda: tagging.WindowTagger(len(vocab)), "shared": lambda: tagging.SharedTagger(len(vocab)),
              "RNN": lambda: tagging.RNNTagger(len(vocab)),
              "bidirectional": lambda: tagging.RNNTagger(len(vocab), bidirectional=True)}  # fmt: skip
    return {name: (lambda b=build: b().to(torch.float64), task, list(range(10))) for name, build in builds.items()}


def _encoder_decoders() -> dict:
    """Chapter 7's two models and task, as the chapter trains them."""
    import torch

    from helpers import Online
    from helpers.numbers import english_words, korean, split_numbers
    from helpers.seq2seq import SPECIALS, EncoderDecoder, encode, sequence_loss, teacher_forcing_pair

    numbers = range(1, 10_000)
    train_numbers = split_numbers(list(numbers), held_out=0.2, seed=0)[0]
    src_vocab = SPECIALS + sorted({w for n in numbers for w in english_words(n)})
    tgt_vocab = SPECIALS + list("일이삼사오육칠팔구십백천만")
    src = encode([english_words(n) for n in train_numbers], src_vocab).long()
    tgt_in, tgt_out = teacher_forcing_pair(encode([list(korean(n)) for n in train_numbers], tgt_vocab))

    def draw(batch_size, generator):
        rows = torch.randint(len(src), (batch_size,), generator=generator)
        return (src[rows], tgt_in[rows]), tgt_out[rows]

    task = Online(draw, steps=300, batch_size=32, lr=0.01, loss=sequence_loss)
    build = lambda attention: EncoderDecoder(len(src_vocab), len(tgt_vocab), 32, 16, attention).double()  # noqa: E731
    return {arch: (lambda a=arch == "attention": build(a), task, list(range(10))) for arch in ("plain", "attention")}


def seed_rows(match: str = "") -> list[tuple[str, str, str, str, str]]:
    """(experiment, method auto chose, seconds by it, seconds one after another, ratio), for
    the experiments whose row contains ``match``."""
    import torch

    from helpers import seed_everything, train_experiments
    from helpers.seeds import _choose

    rows = []
    for what, (experiments, _) in seed_experiments().items():
        if match not in what:
            continue
        chosen = []
        for name, (build, task, seeds) in experiments.items():
            seed_everything(seeds[0])
            chosen.append(_choose("auto", [build()], task, name))
        auto_s, _ = _timed(lambda: train_experiments(experiments, "auto"))
        serial_s, _ = _timed(lambda: train_experiments(experiments, "serial"))
        rows.append((what, "/".join(sorted(set(chosen))), f"{auto_s:.1f} s", f"{serial_s:.1f} s", f"{serial_s / auto_s:.1f}x"))
        print("  ".join(rows[-1]), flush=True)
    torch.set_num_threads(1)
    return rows


def cell_rows(steps: int = 10) -> list[tuple[str, ...]]:
    """Training steps of 10 seeds per size, cell type and dtype: processor time per step of one
    after another and of the stack, both on one core (what helpers.seeds.AUTO rests on)."""
    import torch

    from helpers import AGREEMENT_VOCAB, SEED_SENTENCES, Fit, NextWordModel, Online, SequenceModel, Vocab
    from helpers import adding_problem, agreement_task, next_word_tensors, train_seeds

    vocab = Vocab.build(SEED_SENTENCES, unk=None)
    words = next_word_tensors(SEED_SENTENCES, vocab)

    def cpu(job) -> float:
        start = time.process_time()
        job()
        return time.process_time() - start

    rows = []
    sizes = ("adding T=100, 32 units, B=64", "agreement T=21, 32 units, B=32", "six sentences, 5 units, B=6")
    for size, cell, dtype in [(s, c, d) for s in sizes for c in ("rnn", "lstm", "gru") for d in (torch.float32, torch.float64)]:
        if size.startswith("adding"):
            build = lambda c=cell, d=dtype: SequenceModel(2, 32, 1, c).to(d)  # noqa: E731
            sample = lambda n, g, d=dtype: tuple(t.to(d) for t in adding_problem(n, 100, g))  # noqa: E731
            task, n = Online(sample, steps), steps
        elif size.startswith("agreement"):
            build = lambda c=cell, d=dtype: SequenceModel(len(AGREEMENT_VOCAB), 32, 2, c).to(d)  # noqa: E731

            def sample(n, g, d=dtype):
                ids, labels = agreement_task(n, 20, g)
                return AGREEMENT_VOCAB.one_hot(ids).to(d), labels

            task, n = Online(sample, 2 * steps, 32, loss="cross_entropy"), 2 * steps
        else:
            build = lambda c=cell, d=dtype: NextWordModel(len(vocab), 5, c).to(d)  # noqa: E731
            task, n = Fit(words, 20 * steps), 20 * steps
        ms = {}
        for method in ("serial", "stacked"):
            train_seeds(build, task, [0, 1], method, workers=1)  # warm up
            ms[method] = 1000 * min(cpu(lambda: train_seeds(build, task, range(10), method, workers=1)) for _ in range(2)) / n
        rows.append((size, cell, str(dtype).replace("torch.", ""), f"{ms['serial']:.1f}", f"{ms['stacked']:.1f}",
                     f"{ms['serial'] / ms['stacked']:.1f}x"))  # fmt: skip
        print("  ".join(rows[-1]), flush=True)
    return rows


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """The rows as aligned text and as Markdown."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in [header, *rows]]
    markdown = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return text, markdown + ["| " + " | ".join(row) + " |" for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, default=ROOT / "_build" / "benchmark.md")
    parser.add_argument("--seeds-only", action="store_true", help="only the multi-seed rows, no chapters")
    parser.add_argument("--chapters-only", action="store_true", help="only the chapters and the build, no multi-seed rows")
    parser.add_argument("--match", default="", help="with --seeds-only: only the multi-seed rows that contain this text, "
                        "and no step table (--match ch7)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    extra_text, extra_md = [], []
    if not args.chapters_only:
        seeds_text, seeds_md = format_table(("multi-seed experiment", "auto", "auto time", "one after another", "speed-up"),
                                            seed_rows(args.match))  # fmt: skip
        extra_text, extra_md = ["", *seeds_text], ["", *seeds_md]
        if not args.match:
            cells_text, cells_md = format_table(("one step of 10 seeds, one core", "cell", "dtype", "one after another, ms",
                                                 "stacked, ms", "stacked speed-up"), cell_rows())  # fmt: skip
            extra_text += ["", *cells_text]
            extra_md += ["", *cells_md]
    if args.seeds_only:
        print("\n".join(extra_text))
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(extra_md[1:]) + "\n")
        return 0

    rows: list[tuple[str, str, str, str, bool]] = []  # what, measured, memory, budget, over
    total = 0.0
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        result = run_chapter(path)
        total += result["seconds"]
        over = result["seconds"] > CHAPTER_BUDGET_S or result["peak_mb"] > MEMORY_BUDGET_MB
        rows.append((path.stem, f"{result['seconds']:.1f} s", f"{result['peak_mb']:.0f} MB",
                     f"<= {CHAPTER_BUDGET_S:.0f} s, <= {MEMORY_BUDGET_MB:.0f} MB", over))  # fmt: skip
        print(f"{path.stem}: {rows[-1][1]}, {rows[-1][2]}", flush=True)
    rows.append(("whole book", f"{total:.1f} s", "", f"<= {BOOK_BUDGET_S:.0f} s", total > BOOK_BUDGET_S))
    build = time_build()
    rows.append(("HTML build (no execution)", f"{build:.1f} s", "", f"<= {BUILD_BUDGET_S:.0f} s", build > BUILD_BUDGET_S))
    ratio = fit_overhead()
    rows.append(("helpers.fit / bare loop", f"{ratio:.2f}x", "", f"<= {OVERHEAD_BUDGET}x", ratio > OVERHEAD_BUDGET))

    header = ("what", "time", "peak memory", "budget", "")
    table = [header] + [(a, b, c, d, "OVER BUDGET" if over else "ok") for a, b, c, d, over in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
    print("\n".join(extra_text))
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    lines = ["| " + " | ".join(header[:4]) + " | status |", "|" + " --- |" * 5]
    lines += ["| " + " | ".join(row) + " |" for row in table[1:]]
    args.markdown.write_text("\n".join(lines + extra_md) + "\n")
    print(f"Markdown table written to {args.markdown.relative_to(ROOT) if args.markdown.is_relative_to(ROOT) else args.markdown}")
    return 1 if any(over for *_, over in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
