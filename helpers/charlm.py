"""Character-level neural language models on Tiny Shakespeare (chapter 6); the counting
baseline they are measured against, a Kneser-Ney n-gram, is `ngram`'s.

What is here, in reading order:

- ``load_shakespeare`` and ``split_text``: the corpus shipped in ``data/`` (checksum verified)
  and the usual split, first 90% for training, last 10% for validation;
- ``CharVocab``: one token per character, the corpus's 65 characters in sorted order;
- ``CharLM``: embedding -> RNN, LSTM or GRU -> linear head, the cell type a parameter;
- ``train_charlm``: Adam on truncated-BPTT windows, the state carried from window to window;
- ``validation_loss``: the mean loss over a whole text in nats per character, computed in
  parallel streams (or, for a transformer, in windows);
- ``load_training_record``: what `make train` measured while choosing and training;
- ``save_checkpoint`` / ``load_checkpoint``: the shipped model, one `modelfile` payload
  (float16 weights with a checksum, settings with a fingerprint), written atomically and
  read with ``torch.load(..., weights_only=True)``; a damaged, tampered, truncated or
  NaN-holding file, or a foreign pickle, is refused with a ``ModelFileError``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from .modelfile import ModelFileError, ModelFileMissing, pack, read_payload, save_payload
from .training import _update

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
CORPUS_FILE = "tinyshakespeare.txt"
CORPUS_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
CHECKPOINT_PATH = DATA_DIR / "shakespeare_lstm.pt"
TRAINING_RECORD_PATH = DATA_DIR / "training_record.json"  # what `make train` measured
CHECKPOINT_FORMAT = "helpers.charlm/1"
TRAIN_FRACTION = 0.9

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
State = Tensor | tuple[Tensor, Tensor]


# --- the corpus -----------------------------------------------------------------------------


def load_shakespeare(path: str | Path | None = None) -> str:
    """The Tiny Shakespeare text from ``data/`` (or ``path``), after checking its sha256.

    Raises FileNotFoundError if the file is missing and ValueError if its bytes are not the
    published ones, so no number in the book can silently come from another text.
    """
    path = Path(path) if path is not None else DATA_DIR / CORPUS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"the Tiny Shakespeare corpus is not at {path}; it ships in the book's repository "
            f"as data/{CORPUS_FILE} (clone the repository, or pass its path)"
        )
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CORPUS_SHA256:
        raise ValueError(
            f"{path} has sha256 {digest}, not the published {CORPUS_SHA256}: "
            "the text was altered (line endings? encoding?); restore the original file"
        )
    return raw.decode("ascii")


def split_text(text: str, train_fraction: float = TRAIN_FRACTION) -> tuple[str, str]:
    """The usual split: the first 90% of the characters for training, the rest for validation."""
    cut = int(len(text) * train_fraction)
    return text[:cut], text[cut:]


class CharVocab:
    """One token per character: id ``i`` is ``chars[i]``; the characters are sorted."""

    def __init__(self, chars: str) -> None:
        if len(set(chars)) != len(chars) or list(chars) != sorted(chars):
            raise ValueError("chars must be distinct and in sorted order")
        self.chars = chars
        self._index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """Every distinct character of ``text``, sorted (65 for Tiny Shakespeare)."""
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters: {self.chars!r})"

    def encode(self, text: str) -> Tensor:
        """Characters -> a LongTensor of ids; ValueError names every character outside the alphabet."""
        if not isinstance(text, str):
            raise TypeError(f"expected a str, got {type(text).__name__}")
        try:
            return torch.tensor([self._index[c] for c in text], dtype=torch.long)
        except KeyError:
            unknown = sorted({c for c in text if c not in self._index})
            raise ValueError(
                f"{', '.join(repr(c) for c in unknown)} "
                f"{'is' if len(unknown) == 1 else 'are'} not in the {len(self)}-character alphabet "
                f"{self.chars!r}"
            ) from None

    def decode(self, ids: Tensor | list[int]) -> str:
        """Ids -> the string they spell."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        return "".join(self.chars[i] for i in ids)


# --- the model ------------------------------------------------------------------------------


class CharLM(nn.Module):
    """Character ids in, a score (logit) for every next character out, at every position.

    ``embed`` (nn.Embedding) -> ``rnn`` (nn.RNN with tanh, nn.LSTM or nn.GRU; batch first)
    -> ``head`` (nn.Linear from the hidden state to the vocabulary). With ``dropout`` > 0,
    a random fraction of the recurrent layer's outputs is zeroed at every training step
    (and between layers, if several), which keeps a large model from memorising the text.
    """

    def __init__(
        self,
        vocab_size: int,
        cell: str = "lstm",
        hidden_size: int = 256,
        embedding_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.vocab_size, self.cell = vocab_size, cell
        self.hidden_size, self.embedding_size, self.num_layers = hidden_size, embedding_size, num_layers
        self.dropout = dropout
        self.embed = nn.Embedding(vocab_size, embedding_size)
        self.rnn = CELLS[cell](
            embedding_size, hidden_size, num_layers=num_layers, batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,  # between layers; PyTorch warns on one layer
        )
        self.drop = nn.Dropout(dropout)  # on the recurrent layer's output, in training only
        self.head = nn.Linear(hidden_size, vocab_size)

    def config(self) -> dict:
        """The settings that rebuild this model: ``CharLM(**model.config())``."""
        return {
            "vocab_size": self.vocab_size,
            "cell": self.cell,
            "hidden_size": self.hidden_size,
            "embedding_size": self.embedding_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
        }

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """tokens (batch, time) -> logits (batch, time, vocab) and the state after the last step
        (h for RNN and GRU, (h, c) for LSTM, each (num_layers, batch, hidden)); pass the state
        back in to continue the same text."""
        if tokens.dim() != 2:
            raise ValueError(f"expected tokens of shape (batch, time), got {tuple(tokens.shape)}")
        hidden, state = self.rnn(self.embed(tokens), state)
        return self.head(self.drop(hidden)), state


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a state (truncated backpropagation through time)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


# --- training and evaluation ----------------------------------------------------------------


def train_charlm(
    model: CharLM,
    train_ids: Tensor,
    steps: int,
    batch_size: int = 32,
    seq_len: int = 128,
    lr: float = 3e-3,
    final_lr: float | None = None,
    clip_norm: float = 1.0,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Adam on truncated-BPTT windows; returns the training loss (nats/char) of every step.

    The training text is cut into ``batch_size`` contiguous streams, read side by side in
    windows of ``seq_len`` characters; the state at the end of one window starts the next
    (detached, so gradients flow back at most ``seq_len`` steps). Each pass over the streams
    starts from a fresh zero state at a random offset. With ``final_lr`` the learning rate
    falls from ``lr`` to ``final_lr`` along a cosine.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    generator = torch.Generator().manual_seed(seed)
    stream_len = (len(train_ids) - 1) // batch_size
    if stream_len < 2 * seq_len:
        raise ValueError(f"the text is too short for {batch_size} streams of {seq_len}-character windows")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    model.train()
    windows: list[int] = []
    state = None
    for step in range(steps):
        if not windows:  # a new pass: fresh state, new offset
            offset = int(torch.randint(seq_len, (1,), generator=generator))
            n = (len(train_ids) - 1 - offset) // batch_size
            streams_x = train_ids[offset : offset + n * batch_size].view(batch_size, n)
            streams_y = train_ids[offset + 1 : offset + 1 + n * batch_size].view(batch_size, n)
            windows = list(range(0, n - seq_len + 1, seq_len))
            state = None
        if final_lr is not None:
            for group in optimizer.param_groups:
                group["lr"] = final_lr + 0.5 * (lr - final_lr) * (1 + math.cos(math.pi * step / steps))
        start = windows.pop(0)
        x = streams_x[:, start : start + seq_len]
        y = streams_y[:, start : start + seq_len]
        logits, state = model(x, state)
        state = detach_state(state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        _update(model, optimizer, loss, clip_norm)  # the book's one optimiser step, clipping included
        losses.append(loss.item())
        if on_step is not None:
            on_step(step, losses[-1])
    model.eval()
    return losses


@torch.no_grad()
def validation_loss(model: nn.Module, ids: Tensor, streams: int = 64, warmup: int = 100, piece: int = 512) -> float:
    """Mean cross-entropy (nats per character) of predicting ``ids[1:]`` from what precedes:
    the one evaluator of every character model in the book, each character scored once.

    A transformer sees a window of the text (``transformer.window_loss``). For a recurrent
    model the text is cut into ``streams`` contiguous chunks run side by side as one batch, the state
    carried along each chunk. Each chunk but the first starts ``warmup`` characters early
    (those predictions are not scored) so that no chunk starts from nothing.
    """
    if hasattr(model, "block_size"):
        from .transformer import window_loss  # it imports this module

        return window_loss(model, ids)
    model.eval()
    n_targets = len(ids) - 1
    chunk = math.ceil(n_targets / streams)
    inputs = torch.zeros(streams, chunk + warmup, dtype=torch.long)
    targets = torch.full((streams, chunk + warmup), -1, dtype=torch.long)
    for s in range(streams):
        start, end = s * chunk, min((s + 1) * chunk, n_targets)
        if start >= end:
            continue
        lead = min(warmup, start)  # the first chunk starts at the text's start, from a zero state
        inputs[s, : lead + end - start] = ids[start - lead : end]
        targets[s, lead : lead + end - start] = ids[start + 1 : end + 1]  # padding after: -1, ignored
    total, state = 0.0, None
    for t in range(0, chunk + warmup, piece):
        logits, state = model(inputs[:, t : t + piece], state)
        total += nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).double(),
            targets[:, t : t + piece].reshape(-1),
            ignore_index=-1,
            reduction="sum",
        ).item()
    return total / n_targets


# --- the shipped checkpoint -----------------------------------------------------------------


def load_training_record(path: str | Path | None = None) -> dict:
    """What `make train` (scripts/train_shakespeare.py) recorded: every candidate's held-out
    loss on the training text, the settings chosen, and each shipped run's validation loss
    and seconds of training."""
    path = Path(path) if path is not None else TRAINING_RECORD_PATH
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: `make train` writes it beside the shipped models")
    return json.loads(path.read_text())


def save_checkpoint(model: CharLM, vocab: CharVocab, path: str | Path, val_loss: float, **extra) -> Path:
    """Write the model's weights in float16 with its settings, alphabet, measured validation
    loss and ``extra`` (plain values: the training settings), atomically; only tensors,
    strings and numbers, so ``weights_only=True`` can read it. Refuses weights that are not
    finite."""
    state = {name: t.detach().to(torch.float16) for name, t in model.state_dict().items()}
    config = {"model": model.config(), "chars": vocab.chars, "val_loss": float(val_loss), **extra}
    return save_payload(path, pack(CHECKPOINT_FORMAT, state, config, embed=True))


def half_precision_copy(model: nn.Module) -> nn.Module:
    """The model (a CharLM or a CharTransformer) with every weight rounded to float16 and
    back: what its checkpoint holds."""
    copy = type(model)(**model.config())
    copy.load_state_dict({n: t.to(torch.float16).float() for n, t in model.state_dict().items()})
    return copy.eval()


def load_checkpoint(path: str | Path | None = None) -> tuple[CharLM, CharVocab]:
    """The shipped model (``data/shakespeare_lstm.pt`` by default) in eval mode, and its vocabulary.

    Read with ``torch.load(..., weights_only=True)``; the float16 weights become float32.
    The checkpoint's other entries (``val_loss``, training settings) are on ``model.checkpoint_info``.
    """
    path = Path(path) if path is not None else CHECKPOINT_PATH
    if not path.is_file():
        raise ModelFileMissing(f"{path} not found: no checkpoint there (`make train` writes it)")
    payload = read_payload(path, CHECKPOINT_FORMAT, "save_checkpoint")
    config, state = payload["config"], payload["state_dict"]
    try:
        model = CharLM(**config["model"])
        model.load_state_dict({name: t.float() for name, t in state.items()})
        vocab = CharVocab(config["chars"])
        if len(vocab) != model.vocab_size:
            raise ValueError(f"{len(vocab)} characters for a model of {model.vocab_size}")
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ModelFileError(f"{path} does not fit its settings: {error}") from None
    model.eval()
    model.checkpoint_info = {"config": config["model"], **{k: v for k, v in config.items() if k != "model"}}
    return model, vocab
