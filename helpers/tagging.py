"""Chapter 1's name-tagging data, for chapter 2's recurrent taggers.

Chapter 1 builds these sentences in its own cells, so that a reader sees every line; this
module builds the same sentences (chapter 1 checks that they are equal) for the chapters
that compare other taggers on them.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

Tagged = tuple[list[str], list[int]]
Person = tuple[str, str]

TIME_WORDS: tuple[str, ...] = ("yesterday", "today", "tonight", "recently")
PEOPLE: tuple[Person, ...] = (
    ("harry", "potter"),
    ("hermione", "granger"),
    ("ron", "weasley"),
    ("luna", "lovegood"),
    ("neville", "longbottom"),
    ("ginny", "weasley"),
    ("draco", "malfoy"),
    ("rose", "weasley"),
)

# every ordered pair of two different people, in a fixed order; every seventh held out
PAIRS: list[tuple[Person, Person]] = list(itertools.permutations(PEOPLE, 2))
TEST_PAIRS = [pair for k, pair in enumerate(PAIRS) if k % 7 == 3]
TRAIN_PAIRS = [pair for k, pair in enumerate(PAIRS) if k % 7 != 3]


def same_shape(time: str, a: Person, b: Person) -> Tagged:
    """'yesterday harry potter met hermione granger': the only shape chapter 1 trains on."""
    return [time, *a, "met", *b], [0, 1, 1, 0, 1, 1]


def names_first(time: str, a: Person, b: Person) -> Tagged:
    """'harry potter met hermione granger yesterday'"""
    return [*a, "met", *b, time], [1, 1, 0, 1, 1, 0]


def time_in_middle(time: str, a: Person, b: Person) -> Tagged:
    """'harry potter yesterday met hermione granger'"""
    return [*a, time, "met", *b], [1, 1, 0, 0, 1, 1]


def short(a: Person, b: Person) -> Tagged:
    """'harry met hermione': three words"""
    return [a[0], "met", b[0]], [1, 0, 1]


def train_set() -> list[Tagged]:
    """Chapter 1's training set: every training pair with every time word, one shape."""
    return [same_shape(time, a, b) for a, b in TRAIN_PAIRS for time in TIME_WORDS]


def test_sets() -> dict[str, list[Tagged]]:
    """Chapter 1's four test sets, in its order."""
    return {
        "same shape": [same_shape(time, a, b) for a, b in TEST_PAIRS for time in TIME_WORDS],
        "names first": [names_first(TIME_WORDS[k % 4], a, b) for k, (a, b) in enumerate(PAIRS)],
        "time in middle": [time_in_middle(TIME_WORDS[k % 4], a, b) for k, (a, b) in enumerate(PAIRS)],
        "three words": [short(a, b) for a, b in PAIRS],
    }


# --- taggers: word ids (batch, time) in, two scores per word (batch, 2, time) out ------------
# Two scores, "not a name" and "a name", with the class axis second, as
# ``nn.functional.cross_entropy`` reads a score at every step; P(name) is their softmax.

class WindowTagger(nn.Module):
    """Chapter 1's fixed-window tagger: the one-hot vectors of ``window`` positions end to end
    (zero vectors after the last word), one hidden layer, scores for every position."""

    def __init__(self, vocab_size: int, hidden_size: int = 8, window: int = 6) -> None:
        super().__init__()
        self.vocab_size, self.window = vocab_size, window
        self.hidden = nn.Linear(window * vocab_size, hidden_size)
        self.out = nn.Linear(hidden_size, 2 * window)

    def forward(self, ids: Tensor) -> Tensor:
        batch, time = ids.shape
        if time > self.window:
            raise ValueError(f"the window tagger reads at most {self.window} words, got {time}")
        x = nn.functional.one_hot(ids, self.vocab_size).to(self.out.weight.dtype)  # (batch, time, vocab)
        x = nn.functional.pad(x, (0, 0, 0, self.window - time))  # (batch, window, vocab)
        h = torch.tanh(self.hidden(x.flatten(1)))  # (batch, hidden)
        return self.out(h).view(batch, 2, self.window)[:, :, :time]  # (batch, 2, time)


class SharedTagger(nn.Module):
    """Chapter 1's shared tagger: the same small classifier applied to every word alone."""

    def __init__(self, vocab_size: int, hidden_size: int = 8) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.hidden = nn.Linear(vocab_size, hidden_size)
        self.out = nn.Linear(hidden_size, 2)

    def forward(self, ids: Tensor) -> Tensor:
        x = nn.functional.one_hot(ids, self.vocab_size).to(self.out.weight.dtype)  # (batch, time, vocab)
        return self.out(torch.tanh(self.hidden(x))).transpose(1, 2)  # (batch, 2, time)


class RNNTagger(nn.Module):
    """A recurrent tagger: each word id looks up an embedding (a learned column, as one-hot
    times a matrix would pick), the RNN reads them, h_t = tanh(W_x e_t + W_h h_{t-1} + b),
    and a linear layer scores every step, y_t = W_y h_t + c. With ``bidirectional=True``
    the state at a word also summarises the words after it."""

    def __init__(
        self, vocab_size: int, hidden_size: int = 8, bidirectional: bool = False, num_layers: int = 1,
        embedding_size: int = 8,
    ) -> None:  # fmt: skip
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding_size)
        self.rnn = nn.RNN(embedding_size, hidden_size, num_layers=num_layers, batch_first=True,
                          bidirectional=bidirectional)  # fmt: skip
        self.out = nn.Linear(hidden_size * (2 if bidirectional else 1), 2)  # W_y, c

    def states(self, ids: Tensor) -> Tensor:
        """The last layer's state at every step: (batch, time, directions * hidden)."""
        return self.rnn(self.embed(ids))[0]

    def forward(self, ids: Tensor) -> Tensor:
        return self.out(self.states(ids)).transpose(1, 2)  # (batch, 2, time)


def encode(vocab, data: list[Tagged]) -> tuple[Tensor, Tensor]:
    """Ids (sentences, time) and tags (sentences, time) of sentences of one length."""
    lengths = {len(words) for words, _ in data}
    if len(lengths) != 1:
        raise ValueError(f"encode needs sentences of one length, got lengths {sorted(lengths)}")
    ids = torch.tensor([vocab.encode(words) for words, _ in data])
    return ids, torch.tensor([tags for _, tags in data])


@torch.no_grad()
def name_probs(model: nn.Module, ids: Tensor) -> Tensor:
    """P(name) for every word: ids (batch, time) -> (batch, time)."""
    model.eval()
    return model(ids).softmax(dim=1)[:, 1]


def right_tags(model: nn.Module, vocab, data: list[Tagged]) -> Tensor:
    """For every word of ``data`` (sentences of one length), whether its tag is right:
    a bool tensor (sentences, time); a word is called a name when P(name) > 0.5."""
    ids, tags = encode(vocab, data)
    return (name_probs(model, ids) > 0.5) == tags.bool()


# --- many seeds at once ----------------------------------------------------------------------
# helpers.seeds stacks the book's next-word and sequence models; these taggers are stacked
# here the same way: every seed's weights in one row of a tensor with a leading seed axis,
# one batched forward pass, and Adam (elementwise, so each row moves exactly as it would
# alone). Equal to training each seed with `helpers.fit` up to rounding (tests/test_tagging.py).


def _stacked_rnn(xp: Tensor, w_hh: Tensor, reverse: bool) -> Tensor:
    """tanh recurrence over seeds: xp (seeds, batch, time, hidden) already holds
    W_x x_t + b; returns every state, (seeds, batch, time, hidden)."""
    h = xp.new_zeros(xp.shape[0], xp.shape[1], xp.shape[3])
    steps = range(xp.shape[2] - 1, -1, -1) if reverse else range(xp.shape[2])
    states = [None] * xp.shape[2]
    for t in steps:
        h = torch.tanh(xp[:, :, t] + torch.bmm(h, w_hh.transpose(1, 2)))
        states[t] = h
    return torch.stack(states, dim=2)


def _stacked_logits(kind: type, p: dict[str, Tensor], ids: Tensor, window: int) -> Tensor:
    """Scores of every seed's tagger: (seeds, batch, 2, time)."""
    seeds, (batch, time) = next(iter(p.values())).shape[0], ids.shape
    dtype = p["out.weight"].dtype

    def lookup(weight: Tensor, ids: Tensor) -> Tensor:  # one-hot times W_x: (S, B, T, H)
        x = nn.functional.one_hot(ids.flatten(), weight.shape[2]).to(dtype)  # (B * T, V)
        out = x @ weight.permute(2, 0, 1).flatten(1)  # one product for all seeds: (B * T, S * H)
        return out.view(*ids.shape, seeds, -1).permute(2, 0, 1, 3)

    if kind is SharedTagger:
        h = torch.tanh(lookup(p["hidden.weight"], ids) + p["hidden.bias"][:, None, None])  # (S, B, T, H)
        return (torch.matmul(h, p["out.weight"].transpose(1, 2)[:, None]) + p["out.bias"][:, None, None]).transpose(2, 3)
    if kind is WindowTagger:
        vocab = p["hidden.weight"].shape[2] // window
        slots = ids + vocab * torch.arange(time)  # column of (position, word) in the window's input
        x = nn.functional.one_hot(slots, window * vocab).to(dtype).sum(1)  # (B, window * V)
        h = (x @ p["hidden.weight"].permute(2, 0, 1).flatten(1)).view(batch, seeds, -1).transpose(0, 1)
        h = h + p["hidden.bias"][:, None]  # (S, B, H)
        out = torch.baddbmm(p["out.bias"][:, None], torch.tanh(h), p["out.weight"].transpose(1, 2))
        return out.view(seeds, batch, 2, window)[..., :time]
    e = lookup(p["embed.weight"].transpose(1, 2), ids).flatten(1, 2)  # (S, B * T, E)
    states = []
    for suffix, reverse in [("l0", False), ("l0_reverse", True)]:
        if f"rnn.weight_ih_{suffix}" in p:
            bias = p[f"rnn.bias_ih_{suffix}"] + p[f"rnn.bias_hh_{suffix}"]
            xp = torch.bmm(e, p[f"rnn.weight_ih_{suffix}"].transpose(1, 2)).view(seeds, batch, time, -1)
            xp = xp + bias[:, None, None]  # (S, B, T, H)
            states.append(_stacked_rnn(xp, p[f"rnn.weight_hh_{suffix}"], reverse))
    h = torch.cat(states, dim=-1)  # (S, B, T, directions * H)
    return (torch.matmul(h, p["out.weight"].transpose(1, 2)[:, None]) + p["out.bias"][:, None, None]).transpose(2, 3)


def train_stacked(models: list[nn.Module], ids: Tensor, tags: Tensor, epochs: int, lr: float = 0.01) -> list[list[float]]:
    """Train taggers of one kind and size (one per seed, already built) together, full batch,
    with Adam and cross-entropy at every word, as ``fit`` trains each; the trained weights
    are written back into ``models``. Returns every model's loss after each epoch."""
    kind = type(models[0])
    if kind not in (WindowTagger, SharedTagger, RNNTagger):
        raise TypeError(f"train_stacked trains this module's taggers, got {kind.__name__}")
    if kind is RNNTagger and models[0].rnn.num_layers != 1:
        raise ValueError("train_stacked stacks one-layer recurrent taggers")
    names = [name for name, _ in models[0].named_parameters()]
    p = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in models]).requires_grad_() for n in names}
    optimizer = torch.optim.Adam(p.values(), lr=lr)
    window = getattr(models[0], "window", 0)
    history = []
    for _ in range(epochs):
        logits = _stacked_logits(kind, p, ids, window)  # (S, B, 2, T)
        per_word = nn.functional.cross_entropy(logits.flatten(0, 1), tags.repeat(len(models), 1), reduction="none")
        losses = per_word.view(len(models), -1).mean(1)  # each seed's mean, as fit computes it
        optimizer.zero_grad()
        losses.sum().backward()  # each seed's gradient is its own loss's
        optimizer.step()
        history.append(losses.tolist())
    with torch.no_grad():
        for s, model in enumerate(models):
            for name, param in model.named_parameters():
                param.copy_(p[name][s])
            model.eval()
    return [list(run) for run in zip(*history)]
