"""Helpers for the book: what more than one chapter needs, kept small and readable."""

from .autocomplete import Autocomplete, Completion, Suggestions, seed_autocomplete
from .book import glue
from .cells import (
    GRUWeights,
    LSTMWeights,
    RNNWeights,
    gru_cell,
    gru_forward,
    gru_gates,
    gru_trace,
    hidden_gradient_norms,
    lstm_cell,
    lstm_forward,
    lstm_gates,
    lstm_trace,
    rnn_cell,
    rnn_forward,
)
from .data import SEED_SENTENCES, next_word_pairs, next_word_tensors
from .decoding import beam_search, check_temperature, greedy, mulberry32, sample, top_k
from .experiments import RunResult, run_adding, run_adding_seeds, run_agreement, run_agreement_seeds
from .modelfile import ModelFileError
from .models import NextWordModel, SequenceModel
from .plotting import COLORS, use_book_style
from .seeds import CharText, Fit, Online, SeedRun, train_experiments, train_seeds
from .tasks import (
    ADDING_TOLERANCE,
    AGREEMENT_VOCAB,
    adding_accuracy,
    adding_problem,
    agreement_sentence,
    agreement_task,
)
from .training import accuracy, fit, seed_everything, train_online
from .vocab import UNK, UnknownWordError, Vocab, tokenize

__all__ = [
    "Autocomplete",
    "Completion",
    "Suggestions",
    "accuracy",
    "beam_search",
    "check_temperature",
    "CharText",
    "Fit",
    "Online",
    "SeedRun",
    "train_experiments",
    "train_seeds",
    "run_adding_seeds",
    "run_agreement_seeds",
    "adding_accuracy",
    "adding_problem",
    "ADDING_TOLERANCE",
    "agreement_sentence",
    "agreement_task",
    "AGREEMENT_VOCAB",
    "COLORS",
    "fit",
    "glue",
    "greedy",
    "gru_cell",
    "gru_forward",
    "gru_gates",
    "gru_trace",
    "GRUWeights",
    "hidden_gradient_norms",
    "lstm_cell",
    "lstm_forward",
    "lstm_gates",
    "lstm_trace",
    "LSTMWeights",
    "mulberry32",
    "ModelFileError",
    "next_word_pairs",
    "next_word_tensors",
    "NextWordModel",
    "rnn_cell",
    "rnn_forward",
    "run_adding",
    "run_agreement",
    "RunResult",
    "RNNWeights",
    "sample",
    "seed_autocomplete",
    "seed_everything",
    "SequenceModel",
    "train_online",
    "SEED_SENTENCES",
    "tokenize",
    "top_k",
    "UNK",
    "UnknownWordError",
    "use_book_style",
    "Vocab",
]
