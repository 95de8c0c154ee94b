"""helpers.numbers (English and Sino-Korean numerals) and helpers.seq2seq's pieces."""

import pytest
import torch
from torch import nn

from helpers.numbers import MAX_NUMBER, english, english_words, korean, number_pairs, split_numbers
from helpers.seq2seq import END, PAD, START, EncoderDecoder, attend, encode, greedy_decode, gru_layer, teacher_forcing_pair


@pytest.mark.parametrize(
    "n, words, hangul",
    [
        (1, "one", "일"),
        (10, "ten", "십"),
        (11, "eleven", "십일"),
        (17, "seventeen", "십칠"),
        (40, "forty", "사십"),
        (100, "one hundred", "백"),
        (101, "one hundred and one", "백일"),
        (1000, "one thousand", "천"),
        (1100, "one thousand one hundred", "천백"),
        (2007, "two thousand and seven", "이천칠"),
        (3090, "three thousand and ninety", "삼천구십"),
        (9999, "nine thousand nine hundred and ninety-nine", "구천구백구십구"),
        (10000, "ten thousand", "만"),
        (12345, "twelve thousand three hundred and forty-five", "만이천삼백사십오"),
        (21000, "twenty-one thousand", "이만천"),
        (99999, "ninety-nine thousand nine hundred and ninety-nine", "구만구천구백구십구"),
    ],
)
def test_known_conversions(n, words, hangul):
    assert english(n) == words
    assert korean(n) == hangul


def test_words_split_at_hyphens():
    assert english_words(45) == ["forty", "five"]
    assert english_words(2007) == ["two", "thousand", "and", "seven"]


@pytest.mark.parametrize("bad", [0, -3, MAX_NUMBER + 1])
def test_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match=f"between 1 and {MAX_NUMBER}, got {bad}"):
        korean(bad)
    with pytest.raises(ValueError, match=str(bad)):
        english(bad)


@pytest.mark.parametrize("bad", [True, 2.0, "7", None])
def test_non_integers_are_refused(bad):
    with pytest.raises(TypeError, match="n must be an integer"):
        korean(bad)


def test_every_number_is_distinct_and_uses_the_numerals():
    pairs = number_pairs()
    assert len({k for _, _, k in pairs}) == len({e for _, e, _ in pairs}) == MAX_NUMBER
    assert set("".join(k for _, _, k in pairs)) == set("일이삼사오육칠팔구십백천만")


def test_split_is_seeded_and_complete():
    train, test = split_numbers(list(range(1, 101)), 0.2, seed=3)
    assert len(test) == 20 and sorted(train + test) == list(range(1, 101))
    assert (train, test) == split_numbers(list(range(1, 101)), 0.2, seed=3)
    with pytest.raises(ValueError, match="fraction"):
        split_numbers([1, 2], 1.0, seed=0)


def test_teacher_forcing_pair():
    targets = torch.tensor([[5, 6, 7], [8, PAD, PAD]])
    tgt_in, tgt_out = teacher_forcing_pair(targets)
    assert tgt_in.tolist() == [[START, 5, 6, 7], [START, 8, PAD, PAD]]
    assert tgt_out.tolist() == [[5, 6, 7, END], [8, END, PAD, PAD]]


def test_encode_refuses_unknown_tokens():
    with pytest.raises(KeyError, match="'zero' is not in the vocabulary of 4"):
        encode([["one", "zero"]], ["<pad>", "<s>", "</s>", "one"])


def test_gru_layer_equals_nn_gru_packed():
    torch.manual_seed(0)
    gru = nn.GRU(3, 5, batch_first=True).double()
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    mask = torch.arange(6)[None, :] < lengths[:, None]
    states, last = gru_layer(x, torch.zeros(3, 5, dtype=torch.float64), gru, mask)
    _, h_n = gru(nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    assert torch.allclose(last, h_n[0], atol=1e-12)
    assert torch.allclose(states[0], gru(x)[0][0], atol=1e-12)


def test_attend_equals_scaled_dot_product_attention():
    torch.manual_seed(0)
    q, m = torch.randn(2, 3, 8, dtype=torch.float64), torch.randn(2, 4, 8, dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    context, weights = attend(q, m, mask)
    theirs = nn.functional.scaled_dot_product_attention(q, m, m, attn_mask=mask[:, None, :])
    assert torch.allclose(context, theirs, atol=1e-12)
    assert (weights[1, :, 1:] == 0).all()


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decode_matches_teacher_forced_scores_on_its_own_output(attention):
    torch.manual_seed(1)
    model = EncoderDecoder(9, 8, hidden=6, embed=4, attention=attention).double()
    src = torch.tensor([[3, 4, 5], [6, 7, PAD]])
    ids, weights = greedy_decode(model, src, max_len=5)
    assert (weights is not None) == attention
    # feeding the greedy output back with teacher forcing gives the same argmax at every step
    for row, out in enumerate(ids):
        tgt_in = torch.tensor([[START] + out])
        logits = model(src[[row]], tgt_in)
        chosen = logits.argmax(-1)[0].tolist()
        assert chosen[: len(out)] == out


def _tiny(seed, attention):
    torch.manual_seed(seed)
    return EncoderDecoder(9, 8, hidden=6, embed=4, attention=attention).double()


@pytest.mark.parametrize("attention", [False, True])
def test_training_together_equals_training_alone(attention):
    from helpers.seq2seq import sequence_loss, train_together

    generator = torch.Generator().manual_seed(0)
    batches = [[(torch.randint(3, 9, (4, 5), generator=generator),) for _ in range(3)] for _ in range(2)]
    batches = [[(src, *teacher_forcing_pair(torch.randint(3, 8, (4, 3), generator=generator))) for (src,) in run] for run in batches]
    together = [_tiny(seed, attention) for seed in (0, 1)]
    calls = {0: iter(batches[0]), 1: iter(batches[1])}
    train_together(together, lambda k: next(calls[k]), steps=3, lr=0.01)
    for k, seed in enumerate((0, 1)):
        alone = _tiny(seed, attention)
        optimizer = torch.optim.Adam(alone.parameters(), lr=0.01)
        for src, tgt_in, tgt_out in batches[k]:
            optimizer.zero_grad()
            sequence_loss(alone(src, tgt_in), tgt_out).backward()
            optimizer.step()
        for (name, a), b in zip(alone.named_parameters(), together[k].parameters()):
            assert torch.allclose(a, b, atol=1e-12), name


def test_beam_of_width_one_is_greedy():
    from helpers.decoding import beam_search
    from helpers.seq2seq import step_function

    model = _tiny(2, True)
    src = torch.tensor([[3, 4, 5, 6]])
    greedy_ids, _ = greedy_decode(model, src, max_len=6)
    step, first, hidden = step_function(model, src)
    best = beam_search(step, first, hidden, 1, max_steps=6, end=END)[0]
    tokens = list(best.tokens)
    assert (tokens[:-1] if best.finished else tokens) == greedy_ids[0]
