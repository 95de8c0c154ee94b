"""helpers.decoding: the one temperature policy (for both autocompletes), greedy, top-k, the
seeded sampler, and beam search over a step function, checked against brute force."""

import itertools
import math

import numpy as np
import pytest
import torch

from helpers import SEED_SENTENCES, NextWordModel, Vocab
from helpers.autocomplete import Autocomplete
from helpers.char_autocomplete import CharAutocomplete
from helpers.charlm import CharLM, CharVocab
from helpers.decoding import (
    Hypothesis,
    beam_search,
    check_temperature,
    greedy,
    mulberry32,
    sample,
    top_k,
    torch_uniforms,
)


@pytest.fixture(scope="module")
def both():
    """A word-level and a character-level autocomplete (untrained: only the policy matters)."""
    torch.manual_seed(0)
    vocab = Vocab.build(SEED_SENTENCES, unk=None)
    word = Autocomplete(NextWordModel(len(vocab), 5), vocab, max_prefix=2)
    chars = CharVocab("\n !'abcdefghijklmnopqrstuvwxyz")
    char = CharAutocomplete(CharLM(len(chars), "gru", 8, 4), chars)
    return {
        "word": lambda t: word.continue_text("you like", 3, temperature=t, seed=0).new_words,
        "char": lambda t: char.continue_text("you like", 3, temperature=t, seed=0).added,
    }


@pytest.mark.parametrize("api", ["word", "char"])
@pytest.mark.parametrize(
    "temperature, error, message",
    [
        (-1.0, ValueError, "got -1.0$"),
        (-1e-300, ValueError, "got -1e-300$"),
        (math.nan, ValueError, "got nan$"),
        (math.inf, ValueError, "got inf$"),
        (-math.inf, ValueError, "got -inf$"),
        (True, TypeError, "got bool: True$"),
        ("0.8", TypeError, "got str: '0.8'$"),
        (None, TypeError, "got NoneType: None$"),
        ([1.0], TypeError, r"got list: \[1.0\]$"),
    ],
)
def test_one_temperature_policy_refuses_the_same_values_in_both_apis(both, api, temperature, error, message):
    with pytest.raises(error, match="^temperature must be 0 \\(greedy\\) or a positive finite number, " + message):
        both[api](temperature)
    with pytest.raises(error, match=message):
        check_temperature(temperature)


@pytest.mark.parametrize("api", ["word", "char"])
def test_zero_is_greedy_and_any_positive_finite_temperature_samples_in_both_apis(both, api):
    greedy_answer = both[api](0)
    assert both[api](0.0) == both[api](-0.0) == greedy_answer
    assert both[api](5e-324) == greedy_answer  # sharper than any float: greedy, not an overflow
    for t in (0.5, 1, np.float32(2.0), 1e300):  # ints and NumPy floats are numbers too
        assert len(both[api](t)) == 3


def test_check_temperature_returns_a_float():
    assert check_temperature(0) == 0.0 and isinstance(check_temperature(0), float)
    assert check_temperature(np.float64(0.7)) == 0.7 and check_temperature(3) == 3.0


def test_greedy_and_top_k_break_ties_by_the_lower_id():
    scores = [0.1, 0.7, 0.7, -math.inf, 0.2]
    assert greedy(scores) == 1 and greedy(torch.tensor(scores)) == 1
    assert top_k(torch.tensor(scores), 3) == [1, 2, 4]
    assert sample(scores, 0, lambda: pytest.fail("greedy draws no number")) == 1


def test_sample_draws_in_proportion_and_never_an_impossible_id():
    logp = torch.log(torch.tensor([0.5, 0.3, 0.2, 0.0], dtype=torch.float64))
    random = mulberry32(1)
    counts = np.bincount([sample(logp, 1.0, random) for _ in range(20_000)], minlength=4)
    np.testing.assert_allclose(counts / counts.sum(), [0.5, 0.3, 0.2, 0.0], atol=0.015)
    # temperature 2: softmax(log p / 2) is proportional to sqrt(p)
    counts = np.bincount([sample(logp, 2.0, random) for _ in range(20_000)], minlength=4)
    root = np.sqrt([0.5, 0.3, 0.2, 0.0])
    np.testing.assert_allclose(counts / counts.sum(), root / root.sum(), atol=0.015)
    huge = {sample(logp, 1e300, random) for _ in range(200)}
    assert huge == {0, 1, 2}  # uniform over what is possible
    assert sample([0.0, -math.inf], 1.0, lambda: 0.999999999) == 0  # rounding at the very end


def test_mulberry32_gives_the_javascript_numbers_and_torch_uniforms_are_seeded():
    assert mulberry32(0)() == 0.26642920868471265  # the usual JavaScript mulberry32, run in node
    a, b = torch_uniforms(2**64 - 1), torch_uniforms(2**64 - 1)
    assert [a() for _ in range(3)] == [b() for _ in range(3)]
    assert all(0 <= torch_uniforms(5)() < 1 for _ in range(3))


# ---------------------------------------------------------------- beam search

TABLE = torch.log_softmax(torch.randn(5, 6, generator=torch.Generator().manual_seed(3)) * 2, dim=-1)
END = 5  # token 5 ends a sequence


def markov_step(state, tokens):
    """A first-order Markov chain as a step function: the state counts the steps taken."""
    return TABLE[tokens.clamp(max=4)], state + 1


def brute_force(first, max_len):
    """Every sequence up to ``max_len`` tokens ending in END, with its log-probability."""
    out = {}
    for n in range(1, max_len + 1):
        for body in itertools.product(range(5), repeat=n - 1):
            seq = body + (END,)
            lp, prev = first[seq[0]].item(), seq[0]
            for t in seq[1:]:
                lp += TABLE[prev, t].item()
                prev = t
            out[seq] = lp
    return out


def test_a_wide_beam_finds_the_most_likely_finished_sequence():
    first = TABLE[0]
    best = max(brute_force(first, 5).items(), key=lambda kv: kv[1])
    found = beam_search(markov_step, first, torch.zeros(1, 1), width=6**5, max_steps=5, end=END,
                        select=lambda s, rows: s[rows])
    assert found[0].tokens == best[0] and found[0].logp == pytest.approx(best[1])
    assert all(h.finished and h.tokens[-1] == END for h in found)
    assert [h.logp for h in found] == sorted((h.logp for h in found), reverse=True)


def test_width_one_is_greedy_and_the_step_sees_one_state_per_beam():
    seen = []

    def step(state, tokens):
        seen.append((state.shape[0], len(tokens)))
        return TABLE[tokens.clamp(max=4)], state

    found = beam_search(step, TABLE[1], torch.zeros(1, 3), width=1, max_steps=8, end=END,
                        select=lambda s, rows: s[rows])
    tokens, prev = [], None
    row = TABLE[1]
    for _ in range(8):
        prev = greedy(row)
        tokens.append(prev)
        if prev == END:
            break
        row = TABLE[prev]
    assert found[0].tokens == tuple(tokens)
    assert all(n_state == n_tokens for n_state, n_tokens in seen)


def test_extend_can_drop_hypotheses_and_tags_travel_with_them():
    def extend(hyp, token, logp):
        if token == 2:
            return None  # never token 2
        return Hypothesis(hyp.tokens + (token,), logp, (hyp.tag or 0) + 1, token == END)

    found = beam_search(markov_step, TABLE[0], torch.zeros(1, 1), width=4, max_steps=6, extend=extend,
                        select=lambda s, rows: s[rows])
    assert found and all(2 not in h.tokens and h.tag == len(h.tokens) for h in found)
