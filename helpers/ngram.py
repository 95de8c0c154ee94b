"""The counting baseline of chapter 6: a character n-gram with interpolated (modified)
Kneser-Ney smoothing, vectorised with NumPy.

It reads character ids (a `charlm.CharVocab` encodes them) and answers what the neural
models answer: the probability of each next character, and the mean loss over a text in
nats per character, so that one evaluator can score both.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor


class KneserNey:
    """A character n-gram with interpolated modified Kneser-Ney smoothing (Chen & Goodman 1998).

    ``KneserNey(train_ids, vocab_size, order)``; ``order`` counts the predicted character, so
    order 5 reads the 4 characters before it. Contexts of up to ``order - 1`` characters are
    encoded as integers in base ``vocab_size`` (int64, so ``order`` at most 10 for 65
    characters); counts come from ``np.unique``, look-ups from ``np.searchsorted``.

    The highest order uses raw counts; lower orders use continuation counts (in how many
    distinct contexts a shorter n-gram appears); the lowest mixes with the uniform
    distribution, so every character gets some probability.
    """

    def __init__(self, train_ids: Tensor | np.ndarray, vocab_size: int, order: int) -> None:
        ids = np.asarray(train_ids, dtype=np.int64)
        if not 1 <= order or vocab_size ** order >= 2**63:
            raise ValueError(f"order must be between 1 and the largest that fits int64, got {order}")
        self.vocab_size, self.order = vocab_size, order
        grams = [None, ids]  # grams[m][s]: code of ids[s:s+m]
        for m in range(2, order + 1):
            grams.append(grams[m - 1][:-1] * vocab_size + ids[m - 1 :])
        # levels[k] describes n-grams of length k+1 (context of k characters)
        distinct = [None] + [np.unique(grams[m], return_counts=True) for m in range(1, order + 1)]
        self.levels = []
        for k in range(order):
            keys, raw = distinct[k + 1]
            level = {"raw": self._level(keys, raw)}
            if k + 1 < order:  # continuation counts: distinct characters seen before the n-gram
                tails, cont = np.unique(distinct[k + 2][0] % vocab_size ** (k + 1), return_counts=True)
                level["cont"] = self._level(tails, cont)
            self.levels.append(level)

    def _level(self, keys: np.ndarray, counts: np.ndarray) -> dict:
        """Counts of the n-grams, and per context: total, number of followers seen 1, 2, 3+ times."""
        n1, n2, n3, n4 = (np.sum(counts == c) for c in (1, 2, 3, 4))
        y = n1 / (n1 + 2 * n2) if n1 else 0.5
        discounts = np.array([0.0, 1 - 2 * y * n2 / n1 if n1 else 0.5,
                              2 - 3 * y * n3 / n2 if n2 else 1.0, 3 - 4 * y * n4 / n3 if n3 else 1.5])
        contexts = keys // self.vocab_size  # sorted, since keys are
        first = np.flatnonzero(np.r_[True, contexts[1:] != contexts[:-1]])
        ctx_keys = contexts[first]
        capped = np.minimum(counts, 3)
        totals = np.add.reduceat(counts, first)
        gamma = np.add.reduceat(discounts[capped], first)  # sum of discounts taken = mass given away
        return {"keys": keys, "counts": counts, "disc": discounts[capped],
                "ctx_keys": ctx_keys, "totals": totals, "gamma": gamma}

    @staticmethod
    def _find(keys: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        where = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        return where, keys[where] == query

    def _interpolate(self, level: dict, gram: np.ndarray, context: np.ndarray, lower: np.ndarray,
                     valid: np.ndarray) -> np.ndarray:
        g, g_found = self._find(level["keys"], gram)
        c, c_found = self._find(level["ctx_keys"], context)
        seen = valid & c_found
        count = np.where(g_found, level["counts"][g] - level["disc"][g], 0.0)
        total = level["totals"][c]
        mixed = (count + level["gamma"][c] * lower) / np.where(seen, total, 1)
        return np.where(seen, mixed, lower)

    def probabilities(self, history: np.ndarray, targets: np.ndarray, orders: list[int] | None = None
                      ) -> dict[int, np.ndarray]:
        """p(target | up to order-1 characters of history) for every order in ``orders``.

        ``history`` (n, order-1) holds the characters before each target, oldest first, with -1
        where there is none (start of text). Returns ``{order: probabilities (n,)}``.
        """
        orders = orders or [self.order]
        history = np.asarray(history, dtype=np.int64)
        targets = np.asarray(targets, dtype=np.int64)
        V = self.vocab_size
        p = np.full(len(targets), 1.0 / V)
        out = {}
        context = np.zeros(len(targets), dtype=np.int64)
        valid = np.ones(len(targets), dtype=bool)
        for k in range(max(orders)):
            if k > 0:  # add the k-th character back to the context
                prev = history[:, history.shape[1] - k]
                valid &= prev >= 0
                context = np.where(valid, np.maximum(prev, 0) * V ** (k - 1) + context, 0)
            gram = context * V + targets
            level = self.levels[k]
            if k + 1 in orders:  # the order-(k+1) model: raw counts on top
                out[k + 1] = self._interpolate(level["raw"], gram, context, p, valid)
            if "cont" in level:
                p = self._interpolate(level["cont"], gram, context, p, valid)
        return out

    def text_losses(self, ids: Tensor | np.ndarray, orders: list[int] | None = None) -> dict[int, float]:
        """Mean cross-entropy (nats per character) of predicting ``ids[1:]``, for every order."""
        ids = np.asarray(ids, dtype=np.int64)
        orders = orders or [self.order]
        width = max(max(orders) - 1, 1)
        padded = np.concatenate([np.full(width, -1), ids])
        history = np.lib.stride_tricks.sliding_window_view(padded[:-1], width)[1 : len(ids)]
        probs = self.probabilities(history, ids[1:], orders)
        return {order: float(-np.log(p).mean()) for order, p in probs.items()}

    def next_char_distribution(self, context_ids: Tensor | np.ndarray) -> np.ndarray:
        """p(c | context) for all characters c: an array of ``vocab_size`` probabilities."""
        width = max(self.order - 1, 1)
        ctx = np.asarray(context_ids, dtype=np.int64)[-width:] if self.order > 1 else np.zeros(0, np.int64)
        row = np.concatenate([np.full(width - len(ctx), -1), ctx])
        history = np.tile(row, (self.vocab_size, 1))
        return self.probabilities(history, np.arange(self.vocab_size))[self.order]
