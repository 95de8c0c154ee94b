"""The Shakespeare demo's JavaScript (`_ext/demo/shakespeare-demo.js`) under Node.js,
against Python on the same export: next-character probabilities, word completions, next
words and seeded continuations, for RNN, LSTM and GRU cells with one and two layers.

Independent of the book build; skipped where `node` is not installed. The browser tests
check the shipped model inside the built page."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.char_autocomplete import CharAutocomplete
from helpers.char_export import read_script
from helpers.charlm import CharVocab

from test_char_autocomplete import ALPHABET, WORD_CHARS, tiny_model

DEMO = Path(__file__).resolve().parents[1] / "_ext" / "demo" / "shakespeare-demo.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
TEXTS = ["O Rom", "through yon", "wherefore art", "ROMEO:\n", "JULIET:\nO Romeo, Rom"]
TOLERANCE = 1e-9  # the same dequantised weights in float64 on both sides

SCRIPT = """
global.window = {};
require(process.argv[1]);
const demo = require(process.argv[2]);
const model = demo.loadModel(window.SHAKESPEARE_MODEL);
const out = JSON.parse(process.argv[3]).map((text) => {
  const read = demo.read(model, text);
  const start = demo.run(model, read.ids);
  return {
    probs: Array.from(start.logp, Math.exp),
    complete: demo.complete(model, start, read.text, 5),
    next: demo.nextWords(model, start, read.text, 5).ranked,
    sampled: demo.continueText(model, start, 80, 0.9, 11),
    greedy: demo.continueText(model, start, 40, 0, 0),
  };
});
out.push(["é", "a😀b😀", ""].map((text) => demo.read(model, text).error));
console.log(JSON.stringify(out));
"""


@pytest.mark.parametrize("cell, layers", [("lstm", 1), ("gru", 2), ("rnn", 1), ("lstm", 2)])
def test_the_javascript_computes_what_python_computes(tmp_path, cell, layers):
    ac = CharAutocomplete(tiny_model(cell, 16, layers), CharVocab(ALPHABET))
    path = ac.write_script(tmp_path / "model.js")
    python = CharAutocomplete.from_export(read_script(path))
    run = subprocess.run([NODE, "-e", SCRIPT, str(path), str(DEMO), json.dumps(TEXTS)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    *answers, errors = json.loads(run.stdout)
    for text, js in zip(TEXTS, answers):
        expected = python.next_char_probabilities(text).tolist()
        assert max(abs(a - b) for a, b in zip(js["probs"], expected)) < TOLERANCE
        pairs = [(js["next"], python.next_words(text, 5))]
        if text[-1] in WORD_CHARS:
            pairs.append((js["complete"]["ranked"], python.complete(text, 5)))
        else:
            assert "not inside a word" in js["complete"]["error"]
        for shown, wanted in pairs:
            assert [(c["word"], c["added"]) for c in shown] == [(c.word, c.added) for c in wanted], text
            for c, w in zip(shown, wanted):
                assert abs(c["probability"] - w.probability) < TOLERANCE
        assert js["sampled"] == python.continue_text(text, 80, temperature=0.9, seed=11).added
        assert js["greedy"] == python.continue_text(text, 40, temperature=0).added
    for message, text in zip(errors, ["é", "a😀b😀", ""]):
        with pytest.raises(ValueError) as info:
            python.read(text)
        assert message == str(info.value)
