// fateflow Board: a small single-page app over the /v1 API. No build step.
"use strict";

const END = ["success", "failed", "canceled", "timeout"];
const $ = (sel, root = document) => root.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
let timers = [];
const every = (ms, fn) => { fn(); timers.push(setInterval(fn, ms)); };
const stopTimers = () => { timers.forEach(clearInterval); timers = []; };

async function api(path, body = {}) {
  const r = await fetch("/v1/" + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), credentials: "same-origin" });
  const j = await r.json().catch(() => ({ retcode: 100, retmsg: "not JSON (HTTP " + r.status + ")" }));
  if (j.retcode === 109 && !$("#login")) loginView(j.retmsg);
  return j;
}

// Beyond loopback the site requires client authentication: log in with its keys.
function loginView(why) {
  stopTimers();
  $("#main").innerHTML = `<div class="card narrow" id="login"><h1>Log in</h1>
    <p class="muted">This site requires client authentication (${esc(why)}). Use its app key and secret key.</p>
    <form id="login-form"><p><input name="app_key" placeholder="app key" required class="wide"></p>
    <p><input name="secret_key" type="password" placeholder="secret key" required class="wide"></p>
    <p><button type="submit">Log in</button> <span id="login-error" class="reason"></span></p></form></div>`;
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const r = await fetch("/v1/board/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ app_key: f.get("app_key"), secret_key: f.get("secret_key") }) }).then((x) => x.json());
    if (r.retcode === 0) location.reload(); else $("#login-error").textContent = r.retmsg;
  });
}

const fmtTime = (ms) => (ms ? new Date(ms).toLocaleString() : "—");
function fmtDur(ms) {
  if (ms == null) return "—";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return Math.floor(s / 60) + " m " + Math.round(s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " m";
}
// Progress bars: widths go through the CSSOM, which the CSP allows (style attributes it refuses).
const bars = (root) => root.querySelectorAll("[data-w]").forEach((d) => { d.style.width = Math.max(0, Math.min(100, Number(d.dataset.w) || 0)) + "%"; });
const badge = (s) => `<span class="badge s-${esc(s)}" data-status="${esc(s)}">${esc(s)}</span>`;

// ---------------------------------------------------------------- job list
async function jobsView() {
  const main = $("#main");
  main.innerHTML = `<h1>Jobs</h1>
    <div class="filters">
      <label>Status <select id="f-status"><option value="">all</option>${["waiting", "running", "success", "failed", "canceled", "timeout"].map((s) => `<option>${s}</option>`).join("")}</select></label>
      <label>Party <input id="f-party" size="8" placeholder="9999"></label>
      <label>Since <input id="f-since" type="date"></label>
      <span class="muted" id="count"></span>
    </div>
    <table id="jobs"><thead><tr><th>Job</th><th>Status</th><th>Role / party</th><th>Partners</th><th>Start</th><th>Duration</th><th>Progress</th></tr></thead><tbody></tbody></table>`;
  ["f-status", "f-party", "f-since"].forEach((id) => $("#" + id).addEventListener("change", refresh));
  async function refresh() {
    const body = { limit: 200, is_initiator: 1 };
    const st = $("#f-status").value; if (st) body.status = st;
    const r = await api("job/list/job", body);
    let jobs = (r.data && r.data.jobs) || [];
    const party = $("#f-party").value.trim();
    if (party) jobs = jobs.filter((j) => String(j.party_id) === party || (j.partners || []).map(String).includes(party));
    const since = $("#f-since").value;
    if (since) { const t = new Date(since).getTime(); jobs = jobs.filter((j) => j.create_time >= t); }
    $("#count").textContent = jobs.length + " job(s)";
    $("#jobs tbody").innerHTML = jobs.map((j) => {
      const dur = j.elapsed ?? (j.start_time ? Date.now() - j.start_time : null);
      return `<tr data-job="${esc(j.job_id)}"><td><a href="#/job/${esc(j.job_id)}">${esc(j.job_id)}</a></td><td>${badge(j.status)}</td>
        <td>${esc(j.role)}:${esc(j.party_id)}</td><td>${esc((j.partners || []).join(", "))}</td><td>${fmtTime(j.start_time || j.create_time)}</td>
        <td>${fmtDur(dur)}</td><td><span class="bar"><div data-w="${Number(j.progress) || 0}"></div></span> ${j.progress || 0}%</td></tr>`;
    }).join("") || `<tr><td colspan="7" class="muted">No jobs yet. Submit one with <code>flow job submit</code>.</td></tr>`;
    bars($("#jobs tbody"));
  }
  every(2000, refresh);
}

// ---------------------------------------------------------------- job detail
function layers(components) {
  const names = Object.keys(components);
  const ups = {};
  for (const n of names) {
    const inp = components[n].input || {};
    const refs = [...Object.values(inp.data || {}).flat(), ...(inp.model || []), ...(inp.isometric_model || []), ...(inp.cache || [])];
    ups[n] = [...new Set(refs.map((r) => String(r).split(".")[0]).filter((u) => u in components))];
  }
  const level = {};
  const depth = (n, seen = new Set()) => {
    if (n in level) return level[n];
    if (seen.has(n)) return 0;
    seen.add(n);
    level[n] = ups[n].length ? 1 + Math.max(...ups[n].map((u) => depth(u, seen))) : 0;
    return level[n];
  };
  names.forEach((n) => depth(n));
  return { level, ups };
}

function drawDag(svg, dsl, statusOf, selected, onPick) {
  const comps = (dsl && dsl.components) || {};
  const { level, ups } = layers(comps);
  const cols = {};
  Object.keys(comps).forEach((n) => (cols[level[n]] = cols[level[n]] || []).push(n));
  const W = 200, H = 40, GX = 60, GY = 26;
  const pos = {};
  const maxRows = Math.max(1, ...Object.values(cols).map((c) => c.length));
  Object.entries(cols).forEach(([lv, list]) => list.forEach((n, i) => {
    const offset = ((maxRows - list.length) * (H + GY)) / 2;
    pos[n] = { x: 20 + Number(lv) * (W + GX), y: 20 + offset + i * (H + GY) };
  }));
  const width = 40 + (Object.keys(cols).length) * (W + GX), height = 40 + maxRows * (H + GY);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.maxHeight = Math.max(120, height) + "px";
  let out = `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#9aa3af"/></marker></defs>`;
  for (const n of Object.keys(comps)) for (const u of ups[n]) {
    const a = pos[u], b = pos[n];
    out += `<path d="M${a.x + W},${a.y + H / 2} C${a.x + W + GX / 2},${a.y + H / 2} ${b.x - GX / 2},${b.y + H / 2} ${b.x},${b.y + H / 2}"/>`;
  }
  const colors = { success: "#1f9d55", running: "#2456d6", waiting: "#9aa3af", failed: "#d43c3c", canceled: "#c28b00", timeout: "#b4560c", pass: "#58b07a" };
  for (const n of Object.keys(comps)) {
    const st = statusOf(n) || "waiting", p = pos[n];
    out += `<g class="node${n === selected ? " selected" : ""}" data-testid="dag-node" data-component="${esc(n)}" data-status="${esc(st)}" transform="translate(${p.x},${p.y})">
      <rect width="${W}" height="${H}" fill="${colors[st] || "#9aa3af"}"></rect>
      <text x="12" y="17">${esc(n)}</text><text x="12" y="32" opacity=".85">${esc(comps[n].module)} · ${esc(st)}</text></g>`;
  }
  svg.innerHTML = out;
  svg.querySelectorAll(".node").forEach((g) => g.addEventListener("click", () => onPick(g.dataset.component)));
}

async function jobView(jobId) {
  const main = $("#main");
  main.innerHTML = `<h1>Job <span id="jid"></span> <span id="jstatus"></span></h1>
    <div class="card" id="jsum"></div>
    <div class="card"><svg class="dag" id="dag"></svg></div>
    <div class="card"><h2 class="flush">Tasks</h2><table id="tasks"><thead><tr><th>Component</th><th>Role</th><th>Party</th><th>Status</th><th>Version</th><th>Start</th><th>Elapsed</th><th>Reason</th></tr></thead><tbody></tbody></table></div>
    <div id="cpn"></div>
    <div class="grid"><div class="card"><h2 class="flush">DSL</h2><pre id="dsl"></pre></div><div class="card"><h2 class="flush">Runtime conf</h2><pre id="conf"></pre></div></div>`;
  $("#jid").textContent = jobId;
  let job = null, tasks = [], selected = null;
  const fed = (cpn) => {
    const ts = tasks.filter((t) => t.component_name === cpn);
    if (!ts.length) return "waiting";
    return ts[0].status === "waiting" && ts.some((t) => t.party_status === "running") ? "running" : ts[0].status;
  };
  async function refresh() {
    const q = await api("job/query", { job_id: jobId, is_initiator: 1 });
    job = (q.data || [])[0];
    if (!job) { $("#jsum").innerHTML = `<span class="muted">Job ${esc(jobId)} not found on this site.</span>`; return; }
    const t = await api("job/list/task", { job_id: jobId });
    tasks = (t.data && t.data.tasks) || [];
    $("#jstatus").innerHTML = badge(job.f_status);
    const dur = job.f_elapsed ?? (job.f_start_time ? Date.now() - job.f_start_time : null);
    $("#jsum").innerHTML = `<b>Initiator</b> ${esc(job.f_initiator_role)}:${esc(job.f_initiator_party_id)} &nbsp; <b>Start</b> ${fmtTime(job.f_start_time)} &nbsp; <b>Duration</b> ${fmtDur(dur)}
      &nbsp; <b>Progress</b> <span class="bar"><div data-w="${Number(job.f_progress) || 0}"></div></span> ${job.f_progress}%
      ${job.f_error_report ? `<div class="reason" id="job-reason">${esc(job.f_error_report)}</div>` : ""}`;
    bars($("#jsum"));
    drawDag($("#dag"), job.f_dsl, fed, selected, pick);
    $("#tasks tbody").innerHTML = tasks.map((t) => `<tr><td><a class="link" role="button" tabindex="0" data-pick="${esc(t.component_name)}">${esc(t.component_name)}</a></td><td>${esc(t.role)}</td><td>${esc(t.party_id)}</td>
      <td>${badge(t.party_status)}</td><td>${t.task_version}${t.task_version > 0 ? " (retry)" : ""}</td><td>${fmtTime(t.start_time)}</td>
      <td>${fmtDur(t.elapsed ?? (t.start_time && !END.includes(t.party_status) ? Date.now() - t.start_time : null))}</td><td class="reason">${esc(t.error_report || "")}</td></tr>`).join("");
    $("#tasks").querySelectorAll("[data-pick]").forEach((a) => a.addEventListener("click", () => pick(a.dataset.pick)));
    if (!$("#dsl").textContent) {
      $("#dsl").textContent = JSON.stringify(job.f_dsl, null, 2);
      $("#conf").textContent = JSON.stringify(job.f_runtime_conf, null, 2);
    }
  }
  function pick(cpn) {
    selected = cpn;
    drawDag($("#dag"), job.f_dsl, fed, selected, pick);
    componentPanel(jobId, cpn, tasks.filter((t) => t.component_name === cpn));
  }
  every(1500, refresh);
}

// ---------------------------------------------------------------- one component
async function componentPanel(jobId, cpn, tasks) {
  const el = $("#cpn");
  const parties = tasks.map((t) => ({ role: t.role, party_id: t.party_id }));
  el.innerHTML = `<div class="card"><h2 class="flush">${esc(cpn)}</h2>
    <div class="tabs" id="ptabs">${parties.map((p, i) => `<button data-i="${i}">${esc(p.role)}:${esc(p.party_id)}</button>`).join("")}</div>
    <div id="pbody"></div></div>`;
  let logTimer = null;
  async function show(i) {
    if (logTimer) { clearInterval(logTimer); timers = timers.filter((t) => t !== logTimer); logTimer = null; }
    el.querySelectorAll("#ptabs button").forEach((b) => b.classList.toggle("on", Number(b.dataset.i) === i));
    const p = parties[i], t = tasks[i];
    const key = { job_id: jobId, component_name: cpn, role: p.role, party_id: p.party_id };
    $("#pbody").innerHTML = `<h2>Parameters</h2><pre id="params">${esc(JSON.stringify(t.component_parameters, null, 2))}</pre>
      <h2>Metrics</h2><div id="metrics" class="muted">Loading…</div>
      <h2>Output data</h2><div id="outdata" class="muted">Loading…</div>
      <h2>Model</h2><div id="model" class="muted">Loading…</div>
      <h2>Log <label class="muted plain"><input type="checkbox" id="follow" checked> follow</label></h2><pre class="log" id="log" data-testid="log"></pre>`;
    renderMetrics(key);
    renderOutput(key);
    renderModel(key);
    let offset = 0;
    const pre = $("#log");
    async function poll() {
      if (!$("#follow") || !$("#follow").checked) return;
      const r = await api("board/log", { ...key, offset });
      if (r.retcode !== 0 || !r.data) return;
      if (r.data.lines.length) {
        pre.textContent += r.data.lines.join("\n") + "\n";
        pre.dataset.lines = String((Number(pre.dataset.lines) || 0) + r.data.lines.length);
        pre.scrollTop = pre.scrollHeight;
      }
      offset = r.data.offset;
    }
    await poll();
    logTimer = setInterval(poll, 1000);
    timers.push(logTimer);
  }
  el.querySelectorAll("#ptabs button").forEach((b) => b.addEventListener("click", () => show(Number(b.dataset.i))));
  if (parties.length) show(0);
}

async function renderMetrics(key) {
  const el = $("#metrics");
  const r = await api("tracking/component/metric/all", key);
  const all = r.data || {};
  const scalars = [], charts = [], tables = [], iters = {};
  for (const [ns, names] of Object.entries(all)) for (const [name, m] of Object.entries(names)) {
    const raw = String((m.meta && m.meta.metric_type) || "").toUpperCase();
    const type = CURVES.find((k) => raw.includes(k)) || raw;
    const data = m.data || [];
    // Per-round validation metrics (`iteration_<n>`, one point per metric) become curves.
    const it = /^(.*)iteration_(\d+)$/.exec(name);
    if (it && data.length && data.every((d) => Array.isArray(d) && typeof d[1] === "number")) {
      for (const d of data) (iters[`${ns}\u0000${it[1]}${d[0]}`] ||= { ns, name: it[1] + d[0], pts: [] }).pts.push([Number(it[2]), d[1]]);
      continue;
    }
    const numeric = data.length > 1 && data.every((d) => Array.isArray(d) && typeof d[1] === "number" && !isNaN(Number(d[0])));
    if (raw.startsWith("CONFUSION")) tables.push({ ns, name, m });
    else if (numeric && (CURVES.includes(type) || data.length > 2)) charts.push({ ns, name, type, data });
    else for (const d of data) scalars.push({ ns, name, key: Array.isArray(d) ? d[0] : "", value: Array.isArray(d) ? d[1] : d, type: raw });
  }
  for (const g of Object.values(iters)) {
    g.pts.sort((a, b) => a[0] - b[0]);
    if (g.pts.length > 1) charts.push({ ns: g.ns, name: g.name + " by iteration", type: String(g.name).toUpperCase(), data: g.pts });
    else scalars.push({ ns: g.ns, name: `iteration_${g.pts[0][0]}`, key: g.name, value: g.pts[0][1], type: "EVALUATION_SUMMARY" });
  }
  if (!scalars.length && !charts.length && !tables.length) {
    const graphs = Object.values(all).flatMap((names) => Object.values(names)).some((m) => String((m.meta && m.meta.metric_type) || "").toUpperCase() === "CORRELATION_GRAPH");
    el.textContent = graphs ? "Correlation graph: the heat maps are under the model." : "No metrics.";
    return;
  }
  el.classList.remove("muted");
  el.innerHTML = (scalars.length ? `<table data-testid="summary-metrics"><thead><tr><th>Namespace</th><th>Metric</th><th>Key</th><th>Value</th></tr></thead><tbody>
      ${scalars.map((s) => `<tr><td>${esc(s.ns)}</td><td>${esc(s.name)}</td><td>${esc(s.key)}</td><td>${esc(typeof s.value === "number" ? +s.value.toFixed(6) : s.value)}</td></tr>`).join("")}</tbody></table>` : "")
    + `<div class="charts">${charts.map((c, i) => `<div class="chartbox"><h3>${esc(c.ns)} / ${esc(c.name)} (${esc(c.type)})</h3><div id="chart-${i}"></div></div>`).join("")}</div>`
    + tables.map((t) => confusion(t)).join("");
  charts.forEach((c, i) => { el.querySelector("#chart-" + i).innerHTML = lineChart(c.data, c.type); });
}

const CURVES = ["ROC", "KS", "LIFT", "GAIN", "PRECISION", "RECALL", "ACCURACY", "LOSS", "F1"];

// FATE's confusion metric: tp/fp/tn/fn per threshold in meta; show the 0.5 cut.
function confusion({ ns, name, m }) {
  const meta = m.meta || {};
  const th = meta.thresholds || [];
  let i = th.findIndex((t) => Math.abs(t - 0.5) < 1e-9);
  if (i < 0) i = Math.floor(th.length / 2);
  const at = (k) => (Array.isArray(meta[k]) ? meta[k][i] : meta[k]);
  return `<h3>${esc(ns)} / ${esc(name)} (confusion matrix at threshold ${esc(th[i] ?? "")})</h3>
    <table data-testid="confusion" class="auto"><tr><th></th><th>predicted 1</th><th>predicted 0</th></tr>
    <tr><th>label 1</th><td>${esc(at("tp"))}</td><td>${esc(at("fn"))}</td></tr>
    <tr><th>label 0</th><td>${esc(at("fp"))}</td><td>${esc(at("tn"))}</td></tr></table>`;
}

function lineChart(points, type) {
  const W = 360, H = 240, P = 36;
  const pts = points.map((d) => [Number(d[0]), Number(d[1])]).filter((d) => isFinite(d[0]) && isFinite(d[1]));
  if (!pts.length) return "<span class='muted'>no points</span>";
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) x1 = x0 + 1; if (y0 === y1) y1 = y0 + 1;
  const sx = (x) => P + ((x - x0) / (x1 - x0)) * (W - 2 * P), sy = (y) => H - P - ((y - y0) / (y1 - y0)) * (H - 2 * P);
  const line = pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
  const ticks = [0, 0.5, 1].map((f) => `<text x="${P - 4}" y="${sy(y0 + f * (y1 - y0)) + 4}" text-anchor="end">${+(y0 + f * (y1 - y0)).toFixed(3)}</text>
    <text x="${sx(x0 + f * (x1 - x0))}" y="${H - P + 14}" text-anchor="middle">${+(x0 + f * (x1 - x0)).toFixed(3)}</text>
    <line class="grid" x1="${P}" x2="${W - P}" y1="${sy(y0 + f * (y1 - y0))}" y2="${sy(y0 + f * (y1 - y0))}"/>`).join("");
  const diag = type === "ROC" ? `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" stroke="#ccc" stroke-dasharray="4"/>` : "";
  return `<svg class="chart" data-testid="chart" data-metric="${esc(type)}" data-points="${pts.length}" width="${W}" height="${H}">
    ${ticks}<line class="axis" x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}"/><line class="axis" x1="${P}" y1="${P}" x2="${P}" y2="${H - P}"/>
    ${diag}<polyline points="${line}" stroke="#2456d6"/></svg>`;
}

async function renderOutput(key) {
  const el = $("#outdata");
  const r = await api("tracking/component/output/data", { ...key, limit: 10 });
  if (r.retcode !== 0 || !Array.isArray(r.data) || !r.data.length) { el.textContent = "No output data."; return; }
  el.classList.remove("muted");
  const meta = r.meta || {};
  el.innerHTML = r.data.map((rows, i) => `<p><b>${esc((meta.names || [])[i])}</b> — ${esc((meta.total || [])[i])} rows (first ${rows.length})</p>
    <div class="scroll"><table data-testid="preview"><thead><tr>${((meta.header || [])[i] || []).map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>
    <tbody>${rows.map((row) => `<tr>${row.map((v) => `<td>${esc(typeof v === "number" ? +v.toFixed(6) : v)}</td>`).join("")}</tr>`).join("")}</tbody></table></div>`).join("");
}

async function renderModel(key) {
  const el = $("#model");
  const r = await api("tracking/component/output/model", key);
  if (r.retcode !== 0 || !r.meta) { el.textContent = "No model."; return; }
  el.classList.remove("muted");
  const sbt = SBT_MODULES.includes(r.meta.module_name);
  const pearson = r.meta.module_name === "HeteroPearson";
  el.innerHTML = `<p><b>${esc(r.meta.module_name)}</b> model, alias <code>${esc(r.meta.model_alias)}</code> — deploy status: <span class="muted">not deployed</span></p>
    ${sbt ? `<div id="sbt" data-testid="sbt"></div>` : ""}
    ${pearson ? renderPearson(r.data) : ""}
    <details><summary>parameters</summary><pre>${esc(JSON.stringify(r.data, null, 2))}</pre></details>`;
  if (sbt) renderSecureBoost(el.querySelector("#sbt"), r.data, r.meta.meta_data, `${key.role}:${key.party_id}`);
}

// ---------------------------------------------------------------- HeteroPearson
// The local and the cross-party correlation matrices as SVG heat maps (blue −1, red +1,
// grey for a column without variance).
function heatMap(values, rows, cols, title) {
  if (!rows.length || !cols.length || values.length !== rows.length * cols.length) return "";
  const C = 18, L = 8 + 7 * Math.min(24, Math.max(...rows.map((r) => String(r).length)));
  const T = 8 + 7 * Math.min(24, Math.max(...cols.map((c) => String(c).length)));
  const W = L + C * cols.length + 4, H = T + C * rows.length + 4;
  const color = (v) => {
    if (typeof v !== "number" || !isFinite(v)) return "#ddd";
    const a = Math.min(1, Math.abs(v)), k = Math.round(255 * (1 - a));
    return v >= 0 ? `rgb(255,${k},${k})` : `rgb(${k},${k},255)`;
  };
  const cells = values.map((v, i) => {
    const r = Math.floor(i / cols.length), c = i % cols.length;
    return `<rect x="${L + c * C}" y="${T + r * C}" width="${C - 1}" height="${C - 1}" fill="${color(v)}"><title>${esc(rows[r])} × ${esc(cols[c])}: ${fmtNum(v, 4)}</title></rect>`;
  }).join("");
  const rowLabels = rows.map((n, r) => `<text x="${L - 4}" y="${T + r * C + 13}" text-anchor="end">${esc(clip(String(n), 24))}</text>`).join("");
  const colLabels = cols.map((n, c) => `<text transform="translate(${L + c * C + 12},${T - 4}) rotate(-60)">${esc(clip(String(n), 24))}</text>`).join("");
  return `<h3>${esc(title)}</h3><svg class="chart" data-testid="heatmap" width="${W}" height="${H}">${rowLabels}${colLabels}${cells}</svg>`;
}

function renderPearson(param) {
  if (!isObj(param)) return "";
  const names = Array.isArray(param.names) ? param.names : [];
  const all = Array.isArray(param.all_names) ? param.all_names.map((n) => (isObj(n) && Array.isArray(n.names) ? n.names : [])) : [];
  const num = (a) => (Array.isArray(a) ? a.map((v) => (v === null ? NaN : v)) : []);
  let out = heatMap(num(param.local_corr), names, names, "local correlation");
  if (all.length === 2) out += heatMap(num(param.corr), all[0], all[1], "guest × host correlation");
  return `<div id="pearson" data-testid="pearson">${out}</div>`;
}

// ---------------------------------------------------------------- HeteroSecureBoost
const SBT_MODULES = ["HeteroSecureBoost", "HeteroFastSecureBoost"];
const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const fmtNum = (v, d = 6) => (typeof v === "number" && isFinite(v) ? String(+v.toFixed(d)) : esc(v ?? "?"));
const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

// Feature importance, the trees and a tree selector; `self` is "role:party" of the
// model's party. Anything unreadable becomes a message, never an empty panel.
function renderSecureBoost(box, param, meta, self) {
  try {
    if (!isObj(param) || !Object.keys(param).length) throw new Error("the model has no parameters");
    const trees = Array.isArray(param.trees_) ? param.trees_ : [];
    meta = isObj(meta) ? meta : {};
    const ctx = {
      self,
      names: isObj(param.feature_name_fid_mapping) ? param.feature_name_fid_mapping : {},
      dim: Math.max(1, Number(param.tree_dim) || 1),
      classes: Array.isArray(param.classes_) ? param.classes_ : [],
      plan: Array.isArray(param.tree_plan) ? param.tree_plan : [],
      missing: meta.use_missing === true,
    };
    const obj = isObj(meta.objective_meta) ? meta.objective_meta.objective : null;
    const facts = [
      ["model", param.model_name], ["trees", trees.length], ["trees per round", ctx.dim],
      ["task", meta.task_type], ["objective", obj], ["learning rate", meta.learning_rate],
      ["classes", ctx.classes.length ? ctx.classes.join(", ") : null],
      ["best iteration", Number(param.best_iteration) >= 0 ? param.best_iteration : null],
    ].filter(([, v]) => v != null && v !== "");
    box.innerHTML = `<p>${facts.map(([k, v]) => `<b>${esc(k)}</b> ${esc(v)}`).join(" &nbsp; ")}</p>
      <h3>Feature importance (split count)</h3><div data-testid="sbt-importance">${importanceChart(param.feature_importances, self)}</div>
      <h3>Trees</h3>${trees.length
        ? `<p><label>Tree <select id="sbt-tree-select" data-testid="sbt-tree-select">${trees.map((_, i) => `<option value="${i}">${i}</option>`).join("")}</select></label>
            <span class="muted">of ${trees.length}</span> <span id="sbt-tree-info" class="muted"></span></p><div id="sbt-tree" data-testid="sbt-tree"></div>`
        : `<p class="muted" data-testid="sbt-no-trees">The model holds no trees.</p>`}`;
    const sel = box.querySelector("#sbt-tree-select");
    if (!sel) return;
    const draw = () => {
      const i = Number(sel.value);
      const round = Math.floor(i / ctx.dim), k = i % ctx.dim;
      box.querySelector("#sbt-tree-info").textContent = `round ${round}` + (ctx.dim > 1 ? `, class ${ctx.classes[k] ?? k}` : "")
        + (ctx.plan[i] ? ` · plan ${ctx.plan[i]}` : "");
      box.querySelector("#sbt-tree").innerHTML = treeHtml(trees[i], i, ctx);
    };
    sel.addEventListener("change", draw);
    draw();
  } catch (e) {
    box.innerHTML = `<p class="reason" data-testid="sbt-error">This HeteroSecureBoost model cannot be shown: ${esc(e && e.message ? e.message : e)}</p>`;
  }
}

// Horizontal bars of split counts, the gain beside them where it is known.
function importanceChart(list, self) {
  const rows = (Array.isArray(list) ? list : []).filter((f) => isObj(f) && isFinite(Number(f.importance)) && Number(f.importance) > 0)
    .map((f) => {
      const site = String(f.sitename ?? "");
      return {
        name: String(f.fullname || `${site || "?"} feature ${f.fid ?? "?"}`), count: Number(f.importance), gain: Number(f.importance2) || 0,
        own: site === self || site === "hostLocal" || site === "",
      };
    })
    .sort((a, b) => b.count - a.count);
  if (!rows.length) return `<p class="muted">No feature importance: the trees made no splits.</p>`;
  const shown = rows.slice(0, 40), max = Math.max(...shown.map((r) => r.count));
  const L = 200, BW = 320, RH = 20, W = L + BW + 190, H = shown.length * RH + 30;
  const bars = shown.map((r, i) => {
    const y = 4 + i * RH, w = Math.max(1, (r.count / max) * BW);
    return `<g data-testid="sbt-bar" data-feature="${esc(r.name)}"><title>${esc(r.name)}</title>
      <text x="${L - 6}" y="${y + 13}" text-anchor="end">${esc(clip(r.name, 30))}</text>
      <rect class="${r.own ? "own" : "other"}" x="${L}" y="${y + 2}" width="${w.toFixed(1)}" height="${RH - 5}"></rect>
      <text x="${L + w + 6}" y="${y + 13}">${fmtNum(r.count, 3)} split${r.count === 1 ? "" : "s"}${r.gain ? ` · gain ${fmtNum(r.gain, 4)}` : ""}</text></g>`;
  }).join("");
  const ly = H - 10;
  const legend = `<rect class="own" x="${L}" y="${ly - 9}" width="10" height="10"></rect><text x="${L + 14}" y="${ly}">own features</text>`
    + (shown.some((r) => !r.own) ? `<rect class="other" x="${L + 110}" y="${ly - 9}" width="10" height="10"></rect><text x="${L + 124}" y="${ly}">other parties' features (anonymous)</text>` : "");
  return `<svg class="bars" width="${W}" height="${H}" data-bars="${shown.length}">${bars}${legend}</svg>`
    + (rows.length > shown.length ? `<p class="muted">and ${rows.length - shown.length} more features</p>` : "");
}

// One tree as an indented list: own splits by feature name and value, other parties'
// splits by their site only, leaves with weights and training row counts.
function treeHtml(tree, index, ctx) {
  try {
    if (!isObj(tree)) throw new Error("it is not an object");
    const nodes = Array.isArray(tree.tree_) ? tree.tree_.filter(isObj) : [];
    if (!nodes.length) throw new Error("it has no nodes");
    const byId = new Map(nodes.map((n) => [Number(n.id), n]));
    const masks = isObj(tree.split_maskdict) ? tree.split_maskdict : {};
    const missingDirs = isObj(tree.missing_dir_maskdict) ? tree.missing_dir_maskdict : {};
    const counts = isObj(tree.leaf_count) ? tree.leaf_count : {};
    const seen = new Set();
    let leaves = 0;
    const item = (id, side, depth) => {
      const tag = side ? `<span class="muted">${side}</span> ` : "";
      const n = byId.get(Number(id));
      if (!n) return `<li class="reason">${tag}node ${esc(id)} is missing from the model</li>`;
      if (seen.has(n)) return `<li class="reason">${tag}node ${esc(id)} is reached twice</li>`;
      if (depth > 64) return `<li class="reason">${tag}deeper than 64 levels</li>`;
      seen.add(n);
      const head = `${tag}<span class="sbt-id">#${esc(n.id)}</span>`;
      const kids = [n.left_nodeid, n.right_nodeid].map(Number);
      if (n.is_leaf || kids.every((c) => !(c >= 0))) {
        leaves += 1;
        const w = Array.isArray(n.weight) ? n.weight : n.weight == null ? [] : [n.weight];
        const wt = w.length ? `weight ${w.length === 1 ? fmtNum(w[0]) : "[" + w.map((x) => fmtNum(x)).join(", ") + "]"}`
          : `<span class="muted">weight kept by the guest</span>`;
        const c = counts[String(n.id)];
        return `<li data-testid="sbt-leaf">${head} <span class="sbt-leaf">leaf</span> ${wt}${c != null ? ` <span class="muted">· ${esc(c)} rows</span>` : ""}</li>`;
      }
      const site = String(n.sitename ?? "");
      const own = Number(n.fid) >= 0 && (site === ctx.self || String(n.id) in masks);
      let split;
      if (own) {
        const name = ctx.names[String(n.fid)] ?? `feature ${n.fid}`;
        const v = masks[String(n.id)] ?? n.bid;
        const md = missingDirs[String(n.id)] ?? n.missing_dir;
        split = `<span class="site">${esc(site || ctx.self)}</span> <b>${esc(name)}</b> ≤ ${fmtNum(v)}`
          + (ctx.missing ? ` <span class="muted">(missing → ${Number(md) === -1 ? "left" : "right"})</span>` : "");
      } else {
        split = `<span class="site other">${esc(site || "unknown site")}</span>`;
      }
      return `<li data-testid="sbt-node">${head} ${split}<ul>${item(kids[0], "left", depth + 1)}${item(kids[1], "right", depth + 1)}</ul></li>`;
    };
    const root = byId.has(0) ? 0 : Number(nodes[0].id);
    const body = item(root, "", 0);
    return `<ul class="sbt-tree" data-tree="${index}" data-leaves="${leaves}">${body}</ul>`;
  } catch (e) {
    return `<p class="reason" data-testid="sbt-error">Tree ${esc(index)} cannot be shown: ${esc(e && e.message ? e.message : e)}</p>`;
  }
}

// ---------------------------------------------------------------- tables
async function tablesView() {
  const main = $("#main");
  const r = await api("table/list", {});
  const tables = (r.data || []).filter((t) => !String(t.namespace).startsWith("output_data_"));
  main.innerHTML = `<h1>Tables</h1><table><thead><tr><th>Namespace</th><th>Name</th><th>Rows</th><th>Partitions</th><th>Columns</th><th>Origin</th><th>Created</th></tr></thead><tbody>
    ${tables.map((t) => `<tr><td>${esc(t.namespace)}</td><td><a class="link" role="button" tabindex="0" data-ns="${esc(t.namespace)}" data-name="${esc(t.table_name)}">${esc(t.table_name)}</a></td><td>${esc(t.count)}</td><td>${esc(t.partition)}</td>
      <td class="muted">${esc((t.schema && t.schema.sid) || "")}, ${esc((t.schema && t.schema.header) || "")}</td><td>${esc(t.origin)}</td><td>${fmtTime(t.create_time)}</td></tr>`).join("")
      || `<tr><td colspan="7" class="muted">No tables. Upload one with <code>flow data upload</code>.</td></tr>`}</tbody></table>
    <div id="preview"></div>`;
  main.querySelectorAll("[data-ns]").forEach((a) => a.addEventListener("click", async () => {
    const r = await api("board/table/preview", { namespace: a.dataset.ns, name: a.dataset.name, limit: 20 });
    const d = r.data || { header: [], rows: [] };
    $("#preview").innerHTML = `<h2>${esc(a.dataset.ns)}.${esc(a.dataset.name)} — first ${d.rows.length} of ${esc(d.total)} rows</h2>
      <div class="card scroll"><table data-testid="preview"><thead><tr>${d.header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>
      <tbody>${d.rows.map((row) => `<tr>${row.map((v) => `<td>${esc(typeof v === "number" ? +v.toFixed(6) : v)}</td>`).join("")}</tr>`).join("")}</tbody></table></div>`;
  }));
}

// ---------------------------------------------------------------- models
async function modelsView() {
  const r = await api("board/models", {});
  const models = r.data || [];
  $("#main").innerHTML = `<h1>Models</h1><table data-testid="models"><thead><tr><th>Job</th><th>Component</th><th>Module</th><th>Role / party</th><th>Alias</th><th>Created</th><th>Deploy status</th></tr></thead><tbody>
    ${models.map((m) => `<tr><td><a href="#/job/${esc(m.job_id)}">${esc(m.job_id)}</a></td><td>${esc(m.component_name)} (v${esc(m.task_version)})</td><td>${esc(m.module)}</td>
      <td>${esc(m.role)}:${esc(m.party_id)}</td><td>${esc(m.model_alias)}</td><td>${fmtTime(m.create_time)}</td><td class="muted">${esc(m.deploy_status)}</td></tr>`).join("")
      || `<tr><td colspan="7" class="muted">No models yet.</td></tr>`}</tbody></table>`;
}

// ---------------------------------------------------------------- audit and permissions
async function auditView() {
  const main = $("#main");
  main.innerHTML = `<h1>Audit</h1>
    <div class="card" id="chain" data-testid="chain"><span class="muted">Checking the hash chain…</span></div>
    <h2>Grants to partner parties</h2><div id="grants"></div>
    <h2>Log</h2>
    <div class="filters">
      <label>Job <input id="a-job" size="24"></label>
      <label>Party <input id="a-party" size="8"></label>
      <label class="plain"><input id="a-refused" type="checkbox"> refusals only</label>
      <span class="muted" id="a-count"></span>
    </div>
    <table data-testid="audit"><thead><tr><th>#</th><th>Time</th><th>Direction</th><th>Partner</th><th>Command</th><th>Job</th><th>Tables</th><th>Decision</th><th>Detail</th></tr></thead><tbody id="a-rows"></tbody></table>`;
  const [check, grants] = await Promise.all([api("audit/verify", {}), api("permission/list", {})]);
  const c = check.data || {};
  $("#chain").innerHTML = check.retcode !== 0 ? `<span class="reason">${esc(check.retmsg)}</span>`
    : c.ok ? `<span class="badge s-success" data-ok="true">chain verified</span> ${esc(c.entries)} ${c.entries === 1 ? "entry" : "entries"}, head <code>${esc(String(c.head).slice(0, 16))}…</code>`
    : `<span class="badge s-failed" data-ok="false">chain broken</span> at entry ${esc(c.first_bad_seq)}: ${esc(c.problem)} (${esc(c.entries)} entries before it verify)`;
  const g = grants.data || { parties: [] };
  const list = (xs) => xs.length ? xs.map((x) => esc(typeof x === "string" ? x : `${x.namespace}.${x.name}`)).join(", ") : `<span class="muted">none</span>`;
  $("#grants").innerHTML = `<p class="muted">Permission checks are <b>${g.enabled ? "on" : "off"}</b>${g.enabled ? "" : " (--permission off): any routed partner may use anything"}. Parties hosted here (${esc((g.local_parties || []).join(", "))}) are never checked.</p>
    <table class="auto" data-testid="grants"><thead><tr><th>Party</th><th>Components</th><th>Tables</th></tr></thead><tbody>
    ${g.parties.map((p) => `<tr><td>${esc(p.party_id)}</td><td>${list(p.component)}</td><td>${list(p.dataset)}</td></tr>`).join("")
      || `<tr><td colspan="3" class="muted">No grants. <code>flow privilege grant -c grant.json</code> gives a partner components and tables.</td></tr>`}</tbody></table>`;
  ["a-job", "a-party", "a-refused"].forEach((id) => $("#" + id).addEventListener("change", refresh));
  async function refresh() {
    const body = { limit: 200 };
    const job = $("#a-job").value.trim(); if (job) body.job_id = job;
    const party = $("#a-party").value.trim(); if (party) body.party_id = party;
    if ($("#a-refused").checked) body.refused = true;
    const r = await api("audit/query", body);
    const d = r.data || { entries: [], total: 0 };
    $("#a-count").textContent = r.retcode === 0 ? `${d.entries.length} of ${d.total} entries` : r.retmsg;
    $("#a-rows").innerHTML = d.entries.map((e) => `<tr data-seq="${esc(e.seq)}"><td>${esc(e.seq)}</td><td>${fmtTime(e.time)}</td><td>${esc(e.direction)}</td>
      <td>${esc(e.role ? e.role + ":" : "")}${esc(e.party_id)}${e.fingerprint ? `<br><span class="muted" title="${esc(e.fingerprint)}">${esc(e.fingerprint.slice(0, 19))}…</span>` : ""}</td>
      <td>${esc(e.command)}</td><td>${e.job_id ? `<a href="#/job/${esc(e.job_id)}">${esc(e.job_id)}</a>` : ""}</td><td>${esc(e.datasets)}</td>
      <td><span class="badge s-${e.decision === "refused" || e.decision === "unreachable" ? "failed" : "success"}" data-decision="${esc(e.decision)}">${esc(e.decision)}</span></td>
      <td class="muted">${esc(e.detail)}</td></tr>`).join("") || `<tr><td colspan="9" class="muted">No entries.</td></tr>`;
  }
  every(5000, refresh);
}

// ---------------------------------------------------------------- online inference
async function servingView() {
  const main = $("#main");
  main.innerHTML = `<h1>Serving</h1>
    <p class="muted">Models loaded with <code>flow model load</code> and service ids bound with <code>flow model bind</code>; requests go to <code>/federation/v1/inference</code> and <code>/federation/v1/batchInference</code>, metrics to <code>/metrics</code>.</p>
    <h2>Service ids</h2><div id="s-bound"></div><h2>Loaded models</h2><div id="s-loaded"></div>`;
  async function refresh() {
    const r = await api("serving/list", {});
    const d = r.data || { bindings: [], loaded: [] };
    $("#s-bound").innerHTML = `<table data-testid="bindings"><thead><tr><th>Service id</th><th>Model</th><th>Version</th><th>Guest</th><th>Requests</th><th>Errors</th></tr></thead><tbody>
      ${d.bindings.map((b) => `<tr><td>${esc(b.service_id)}</td><td>${esc(b.model_id)}</td><td>${esc(b.model_version)}</td><td>${esc(b.guest)}</td><td>${esc(b.requests)}</td><td>${esc(b.errors)}</td></tr>`).join("")
        || `<tr><td colspan="6" class="muted">No service id is bound here.</td></tr>`}</tbody></table>`;
    $("#s-loaded").innerHTML = `<table data-testid="loaded"><thead><tr><th>Role</th><th>Model</th><th>Version</th><th>Scorer</th><th>Features</th><th>Feature rows</th><th>Loaded</th></tr></thead><tbody>
      ${d.loaded.map((l) => `<tr><td>${esc(l.role)}</td><td>${esc(l.model_id)}</td><td>${esc(l.model_version)}</td><td>${esc(l.scorer)} (${esc(l.kind)})</td><td>${esc(l.features)}</td><td>${esc(l.feature_rows ?? "—")}</td><td>${fmtTime(l.loaded_at)}</td></tr>`).join("")
        || `<tr><td colspan="7" class="muted">No model is loaded for online inference.</td></tr>`}</tbody></table>`;
  }
  every(5000, refresh);
}

// ---------------------------------------------------------------- the site's servers
async function clusterView() {
  const main = $("#main");
  main.innerHTML = `<h1>Servers</h1><div id="c-lease" class="card"></div><div id="c-list"></div>`;
  async function refresh() {
    const r = await api("cluster/status", {});
    const d = r.data;
    if (!d) { $("#c-lease").innerHTML = `<span class="muted">${esc(r.retmsg)}</span>`; return; }
    if (!d.clustered) {
      $("#c-lease").innerHTML = `<p class="muted">This server runs the site alone. Start several with <code>--cluster</code> on one PostgreSQL or MySQL database and one shared data dir to survive the loss of one.</p>`;
      $("#c-list").innerHTML = "";
      return;
    }
    const l = d.lease;
    $("#c-lease").innerHTML = l && l.expires_in_ms >= 0
      ? `Scheduler lease: <b data-testid="holder">${esc(l.holder)}</b>, epoch ${esc(l.epoch)}, expires in ${fmtDur(Math.max(0, l.expires_in_ms))} unless its holder renews it (every second). This page is served by ${esc(d.instance_id)}${d.leading ? " (the holder)" : ""}.`
      : `<span class="badge s-failed">No server holds the scheduler lease</span> <span class="muted">a server takes it within seconds once the last holder's lease expires</span>`;
    $("#c-list").innerHTML = `<table data-testid="servers"><thead><tr><th>Slot</th><th>Instance</th><th>Address</th><th>Host / pid</th><th>Version</th><th>Heartbeat</th><th></th></tr></thead><tbody>
      ${d.instances.map((i) => `<tr><td>${esc(i.slot)}</td><td>${esc(i.instance_id)}</td><td>${esc(i.address)}</td><td>${esc(i.host)} / ${esc(i.pid)}</td><td>${esc(i.version)}</td>
        <td><span class="badge s-${i.alive ? "success" : "failed"}">${i.alive ? "alive" : "silent"}</span> ${fmtDur(i.heartbeat_age_ms)} ago</td><td>${i.leader ? `<span class="badge s-running">schedules</span>` : ""}</td></tr>`).join("")}</tbody></table>`;
  }
  every(3000, refresh);
}

// ---------------------------------------------------------------- routing
async function route() {
  stopTimers();
  const h = location.hash || "#/";
  const m = h.match(/^#\/job\/([\w-]+)/);
  if (m) return jobView(m[1]);
  if (h.startsWith("#/tables")) return tablesView();
  if (h.startsWith("#/models")) return modelsView();
  if (h.startsWith("#/audit")) return auditView();
  if (h.startsWith("#/serving")) return servingView();
  if (h.startsWith("#/cluster")) return clusterView();
  return jobsView();
}
window.addEventListener("hashchange", route);
api("info/common").then((r) => { if (r.data) $("#site").textContent = `parties ${r.data.parties.join(", ")} · v${r.data.version}`; });
route();
