// The in-page autocomplete of chapter 6: a forward pass over the seed models that the
// book exports with `Autocomplete.export_dict()` (loaded by seed-models.js as
// window.BOOK_MODELS). It mirrors helpers/autocomplete.py: the same tokenisation (any script), the same
// cells (PyTorch's equations and weight layout), <unk> never suggested, the same messages.
"use strict";

const matvec = (W, x) => W.map((row) => row.reduce((sum, w, j) => sum + w * x[j], 0));
const add = (...vectors) => vectors[0].map((_, i) => vectors.reduce((s, v) => s + v[i], 0));
const sigmoid = (v) => v.map((z) => 1 / (1 + Math.exp(-z)));
const tanh = (v) => v.map(Math.tanh);
const mul = (a, b) => a.map((x, i) => x * b[i]);
const chunks = (v, n) => Array.from({ length: n }, (_, k) => v.slice((k * v.length) / n, ((k + 1) * v.length) / n));

// Unicode's default full case folding of one word, then NFC: Python's
// unicodedata.normalize("NFC", word.casefold()). Per code point, upper then lower case gives
// that folding for every letter but three groups, handled first (tests/test_vocab.py checks
// the rule against Python for every letter, mark and digit).
function foldCase(word) {
  const folded = Array.from(word, (c) => {
    if (c === "\u0131") return c; // dotless i stays dotless (no Turkish rules: I folds to i)
    if (c === "\u1e9e") return "ss"; // capital sharp s, as small sharp s
    if (/\p{Script=Cherokee}/u.test(c)) return c.toUpperCase(); // Cherokee folds to upper case
    return c.toUpperCase().toLowerCase();
  });
  return folded.join("").normalize("NFC");
}

// The words of a text as [{word, typed}], as helpers.vocab.split_words: NFC, the
// typographic apostrophe read as a plain one, words found with the exported pattern
// (letters, marks and digits of any script), each case-folded.
function splitWords(text, model) {
  const pattern = new RegExp(model.token_pattern, "gu");
  const typed = text.normalize("NFC").replace(/\u2019/g, "'").match(pattern) || [];
  return typed.map((t) => ({ word: foldCase(t), typed: t }));
}

function tokenize(text, model) {
  return splitWords(text, model).map((w) => w.word);
}

function inputVector(model, id) {
  if (model.input === "embedding") return model.weights["embed.weight"][id];
  return model.vocab.map((_, j) => (j === id ? 1 : 0)); // one-hot
}

// One step of the recurrent cell: returns the new [hidden, cell] (cell unused but by the LSTM).
function step(model, x, hidden, cell) {
  const W = model.weights;
  const fromInput = add(matvec(W["rnn.weight_ih_l0"], x), W["rnn.bias_ih_l0"]);
  const fromHidden = add(matvec(W["rnn.weight_hh_l0"], hidden), W["rnn.bias_hh_l0"]);
  if (model.cell === "rnn") return [tanh(add(fromInput, fromHidden)), cell];
  if (model.cell === "lstm") {
    const [i, f, g, o] = chunks(add(fromInput, fromHidden), 4);
    const newCell = add(mul(sigmoid(f), cell), mul(sigmoid(i), tanh(g)));
    return [mul(sigmoid(o), tanh(newCell)), newCell];
  }
  const [xr, xz, xn] = chunks(fromInput, 3); // GRU: reset, update, candidate
  const [hr, hz, hn] = chunks(fromHidden, 3);
  const reset = sigmoid(add(xr, hr));
  const update = sigmoid(add(xz, hz));
  const candidate = tanh(add(xn, mul(reset, hn)));
  return [candidate.map((n, k) => (1 - update[k]) * n + update[k] * hidden[k]), cell];
}

// Suggestions for a prefix, or {error} naming what was wrong, as the Python API does.
function suggest(model, prefix, k) {
  let pairs = splitWords(prefix, model);
  if (pairs.length === 0) return { error: "the prefix contains no words (words are letters, digits and apostrophes)" };
  let dropped = [];
  if (model.max_prefix !== null && pairs.length > model.max_prefix) {
    dropped = pairs.slice(0, pairs.length - model.max_prefix).map((w) => w.word);
    pairs = pairs.slice(-model.max_prefix);
  }
  const words = pairs.map((w) => w.word);
  const typed = new Map(); // each unknown word, as first typed
  for (const w of pairs) if (!model.vocab.includes(w.word) && !typed.has(w.word)) typed.set(w.word, w.typed);
  const unknown = [...typed.keys()];
  if (unknown.length && model.unk === null) {
    const names = [...typed.values()].map((w) => `'${w}'`).join(", ");
    return { error: `unknown word${unknown.length > 1 ? "s" : ""} ${names}: not among the ${model.vocab.length} words of this model (${model.vocab.join(", ")})` };
  }
  let hidden = new Array(model.hidden_size).fill(0);
  let cell = new Array(model.hidden_size).fill(0);
  for (const word of words) {
    const id = model.vocab.includes(word) ? model.vocab.indexOf(word) : model.vocab.indexOf(model.unk);
    [hidden, cell] = step(model, inputVector(model, id), hidden, cell);
  }
  const logits = add(matvec(model.weights["head.weight"], hidden), model.weights["head.bias"]);
  const allowed = model.vocab.map((w) => w !== model.unk);
  const top = Math.max(...logits.filter((_, i) => allowed[i]));
  const exps = logits.map((z, i) => (allowed[i] ? Math.exp(z - top) : 0));
  const total = exps.reduce((a, b) => a + b, 0);
  const ranked = model.vocab
    .map((word, i) => ({ word, p: exps[i] / total, i }))
    .filter((r) => allowed[r.i])
    .sort((a, b) => b.p - a.p || a.i - b.i) // ties: lower id first, as in Python
    .slice(0, k);
  return { ranked, unknown, dropped };
}

function render(root) {
  const model = window.BOOK_MODELS[root.querySelector("#ac-model").value];
  const k = Math.max(1, Math.min(model.vocab.length, parseInt(root.querySelector("#ac-k").value, 10) || 1));
  const body = root.querySelector("#ac-table tbody");
  const note = root.querySelector("#ac-note");
  const result = suggest(model, root.querySelector("#ac-prefix").value, k);
  body.replaceChildren();
  note.textContent = result.error || "";
  if (result.error) return;
  result.ranked.forEach((r, rank) => {
    const row = body.insertRow();
    row.dataset.word = r.word;
    row.dataset.probability = String(r.p);
    for (const text of [String(rank + 1), r.word, r.p.toFixed(4)]) row.insertCell().textContent = text;
  });
  const notes = [];
  if (result.unknown.length) notes.push(`unknown words read as <unk>: ${result.unknown.join(", ")}`);
  if (result.dropped.length) notes.push(`only the last ${model.max_prefix} words were read; dropped: ${result.dropped.join(" ")}`);
  note.textContent = notes.join("; ");
}

if (typeof module !== "undefined") module.exports = { foldCase, splitWords, tokenize, suggest }; // for tests under node

if (typeof document !== "undefined") document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("autocomplete-demo");
  if (!root || !window.BOOK_MODELS) return;
  for (const id of ["#ac-model", "#ac-prefix", "#ac-k"]) root.querySelector(id).addEventListener("input", () => render(root));
  root.dataset.ready = "true";
  render(root);
});
