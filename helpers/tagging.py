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

    @staticmethod
    def stacked_forward(p: dict[str, Tensor], ids: Tensor) -> Tensor:
        """S taggers at once (``helpers.stacked``): weights (S, *shape), ids (S, batch, time)."""
        seeds, batch, time = ids.shape
        window = p["out.weight"].shape[1] // 2
        vocab = p["hidden.weight"].shape[2] // window
        slots = ids + vocab * torch.arange(time)  # column of (position, word) in the window's input
        x = nn.functional.one_hot(slots, window * vocab).to(p["out.weight"].dtype).sum(2)  # (S, B, window * V)
        h = torch.tanh(torch.baddbmm(p["hidden.bias"][:, None], x, p["hidden.weight"].transpose(1, 2)))  # (S, B, H)
        out = torch.baddbmm(p["out.bias"][:, None], h, p["out.weight"].transpose(1, 2))
        return out.view(seeds, batch, 2, window)[..., :time]  # (S, B, 2, time)


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

    @staticmethod
    def stacked_forward(p: dict[str, Tensor], ids: Tensor) -> Tensor:
        """S taggers at once (``helpers.stacked``): weights (S, *shape), ids (S, batch, time)."""
        h = torch.tanh(_lookup(p["hidden.weight"].transpose(1, 2), ids) + p["hidden.bias"][:, None, None])
        return _score(p, h)  # (S, B, 2, time)


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

    @staticmethod
    def stacked_forward(p: dict[str, Tensor], ids: Tensor) -> Tensor:
        """S taggers at once (``helpers.stacked``): weights (S, *shape), ids (S, batch, time);
        the recurrence of ``nn.RNN`` written out over the seed axis, layer by layer."""
        x = _lookup(p["embed.weight"], ids)  # (S, B, T, E)
        layer = 0
        while f"rnn.weight_ih_l{layer}" in p:
            states = []
            for suffix, reverse in [(f"l{layer}", False), (f"l{layer}_reverse", True)]:
                if f"rnn.weight_ih_{suffix}" in p:
                    bias = p[f"rnn.bias_ih_{suffix}"] + p[f"rnn.bias_hh_{suffix}"]
                    xp = torch.matmul(x, p[f"rnn.weight_ih_{suffix}"].transpose(1, 2)[:, None]) + bias[:, None, None]
                    states.append(_stacked_rnn(xp, p[f"rnn.weight_hh_{suffix}"], reverse))
            x = torch.cat(states, dim=-1)  # (S, B, T, directions * H)
            layer += 1
        return _score(p, x)  # (S, B, 2, time)


# --- the stacked pieces: every seed's weights in one row of a tensor with a leading seed axis


def _lookup(weight: Tensor, ids: Tensor) -> Tensor:
    """Each seed's row of ``weight`` (S, V, D) for each of its ids (S, B, T): (S, B, T, D),
    what one-hot times W_x (or an embedding) selects."""
    return weight[torch.arange(len(ids)).view(-1, 1, 1), ids]


def _score(p: dict[str, Tensor], h: Tensor) -> Tensor:
    """y_t = W_y h_t + c for every seed and step: h (S, B, T, H) -> (S, B, 2, T)."""
    return (torch.matmul(h, p["out.weight"].transpose(1, 2)[:, None]) + p["out.bias"][:, None, None]).transpose(2, 3)


def _stacked_rnn(xp: Tensor, w_hh: Tensor, reverse: bool) -> Tensor:
    """tanh recurrence over seeds: xp (S, B, T, H) already holds W_x x_t + b; every state, (S, B, T, H)."""
    h = xp.new_zeros(xp.shape[0], xp.shape[1], xp.shape[3])
    steps = range(xp.shape[2] - 1, -1, -1) if reverse else range(xp.shape[2])
    states = [None] * xp.shape[2]
    for t in steps:
        h = torch.tanh(torch.baddbmm(xp[:, :, t], h, w_hh.transpose(1, 2)))
        states[t] = h
    return torch.stack(states, dim=2)


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
