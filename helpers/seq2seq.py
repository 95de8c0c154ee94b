"""An encoder-decoder with GRUs, with or without dot-product attention (chapter 7).

Written to be read, in the manner of nanoGPT's ``model.py``. Shapes in the comments:
B batch, S source (input) length, T target (output) length, E embedding size, H hidden size,
V_in and V_out the two vocabularies.

- The **encoder** reads the source tokens (padded with ``PAD`` at the end) with a GRU that
  stops at each sequence's own length; its last state is the *summary*, one vector of H
  numbers for the whole input. It also returns every state (the *memory*).
- The **decoder** is a second GRU that starts from the summary and reads the output so far,
  one token per step, beginning with ``START``; a linear layer turns each state into scores
  for the next output token, ``END`` included.
- With ``attention=True`` each decoder state ``d_t`` also looks at the memory: scores
  ``d_t . m_s / sqrt(H)`` over the source positions (padding masked out), softmax, a
  weighted average of the memory (the *context*), and ``tanh(W_c [context; d_t])`` goes to
  the output layer. This is Luong et al.'s "global" attention with a scaled dot product;
  the context does not feed back into the decoder's recurrence.

In training the decoder is fed the *true* previous output token (teacher forcing), so the
whole output sequence runs through the decoder GRU in one call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

PAD, START, END = 0, 1, 2  # ids shared by both vocabularies; real tokens start at 3
SPECIALS = ["<pad>", "<s>", "</s>"]


def encode(sequences: Sequence[Sequence[str]], vocab: Sequence[str]) -> Tensor:
    """Token sequences -> ids (N, longest), padded with PAD; an unknown token is an error."""
    index = {token: i for i, token in enumerate(vocab)}
    longest = max(len(seq) for seq in sequences)
    rows = []
    for seq in sequences:
        unknown = [token for token in seq if token not in index]
        if unknown:
            raise KeyError(f"token {unknown[0]!r} is not in the vocabulary of {len(vocab)}")
        rows.append([index[token] for token in seq] + [PAD] * (longest - len(seq)))
    return torch.tensor(rows)


def teacher_forcing_pair(targets: Tensor) -> tuple[Tensor, Tensor]:
    """targets (N, T) padded ids -> what the decoder reads, START then every target token,
    and what it must predict, every target token then END; both (N, T + 1)."""
    lengths = (targets != PAD).sum(1)  # (N,)
    tgt_in = torch.cat([torch.full((len(targets), 1), START), targets], dim=1)  # (N, T + 1)
    tgt_out = torch.cat([targets, torch.full((len(targets), 1), PAD)], dim=1)  # (N, T + 1)
    tgt_out[torch.arange(len(targets)), lengths] = END
    return tgt_in, tgt_out


def attend(queries: Tensor, memory: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Scaled dot-product attention written out.

    queries (B, T, H), memory (B, S, H), mask (B, S) True at real positions ->
    context (B, T, H) and weights (B, T, S), each row of weights summing to 1.
    """
    scores = queries @ memory.transpose(1, 2) / math.sqrt(queries.shape[-1])  # (B, T, S)
    scores = scores.masked_fill(~mask[:, None, :], -math.inf)  # padding gets no weight
    weights = torch.softmax(scores, dim=-1)  # (B, T, S)
    return weights @ memory, weights  # (B, T, H), (B, T, S)


def gru_layer(x: Tensor, hidden: Tensor, gru: nn.GRU, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Run the one-layer GRU ``gru``'s weights over x (B, L, E) from hidden (B, H), step by
    step, as chapter 5 wrote it; where mask (B, L) is False (padding) the state is carried
    over unchanged, so the last state is the one after each sequence's own last token.
    Returns every state (B, L, H) and the last one (B, H)."""
    W_ih, W_hh, b_ih, b_hh = gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0
    H = hidden.shape[-1]
    x_gates, x_n = (x @ W_ih.T + b_ih).split([2 * H, H], dim=-1)  # (B, L, 2H) reset and update, (B, L, H) candidate
    states = []
    for t in range(x.shape[1]):
        h_gates, h_n = (hidden @ W_hh.T + b_hh).split([2 * H, H], dim=-1)  # (B, 2H), (B, H)
        reset, update = torch.sigmoid(x_gates[:, t] + h_gates).chunk(2, dim=-1)  # both gates at once: (B, H) each
        candidate = torch.tanh(x_n[:, t] + reset * h_n)
        new = (1 - update) * candidate + update * hidden  # (B, H)
        hidden = new if mask is None else torch.where(mask[:, t, None], new, hidden)
        states.append(hidden)
    return torch.stack(states, dim=1), hidden


class EncoderDecoder(nn.Module):
    """GRU encoder, GRU decoder started from the encoder's summary, optional attention.

    The two GRUs are ``nn.GRU`` modules (for their weights and PyTorch's initialisation), run
    by ``gru_layer``: a loop written out, that ``torch.func.vmap`` can batch over seeds (how
    ``helpers.seeds`` trains ten seeds as one)."""

    def __init__(self, n_in: int, n_out: int, hidden: int = 64, embed: int = 32, attention: bool = False) -> None:
        super().__init__()
        self.attention = attention
        self.src_embed = nn.Embedding(n_in, embed, padding_idx=PAD)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.tgt_embed = nn.Embedding(n_out, embed)
        self.decoder = nn.GRU(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_out)
        # made last, so that a model with attention and one without, built after the same
        # torch.manual_seed, start with the same weights in every part they share
        self.combine = nn.Linear(2 * hidden, hidden) if attention else None

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """src (B, S) ids padded with PAD at the end -> summary (B, H), memory (B, S, H), mask (B, S)."""
        mask = src != PAD  # (B, S): True at real tokens
        h0 = self.src_embed.weight.new_zeros(src.shape[0], self.encoder.hidden_size)  # (B, H)
        memory, summary = gru_layer(self.src_embed(src), h0, self.encoder, mask)  # (B, S, H), (B, H)
        return summary, memory, mask

    def decode(self, tokens: Tensor, hidden: Tensor, memory: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """tokens (B, T) previous outputs, hidden (B, H) -> logits (B, T, V_out), the last
        hidden (B, H), and the attention weights (B, T, S) (None without attention)."""
        states, hidden = gru_layer(self.tgt_embed(tokens), hidden, self.decoder)  # (B, T, H), (B, H)
        weights = None
        if self.combine is not None:
            context, weights = attend(states, memory, mask)  # (B, T, H), (B, T, S)
            states = torch.tanh(self.combine(torch.cat([context, states], dim=-1)))  # (B, T, H)
        return self.out(states), hidden, weights

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: tgt_in (B, T) is START followed by the true outputs but the last
        -> logits (B, T, V_out) for the true outputs followed by END."""
        summary, memory, mask = self.encode(src)
        logits, _, _ = self.decode(tgt_in, summary, memory, mask)
        return logits


@torch.no_grad()
def greedy_decode(model: EncoderDecoder, src: Tensor, max_len: int) -> tuple[list[list[int]], Tensor | None]:
    """The most likely token at every step, for a batch: the output ids of each input (END
    and what follows cut off), and the attention weights (B, max_len, S) if the model has
    attention."""
    model.eval()
    hidden, memory, mask = model.encode(src)
    token = torch.full((src.shape[0], 1), START)  # (B, 1)
    outputs, weights = [], []
    for _ in range(max_len):
        logits, hidden, w = model.decode(token, hidden, memory, mask)  # (B, 1, V_out)
        token = logits.argmax(-1)  # (B, 1)
        outputs.append(token)
        if w is not None:
            weights.append(w)
    ids = torch.cat(outputs, dim=1).tolist()  # (B, max_len)
    cut = [row[: row.index(END)] if END in row else row for row in ids]
    return cut, (torch.cat(weights, dim=1) if weights else None)


def step_function(model: EncoderDecoder, src: Tensor) -> tuple[Callable[[Tensor, Tensor], tuple[Tensor, Tensor]], Tensor, Tensor]:
    """For ``helpers.decoding.beam_search`` on one input src (1, S): a step function over a
    batch of beams, state (1, beams, H) (the layout of PyTorch's recurrent layers, which
    ``beam_search`` selects beams from) and tokens (beams,) -> log-probabilities
    (beams, V_out) and the new state; and the first token's log-probabilities (1, V_out)
    with their state."""
    model.eval()
    with torch.no_grad():
        summary, memory, mask = model.encode(src)  # (1, H), (1, S, H), (1, S)

    @torch.no_grad()
    def step(hidden: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
        beams = len(tokens)
        logits, new, _ = model.decode(tokens[:, None], hidden[0], memory.expand(beams, -1, -1), mask.expand(beams, -1))
        return torch.log_softmax(logits[:, 0], dim=-1), new[None]  # (beams, V_out), (1, beams, H)

    first, hidden = step(summary[None], torch.tensor([START]))
    return step, first, hidden


def sequence_loss(logits: Tensor, tgt_out: Tensor) -> Tensor:
    """Mean cross-entropy over the real output positions: logits (B, T, V_out), tgt_out (B, T)."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=PAD)
