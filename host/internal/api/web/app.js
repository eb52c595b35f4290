// SoccerPredict's page: reads the server's /v1 API with the key the person
// entered (kept in sessionStorage for this tab), draws fixtures, recent
// forecasts, the evaluation and the promotion history, and follows a
// promotion: it asks every few seconds which generation serves and
// reloads the forecasts when that changes.
"use strict";

const KEY = "soccerpredict.api_key";
const COMP = "soccerpredict.competition";
const POLL_MS = 3000;
const $ = (sel) => document.querySelector(sel);
let shown = { generation: null, competition: null };
let competitions = [];

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

class NeedKey extends Error {}

async function api(path, opts = {}) {
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = "Bearer " + key;
  const resp = await fetch(path, { ...opts, headers });
  let body = null;
  try { body = await resp.json(); } catch (_) { /* not JSON */ }
  if (resp.status === 401 || resp.status === 403) {
    askForKey(key ? (body && body.detail) || "this key is not accepted" : "");
    throw new NeedKey();
  }
  if (!resp.ok) {
    const err = new Error((body && (body.detail || body.title)) || resp.status + " " + resp.statusText);
    err.status = resp.status;
    throw err;
  }
  return body;
}

function askForKey(why) {
  $("#keyform").hidden = false;
  $("#keyerror").textContent = why || "";
  $("#key").focus();
}

const pct = (p) => (100 * p).toFixed(1) + "%";
const signed = (x) => (x >= 0 ? "+" : "−") + (100 * Math.abs(x)).toFixed(1);
const day = (t) => new Date(t).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric" });
const when = (t) => new Date(t).toLocaleString(undefined, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });

function bar(p) {
  const b = el("div", { class: "bar", title: `home ${pct(p.home)} · draw ${pct(p.draw)} · away ${pct(p.away)}` });
  for (const [cls, v] of [["h", p.home], ["d", p.draw], ["a", p.away]]) {
    const s = el("span", { class: cls });
    s.style.width = (100 * v).toFixed(2) + "%";
    b.append(s);
  }
  return b;
}

function probCells(p) {
  return [el("td", { class: "num" }, pct(p.home)), el("td", { class: "num" }, pct(p.draw)), el("td", { class: "num" }, pct(p.away))];
}

function market(m) {
  if (!m) return el("td", { class: "empty" }, "no odds");
  const td = el("td", { title: `${m.bookmaker || "the market"}'s price, ${m.source === "stored" ? "as the store has it" : "as the request gave it"}` },
    `${pct(m.probabilities.home)} / ${pct(m.probabilities.draw)} / ${pct(m.probabilities.away)} · `);
  ["home", "draw", "away"].forEach((o, i) => {
    const e = m.edge[o];
    td.append(el("span", { class: e >= 0 ? "edge-pos" : "edge-neg", title: `${o}: model minus market, in percentage points` }, signed(e)));
    if (i < 2) td.append(" ");
  });
  return td;
}

function fixtureRow(p) {
  const f = p.fixture;
  return el("tr", { "data-fixture": f.id, "data-home": p.probabilities.home, "data-draw": p.probabilities.draw, "data-away": p.probabilities.away,
      "data-version": p.model.version, "data-generation": p.generation },
    el("td", {}, when(f.kickoff)), el("td", {}, `${f.home_team} – ${f.away_team}`), ...probCells(p.probabilities),
    el("td", {}, bar(p.probabilities)), market(p.market));
}

// rps is the ranked probability score of one forecast against its result.
function rps(p, result) {
  const o = { H: [1, 1], D: [0, 1], A: [0, 0] }[result];
  const c1 = p.home, c2 = p.home + p.draw;
  return ((c1 - o[0]) ** 2 + (c2 - o[1]) ** 2) / 2;
}

function recentRow(p) {
  const f = p.fixture, r = p.result || {};
  const pr = p.probabilities;
  const fav = pr.home >= pr.draw && pr.home >= pr.away ? "H" : pr.away >= pr.draw ? "A" : "D";
  const hit = r.result === fav;
  return el("tr", { "data-fixture": f.id },
    el("td", {}, day(f.kickoff)), el("td", {}, `${f.home_team} – ${f.away_team}`),
    el("td", { class: hit ? "hit" : "miss", title: hit ? "the favoured outcome happened" : "" }, r.result ? `${r.home_goals}–${r.away_goals}` : "?"),
    ...probCells(pr), el("td", {}, bar(pr)), el("td", { class: "num" }, r.result ? rps(pr, r.result).toFixed(3) : ""));
}

async function loadCompetitions() {
  const out = await api("/v1/competitions");
  competitions = out.competitions;
  const sel = $("#competition");
  sel.replaceChildren(...competitions.map((c) => el("option", { value: c.code }, `${c.name} (${c.code})`)));
  const want = location.hash.slice(1) || sessionStorage.getItem(COMP);
  if (want && competitions.some((c) => c.code === want)) sel.value = want;
  else if (competitions.some((c) => c.code === "E0")) sel.value = "E0";
}

function fillTeams(code) {
  const c = competitions.find((c) => c.code === code);
  $("#teams").replaceChildren(...(c ? c.teams : []).map((t) => el("option", { value: t })));
}

async function loadFixtures() {
  const code = $("#competition").value;
  if (!code) return;
  fillTeams(code);
  const out = await api(`/v1/fixtures?competition=${encodeURIComponent(code)}&limit=12`);
  $("#upcoming tbody").replaceChildren(...out.upcoming.map(fixtureRow));
  $("#upcoming-empty").hidden = out.upcoming.length > 0;
  $("#recent tbody").replaceChildren(...out.recent.map(recentRow));
  $("#recent-note").hidden = out.recent_source !== "replay" || out.recent.length === 0;
  shown.competition = code;
}

// ---- live quality (GET /v1/monitoring) ----

function delta(p) {
  if (!p) return "—";
  const sign = (v) => (v >= 0 ? "+" : "") + v.toFixed(4);
  return `${sign(p.log_loss)} ± ${p.log_loss_se.toFixed(4)} (${p.n})`;
}

async function loadMonitoring() {
  const rep = await api("/v1/monitoring");
  const log = rep.log ? `; this server logged ${rep.log.written}, dropped ${rep.log.dropped}` : "";
  $("#monitoring-summary").textContent = `${rep.logged_forecasts} forecasts of ${rep.fixtures} fixtures logged, ${rep.awaiting_result} awaiting a result${log}.`;
  $("#monitoring tbody").replaceChildren(...rep.versions.map((v) => {
    const a = v.alarm;
    const alarm = a.raised ? `RAISED at match ${a.raised_at} (z ${a.z.toFixed(2)})` : a.matches ? `quiet (z ${a.z.toFixed(2)})` : "—";
    const drift = v.drift.map((d) => `${d.regime}: ${d.features.drifted_features}/${d.features.features.length}${d.features.dataset_drift ? " DRIFT" : ""}`).join(", ") || "—";
    return el("tr", { "data-version": v.version, class: a.raised ? "alarm" : "" },
      el("td", {}, `${v.model} v${v.version}`), el("td", { class: "num" }, v.n),
      el("td", { class: "num" }, v.n ? v.mean.log_loss.toFixed(4) : ""), el("td", { class: "num" }, v.n ? v.mean.rps.toFixed(4) : ""),
      el("td", {}, delta(v.vs_pre_match)), el("td", {}, delta(v.vs_closing)),
      el("td", {}, v.calibration.map((c) => c.ece.toFixed(3)).join(" · ")), el("td", {}, alarm), el("td", {}, drift));
  }));
}

async function loadPromotions() {
  const out = await api("/v1/promotions?limit=20");
  $("#model").textContent = `${out.champion.name} v${out.champion.version}`;
  $("#generation").textContent = out.generation;
  $("#since").textContent = out.since ? `since ${when(out.since)}` : "";
  $("#promotions tbody").replaceChildren(...out.promotions.map((a) =>
    el("tr", { "data-generation": a.generation || "" },
      el("td", {}, when(a.at)), el("td", {}, a.action + (a.forced ? " (forced)" : "")), el("td", {}, a.alias),
      el("td", {}, a.from_version ? `v${a.from_version} → v${a.to_version}` : `v${a.to_version}`),
      el("td", { class: "num" }, a.generation || ""), el("td", {}, a.actor), el("td", {}, a.reason || ""))));
  return out.generation;
}

// ---- evaluation plots (inline SVG, drawn here: no chart library) ----

const SVGNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function axes(W, H, m, xmax, ymax, xlabel, ylabel, yfmt) {
  const g = svg("g", {});
  g.append(svg("line", { x1: m.l, y1: H - m.b, x2: W - m.r, y2: H - m.b, stroke: "#888" }));
  g.append(svg("line", { x1: m.l, y1: m.t, x2: m.l, y2: H - m.b, stroke: "#888" }));
  for (let i = 0; i <= 4; i++) {
    const y = H - m.b - (i / 4) * (H - m.t - m.b);
    g.append(svg("line", { x1: m.l, y1: y, x2: W - m.r, y2: y, stroke: "#eee" }));
    g.append(svg("text", { x: m.l - 4, y: y + 4, "text-anchor": "end" }, yfmt((i / 4) * ymax)));
  }
  if (xlabel) g.append(svg("text", { x: (W + m.l) / 2, y: H - 4, "text-anchor": "middle" }, xlabel));
  if (ylabel) g.append(svg("text", { x: 12, y: (H - m.b + m.t) / 2, transform: `rotate(-90 12 ${(H - m.b + m.t) / 2})`, "text-anchor": "middle" }, ylabel));
  return g;
}

function reliabilityPlot(bins) {
  const W = 360, H = 300, m = { l: 44, r: 10, t: 10, b: 36 };
  const x = (v) => m.l + v * (W - m.l - m.r), y = (v) => H - m.b - v * (H - m.t - m.b);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "reliability diagram" });
  s.append(axes(W, H, m, 1, 1, "forecast probability", "observed frequency", (v) => v.toFixed(2)));
  for (let i = 0; i <= 4; i++) s.append(svg("text", { x: x(i / 4), y: H - m.b + 14, "text-anchor": "middle" }, (i / 4).toFixed(2)));
  s.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), stroke: "#bbb", "stroke-dasharray": "4 3" }));
  const colours = { model: "#2b6cb0", bookmaker: "#c05621" };
  for (const src of ["bookmaker", "model"]) {
    const pts = bins.filter((b) => b.source === src).sort((a, b) => a.mean_predicted - b.mean_predicted);
    if (!pts.length) continue;
    s.append(svg("polyline", { points: pts.map((b) => `${x(b.mean_predicted)},${y(b.observed)}`).join(" "), fill: "none", stroke: colours[src], "stroke-width": 2 }));
    for (const b of pts) s.append(svg("circle", { cx: x(b.mean_predicted), cy: y(b.observed), r: 2 + Math.min(4, Math.sqrt(b.count) / 12), fill: colours[src] },
      svg("title", {}, `${src}: forecast ${b.mean_predicted.toFixed(3)}, observed ${b.observed.toFixed(3)} (${b.count})`)));
  }
  const legend = el("div", { class: "legend" });
  for (const [name, colour] of [["model", colours.model], ["Pinnacle closing", colours.bookmaker]]) { const i = el("i"); i.style.background = colour; legend.append(i, name); }
  return [s, legend];
}

function rpsPlot(seasons) {
  const W = 420, H = 300, m = { l: 48, r: 10, t: 10, b: 36 };
  const series = [["model", "#2b6cb0", (s) => s.model.rps], ["Pinnacle pre-match", "#d69e2e", (s) => (s.pinnacle_prematch || {}).rps || 0],
    ["Pinnacle closing", "#c05621", (s) => s.bookmaker_closing.rps],
    ["base rates", "#8a8f98", (s) => s.previous_season_base_rates.rps]];
  const ymax = Math.ceil(Math.max(0.2, ...seasons.flatMap((s) => series.map(([, , f]) => f(s)))) * 20 + 0.5) / 20;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "RPS by season" });
  s.append(axes(W, H, m, seasons.length, ymax, "test season", "RPS", (v) => v.toFixed(3)));
  const band = (W - m.l - m.r) / Math.max(1, seasons.length), bw = band / (series.length + 1);
  const y = (v) => H - m.b - (v / ymax) * (H - m.t - m.b);
  seasons.forEach((se, i) => {
    const x0 = m.l + i * band + bw / 2;
    series.forEach(([name, colour, f], j) => {
      const v = f(se);
      s.append(svg("rect", { x: x0 + j * bw, y: y(v), width: bw - 2, height: H - m.b - y(v), fill: colour }, svg("title", {}, `${se.season} ${name}: ${v.toFixed(4)}`)));
    });
    s.append(svg("text", { x: m.l + (i + 0.5) * band, y: H - m.b + 14, "text-anchor": "middle" }, se.season));
  });
  const legend = el("div", { class: "legend" });
  for (const [name, colour] of series) { const i = el("i"); i.style.background = colour; legend.append(i, name); }
  return [s, legend];
}

let evaluation = null;

async function loadEvaluation() {
  try {
    evaluation = await api("/v1/evaluation");
  } catch (e) {
    if (e.status === 404) { $("#evaluation-summary").textContent = "No evaluation is recorded yet: run `soccerpredict evaluate`."; return; }
    throw e;
  }
  drawEvaluation();
}

// drawEvaluation shows the selected competition's evaluation when the run
// covered it (an evaluation of several leagues), else the first league.
function drawEvaluation() {
  if (!evaluation) return;
  const out = evaluation, report = out.evaluation;
  const leagues = report.leagues || [report];
  const ev = leagues.find((l) => l.competition === $("#competition").value) || leagues[0];
  const o = ev.overall;
  const f = (x) => x.toFixed(4);
  let text = `Walk-forward on ${ev.competition}, ${ev.seasons.map((s) => s.season).join(", ")} (${o.model.n} matches, run ${out.run}): ` +
    `model RPS ${f(o.model.rps)}, log-loss ${f(o.model.log_loss)}`;
  if (o.pinnacle_prematch && o.pinnacle_prematch.n) {
    text += `; Pinnacle pre-match (the price the model may see) RPS ${f(o.pinnacle_prematch.rps)}, log-loss ${f(o.pinnacle_prematch.log_loss)}`;
  }
  text += `; Pinnacle closing RPS ${f(o.bookmaker_closing.rps)}, log-loss ${f(o.bookmaker_closing.log_loss)}; last season's base rates RPS ${f(o.previous_season_base_rates.rps)}.`;
  if (report.pooled && leagues.length > 1) {
    const p = report.pooled, d = p.model_minus_prematch.log_loss;
    text += ` All ${leagues.length} leagues pooled (${p.model.n} matches): model − pre-match log-loss ${d.mean >= 0 ? "+" : ""}${f(d.mean)} [${f(d.low)}, ${f(d.high)}].`;
  }
  $("#evaluation-summary").textContent = text;
  $("#reliability").replaceChildren(...reliabilityPlot(o.reliability || []));
  $("#rps").replaceChildren(...rpsPlot(ev.seasons));
}

// ---- forecast form ----

async function ask(ev) {
  ev.preventDefault();
  const body = { home_team: $("#ask-home").value.trim(), away_team: $("#ask-away").value.trim(), competition: $("#competition").value };
  const k = $("#ask-kickoff").value;
  if (k) body.kickoff = new Date(k).toISOString();
  const odds = $("#ask-odds").value.trim();
  const answer = $("#answer");
  if (odds) {
    const n = odds.split(/[\s,/]+/).map(Number);
    if (n.length !== 3 || n.some((x) => !(x > 1))) { answer.replaceChildren(el("p", { class: "error" }, "odds: three decimal prices above 1, home draw away")); return; }
    body.odds = { home: n[0], draw: n[1], away: n[2] };
  }
  try {
    const p = await api("/v1/predictions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const t = el("table", {}, el("tbody", {}, fixtureRow(p)));
    answer.replaceChildren(t, el("p", { class: "empty" }, `${p.model.name} v${p.model.version}, generation ${p.generation}, season ${p.fixture.season}`));
  } catch (e) {
    if (!(e instanceof NeedKey)) answer.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

// ---- start and follow ----

function status(msg) { $("#status").textContent = msg || ""; }

async function start() {
  try {
    await loadCompetitions();
    $("#keyform").hidden = true;
    shown.generation = await loadPromotions();
    await loadFixtures();
    status("");
    loadMonitoring().catch((e) => { if (!(e instanceof NeedKey)) $("#monitoring-summary").textContent = e.message; });
    loadEvaluation().catch((e) => { if (!(e instanceof NeedKey)) $("#evaluation-summary").textContent = e.message; });
  } catch (e) {
    if (!(e instanceof NeedKey)) status("cannot reach the server: " + e.message);
    return false;
  }
  return true;
}

async function follow() {
  try {
    loadMonitoring().catch(() => {}); // the server's refreshed report: cheap to ask for
    const gen = await loadPromotions();
    if (gen !== shown.generation) {
      shown.generation = gen;
      await loadFixtures();
      status(`a new generation (${gen}) serves now; forecasts reloaded`);
    }
  } catch (e) {
    if (!(e instanceof NeedKey)) status("cannot reach the server: " + e.message);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("#keyform").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("#key").value.trim());
    $("#key").value = "";
    start();
  });
  $("#competition").addEventListener("change", () => {
    const c = $("#competition").value;
    sessionStorage.setItem(COMP, c);
    history.replaceState(null, "", "#" + c);
    loadFixtures().catch((e) => { if (!(e instanceof NeedKey)) status(e.message); });
    drawEvaluation();
  });
  $("#ask").addEventListener("submit", ask);
  await start();
  setInterval(follow, POLL_MS);
});
