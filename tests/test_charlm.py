"""helpers.charlm and helpers.ngram: the shipped corpus and checkpoint, the vocabulary, the
models, the n-gram."""

import hashlib

import numpy as np
import pytest
import torch

from helpers.charlm import (
    CHECKPOINT_PATH,
    CORPUS_SHA256,
    DATA_DIR,
    CharLM,
    CharVocab,
    load_checkpoint,
    load_shakespeare,
    split_text,
    validation_loss,
)
from helpers.ngram import KneserNey

# The checkpoint records the validation loss that scripts/train_shakespeare.py measured on
# the float16 weights it wrote. Recomputing it runs the same float32 arithmetic; across CPUs
# (ATEN_CPU_CAPABILITY=default, avx2, avx512) the loss moved by well under 1e-5, so 1e-4
# catches any real change (another file, other weights: those move it by 1e-2 or more)
# while tolerating kernel rounding. Chapter 6 prints it to 3 decimals.
CHECKPOINT_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def text():
    return load_shakespeare()


def test_corpus_is_the_published_file(text):
    raw = (DATA_DIR / "tinyshakespeare.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == CORPUS_SHA256
    assert len(text) == 1_115_394
    assert CORPUS_SHA256 in (DATA_DIR / "README.md").read_text()


def test_altered_or_missing_corpus_is_refused(tmp_path):
    altered = tmp_path / "tinyshakespeare.txt"
    altered.write_bytes((DATA_DIR / "tinyshakespeare.txt").read_bytes().replace(b"\n", b"\r\n", 1))
    with pytest.raises(ValueError, match="sha256"):
        load_shakespeare(altered)
    with pytest.raises(FileNotFoundError, match="data/tinyshakespeare.txt"):
        load_shakespeare(tmp_path / "missing.txt")


def test_split_sizes(text):
    train, val = split_text(text)
    assert (len(train), len(val)) == (1_003_854, 111_540)
    assert train + val == text


def test_vocabulary(text):
    vocab = CharVocab.from_text(text)
    assert len(vocab) == 65 and vocab.chars == "".join(sorted(set(text)))
    line = "ROMEO:\nWhat, ho! apothecary!"
    assert vocab.decode(vocab.encode(line)) == line
    assert vocab.encode(line).dtype == torch.long
    with pytest.raises(ValueError, match=r"'é', '€' are not in the 65-character alphabet"):
        vocab.encode("héllo€")
    with pytest.raises(TypeError):
        vocab.encode(42)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_shapes(cell):
    model = CharLM(65, cell, hidden_size=24, embedding_size=8, num_layers=2)
    assert isinstance(model.embed, torch.nn.Embedding)
    assert isinstance(model.rnn, {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell])
    assert model.rnn.batch_first and isinstance(model.head, torch.nn.Linear)
    logits, state = model(torch.zeros(3, 7, dtype=torch.long))
    assert logits.shape == (3, 7, 65)
    states = state if cell == "lstm" else (state,)
    assert all(s.shape == (2, 3, 24) for s in states)
    # carrying the state over equals reading the whole text at once
    ids = torch.randint(65, (2, 10), generator=torch.Generator().manual_seed(0))
    whole, _ = model(ids)
    first, state = model(ids[:, :6])
    second, _ = model(ids[:, 6:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    with pytest.raises(ValueError, match="cell must be one of"):
        CharLM(65, "transformer")


def test_validation_loss_streams_match_one_stream():
    torch.manual_seed(0)
    model = CharLM(65, "gru", hidden_size=16, embedding_size=8).eval()
    ids = torch.randint(65, (1001,))
    logits, _ = model(ids[None, :-1])
    exact = torch.nn.functional.cross_entropy(logits[0].double(), ids[1:]).item()
    assert validation_loss(model, ids, streams=1) == pytest.approx(exact, abs=1e-9)
    # with a warm-up longer than the model's memory, cutting into streams changes little
    assert validation_loss(model, ids, streams=7, warmup=200) == pytest.approx(exact, abs=1e-3)


# validation_loss reads the validation text as 64 streams, each starting 100 characters early
# from a zero state, where one stream would read it in order. On the shipped model the two
# agree to about 1e-6 nats per character on the slice below (chunks of 156 characters, cut
# more densely than the 1,743-character chunks of the whole validation text, so the slice is
# the harder case); 1e-4 is far below the 3 decimals chapter 6 prints, and far below what
# cutting without a warm-up costs (about 0.06 on this slice).
STREAMS_TOLERANCE = 1e-4


def test_shipped_model_scores_the_same_in_64_streams_as_in_one(text):
    model, vocab = load_checkpoint()
    _, val = split_text(text)
    ids = vocab.encode(val[:10_000])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one stream is 10,000 sequential steps: threads only contend
    try:
        one = validation_loss(model, ids, streams=1)
        streams = validation_loss(model, ids, streams=64, warmup=100)
        cold = validation_loss(model, ids, streams=64, warmup=0)
    finally:
        torch.set_num_threads(threads)
    assert streams == pytest.approx(one, abs=STREAMS_TOLERANCE)
    assert cold - one > 100 * STREAMS_TOLERANCE  # the warm-up is what makes them agree


def test_kneser_ney_is_a_distribution(text):
    vocab = CharVocab.from_text(text)
    train, _ = split_text(text)
    ids = vocab.encode(train[:200_000])
    model = KneserNey(ids, len(vocab), order=5)
    for context in ["", "R", "ROMEO", "the k", "zzqx ", "\n\nFirs"]:
        probs = model.next_char_distribution(vocab.encode(context))
        assert probs.shape == (65,) and (probs > 0).all()
        assert probs.sum() == pytest.approx(1.0, abs=1e-9)
    assert vocab.chars[model.next_char_distribution(vocab.encode("Citize")).argmax()] == "n"
    losses = model.text_losses(vocab.encode(train[200_000:220_000]), orders=[1, 3, 5])
    assert losses[1] > losses[3] > losses[5]


def test_shipped_checkpoint_gives_its_recorded_loss(text):
    assert CHECKPOINT_PATH.stat().st_size < 5e6
    model, vocab = load_checkpoint()  # torch.load(..., weights_only=True) inside
    saved = torch.load(CHECKPOINT_PATH, weights_only=True)
    assert vocab.chars == CharVocab.from_text(text).chars == saved["config"]["chars"]
    assert not model.training
    torch.set_num_threads(2)
    _, val = split_text(text)
    measured = validation_loss(model, vocab.encode(val))
    assert measured == pytest.approx(model.checkpoint_info["val_loss"], abs=CHECKPOINT_TOLERANCE)
    assert np.isfinite(measured) and measured < 1.6
