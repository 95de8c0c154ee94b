// The LSTM scope of chapter 6: the shipped character LSTM read in the page, one character at
// a time, showing one unit's h or c and its four gates along the text, the next characters
// after the cursor, what clamping or switching off the unit changes, and how far back the
// prediction looks (the gradient of its log-probability with respect to each input
// character's embedding, by a backward pass through the LSTM).
//
// helpers/scope.py is the float64 reference: the same equations on the same dequantised
// weights (w = q * scale exactly, in float64), compared by the book's tests.
// The weights and `read` come from shakespeare-demo.js (window.shakespeareLM); the two big
// matrix-vector products of every step (W_hh h forward, W_hh^T d backward) run in a small
// WebAssembly kernel with two float64 lanes, built below byte by byte (no download, no
// compiler), with a plain JavaScript fallback where WebAssembly SIMD is missing.
"use strict";

(function () {
  // ---------------------------------------------------------------- the kernel
  // matvec(w, x, y, rows, cols): y[r] = sum over j of w[r * cols + j] * x[j], float64,
  // byte offsets into the memory, cols a multiple of 8 (the matrices are padded with zeros).
  function kernelBytes() {
    const leb = (n) => { const out = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return out; };
    const section = (id, body) => [id, ...leb(body.length), ...body];
    const str = (s) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
    const get = (i) => [0x20, i], set = (i) => [0x21, i], tee = (i) => [0x22, i];
    const load = (offset) => [0xfd, 0x00, 0x04, offset]; // v128.load align=16
    const [W, X, Y, ROWS, COLS, XP, XEND, A0] = [0, 1, 2, 3, 4, 5, 6, 7]; // A0..A3: four f64x2 sums
    const F64X2_ADD = [0xfd, 0xf0, 0x01], F64X2_MUL = [0xfd, 0xf2, 0x01];
    const ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)];
    const body = [
      0x02, 0x40, // block
      0x03, 0x40, // loop over rows
      ...get(ROWS), 0x45, 0x0d, 0x01, // rows == 0: done
      ...[0, 1, 2, 3].flatMap((a) => [...ZERO, ...set(A0 + a)]),
      ...get(X), ...set(XP),
      ...get(X), ...get(COLS), 0x41, 0x03, 0x74, 0x6a, ...set(XEND), // xend = x + 8 * cols
      0x03, 0x40, // loop over columns, eight at a time
      ...[0, 1, 2, 3].flatMap((a) => [...get(A0 + a), ...get(W), ...load(16 * a), ...get(XP), ...load(16 * a), ...F64X2_MUL, ...F64X2_ADD, ...set(A0 + a)]),
      ...get(W), 0x41, 0xc0, 0x00, 0x6a, ...set(W), // w += 64
      ...get(XP), 0x41, 0xc0, 0x00, 0x6a, ...tee(XP), ...get(XEND), 0x49, 0x0d, 0x00, // xp += 64; xp < xend: again
      0x0b,
    ];
    body.push(
      ...get(Y), // the address, then the row's sum: lane 0 + lane 1 of (a0 + a1) + (a2 + a3)
      ...get(A0), ...get(A0 + 1), ...F64X2_ADD, ...get(A0 + 2), ...get(A0 + 3), ...F64X2_ADD, ...F64X2_ADD, ...tee(A0),
      0xfd, 0x21, 0x00, ...get(A0), 0xfd, 0x21, 0x01, 0xa0,
      0x39, 0x03, 0x00, // f64.store
      ...get(Y), 0x41, 0x08, 0x6a, ...set(Y), ...get(ROWS), 0x41, 0x01, 0x6b, ...set(ROWS), // next row
      0x0c, 0x00, 0x0b, 0x0b, 0x0b, // again; end loop, block, function
    );
    const locals = [0x02, 0x02, 0x7f, 0x04, 0x7b]; // 2 i32, 4 v128
    const code = [...locals, ...body];
    return new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      ...section(1, [0x01, 0x60, 0x05, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00]),
      ...section(2, [0x01, ...str("env"), ...str("memory"), 0x02, 0x00, 0x01]),
      ...section(3, [0x01, 0x00]),
      ...section(7, [0x01, ...str("matvec"), 0x00, 0x00]),
      ...section(10, [0x01, ...leb(code.length), ...code]),
    ]);
  }

  // Float64 memory with a matvec over it: WebAssembly SIMD where the engine has it.
  function makeKernel(bytes, simd = true) {
    const pages = Math.ceil(bytes / 65536) + 1;
    const memory = typeof WebAssembly !== "undefined" ? new WebAssembly.Memory({ initial: pages }) : { buffer: new ArrayBuffer(pages * 65536) };
    const f64 = new Float64Array(memory.buffer);
    const wasm = kernelBytes();
    if (simd && typeof WebAssembly !== "undefined" && WebAssembly.validate(wasm)) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { memory } });
      return { f64, matvec: instance.exports.matvec, simd: true };
    }
    const matvec = (w, x, y, rows, cols) => {
      w >>= 3; x >>= 3; y >>= 3;
      for (let r = 0; r < rows; r++, w += cols) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += f64[w + j] * f64[x + j];
        f64[y + r] = s;
      }
    };
    return { f64, matvec, simd: false };
  }

  // ---------------------------------------------------------------- the model
  const pad8 = (n) => Math.ceil(n / 8) * 8, pad4 = (n) => Math.ceil(n / 4) * 4;
  const sigmoid = (z) => 1 / (1 + Math.exp(-z));

  // The page's model (shakespeare-demo.js's loadModel) laid out for the scope; simd false
  // takes the plain JavaScript kernel (for the tests).
  function prepare(model, simd = true) {
    if (model.cell !== "lstm" || model.num_layers !== 1) {
      return { error: `the scope reads one-layer LSTMs, not a ${model.num_layers}-layer ${model.cell.toUpperCase()}` };
    }
    const H = model.hidden_size, E = model.embedding_size, V = model.chars.length, G = 4 * H;
    const Hp = pad8(H), Gp = pad8(G);
    const { wih, whh, bih, bhh } = model.layers[0];
    const w = (m, r, j) => m.q[r * m.cols + j] * m.scale[r]; // exactly the dequantised weight
    let next = 0;
    const take = (doubles) => { const at = next; next += pad8(doubles) * 8; return at; };
    const WHH = take(pad4(G) * Hp), WHHT = take(pad4(H) * Gp), WIHT = take(pad4(E) * Gp), HEAD = take(pad4(V) * Hp);
    const X = take(Math.max(Hp, Gp)), Y = take(pad4(Math.max(G, H, V))), Y2 = take(pad4(E));
    const kernel = makeKernel(next, simd);
    const f = kernel.f64;
    for (let r = 0; r < G; r++) {
      for (let j = 0; j < H; j++) {
        const v = w(whh, r, j);
        f[WHH / 8 + r * Hp + j] = v;
        f[WHHT / 8 + j * Gp + r] = v;
      }
      for (let j = 0; j < E; j++) f[WIHT / 8 + j * Gp + r] = w(wih, r, j);
    }
    for (let r = 0; r < V; r++) for (let j = 0; j < H; j++) f[HEAD / 8 + r * Hp + j] = w(model.headW, r, j);
    // every character's input to the gates, with both biases: W_ih e + b_ih + b_hh
    const inputs = model.embedRows.map((e) => Float64Array.from({ length: G }, (_, r) => {
      let s = 0;
      for (let j = 0; j < E; j++) s += w(wih, r, j) * e[j];
      return s + bih[r] + bhh[r];
    }));
    return { model, H, E, V, G, Hp, Gp, kernel, WHH, WHHT, WIHT, HEAD, X, Y, Y2, inputs, headB: model.headB };
  }

  // One step from (h, c) reading character `id`: the new h, c (clamp applied) and gates into
  // the given arrays at offset t (gates laid out input, forget, cell, output per step).
  function forwardStep(s, id, h, c, hOut, cOut, gOut, t, clamp) {
    const { H, G, Hp, kernel, WHH, X, Y } = s;
    const f = kernel.f64;
    f.set(h, X / 8);
    kernel.matvec(WHH, X, Y, pad4(G), Hp);
    const z = s.inputs[id], y = Y / 8, o0 = t * H, g0 = t * G;
    for (let k = 0; k < H; k++) {
      const i = sigmoid(z[k] + f[y + k]);
      const fg = sigmoid(z[H + k] + f[y + H + k]);
      const g = Math.tanh(z[2 * H + k] + f[y + 2 * H + k]);
      const o = sigmoid(z[3 * H + k] + f[y + 3 * H + k]);
      const cNew = fg * c[k] + i * g;
      cOut[o0 + k] = cNew;
      hOut[o0 + k] = o * Math.tanh(cNew);
      if (gOut) { gOut[g0 + k] = i; gOut[g0 + H + k] = fg; gOut[g0 + 2 * H + k] = g; gOut[g0 + 3 * H + k] = o; }
    }
    if (clamp) { hOut[o0 + clamp.unit] = clamp.value; cOut[o0 + clamp.unit] = clamp.value; }
  }

  function logProbabilities(s, h) {
    const { V, Hp, kernel, HEAD, X, Y } = s;
    kernel.f64.set(h, X / 8);
    kernel.matvec(HEAD, X, Y, pad4(V), Hp);
    const logits = Array.from({ length: V }, (_, v) => kernel.f64[Y / 8 + v] + s.headB[v]);
    let top = -Infinity;
    for (const z of logits) {
      if (!Number.isFinite(z)) throw new Error("the model produced a non-finite score (nan or inf) for the next character");
      top = Math.max(top, z);
    }
    let total = 0;
    for (const z of logits) total += Math.exp(z - top);
    const norm = top + Math.log(total);
    return Float64Array.from(logits, (z) => z - norm);
  }

  const argmax = (a) => { let best = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i; return best; };

  // The model over the whole text: h, c and gates after every character. A `previous` run
  // with the same intervention lends what it computed for the characters both texts begin
  // with, so typing at the end reads only the new characters.
  function forward(s, ids, clamp, previous) {
    const T = ids.length, H = s.H, G = s.G;
    const h = new Float64Array(T * H), c = new Float64Array(T * H), gates = new Float64Array(T * G);
    let same = 0;
    if (previous && JSON.stringify(previous.clamp) === JSON.stringify(clamp)) {
      while (same < T && same < previous.ids.length && previous.ids[same] === ids[same]) same++;
      h.set(previous.h.subarray(0, same * H)); c.set(previous.c.subarray(0, same * H)); gates.set(previous.gates.subarray(0, same * G));
    }
    let hPrev = same ? h.subarray((same - 1) * H, same * H) : new Float64Array(H);
    let cPrev = same ? c.subarray((same - 1) * H, same * H) : new Float64Array(H);
    for (let t = same; t < T; t++) {
      forwardStep(s, ids[t], hPrev, cPrev, h, c, gates, t, clamp);
      hPrev = h.subarray(t * H, (t + 1) * H);
      cPrev = c.subarray(t * H, (t + 1) * H);
    }
    return { ids, clamp, h, c, gates };
  }

  // After the cursor: the next-character log-probabilities and a greedy continuation.
  function predict(s, run, cursor, nChars) {
    const H = s.H;
    let h = run.h.slice((cursor - 1) * H, cursor * H), c = run.c.slice((cursor - 1) * H, cursor * H);
    const logp = logProbabilities(s, h);
    let current = logp;
    const added = [];
    const hNext = new Float64Array(H), cNext = new Float64Array(H);
    for (let n = 0; n < nChars; n++) {
      const id = argmax(current);
      added.push(id);
      forwardStep(s, id, h, c, hNext, cNext, null, 0, run.clamp);
      h = hNext.slice(); c = cNext.slice();
      current = logProbabilities(s, h);
    }
    return { logp, greedy: added };
  }

  // Connectivity: the norm of d log p(target | text[:cursor]) / d embedding of each of the
  // cursor's characters, by backpropagation through time. A clamped unit passes nothing back.
  function connectivity(s, run, cursor, logp, target) {
    const { H, G, E, Gp, kernel, WHHT, WIHT, X, Y, Y2 } = s;
    const f = kernel.f64, clamp = run.clamp;
    const dh = new Float64Array(H), dc = new Float64Array(H), da = new Float64Array(G);
    for (let v = 0; v < s.V; v++) { // W^T (onehot(target) - p)
      const coef = (v === target ? 1 : 0) - Math.exp(logp[v]);
      const row = s.HEAD / 8 + v * s.Hp;
      for (let k = 0; k < H; k++) dh[k] += coef * f[row + k];
    }
    const norms = new Float64Array(cursor);
    for (let t = cursor - 1; t >= 0; t--) {
      if (clamp) { dh[clamp.unit] = 0; dc[clamp.unit] = 0; }
      const g0 = t * G, c0 = t * H;
      for (let k = 0; k < H; k++) {
        const i = run.gates[g0 + k], fg = run.gates[g0 + H + k], g = run.gates[g0 + 2 * H + k], o = run.gates[g0 + 3 * H + k];
        const tc = Math.tanh(run.c[c0 + k]);
        const cPrev = t > 0 ? run.c[c0 - H + k] : 0;
        const dck = dc[k] + dh[k] * o * (1 - tc * tc);
        da[k] = dck * g * i * (1 - i);
        da[H + k] = dck * cPrev * fg * (1 - fg);
        da[2 * H + k] = dck * i * (1 - g * g);
        da[3 * H + k] = dh[k] * tc * o * (1 - o);
        dc[k] = dck * fg;
      }
      f.set(da, X / 8);
      kernel.matvec(WIHT, X, Y2, pad4(E), Gp);
      let sum = 0;
      for (let j = 0; j < E; j++) sum += f[Y2 / 8 + j] * f[Y2 / 8 + j];
      norms[t] = Math.sqrt(sum);
      kernel.matvec(WHHT, X, Y, pad4(H), Gp);
      for (let k = 0; k < H; k++) dh[k] = f[Y / 8 + k];
    }
    return norms;
  }

  // ---------------------------------------------------------------- checks, as in helpers/scope.py
  const MAX_CHARS = 600, GREEDY_CHARS = 40;

  function checkUnit(s, unit) {
    if (!(Number.isInteger(unit) && unit >= 0 && unit < s.H)) return `unit must be a whole number from 0 to ${s.H - 1}, got ${Number.isNaN(unit) ? "nothing" : unit}`;
    return "";
  }

  function checkValue(value) {
    if (!(Number.isFinite(value) && value >= -1 && value <= 1)) return `a unit can be clamped to a value from -1 to 1 (the range of h), got ${Number.isNaN(value) ? "nothing" : value}`;
    return "";
  }

  // Everything the scope shows for a text: the same answer as helpers.scope.read_scope.
  function readScope(s, read, text, cursor, clamp, withConnectivity = true, previous = null) {
    const input = read(s.model, text);
    if (input.error) return { error: input.error };
    const T = input.ids.length;
    if (T > MAX_CHARS) return { error: `the scope reads at most ${MAX_CHARS} characters, got ${T}` };
    if (cursor === undefined || cursor === null) cursor = T;
    if (!(Number.isInteger(cursor) && cursor >= 1 && cursor <= T)) return { error: `the cursor must be after one of the text's ${T} characters (1 to ${T}), got ${cursor}` };
    if (clamp) {
      const problem = checkUnit(s, clamp.unit) || checkValue(clamp.value);
      if (problem) return { error: problem };
    }
    const run = forward(s, input.ids, clamp, previous);
    const { logp, greedy } = predict(s, run, cursor, GREEDY_CHARS);
    const target = cursor < T ? input.ids[cursor] : argmax(logp);
    return { text: input.text, chars: Array.from(input.text), ids: input.ids, cursor, run, logp, target, greedy,
             connectivity: withConnectivity ? connectivity(s, run, cursor, logp, target) : null }; // fmt: skip
  }

  // ---------------------------------------------------------------- the page
  const SHOWN = { "\n": "↵", " ": "␣" };
  const show = (c) => SHOWN[c] || c;
  const escape = (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c] || c);

  // red for positive, blue for negative, white at zero (|v| <= 1 fills the scale)
  function diverging(v) {
    const a = Math.min(1, Math.abs(v));
    const [r, g, b] = v >= 0 ? [214, 39, 40] : [31, 119, 180];
    const mix = (x) => Math.round(255 + (x - 255) * a);
    return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
  }
  const orange = (v) => { const a = Math.min(1, Math.max(0, v)); const mix = (x) => Math.round(255 + (x - 255) * a); return `rgb(${mix(230)},${mix(85)},${mix(13)})`; };
  const shade = (v) => { const a = Math.min(1, Math.max(0, v)); const x = Math.round(255 - 200 * a); return `rgb(${x},${x},${Math.round(255 - 120 * a)})`; };

  function topRows(logp, model, k) {
    return Array.from(logp, (lp, id) => [id, Math.exp(lp)]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k)
      .map(([id, p]) => ({ char: model.chars[id], id, p }));
  }

  const TEMPLATE = `
    <label class="sc-wide">Text to read (up to ${MAX_CHARS} characters; click a character below to put the cursor after it)
      <textarea id="sc-text" rows="4" autocomplete="off" autocapitalize="off" spellcheck="false"></textarea></label>
    <div class="sc-wide sc-controls">
      <span id="sc-named"></span>
      <label>unit <input id="sc-unit" type="number" min="0" step="1"></label>
      <label>colour by <select id="sc-show"><option value="h">h (hidden state)</option><option value="c">c (cell)</option></select></label>
      <label>intervention <select id="sc-mode"><option value="none">none</option><option value="off">switch the unit off</option><option value="clamp">clamp the unit to</option></select></label>
      <input id="sc-value" type="number" min="-1" max="1" step="0.1" value="0.5" aria-label="value to clamp the unit to">
    </div>
    <p id="sc-error" class="sc-wide" role="status"></p>
    <div class="sc-wide"><div id="sc-legend"></div><div id="sc-strip" class="sc-strip"></div></div>
    <div class="sc-box"><h4>Next character after the cursor</h4>
      <table id="sc-top"><thead><tr><th>#</th><th>as trained</th><th>p</th><th class="sc-int">with the intervention</th><th class="sc-int">p</th></tr></thead><tbody></tbody></table></div>
    <div class="sc-box"><h4>Greedy continuation from the cursor</h4>
      <p class="sc-label">as trained</p><pre id="sc-greedy"></pre>
      <p class="sc-label sc-int">with the intervention</p><pre id="sc-greedy-int" class="sc-int"></pre></div>
    <p id="sc-time" class="sc-wide"></p>`;

  function setup(root, s, read) {
    root.innerHTML = TEMPLATE;
    const el = (id) => root.querySelector(id);
    const named = JSON.parse(root.dataset.named || "[]");
    const knContext = Number(root.dataset.knContext || 0);
    el("#sc-unit").max = String(s.H - 1);
    el("#sc-unit").value = String(named.length ? named[0].unit : 0);
    for (const { unit, name } of named) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `unit ${unit}: ${name}`;
      button.addEventListener("click", () => { el("#sc-unit").value = String(unit); update(); });
      el("#sc-named").append(button);
    }
    el("#sc-text").value = root.dataset.text || "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n";
    let cursor = null; // characters read before the cursor; null: the whole text
    let cached = {}; // the last answers, by text, cursor and intervention: changing only the colouring is free
    let runs = {}; // the last run by intervention: typing reads only the characters that changed

    function cursorFromCaret() {
      const area = el("#sc-text");
      const n = Array.from(area.value.slice(0, area.selectionStart)).length; // code points
      cursor = n >= 1 && n < Array.from(area.value).length ? n : null;
    }

    function update() {
      const started = performance.now();
      const error = el("#sc-error");
      error.textContent = "";
      const unit = el("#sc-unit").valueAsNumber, mode = el("#sc-mode").value, value = el("#sc-value").valueAsNumber;
      let problem = checkUnit(s, unit);
      if (!problem && mode === "clamp") problem = checkValue(value);
      const clamp = mode === "none" ? null : { unit, value: mode === "off" ? 0 : value };
      root.dataset.state = "error";
      const fail = (message) => {
        error.textContent = message;
        el("#sc-strip").replaceChildren();
        el("#sc-top").tBodies[0].replaceChildren();
        el("#sc-greedy").textContent = el("#sc-greedy-int").textContent = el("#sc-legend").textContent = el("#sc-time").textContent = "";
        root.dataset.computed = String(Number(root.dataset.computed || 0) + 1);
      };
      if (problem) return fail(problem);
      const text = el("#sc-text").value;
      let result, plain;
      try {
        const key = JSON.stringify([text, cursor, clamp, true]), plainKey = JSON.stringify([text, cursor, null, false]);
        const clampKey = JSON.stringify(clamp);
        result = cached[key] || readScope(s, read, text, cursor, clamp, true, runs[clampKey]);
        if (result.error && cursor !== null) { cursor = null; return update(); }
        if (result.error) return fail(result.error);
        plain = clamp ? cached[plainKey] || readScope(s, read, text, cursor, null, false, runs["null"]) : result;
        cached = { [key]: result, [plainKey]: plain };
        runs = { [clampKey]: result.run, null: plain.run };
      } catch (e) {
        return fail(String(e.message || e));
      }
      draw(result, plain, unit, clamp);
      const ms = performance.now() - started;
      root.dataset.updateMs = String(ms);
      el("#sc-time").textContent = `Read ${result.chars.length} characters${clamp ? " twice (with and without the intervention)" : ""}, forward and back, in ${ms.toFixed(0)} ms${s.kernel.simd ? "" : " (without WebAssembly SIMD)"}.`;
      root.dataset.state = "ok";
      root.dataset.computed = String(Number(root.dataset.computed || 0) + 1);
    }

    function draw(result, plain, unit, clamp) {
      const { H, G } = s;
      const byC = el("#sc-show").value === "c";
      const values = byC ? result.run.c : result.run.h;
      let scale = 1; // c is unbounded: scale it by its largest size in the text
      if (byC) { scale = 0; for (let t = 0; t < result.chars.length; t++) scale = Math.max(scale, Math.abs(values[t * H + unit])); scale = scale || 1; }
      let top = 0;
      for (const v of result.connectivity) top = Math.max(top, v);
      const parts = [];
      result.chars.forEach((ch, t) => {
        const v = values[t * H + unit];
        const gates = [0, 1, 2, 3].map((q) => result.run.gates[t * G + q * H + unit]);
        const conn = t < result.cursor ? result.connectivity[t] / (top || 1) : null;
        const kn = t >= result.cursor - knContext && t < result.cursor;
        const classes = ["sc-ch", t === result.cursor - 1 ? "sc-cursor" : "", kn ? "sc-kn" : ""].join(" ");
        parts.push(`<span class="${classes}" data-t="${t}" title="${escape(show(ch))} ${byC ? "c" : "h"}=${v.toFixed(3)} i=${gates[0].toFixed(2)} f=${gates[1].toFixed(2)} g=${gates[2].toFixed(2)} o=${gates[3].toFixed(2)}">`
          + `<b style="background:${diverging(v / scale)}">${escape(show(ch))}</b>`
          + gates.map((g, q) => `<i style="background:${q === 2 ? diverging(g) : shade(g)}"></i>`).join("")
          + `<u style="background:${conn === null ? "transparent" : orange(Math.sqrt(conn))}"></u></span>`);
        if (ch === "\n") parts.push('<span class="sc-break"></span>');
      });
      el("#sc-strip").innerHTML = parts.join("");
      const target = show(s.model.chars[result.target]);
      el("#sc-legend").innerHTML = `Each character: its box coloured by unit ${unit}'s ${byC ? "c (scaled by its largest size here)" : "h"} after reading it (red positive, blue negative); `
        + "under it four bars, the unit's gates: input, forget (dark: near 1), cell candidate (red/blue), output; "
        + `and the orange bar, how much the prediction after the cursor depends on it (the square root of its connectivity, scaled by the largest) for <b>${escape(target)}</b> `
        + `(${result.cursor < result.chars.length ? "the text's next character" : "the most likely next character"}) after the outlined cursor. `
        + `The underlined ${knContext} characters are all that the Kneser-Ney n-gram of order ${knContext + 1} sees.`;
      const rows = topRows(plain.logp, s.model, 5), changed = clamp ? topRows(result.logp, s.model, 5) : [];
      const body = el("#sc-top").tBodies[0];
      body.replaceChildren();
      rows.forEach((r, k) => {
        const row = body.insertRow();
        row.dataset.char = r.char; row.dataset.p = String(r.p);
        if (clamp) { row.dataset.clampedChar = changed[k].char; row.dataset.clampedP = String(changed[k].p); }
        const cells = [String(k + 1), show(r.char), r.p.toFixed(3)].concat(clamp ? [show(changed[k].char), changed[k].p.toFixed(3)] : ["", ""]);
        cells.forEach((text, j) => { const cell = row.insertCell(); cell.textContent = text; if (j >= 3) cell.className = "sc-int"; });
      });
      const decode = (ids) => ids.map((id) => s.model.chars[id]).join("");
      el("#sc-greedy").textContent = decode(plain.greedy);
      el("#sc-greedy-int").textContent = clamp ? decode(result.greedy) : "";
      root.classList.toggle("sc-intervening", Boolean(clamp));
      el("#sc-value").disabled = el("#sc-mode").value !== "clamp";
    }

    let timer = null;
    const later = () => { clearTimeout(timer); timer = setTimeout(() => { timer = null; update(); }, 30); };
    el("#sc-text").addEventListener("input", () => { cursorFromCaret(); later(); });
    for (const event of ["click", "keyup"]) el("#sc-text").addEventListener(event, () => { const before = cursor; cursorFromCaret(); if (before !== cursor) later(); });
    for (const id of ["#sc-unit", "#sc-show", "#sc-mode", "#sc-value"]) el(id).addEventListener("input", later);
    el("#sc-strip").addEventListener("click", (event) => {
      const span = event.target.closest(".sc-ch");
      if (!span) return;
      const t = Number(span.dataset.t) + 1;
      const n = Array.from(el("#sc-text").value).length;
      cursor = t < n ? t : null;
      update();
    });
    update();
    return { update, setCursor: (t) => { cursor = t; update(); } };
  }

  if (typeof document !== "undefined") document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("lstm-scope");
    if (!root) return;
    root.classList.add("lstm-scope");
    const lm = window.shakespeareLM;
    if (!window.SHAKESPEARE_MODEL || !lm) {
      root.textContent = "The Shakespeare model was not trained when this book was built (make train), so there is no scope here.";
      return;
    }
    const model = (window.shakespeareDemo && window.shakespeareDemo.model) || lm.loadModel(window.SHAKESPEARE_MODEL);
    const s = prepare(model);
    if (s.error) { root.textContent = s.error; return; }
    const page = setup(root, s, lm.read);
    // For the book's browser tests: the scope's numbers for any text, cursor and clamp.
    window.lstmScope = {
      simd: s.kernel.simd,
      page,
      read: (text, cursor, clamp) => {
        const r = readScope(s, lm.read, text, cursor, clamp);
        if (r.error) return r;
        return { text: r.text, cursor: r.cursor, h: Array.from(r.run.h), c: Array.from(r.run.c), gates: Array.from(r.run.gates),
                 probabilities: Array.from(r.logp, Math.exp), target: r.target, connectivity: Array.from(r.connectivity),
                 greedy: r.greedy.map((id) => model.chars[id]).join("") }; // fmt: skip
      },
      // the time of one full update from nothing (both runs when intervening), and of one
      // after typing the text's last character (the runs of the text before it at hand)
      time: (text, clamp) => { const t0 = performance.now(); readScope(s, lm.read, text, null, clamp); if (clamp) readScope(s, lm.read, text, null, null, false); return performance.now() - t0; },
      timeTyping: (text, clamp) => {
        const before = Array.from(text).slice(0, -1).join("");
        const a = readScope(s, lm.read, before, null, clamp), b = clamp ? readScope(s, lm.read, before, null, null, false) : a;
        const t0 = performance.now();
        readScope(s, lm.read, text, null, clamp, true, a.run);
        if (clamp) readScope(s, lm.read, text, null, null, false, b.run);
        return performance.now() - t0;
      },
    };
    root.dataset.ready = "true";
  });

  if (typeof module !== "undefined") module.exports = { prepare, readScope, kernelBytes };
})();
