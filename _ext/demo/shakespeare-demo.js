// The Shakespeare autocomplete of chapter 6, computed in the page: a forward pass of the
// character-level model that CharAutocomplete exports in helpers/char_export.py's format
// (int8 weights with one scale per row, loaded by shakespeare-model.js as
// window.SHAKESPEARE_MODEL). It mirrors
// CharAutocomplete: the same cells (PyTorch's equations, gate order and weight layout), the
// same beam searches and the same seeded sampler (mulberry32 and sample, as in
// helpers/decoding.py), the same messages.
"use strict";

(function () {
  // ---------------------------------------------------------------- weights
  function bytes(base64) {
    const raw = atob(base64);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  // A weight matrix of the export: int8 values (row-major) and one scale per row,
  // w[i][j] = q[i * cols + j] * scale[i]. Kept as int8 so a matrix of a million weights
  // takes 1 MB and stays in the processor's cache.
  function matrix(entry) {
    const [rows, cols] = entry.shape;
    const scales = new DataView(bytes(entry.scale).buffer);
    const scale = Float64Array.from({ length: rows }, (_, r) => scales.getFloat32(4 * r, true));
    return { q: new Int8Array(bytes(entry.int8).buffer), scale, rows, cols };
  }

  function vector(entry) {
    const values = new DataView(bytes(entry.float32).buffer);
    return Float64Array.from({ length: entry.shape[0] }, (_, i) => values.getFloat32(4 * i, true));
  }

  function loadModel(exported) {
    const t = exported.tensors;
    const layers = [];
    for (let l = 0; l < exported.num_layers; l++) {
      layers.push({
        wih: matrix(t[`rnn.weight_ih_l${l}`]), whh: matrix(t[`rnn.weight_hh_l${l}`]),
        bih: vector(t[`rnn.bias_ih_l${l}`]), bhh: vector(t[`rnn.bias_hh_l${l}`]),
      });
    }
    const chars = Array.from(exported.chars);
    const embed = matrix(t["embed.weight"]);
    const E = exported.embedding_size;
    const embedRows = chars.map((_, id) => Float64Array.from({ length: E }, (_, j) => embed.q[id * E + j] * embed.scale[id]));
    return {
      ...exported, layers, chars, embedRows,
      index: new Map(chars.map((c, i) => [c, i])),
      wordChars: new Set(Array.from(exported.word_chars)),
      headW: matrix(t["head.weight"]), headB: vector(t["head.bias"]),
    };
  }

  // ---------------------------------------------------------------- the forward pass
  // W x + bias for every vector x of xs (one per beam), reading each row of W once:
  // out[b][i] = scale[i] * (sum over j of q[i][j] * xs[b][j]) + bias[i].
  function affine(W, xs, bias) {
    const { q, scale, rows, cols } = W;
    const outs = xs.map(() => new Float64Array(rows));
    for (let i = 0; i < rows; i++) {
      const base = i * cols;
      for (let b = 0; b < xs.length; b++) {
        const x = xs[b];
        let sum = 0;
        for (let j = 0; j < cols; j++) sum += q[base + j] * x[j];
        outs[b][i] = sum * scale[i] + bias[i];
      }
    }
    return outs;
  }

  const sigmoid = (z) => 1 / (1 + Math.exp(-z));

  // One layer, one step, for a batch: inputs xs, states [{h, c}] (c for the LSTM only).
  function cellStep(model, layer, xs, states) {
    const H = model.hidden_size;
    const gxs = affine(layer.wih, xs, layer.bih);
    const ghs = affine(layer.whh, states.map((s) => s.h), layer.bhh);
    return states.map((state, b) => {
      const gx = gxs[b], gh = ghs[b], h = state.h;
      if (model.cell === "rnn") return { h: Float64Array.from(gx, (v, k) => Math.tanh(v + gh[k])) };
      if (model.cell === "lstm") { // gates stacked input, forget, cell, output
        const hOut = new Float64Array(H), cOut = new Float64Array(H);
        for (let k = 0; k < H; k++) {
          const i = sigmoid(gx[k] + gh[k]);
          const f = sigmoid(gx[H + k] + gh[H + k]);
          const g = Math.tanh(gx[2 * H + k] + gh[2 * H + k]);
          const o = sigmoid(gx[3 * H + k] + gh[3 * H + k]);
          cOut[k] = f * state.c[k] + i * g;
          hOut[k] = o * Math.tanh(cOut[k]);
        }
        return { h: hOut, c: cOut };
      }
      const out = new Float64Array(H); // GRU: reset, update, new; the reset gate scales W_hn h + b_hn
      for (let k = 0; k < H; k++) {
        const r = sigmoid(gx[k] + gh[k]);
        const z = sigmoid(gx[H + k] + gh[H + k]);
        const n = Math.tanh(gx[2 * H + k] + r * gh[2 * H + k]);
        out[k] = (1 - z) * n + z * h[k];
      }
      return { h: out };
    });
  }

  function zeroState(model) {
    const H = model.hidden_size;
    return model.layers.map(() => ({ h: new Float64Array(H), c: new Float64Array(H) }));
  }

  function logSoftmax(logits) {
    for (const z of logits) if (!Number.isFinite(z)) throw new Error("the model produced a non-finite score (nan or inf) for the next character");
    let top = -Infinity;
    for (const z of logits) top = Math.max(top, z);
    let total = 0;
    for (const z of logits) total += Math.exp(z - top);
    const norm = top + Math.log(total);
    return logits.map((z) => z - norm);
  }

  // Read one character per sequence: items [{states (one per layer), id}] ->
  // [{states, logp}], logp the log-probabilities of the next character.
  function stepMany(model, items) {
    let xs = items.map((item) => model.embedRows[item.id]);
    const layerStates = model.layers.map((layer, l) => {
      const next = cellStep(model, layer, xs, items.map((item) => item.states[l]));
      xs = next.map((s) => s.h);
      return next;
    });
    const logits = affine(model.headW, xs, model.headB);
    return items.map((_, b) => ({ states: layerStates.map((states) => states[b]), logp: logSoftmax(logits[b]) }));
  }

  const step = (model, states, id) => stepMany(model, [{ states, id }])[0];

  // ---------------------------------------------------------------- reading text
  const NAMES = { "\n": "\\n", "\t": "\\t", "\r": "\\r" };
  const quote = (c) => (NAMES[c] ? `'${NAMES[c]}'` : c === "'" ? `"'"` : `'${c}'`);
  const hex = (c) => "U+" + c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");

  // The text as character ids, or {error} naming what is wrong, as CharAutocomplete.read does.
  function read(model, text) {
    if (text.length === 0) return { error: "the text is empty: the model needs at least one character to go on" };
    const chars = Array.from(text.replace(/\u2019/g, "'")); // code points, as Python counts them
    const unknown = new Map();
    chars.forEach((c, position) => {
      if (!model.index.has(c)) unknown.set(c, [...(unknown.get(c) || []), position]);
    });
    if (unknown.size) {
      const parts = [...unknown].map(([c, ps]) =>
        `${quote(c)} (${hex(c)}) at position${ps.length > 1 ? "s" : ""} ${ps.slice(0, 3).join(", ")}${ps.length > 3 ? ", ..." : ""}`);
      const n = [...unknown.values()].reduce((s, ps) => s + ps.length, 0);
      return { error: `${n} character${n > 1 ? "s" : ""} outside the model's alphabet: ${parts.join("; ")} (positions count from 0). The model knows ${model.chars.length} characters: ${model.alphabet}` };
    }
    return { text: chars.join(""), ids: chars.map((c) => model.index.get(c)) };
  }

  function run(model, ids) {
    let result = { states: zeroState(model), logp: null };
    for (const id of ids) result = step(model, result.states, id);
    return result;
  }

  function trailingWord(model, text) {
    const chars = Array.from(text);
    let end = chars.length;
    while (end > 0 && model.wordChars.has(chars[end - 1])) end--;
    return chars.slice(end).join("");
  }

  // ---------------------------------------------------------------- beam search
  // The same search as CharAutocomplete._search: `start` is the model after the text.
  function search(model, start, phase, typed, k, nextWord) {
    const endIds = model.chars.map((c, i) => i).filter((i) => !model.wordChars.has(model.chars[i]));
    let beams = [{ logp: 0, added: "", phase, word: nextWord ? "" : typed, run: start }];
    const found = new Map();
    for (let n = 0; n < model.max_search_chars; n++) {
      let live = [];
      for (const beam of beams) {
        const row = beam.run.logp;
        if (beam.phase !== "gap" && (beam.phase === "next" || !nextWord) && beam.word) {
          let top = -Infinity;
          for (const i of endIds) top = Math.max(top, row[i]);
          let total = 0;
          for (const i of endIds) total += Math.exp(row[i] - top);
          const p = Math.exp(beam.logp + top + Math.log(total));
          if (!found.has(beam.word) || found.get(beam.word).probability < p) {
            found.set(beam.word, { word: beam.word, added: beam.added, probability: p });
          }
        }
        model.chars.forEach((char, c) => {
          const lp = beam.logp + row[c];
          if (lp === -Infinity) return;
          const isWord = model.wordChars.has(char);
          let next;
          if (beam.phase === "gap") next = { phase: isWord ? "next" : "gap", word: isWord ? char : "" };
          else if (isWord) next = { phase: beam.phase, word: beam.word + char };
          else if (nextWord && beam.phase === "word") next = { phase: "gap", word: "" };
          else return;
          live.push({ logp: lp, added: beam.added + char, ...next, parent: beam, c });
        });
      }
      live.sort((a, b) => b.logp - a.logp); // stable: ties keep the order they were made in
      live = live.slice(0, model.beam_width);
      const best = [...found.values()].sort((a, b) => b.probability - a.probability);
      if (!live.length || (best.length >= k && Math.exp(live[0].logp) <= best[k - 1].probability)) break;
      const runs = stepMany(model, live.map((b) => ({ states: b.parent.run.states, id: b.c })));
      beams = live.map((b, i) => ({ logp: b.logp, added: b.added, phase: b.phase, word: b.word, run: runs[i] }));
    }
    return [...found.values()].sort((a, b) => b.probability - a.probability).slice(0, k);
  }

  function complete(model, start, text, k) {
    const typed = trailingWord(model, text);
    if (!typed) {
      const last = Array.from(text).pop();
      return { error: `the text ends with ${quote(last)}, not inside a word, so there is no word to complete`, ranked: [] };
    }
    return { ranked: search(model, start, "word", typed, k, false) };
  }

  function nextWords(model, start, text, k) {
    return { ranked: search(model, start, trailingWord(model, text) ? "word" : "gap", "", k, true) };
  }

  // ---------------------------------------------------------------- sampling
  function mulberry32(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function sample(logp, temperature, random) {
    if (temperature === 0) {
      let best = 0;
      for (let i = 1; i < logp.length; i++) if (logp[i] > logp[best]) best = i;
      return best;
    }
    let top = -Infinity;
    for (const x of logp) top = Math.max(top, x);
    const weights = Array.from(logp, (x) => Math.exp((x - top) / temperature));
    const threshold = random() * weights.reduce((s, w) => s + w, 0);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      total += weights[i];
      if (total > threshold) return i;
    }
    return weights.map((w, i) => (w > 0 ? i : -1)).reduce((a, b) => Math.max(a, b));
  }

  function continueText(model, start, nChars, temperature, seed) {
    const random = mulberry32(seed);
    let current = start, added = "";
    for (let n = 0; n < nChars; n++) {
      const c = sample(current.logp, temperature, random);
      added += model.chars[c];
      current = step(model, current.states, c);
    }
    return added;
  }

  // ---------------------------------------------------------------- the page
  const K = 5, N_CHARS = 160;

  function checkSettings(temperature, seed) {
    // the book's one temperature policy (helpers.decoding.check_temperature): 0 is greedy
    if (!(temperature === 0 || (Number.isFinite(temperature) && temperature > 0))) return `temperature must be 0 (greedy) or a positive finite number, got ${temperature}`;
    if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) return "seed must be a whole number between 0 and 2**32 - 1";
    return "";
  }

  function fillTable(table, ranked) {
    const body = table.tBodies[0];
    body.replaceChildren();
    ranked.forEach((r, rank) => {
      const row = body.insertRow();
      row.dataset.word = r.word;
      row.dataset.added = r.added;
      row.dataset.probability = String(r.probability);
      const shown = r.probability >= 1e-4 ? r.probability.toFixed(4) : r.probability.toExponential(1);
      for (const text of [String(rank + 1), r.word, shown]) row.insertCell().textContent = text;
    });
  }

  const TEMPLATE = `
    <label class="sh-wide">Start of a line <textarea id="sh-text" rows="3" autocomplete="off" autocapitalize="off" spellcheck="false"></textarea></label>
    <p id="sh-error" class="sh-wide" role="status"></p>
    <div class="sh-box"><h4>Completing the word</h4>
      <table id="sh-complete"><thead><tr><th>#</th><th>word</th><th>probability</th></tr></thead><tbody></tbody></table>
      <p id="sh-complete-note" role="status"></p></div>
    <div class="sh-box"><h4>Next words</h4>
      <table id="sh-next"><thead><tr><th>#</th><th>word</th><th>probability</th></tr></thead><tbody></tbody></table></div>
    <div class="sh-wide"><h4>A sampled continuation</h4>
      <label>temperature <input id="sh-temperature" type="number" min="0" step="0.1" value="0.8"></label>
      <label>seed <input id="sh-seed" type="number" min="0" step="1" value="0"></label>
      <pre><span id="sh-typed"></span><span id="sh-continuation"></span></pre></div>`;

  // Words first; the continuation a moment later, so the page answers while the sampler runs.
  // A newer input cancels work still waiting (`generation`).
  let generation = 0, timer = null;
  function render(root, model) {
    const el = (id) => root.querySelector(id);
    const error = el("#sh-error");
    const mine = ++generation;
    for (const id of ["#sh-complete", "#sh-next"]) fillTable(el(id), []);
    el("#sh-complete-note").textContent = "";
    el("#sh-continuation").textContent = el("#sh-typed").textContent = "";
    error.textContent = "";
    const done = () => {
      root.dataset.computed = String(Number(root.dataset.computed || 0) + 1);
      if (mine === generation && timer === null) root.dataset.busy = "false";
    };
    let start, input;
    try {
      input = read(model, el("#sh-text").value);
      if (input.error) { error.textContent = input.error; return done(); }
      start = run(model, input.ids);
      const completion = complete(model, start, input.text, K);
      fillTable(el("#sh-complete"), completion.ranked);
      el("#sh-complete-note").textContent = completion.error || "";
      fillTable(el("#sh-next"), nextWords(model, start, input.text, K).ranked);
    } catch (e) {
      error.textContent = String(e.message || e);
      return done();
    }
    setTimeout(() => {
      if (mine !== generation) return;
      try {
        const temperature = el("#sh-temperature").valueAsNumber, seed = el("#sh-seed").valueAsNumber;
        const problem = checkSettings(temperature, seed);
        if (problem) error.textContent = problem;
        else {
          el("#sh-typed").textContent = input.text.slice(input.text.lastIndexOf("\n") + 1); // the line so far
          el("#sh-continuation").textContent = continueText(model, start, N_CHARS, temperature, seed);
        }
      } catch (e) {
        error.textContent = String(e.message || e);
      }
      done();
    }, 0);
  }

  if (typeof document !== "undefined") document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("shakespeare-demo");
    if (!root) return;
    root.classList.add("shakespeare-demo");
    if (!window.SHAKESPEARE_MODEL) {
      root.textContent = "The Shakespeare model was not trained when this book was built (make train), so there is no demo here.";
      return;
    }
    const model = loadModel(window.SHAKESPEARE_MODEL);
    root.innerHTML = TEMPLATE;
    root.querySelector("#sh-text").value = "JULIET:\nO Rom";
    const later = () => {
      root.dataset.busy = "true";
      clearTimeout(timer);
      timer = setTimeout(() => { timer = null; render(root, model); }, 120);
    };
    for (const id of ["#sh-text", "#sh-temperature", "#sh-seed"]) root.querySelector(id).addEventListener("input", later);
    // For the book's browser tests: the same questions as CharAutocomplete, answered here.
    window.shakespeareDemo = {
      model,
      nextCharProbabilities: (text) => { const r = read(model, text); return r.error ? r : Array.from(run(model, r.ids).logp, Math.exp); },
      complete: (text, k) => { const r = read(model, text); return r.error ? r : complete(model, run(model, r.ids), r.text, k); },
      nextWords: (text, k) => { const r = read(model, text); return r.error ? r : nextWords(model, run(model, r.ids), r.text, k); },
      continueText: (text, n, temperature, seed) => { const r = read(model, text); return r.error ? r : continueText(model, run(model, r.ids), n, temperature, seed); },
      render: () => render(root, model),
    };
    root.dataset.busy = "true";
    render(root, model);
    root.dataset.ready = "true";
  });

  if (typeof window !== "undefined") window.shakespeareLM = { loadModel, read }; // for the LSTM scope (lstm-scope.js)
  if (typeof module !== "undefined") module.exports = { loadModel, read, run, complete, nextWords, continueText };
})();
