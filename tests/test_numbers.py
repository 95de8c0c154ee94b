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


def _padded_pairs(batch_size, generator):
    # inputs of 2 to 5 tokens and outputs of 1 to 3, padded with PAD: (src, tgt_in), tgt_out
    src = torch.randint(3, 9, (batch_size, 5), generator=generator)
    src[torch.arange(5) >= torch.randint(2, 6, (batch_size, 1), generator=generator)] = PAD
    tgt = torch.randint(3, 8, (batch_size, 3), generator=generator)
    tgt[torch.arange(3) >= torch.randint(1, 4, (batch_size, 1), generator=generator)] = PAD
    tgt_in, tgt_out = teacher_forcing_pair(tgt)
    return (src, tgt_in), tgt_out


@pytest.mark.parametrize("attention", [False, True])
def test_seeds_stacked_with_vmap_equal_seeds_trained_alone(attention):
    from helpers import Online, seed_everything, train_seeds
    from helpers.seq2seq import sequence_loss

    task = Online(_padded_pairs, steps=50, batch_size=4, loss=sequence_loss)
    build = lambda: EncoderDecoder(9, 8, hidden=6, embed=4, attention=attention).double()  # noqa: E731
    together = train_seeds(build, task, seeds=(0, 1), method="stacked")
    alone = train_seeds(build, task, seeds=(0, 1), method="serial")
    for a, b in zip(alone, together):
        assert a.losses[-1] < 0.9 * a.losses[0]  # it learned something
        # vmap's batched products sum in another order: float64 rounding, grown over 50 steps
        assert torch.allclose(torch.tensor(a.losses), torch.tensor(b.losses), rtol=1e-9, atol=0)
        for (name, x), y in zip(a.model.named_parameters(), b.model.parameters()):
            assert torch.allclose(x, y, rtol=1e-8, atol=1e-10), name
    # serial is the loop a reader would write: Adam on the teacher-forced loss, PAD skipped
    seed_everything(1)
    model = build()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(1)
    for _ in range(50):
        (src, tgt_in), tgt_out = _padded_pairs(4, generator)
        optimizer.zero_grad()
        sequence_loss(model(src, tgt_in), tgt_out).backward()
        optimizer.step()
    for x, y in zip(model.parameters(), alone[1].model.parameters()):
        assert torch.equal(x, y)


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
