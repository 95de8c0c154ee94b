"""Helpers for the book: what more than one chapter needs, kept small and readable.

One idea a module:

- ``vocab``, ``data``, ``tasks``, ``tagging``, ``numbers``: words and vocabularies, the six
  sentences, the long-lag tasks, chapter 1's tagging data and the taggers of chapters 1 and 2,
  chapter 7's number words;
- ``cells``, ``models``: the cells from scratch and their ``torch.nn`` twins, the next-word model;
- ``training``, ``seeds``, ``stacked``, ``experiments``: seeding and the fit loop, many seeds
  at once, seeds stacked along an axis, the long-lag experiments of chapters 3 to 5;
- ``decoding``: temperature, greedy, top-k, the seeded sampler, beam search;
- ``autocomplete`` (the word autocomplete) and ``autocomplete_files`` (its saved folder and
  its JSON export);
- ``charlm`` (the neural character models, their corpus, training and checkpoint), ``ngram``
  (the Kneser-Ney baseline), ``char_autocomplete`` (completions, next words and sampled text
  from a character model), ``char_export`` (its int8 export for the in-page demo) and ``scope``
  (a float64 reference of the in-page LSTM scope: units, gates, interventions, connectivity);
- ``seq2seq``: the encoder-decoder of chapter 7;
- ``modelfile``, ``checks``, ``plotting``, ``book``: safe model files, argument checks, the
  figure style, glued numbers.

The names below can be imported from ``helpers`` itself; every other name from its module.
"""

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
from .experiments import (
    RunResult,
    adding_sweep,
    agreement_sweep,
    run_adding,
    run_adding_seeds,
    run_agreement,
    run_agreement_seeds,
)
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
    "adding_sweep",
    "agreement_sweep",
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
