// The drawing page: strokes on a canvas, the pixels to POST /predict, the answer shown.
// All preprocessing (centring, scaling, inversion) happens on the server; this page only
// draws what it is sent back.
"use strict";

const SEND_SIZE = 196;        // the drawing is sent as SEND_SIZE x SEND_SIZE greyscale
const MIN_INTERVAL_MS = 60;   // at most ~16 predictions a second while drawing
const TOP_K = 5;

const $ = (id) => document.getElementById(id);
const pad = $("pad"), ctx = pad.getContext("2d");
const seen = $("seen"), seenCtx = seen.getContext("2d");
const bars = $("bars");
let model = null, hasInk = false, drawing = false, last = null;
let inflight = false, queued = false, lastSent = 0, timer = null;

// ---- the paper ---------------------------------------------------------------------------

function fitCanvas() {
  const r = pad.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
  const w = Math.round(r.width * dpr), h = Math.round(r.height * dpr);
  if (pad.width === w && pad.height === h) return;
  const old = document.createElement("canvas");
  old.width = pad.width; old.height = pad.height;
  if (pad.width) old.getContext("2d").drawImage(pad, 0, 0);
  pad.width = w; pad.height = h;
  if (old.width) ctx.drawImage(old, 0, 0, w, h);
}

function penWidth() { return pad.width * Number($("pen").value) / 100; }

function point(e) {
  const r = pad.getBoundingClientRect();
  return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
}

function dot(p) {
  ctx.fillStyle = "#111";
  ctx.beginPath(); ctx.arc(p.x, p.y, penWidth() / 2, 0, 2 * Math.PI); ctx.fill();
}

function segment(a, b) {
  ctx.strokeStyle = "#111"; ctx.lineWidth = penWidth(); ctx.lineCap = "round"; ctx.lineJoin = "round";
  ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke();
}

function inked() {
  if (!hasInk) { hasInk = true; $("placeholder").classList.add("hidden"); }
}

pad.addEventListener("pointerdown", (e) => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  drawing = true; last = point(e); dot(last); inked(); schedule();
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const ev of (events.length ? events : [e])) { const p = point(ev); segment(last, p); last = p; }
  schedule();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => { if (drawing) { drawing = false; predictNow(); } });
}

function clearPad() {
  ctx.clearRect(0, 0, pad.width, pad.height);
  hasInk = false; $("placeholder").classList.remove("hidden");
  showIdle();
}
$("clear").addEventListener("click", clearPad);
document.addEventListener("keydown", (e) => { if (e.key === "Escape") clearPad(); });

// ---- images: upload or drop ----------------------------------------------------------------

async function loadImage(file) {
  if (!file || !file.type.startsWith("image/")) { toast("That is not an image file."); return; }
  let bitmap;
  try { bitmap = await createImageBitmap(file); } catch (_) { toast("Could not read that image."); return; }
  const probe = document.createElement("canvas"); probe.width = probe.height = 1;
  probe.getContext("2d").drawImage(bitmap, 0, 0, 1, 1, 0, 0, 1, 1);
  const [r, g, b] = probe.getContext("2d").getImageData(0, 0, 1, 1).data;
  ctx.fillStyle = `rgb(${r},${g},${b})`;            // letterbox in the picture's own paper colour
  ctx.fillRect(0, 0, pad.width, pad.height);
  const s = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
  const w = bitmap.width * s, h = bitmap.height * s;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  inked(); predictNow();
}
$("upload").addEventListener("change", (e) => { loadImage(e.target.files[0]); e.target.value = ""; });
const paper = $("paper");
paper.addEventListener("dragover", (e) => { e.preventDefault(); paper.classList.add("dragging"); });
paper.addEventListener("dragleave", () => paper.classList.remove("dragging"));
paper.addEventListener("drop", (e) => {
  e.preventDefault(); paper.classList.remove("dragging");
  loadImage(e.dataTransfer.files[0]);
});

// ---- talking to the server -----------------------------------------------------------------

function pixels() {
  // Greyscale rows in [0, 1], 0 = black: the drawing composited on white paper.
  const c = document.createElement("canvas"); c.width = c.height = SEND_SIZE;
  const g = c.getContext("2d");
  g.imageSmoothingQuality = "high";
  g.drawImage(pad, 0, 0, SEND_SIZE, SEND_SIZE);
  const d = g.getImageData(0, 0, SEND_SIZE, SEND_SIZE).data;
  const rows = [];
  for (let y = 0; y < SEND_SIZE; y++) {
    const row = new Array(SEND_SIZE);
    for (let x = 0; x < SEND_SIZE; x++) {
      const i = 4 * (y * SEND_SIZE + x), a = d[i + 3] / 255;
      const lum = (0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]) / 255;
      row[x] = Math.round(100 * (1 - a + a * lum)) / 100;
    }
    rows.push(row);
  }
  return rows;
}

function schedule() {
  const wait = MIN_INTERVAL_MS - (performance.now() - lastSent);
  if (wait <= 0) predictNow();
  else if (!timer) timer = setTimeout(() => { timer = null; predictNow(); }, wait);
}

async function predictNow() {
  if (!hasInk) return;
  if (inflight) { queued = true; return; }
  inflight = true; lastSent = performance.now();
  try {
    const res = await fetch("predict", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ pixels: pixels() }),
    });
    const answer = await res.json();
    if (!res.ok) throw new Error(answer.error || res.statusText);
    if (hasInk) show(answer);
  } catch (err) {
    toast(`The server did not answer: ${err.message}`);
  } finally {
    inflight = false;
    if (queued) { queued = false; predictNow(); }
  }
}

// ---- showing the answer --------------------------------------------------------------------

function buildBars() {
  bars.replaceChildren();
  const longest = Math.max(1, ...(model ? model.class_names : ["0"]).map((s) => s.length));
  bars.style.setProperty("--name-width", `${Math.min(longest, 14) + 1.5}ch`);
  for (let k = 0; k < Math.min(TOP_K, model ? model.class_names.length : TOP_K); k++) {
    const li = document.createElement("li");
    li.innerHTML = '<span class="name">–</span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
    bars.append(li);
  }
}

function percent(p) {
  if (p >= 0.9995) return "> 99.9 %";
  if (p < 0.0005) return "< 0.1 %";
  return `${(100 * p).toFixed(1)} %`;
}

function setGuess(text, idle) {
  const big = $("guess");
  big.textContent = text;
  big.classList.toggle("idle", idle);
  big.classList.toggle("long", text.length > 2);
}

function showIdle() {
  setGuess("?", true);
  const conf = $("conf"); conf.textContent = "draw something"; conf.classList.add("idle");
  for (const li of bars.children) {
    li.querySelector(".name").textContent = "–";
    li.querySelector(".fill").style.width = "0%";
    li.querySelector(".pct").textContent = "";
  }
  drawSeen(null);
  $("status").textContent = "";
}

function show(answer) {
  drawSeen(answer.input);
  if (answer.empty || !answer.top.length) { showIdle(); drawSeen(answer.input); return; }
  const best = answer.top[0];
  const big = $("guess");
  if (big.textContent !== best.label) {
    big.classList.add("pop"); setTimeout(() => big.classList.remove("pop"), 150);
  }
  setGuess(best.label, false);
  const conf = $("conf");
  conf.textContent = percent(best.probability);
  conf.classList.remove("idle");
  answer.top.forEach((t, k) => {
    const li = bars.children[k];
    if (!li) return;
    li.querySelector(".name").textContent = t.label;
    li.querySelector(".name").title = t.label;
    li.querySelector(".fill").style.width = `${Math.max(0.5, 100 * t.probability)}%`;
    li.querySelector(".pct").textContent = percent(t.probability);
  });
  const ink = answer.polarity === "dark-ink" ? "dark ink on light" : "light ink on dark";
  $("status").textContent = `read as ${ink} · ${answer.ms.toFixed(1)} ms`;
}

function drawSeen(img) {
  const n = seen.width;
  seenCtx.fillStyle = "#0c1024"; seenCtx.fillRect(0, 0, n, n);
  if (!img) return;
  const h = img.length, w = img[0].length, cell = Math.floor(n / Math.max(h, w));
  const gap = cell >= 12 ? 1 : 0;
  const ox = Math.floor((n - cell * w) / 2), oy = Math.floor((n - cell * h) / 2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = Math.round(255 * img[y][x]);
      seenCtx.fillStyle = `rgb(${v},${v},${v})`;
      seenCtx.fillRect(ox + x * cell, oy + y * cell, cell - gap, cell - gap);
    }
  }
}

let toastTimer = null;
function toast(msg) {
  const t = $("toast"); t.textContent = msg; t.classList.add("show");
  clearTimeout(toastTimer); toastTimer = setTimeout(() => t.classList.remove("show"), 3500);
}

// ---- start ---------------------------------------------------------------------------------

function describe(m) {
  const names = m.class_names, [c, h, w] = m.input_shape;
  const digits = names.every((s) => /^[0-9]$/.test(s));
  $("title").textContent = digits ? "Draw a digit" : "Draw something";
  if (!digits) $("hint").textContent = `one of: ${names.slice(0, 6).join(", ")}${names.length > 6 ? ", …" : ""}`;
  const acc = m.metrics && typeof m.metrics.test_accuracy === "number"
    ? ` · <b>${(100 * m.metrics.test_accuracy).toFixed(1)} %</b> test accuracy` : "";
  const data = m.dataset ? ` on ${m.dataset}` : "";
  $("model-chip").innerHTML = "";
  const chip = document.createElement("span");
  chip.innerHTML = `<b></b>${data ? "<span></span>" : ""} · ${h}×${w} · ${names.length} classes${acc}`;
  chip.querySelector("b").textContent = m.architecture;
  if (data) chip.querySelector("span").textContent = data;
  $("model-chip").append(chip);
  const ink = m.preprocessing.invert ? "dark ink on white (the model was trained inverted)" : "white ink on black";
  const fit = m.preprocessing.fill >= 0.999 ? "scaled to fill the frame" : `scaled to ${Math.round(m.preprocessing.fill * h)} of ${h} pixels`;
  $("seen-caption").textContent = `${h}×${w} pixels: centred by centre of mass, ${fit}, ${ink} — as in training.`;
}

async function start() {
  fitCanvas();
  new ResizeObserver(fitCanvas).observe(pad);
  try {
    const res = await fetch("model");
    model = await res.json();
    if (!res.ok) throw new Error(model.error || res.statusText);
    describe(model);
  } catch (err) {
    toast(`Could not load the model: ${err.message}`);
  }
  buildBars(); showIdle();
  document.body.dataset.ready = "1";
}
start();
