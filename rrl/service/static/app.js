// The live plan page of `rrl serve`: plain JavaScript and SVG, no library, nothing from
// the network but this server's own /api. It polls the version history and redraws
// when a new version appears (posted here or by any other client).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7", "#9c755f",
                 "#bab0ac", "#86bcb6", "#d37295", "#a0cbe8"];
const state = { scenario: null, scenarios: [], history: [], shown: null, latest: true, marked: null, busy: false };

function $(id) { return document.getElementById(id); }
function el(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function fmt(x, digits = 2) { return x === null || x === undefined ? "–" : Number(x).toFixed(digits); }

async function api(path, options = {}) {
  const answer = await fetch(path, options);
  let body = null;
  try { body = await answer.json(); } catch (e) { body = { error: `HTTP ${answer.status}` }; }
  if (!answer.ok) throw new Error(body && body.error ? body.error : `HTTP ${answer.status}`);
  return body;
}

function utilisation(metrics) {
  const loads = Object.values(metrics.load || {});
  return loads.length ? loads.reduce((a, b) => a + b, 0) / loads.length : 0;
}

// ------------------------------------------------------------------ scenarios and versions

async function loadScenarios() {
  state.scenarios = await api("/api/scenarios");
  const select = $("scenario");
  select.replaceChildren();
  for (const s of state.scenarios) {
    const option = document.createElement("option");
    option.value = s.id;
    option.textContent = `${s.id}: ${s.name}`;
    select.appendChild(option);
  }
  const wanted = Number(new URLSearchParams(location.search).get("scenario"));
  const ids = state.scenarios.map((s) => s.id);
  state.scenario = ids.includes(wanted) ? wanted : (ids.length ? ids[ids.length - 1] : null);
  if (state.scenario !== null) select.value = state.scenario;
  if (state.scenario === null) {
    $("chart-note").textContent = "no scenario yet: POST one to /api/scenarios (or rrl db import)";
  }
}

async function refresh(force = false) {
  if (state.scenario === null) return;
  const history = await api(`/api/scenarios/${state.scenario}/versions`);
  const newest = history.length ? history[history.length - 1].version : null;
  const known = state.history.length ? state.history[state.history.length - 1].version : null;
  state.history = history;
  if (force || newest !== known) {
    drawHistory();
    if (state.latest || state.shown === null) await show(newest);
  }
}

async function show(version) {
  const data = await api(`/api/scenarios/${state.scenario}/versions/${version}`);
  state.shown = data;
  state.latest = version === state.history[state.history.length - 1].version;
  $("viewing").textContent = state.latest ? "" : `viewing version ${version} (click the last row for the latest)`;
  drawKpis(data);
  drawGantt(data);
  drawSteps(data);
  fillForm(data);
  for (const row of $("history").tBodies[0].rows) row.classList.toggle("shown", Number(row.dataset.version) === version);
}

// ------------------------------------------------------------------ KPI cards

function drawKpis(data) {
  const m = data.metrics;
  const index = state.history.findIndex((h) => h.version === data.version);
  const previous = index > 0 ? state.history[index - 1].metrics : null;
  const cards = [
    ["tardiness", m.total_tardiness, previous && previous.total_tardiness, (x) => `${fmt(x)} h`],
    ["tardy", m.tardy_orders, previous && previous.tardy_orders, (x) => `${x} of ${data.orders.length}`],
    ["makespan", m.makespan, previous && previous.makespan, (x) => `${fmt(x)} h`],
    ["utilisation", utilisation(m), previous && utilisation(previous), (x) => `${fmt(100 * x, 1)} %`],
  ];
  for (const [name, value, before, render] of cards) {
    $(`kpi-${name}`).textContent = render(value);
    const delta = $(`kpi-${name}-delta`);
    delta.className = "delta";
    if (before === null || before === undefined) { delta.textContent = ""; continue; }
    const change = value - before;
    const higherIsBetter = name === "utilisation";
    delta.textContent = Math.abs(change) < 1e-9 ? "unchanged" :
      `${change > 0 ? "+" : ""}${name === "utilisation" ? fmt(100 * change, 1) + " pts" : fmt(change, name === "tardy" ? 0 : 2)} vs v${state.history[index - 1].version}`;
    if (Math.abs(change) >= 1e-9) delta.classList.add((change > 0) === higherIsBetter ? "better" : "worse");
  }
  $("version").textContent = data.version;
  $("source").textContent = data.event ? data.event.type.replace("_", " ") : data.source;
}

// ------------------------------------------------------------------ Gantt chart

function focalOrders(data) {
  const focal = new Set((data.repair && data.repair.focal) || []);
  for (const step of data.steps || []) focal.add(step.focal);
  return focal;
}

function drawGantt(data) {
  const box = $("gantt");
  box.replaceChildren();
  const resources = data.resources.map((r) => r.id);
  const products = data.products;
  const colour = (p) => PALETTE[products.indexOf(p) % PALETTE.length];
  const rows = data.plan;
  const horizon = Math.max(1, ...rows.map((r) => Math.max(r.end, r.due)), data.now || 0) * 1.03;
  const width = Math.max(600, box.clientWidth || 900), left = 64, right = 12, top = 8, lane = 34, axis = 22;
  const height = top + lane * resources.length + axis;
  const x = (t) => left + (width - left - right) * (t / horizon);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Gantt chart of the plan" });
  const defs = el("defs");
  const hatch = el("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  hatch.appendChild(el("rect", { width: 6, height: 6, fill: "#e6e6e6" }));
  hatch.appendChild(el("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#8a8a8a", "stroke-width": 2 }));
  defs.appendChild(hatch);
  svg.appendChild(defs);
  // time axis
  const ticks = el("g", { class: "axis" });
  const step = niceStep(horizon / 10);
  for (let t = 0; t <= horizon; t += step) {
    ticks.appendChild(el("line", { x1: x(t), x2: x(t), y1: top, y2: height - axis + 4 }));
    ticks.appendChild(el("text", { x: x(t), y: height - 6, "text-anchor": "middle" }, `${+t.toFixed(2)}`));
  }
  ticks.appendChild(el("text", { x: width - right, y: height - 6, "text-anchor": "end" }, "h"));
  svg.appendChild(ticks);
  resources.forEach((id, k) => {
    svg.appendChild(el("text", { x: 4, y: top + lane * k + lane / 2 + 4 }, id));
    const spec = data.resources[k];
    for (const [a, b] of spec.downtime || []) {
      const w = el("rect", { class: "downtime", x: x(a), y: top + lane * k + 2, width: Math.max(1, x(b) - x(a)), height: lane - 4 });
      w.appendChild(el("title", {}, `${id} down ${fmt(a)}–${fmt(b)} h`));
      svg.appendChild(w);
    }
  });
  const focal = focalOrders(data);
  for (const r of rows) {
    const k = resources.indexOf(r.resource);
    const y = top + lane * k + 5, h = lane - 10;
    const g = el("g", { class: "order", "data-order": r.order });
    if (focal.has(r.order)) g.classList.add("focus");
    if (state.marked === r.order) g.classList.add("marked");
    if (r.setup > 0) {
      g.appendChild(el("rect", { class: "cleanout", x: x(r.start - r.setup), y, width: Math.max(1, x(r.start) - x(r.start - r.setup)), height: h }));
    }
    const tardy = r.tardiness > 1e-9;
    g.appendChild(el("rect", { class: `bar${tardy ? " tardy" : ""}`, x: x(r.start), y, width: Math.max(1.5, x(r.end) - x(r.start)), height: h, rx: 2, fill: colour(r.product), opacity: r.frozen ? 0.55 : 1 }));
    if (tardy) {
      g.appendChild(el("line", { class: "due", x1: x(r.due), x2: x(r.due), y1: y - 3, y2: y + h + 3 }));
      g.appendChild(el("line", { class: "late-tail", x1: x(Math.max(r.due, r.start)), x2: x(r.end), y1: y + h + 2, y2: y + h + 2 }));
    }
    const label = `${r.important ? "!" : ""}${r.order}`;
    if (x(r.end) - x(r.start) > 7 * label.length) g.appendChild(el("text", { x: x(r.start) + 3, y: y + h / 2 + 4, fill: "#fff" }, label));
    const tip = `${r.order} (${r.product}${r.important ? ", rush" : ""}${r.frozen ? ", started" : ""}) on ${r.resource}: ` +
      `${fmt(r.start)}–${fmt(r.end)} h, due ${fmt(r.due)} h` + (tardy ? `, ${fmt(r.tardiness)} h late` : ", on time") +
      (r.setup > 0 ? `, cleanout ${fmt(r.setup)} h before` : "") + (focal.has(r.order) ? "; focal task of the last repair" : "");
    g.appendChild(el("title", {}, tip));
    g.addEventListener("mouseenter", () => { $("details").textContent = tip; });
    g.addEventListener("click", () => { state.marked = state.marked === r.order ? null : r.order; drawGantt(state.shown); $("details").textContent = tip; });
    svg.appendChild(g);
  }
  if (data.now) {
    const now = el("g", { class: "now" });
    now.appendChild(el("line", { x1: x(data.now), x2: x(data.now), y1: top, y2: height - axis }));
    now.appendChild(el("title", {}, `now = ${fmt(data.now)} h: orders started before it stay`));
    svg.appendChild(now);
  }
  box.appendChild(svg);
  $("chart-note").textContent = `${rows.length} orders on ${resources.length} resources, version ${data.version}`;
  const legend = $("legend");
  legend.replaceChildren();
  for (const p of products) legend.insertAdjacentHTML("beforeend", `<span><span class="swatch" style="background:${colour(p)}"></span>${p}</span>`);
  legend.insertAdjacentHTML("beforeend", `<span><span class="swatch" style="background:#e6e6e6;border:1px solid #8a8a8a"></span>cleanout</span>` +
    `<span><span class="swatch" style="background:#555;opacity:.55"></span>downtime</span>` +
    `<span><span class="swatch" style="border:2px solid var(--late)"></span>tardy (red tick: due date)</span>` +
    `<span><span class="swatch" style="border:3px solid var(--focus)"></span>focus of the last repair</span>`);
}

function niceStep(raw) {
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * power) return m * power;
  return 10 * power;
}

// ------------------------------------------------------------------ history and trend

function eventText(event) {
  if (!event) return "";
  const e = { ...event };
  const kind = e.type.replace("_", " ");
  if (e.order && typeof e.order === "object") return `${kind} ${e.order.id} (${e.order.product}, ${e.order.size} kg, due ${e.order.due})`;
  if (e.type === "breakdown") return `${kind} ${e.resource} at ${e.at} for ${e.duration} h`;
  if (e.type === "material_delay") return `${kind} ${e.order} to ${e.release} h`;
  return kind;
}

function drawHistory() {
  const body = $("history").tBodies[0];
  body.replaceChildren();
  for (const h of state.history.slice().reverse()) {
    const row = body.insertRow();
    row.dataset.version = h.version;
    const cells = [h.version, h.event ? eventText(h.event) : h.source, fmt(h.metrics.total_tardiness), h.metrics.tardy_orders,
      fmt(h.metrics.makespan), h.created.replace("T", " ").slice(0, 19)];
    for (const c of cells) row.insertCell().textContent = c;
    row.addEventListener("click", () => show(h.version));
  }
  const box = $("trend");
  box.replaceChildren();
  const values = state.history.map((h) => h.metrics.total_tardiness);
  if (!values.length) return;
  const w = 600, h = 70, pad = 6, max = Math.max(...values, 1e-9), min = Math.min(...values, 0);
  const px = (i) => pad + (values.length === 1 ? 0 : (w - 2 * pad) * i / (values.length - 1));
  const py = (v) => h - pad - (h - 2 * pad) * (v - min) / (max - min || 1);
  const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none", "aria-label": "total tardiness per version" });
  svg.appendChild(el("polyline", { points: values.map((v, i) => `${px(i)},${py(v)}`).join(" ") }));
  values.forEach((v, i) => {
    const dot = el("circle", { cx: px(i), cy: py(v), r: 3 });
    dot.appendChild(el("title", {}, `v${state.history[i].version}: ${fmt(v)} h`));
    svg.appendChild(dot);
  });
  box.appendChild(svg);
}

// ------------------------------------------------------------------ repair steps

function drawSteps(data) {
  const list = $("steps");
  list.replaceChildren();
  const repair = data.repair;
  if (!repair) {
    $("repair-note").textContent = `(version ${data.version} came from ${data.source}, not from an event)`;
    return;
  }
  const d = repair.disrupted.total_tardiness, r = data.metrics.total_tardiness;
  $("repair-note").textContent = `${eventText(data.event)}: tardiness ${fmt(repair.initial.total_tardiness)} h before, ` +
    `${fmt(d)} h after the event, ${fmt(r)} h repaired in ${data.steps.length} steps, ${fmt(1000 * repair.seconds, 0)} ms` +
    (repair.note ? ` (${repair.note})` : "");
  if (!data.steps.length) {
    const li = document.createElement("li");
    li.textContent = "no step: the event left nothing to repair, or no step improved the plan";
    list.appendChild(li);
  }
  // A walk's steps share one focus rule and often one leaf: each text is shown in full at
  // its first step, later ones point back to it (as rrl consult prints them).
  const firstSeen = new Map();
  data.steps.forEach((step, index) => {
    const k = index + 1;
    const li = document.createElement("li");
    li.className = "step";
    const other = step.other === null || step.other === undefined ? "" : ` with ${step.other}`;
    li.innerHTML = `<span class="op"></span> <span class="focal"></span> → total tardiness <span class="tt"></span> h`;
    li.querySelector(".op").textContent = step.operator;
    li.querySelector(".focal").textContent = `on ${step.focal}${other}`;
    li.querySelector(".tt").textContent = fmt(step.total_tardiness);
    if (step.q_value !== undefined) li.insertAdjacentText("beforeend", ` (Q = ${fmt(step.q_value, 3)})`);
    if (step.focus_reason) {
      const focus = document.createElement("div");
      focus.className = "focus-reason";
      focus.textContent = `focus on ${step.focal}, proposed by the background rule for "${step.focus_reason}":`;
      li.appendChild(focus);
      if (step.focus_rule) ruleBlock(li, "focus-rule", step.focus_rule, firstSeen, k);
    }
    if (step.meets) {  // a walk's, block's or exchange's step: the focus rule its order meets
      const meets = document.createElement("div");
      meets.className = "focus-meets";
      meets.textContent = `${step.focal} meets the background rule for "${step.meets}":`;
      li.appendChild(meets);
      if (step.meets_rule) ruleBlock(li, "focus-rule meets-rule", step.meets_rule, firstSeen, k);
    }
    if (step.rule) ruleBlock(li, "rule", step.rule, firstSeen, k);
    else ruleBlock(li, "rule", "no learned policy: the candidate of lowest total tardiness", new Map(), k);
    list.appendChild(li);
  });
}

// A rule's text in full where it is first shown; "(as in step N)" where step N showed it.
function ruleBlock(li, className, text, firstSeen, k) {
  const first = firstSeen.get(text);
  if (first !== undefined && first !== k) {
    const again = document.createElement("div");
    again.className = `again ${className}`;
    again.textContent = `(as in step ${first})`;
    li.appendChild(again);
    return;
  }
  firstSeen.set(text, k);
  const pre = document.createElement("pre");
  pre.className = className;
  pre.textContent = text;
  li.appendChild(pre);
}

// ------------------------------------------------------------------ event form

function fillForm(data) {
  const options = (select, values) => {
    const keep = select.value;
    select.replaceChildren();
    const drawn = document.createElement("option");
    drawn.value = ""; drawn.textContent = "(drawn)";
    select.appendChild(drawn);
    for (const v of values) { const o = document.createElement("option"); o.value = v; o.textContent = v; select.appendChild(o); }
    if (values.includes(keep)) select.value = keep;
  };
  options($("product"), data.products);
  options($("resource"), data.resources.map((r) => r.id));
  options($("order"), data.plan.filter((r) => !r.frozen).map((r) => r.order));
}

function showFields() {
  const kind = $("event-type").value;
  for (const set of document.querySelectorAll("fieldset[data-for]")) set.hidden = !set.dataset.for.split(" ").includes(kind);
}

async function postEvent(e) {
  e.preventDefault();
  if (state.scenario === null || state.busy) return;
  const kind = $("event-type").value;
  const body = { event: kind, seed: Number($("seed").value || 0) };
  const fields = document.querySelector(`fieldset[data-for~="${kind}"]`);
  for (const input of fields.querySelectorAll("input, select")) {
    if (input.value === "") continue;
    body[input.name] = input.type === "number" ? Number(input.value) : input.value;
  }
  const message = $("message");
  state.busy = true;
  $("post-event").disabled = true;
  message.className = "";
  message.textContent = "repairing…";
  try {
    const out = await api(`/api/scenarios/${state.scenario}/events`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    message.className = "ok";
    message.textContent = `version ${out.version}: tardiness ${fmt(out.disrupted.total_tardiness)} h after the event, ` +
      `${fmt(out.repaired.total_tardiness)} h after ${out.steps.length} repair steps`;
    $("seed").value = body.seed + 1;
    state.latest = true;
    await refresh(true);
  } catch (error) {
    message.className = "error";
    message.textContent = error.message;
  } finally {
    state.busy = false;
    $("post-event").disabled = false;
  }
}

// ------------------------------------------------------------------ start

async function start() {
  $("event-type").addEventListener("change", showFields);
  $("event-form").addEventListener("submit", postEvent);
  $("scenario").addEventListener("change", async (e) => {
    state.scenario = Number(e.target.value); state.history = []; state.latest = true; await refresh(true);
  });
  showFields();
  try {
    await loadScenarios();
    await refresh(true);
  } catch (error) {
    $("message").className = "error";
    $("message").textContent = error.message;
  }
  setInterval(() => { if (!state.busy) refresh().catch(() => {}); }, 2500);
  window.addEventListener("resize", () => { if (state.shown) drawGantt(state.shown); });
}

start();
