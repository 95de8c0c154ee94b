"""The in-page demo's JavaScript (`_ext/demo/autocomplete-demo.js`) under Node.js, against
Python: the same words from the same text in any script, and the same suggestions.

Independent of the book build; skipped where `node` is not installed. The browser tests
check the same functions inside the built page."""

from __future__ import annotations

import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from helpers import NextWordModel, Vocab, tokenize
from helpers.autocomplete import Autocomplete, seed_autocomplete
from helpers.vocab import split_words

DEMO = Path(__file__).resolve().parents[1] / "_ext" / "demo" / "autocomplete-demo.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")

TEXTS = [
    "Yesterday, Harry  Potter met\tHermione! It\u2019s Ron's",
    "Éclair au café, très naïve! L\u2019eau, c'est l'été",  # French
    "Die Straße ist GROSS; die STRASSE auch, und die STRAẞE.",  # German
    "Iğdır'da ılık süt içtim. İSTANBUL, İstanbul, istanbul, ISPARTA",  # Turkish
    "순환 신경망은 기울기 소실, 장기 의존성! " + unicodedata.normalize("NFD", "신경망"),  # Korean, also as jamo
    "日本語のテキスト。次の文",  # Japanese
    "ΟΔΟΣ οδός ς Σ ᾳ ᾼ; Ꭰꭰ ǰ ŉ ﬀ µ",  # Greek, Cherokee, and other special foldings
    "cafe\u0301 __init__ snake_case 3.14 x² ٣ don't 'quoted' rock'n'roll",
    "  ?! ... -- ",
]


def node(script: str, payload: object) -> object:
    """Run ``script`` under Node with the demo loaded as ``demo`` and ``input`` parsed from
    JSON; return what it prints as JSON."""
    program = (
        f"const demo = require({json.dumps(str(DEMO))});\n"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        f"{script}\n"
    )
    out = subprocess.run([NODE, "-e", program], input=json.dumps(payload), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def exported():
    vocab = Vocab.build(["i like dog"], unk=None)
    return Autocomplete(NextWordModel(len(vocab), 2), vocab).export_dict()


def test_javascript_splits_words_as_python(exported):
    got = node(
        "console.log(JSON.stringify(input.texts.map((t) => demo.splitWords(t, input.model).map((w) => [w.word, w.typed]))));",
        {"texts": TEXTS, "model": exported},
    )
    for text, words in zip(TEXTS, got):
        assert [tuple(w) for w in words] == split_words(text), text
    assert got[2][1] == ["strasse", "Straße"] and got[4][0] == ["순환", "순환"]  # the check has teeth


def test_javascript_folds_every_letter_as_python():
    letters = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c))[0] in "LMN"]
    folded = node("console.log(JSON.stringify(input.map(demo.foldCase)));", letters)
    wrong = [(c, f) for c, f in zip(letters, folded) if f != unicodedata.normalize("NFC", c.casefold())]
    assert wrong == []


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_javascript_suggests_as_python(cell):
    python_model = seed_autocomplete(cell)[0]
    prefixes = ["you like", "I, YOU  like!", "i HATE", "He LIKS", "  ?! "]
    answers = node(
        "console.log(JSON.stringify(input.prefixes.map((p) => demo.suggest(input.model, p, 3))));",
        {"model": python_model.export_dict(), "prefixes": prefixes},
    )
    for prefix, answer in zip(prefixes[:3], answers):
        expected = python_model.suggest(prefix, k=3)
        assert [r["word"] for r in answer["ranked"]] == expected.words
        assert all(abs(r["p"] - p) < 1e-6 for r, (_, p) in zip(answer["ranked"], expected))
        assert answer["dropped"] == list(expected.dropped)
    assert "'He', 'LIKS'" in answers[3]["error"] and "9 words" in answers[3]["error"]
    assert "no words" in answers[4]["error"]
    assert tokenize(prefixes[1])[-2:] == ["you", "like"]
