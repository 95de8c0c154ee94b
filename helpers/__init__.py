"""Helpers for the book: what more than one chapter needs, kept small and readable."""

from .book import glue
from .cells import RNNWeights, rnn_cell, rnn_forward
from .data import SEED_SENTENCES, next_word_pairs, next_word_tensors
from .models import NextWordModel
from .plotting import COLORS, use_book_style
from .training import accuracy, fit, seed_everything
from .vocab import UNK, UnknownWordError, Vocab, tokenize

__all__ = [
    "COLORS",
    "NextWordModel",
    "RNNWeights",
    "SEED_SENTENCES",
    "UNK",
    "UnknownWordError",
    "Vocab",
    "accuracy",
    "fit",
    "glue",
    "next_word_pairs",
    "next_word_tensors",
    "rnn_cell",
    "rnn_forward",
    "seed_everything",
    "tokenize",
    "use_book_style",
]
