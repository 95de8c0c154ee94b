"""The LSTM scope's JavaScript (`_ext/demo/lstm-scope.js`) under Node.js, against
helpers.scope on the same export: every unit's h and c, the gates, clamped predictions,
greedy continuations and connectivity, with the WebAssembly SIMD kernel and the plain
JavaScript one, on small LSTMs whose sizes need the kernel's padding; a run reused for a
text typed on gives what a fresh run gives. Skipped where `node` is not installed; the
browser tests check the shipped model inside the built page."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.char_autocomplete import CharAutocomplete
from helpers.char_export import read_script
from helpers.charlm import CharVocab
from helpers.scope import Intervention, read_scope

from test_char_autocomplete import ALPHABET, tiny_model

DEMO = Path(__file__).resolve().parents[1] / "_ext" / "demo"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
CASES = [  # text, cursor, (unit, value) or None
    ("ROMEO:\nBut soft, what light", None, None),
    ("ROMEO:\nBut soft, what light", 9, [3, 0.0]),
    ("O Romeo\u2019s name", None, [0, 0.75]),
    ("Wherefore art thou Romeo?\nDeny thy father", 20, [11, -1.0]),
    ("a", None, None),
]
REFUSED = ["Rom\u00e9o", "a\U0001f600b", "", "x" * 601]
TOLERANCE = 1e-9

SCRIPT = """
global.window = {};
require(process.argv[1]);
const lm = require(process.argv[2]);
const scope = require(process.argv[3]);
const model = lm.loadModel(window.SHAKESPEARE_MODEL);
const answer = (r) => r.error ? r : { text: r.text, target: r.target, h: Array.from(r.run.h), c: Array.from(r.run.c),
  gates: Array.from(r.run.gates), probabilities: Array.from(r.logp, Math.exp), connectivity: Array.from(r.connectivity),
  greedy: r.greedy.map((id) => model.chars[id]).join("") };
const out = {};
for (const simd of [true, false]) {
  const s = scope.prepare(model, simd);
  out[simd] = { simd: s.kernel.simd,
    cases: JSON.parse(process.argv[4]).map(([t, c, k]) => answer(scope.readScope(s, lm.read, t, c, k && { unit: k[0], value: k[1] }))),
    refused: JSON.parse(process.argv[5]).map((t) => scope.readScope(s, lm.read, t).error),
    badUnit: scope.readScope(s, lm.read, "abc", null, { unit: 20, value: 0 }).error,
    badValue: scope.readScope(s, lm.read, "abc", null, { unit: 2, value: 1.5 }).error,
    badCursor: scope.readScope(s, lm.read, "abc", 0).error };
  const before = scope.readScope(s, lm.read, "ROMEO:\\nBut so", null, { unit: 3, value: 0 });
  out[simd].typed = answer(scope.readScope(s, lm.read, "ROMEO:\\nBut soft, what light", null, { unit: 3, value: 0 }, true, before.run));
}
out.gru = scope.prepare(lm.loadModel(JSON.parse(process.argv[6]))).error;
console.log(JSON.stringify(out));
"""


def test_the_scope_computes_what_python_computes(tmp_path):
    ac = CharAutocomplete(tiny_model("lstm", 20), CharVocab(ALPHABET))  # 20 units: the kernel pads
    path = ac.write_script(tmp_path / "model.js")
    python = CharAutocomplete.from_export(read_script(path))
    gru = CharAutocomplete(tiny_model("gru", 8), CharVocab(ALPHABET)).export_dict()
    run = subprocess.run([NODE, "-e", SCRIPT, str(path), str(DEMO / "shakespeare-demo.js"), str(DEMO / "lstm-scope.js"),
                          json.dumps(CASES), json.dumps(REFUSED), json.dumps(gru)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    out = json.loads(run.stdout)
    assert out["true"]["simd"] and not out["false"]["simd"]  # Node has WebAssembly SIMD; both kernels checked
    for kernel in ("true", "false"):
        answers = out[kernel]
        pairs = [(case, js) for case, js in zip(CASES, answers["cases"])]
        pairs.append((("ROMEO:\nBut soft, what light", None, [3, 0.0]), answers["typed"]))
        for (text, cursor, clamp), js in pairs:
            py = read_scope(python, text, cursor, Intervention(*clamp) if clamp else None)
            assert js["text"] == py.text and js["target"] == py.target and js["greedy"] == py.greedy, text
            for name in ("h", "c", "gates", "probabilities", "connectivity"):
                expected = getattr(py, name)
                assert np.abs(np.reshape(js[name], expected.shape) - expected).max() < TOLERANCE, (kernel, text, name)
        for text, message in zip(REFUSED, answers["refused"]):
            with pytest.raises(ValueError) as info:
                read_scope(python, text)
            assert message == str(info.value)
        for key, intervention, cursor in [("badUnit", Intervention(20), None), ("badValue", Intervention(2, 1.5), None),
                                          ("badCursor", None, 0)]:  # fmt: skip
            with pytest.raises(ValueError) as info:
                read_scope(python, "abc", cursor, intervention)
            assert answers[key] == str(info.value)
    assert out["gru"] == "the scope reads one-layer LSTMs, not a 1-layer GRU"
