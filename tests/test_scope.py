"""helpers.scope: the float64 reference of chapter 6's LSTM scope, checked against
torch.nn.LSTM run by other means (whole sequences, the state overwritten between steps,
autograd through nn.LSTM), and its errors."""

from __future__ import annotations

import pytest
import torch

from helpers.char_autocomplete import CharAutocomplete, UnknownCharacterError
from helpers.charlm import CharVocab
from helpers.scope import GREEDY_CHARS, Intervention, read_scope, switch_off_losses, switch_off_targets

from test_char_autocomplete import ALPHABET, tiny_model

TEXT = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is"


@pytest.fixture(scope="module")
def ac() -> CharAutocomplete:
    return CharAutocomplete(tiny_model("lstm", 20), CharVocab(ALPHABET)).dequantised()  # float64


def stepped(ac: CharAutocomplete, text: str, intervention: Intervention | None):
    """nn.LSTM one character at a time, the unit overwritten in h and c between steps (as
    chapter 6's exercise 3 does): the h after every character and the last log-probabilities."""
    model, ids = ac.model, ac.read(text)
    state, hs = None, []
    for t in range(len(ids)):
        _, state = model.rnn(model.embed(ids[t : t + 1])[None], state)
        if intervention is not None:
            h, c = (s.clone() for s in state)
            h[..., intervention.unit] = c[..., intervention.unit] = intervention.value
            state = (h, c)
        hs.append(state[0][0, 0])
    return torch.stack(hs), torch.log_softmax(model.head(hs[-1]), -1)


@pytest.mark.parametrize("intervention", [None, Intervention(3, 0.0), Intervention(11, -0.7)])
def test_units_and_predictions_match_nn_lstm(ac, intervention):
    with torch.no_grad():
        hs, logp = stepped(ac, TEXT, intervention)
        whole, _ = ac.model.rnn(ac.model.embed(ac.read(TEXT))[None])
    r = read_scope(ac, TEXT, intervention=intervention)
    assert r.h.shape == (len(TEXT), 20) and r.gates.shape == (len(TEXT), 4, 20)
    assert abs(r.h - hs.numpy()).max() < 1e-12
    assert abs(r.probabilities - logp.exp().numpy()).max() < 1e-12
    if intervention is None:
        assert abs(r.h - whole[0].numpy()).max() < 1e-12
        assert r.greedy == ac.continue_text(TEXT, GREEDY_CHARS, temperature=0).added
    else:
        assert (r.h[:, intervention.unit] == intervention.value).all() and (r.c[:, intervention.unit] == intervention.value).all()
    assert ((r.gates[:, [0, 1, 3]] > 0) & (r.gates[:, [0, 1, 3]] < 1)).all()  # sigmoid gates
    assert (abs(r.gates[:, 2]) < 1).all()  # the tanh cell candidate


@pytest.mark.parametrize("cursor", [1, 17, len(TEXT)])
def test_connectivity_is_the_gradient_through_nn_lstm(ac, cursor):
    ids = ac.read(TEXT)
    x = ac.model.embed(ids[:cursor]).detach().requires_grad_(True)
    out, _ = ac.model.rnn(x[None])
    logp = torch.log_softmax(ac.model.head(out[0, -1]), -1)
    target = int(ids[cursor]) if cursor < len(TEXT) else int(logp.argmax())
    logp[target].backward()
    r = read_scope(ac, TEXT, cursor=cursor)
    assert r.target == target and r.connectivity.shape == (cursor,)
    assert abs(r.connectivity - x.grad.norm(dim=1).numpy()).max() < 1e-12
    assert abs(r.probabilities - logp.detach().exp().numpy()).max() < 1e-12


def test_a_clamped_unit_passes_no_gradient(ac):
    """Clamping a unit changes the connectivity; the gradient matches finite differences."""
    off = Intervention(5, 0.0)
    r = read_scope(ac, TEXT, cursor=30, intervention=off)
    assert abs(r.connectivity - read_scope(ac, TEXT, cursor=30).connectivity).max() > 1e-6
    ids = ac.read(TEXT)
    base = ac.model.embed.weight.detach()[ids].clone()

    def logp_of(embeddings):
        h = c = torch.zeros(20, dtype=torch.float64)
        from helpers.scope import _clamp, _step
        for t in range(30):
            h, c, _ = _step(ac.model, embeddings[t], h, c)
            h, c = _clamp(h, off), _clamp(c, off)
        return torch.log_softmax(ac.model.head(h), -1)[r.target]

    with torch.no_grad():
        for t in (0, 12, 29):
            grad = torch.zeros(8, dtype=torch.float64)
            for j in range(8):
                e = torch.zeros_like(base)
                e[t, j] = 1e-6
                grad[j] = (logp_of(base + e) - logp_of(base - e)) / 2e-6
            assert abs(grad.norm().item() - r.connectivity[t]) < 1e-7


def test_switch_off_losses(ac):
    ids = ac.read(TEXT * 4)
    losses = switch_off_losses(ac.model, ids, [None, 3], streams=4)
    targets = switch_off_targets(ids, streams=4)
    piece = len(ids) // 4
    assert losses.shape == (2, 4 * (piece - 1)) and targets.shape == (4 * (piece - 1),)
    with torch.no_grad():
        logits, _ = ac.model(ids[: 4 * piece].view(4, piece))
    expected = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 65), targets, reduction="none")
    assert abs(losses[0] - expected).max() < 1e-12
    # stream 0 with the unit off: read_scope's model, which predicts each next character
    text = (TEXT * 4)[:piece]
    for cursor in (5, piece - 1):
        r = read_scope(ac, text, cursor=cursor, intervention=Intervention(3, 0.0))
        assert abs(losses[1, cursor - 1].item() + torch.log(torch.tensor(r.probabilities[ids[cursor]])).item()) < 1e-12
    assert not torch.equal(losses[0], losses[1])


def test_bad_input_gets_clear_messages(ac):
    with pytest.raises(ValueError, match="the text is empty"):
        read_scope(ac, "")
    with pytest.raises(UnknownCharacterError, match=r"'é' \(U\+00E9\) at position 3"):
        read_scope(ac, "Romé")
    assert read_scope(ac, "O Romeo\u2019s").text == "O Romeo's"  # the typographic apostrophe, as the autocomplete reads it
    with pytest.raises(ValueError, match="unit must be a whole number from 0 to 19, got 20"):
        read_scope(ac, TEXT, intervention=Intervention(20))
    with pytest.raises(ValueError, match="unit must be a whole number from 0 to 19, got -1"):
        read_scope(ac, TEXT, intervention=Intervention(-1))
    with pytest.raises(ValueError, match="from -1 to 1"):
        read_scope(ac, TEXT, intervention=Intervention(2, 1.5))
    with pytest.raises(ValueError, match="the cursor must be after one of the text's 3 characters"):
        read_scope(ac, "abc", cursor=0)
    with pytest.raises(ValueError, match="at most 600 characters"):
        read_scope(ac, "a" * 601)
    gru = CharAutocomplete(tiny_model("gru", 8), CharVocab(ALPHABET))
    with pytest.raises(ValueError, match="one-layer LSTMs, not a 1-layer GRU"):
        read_scope(gru, "abc")
