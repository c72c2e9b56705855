// Supervisor wallboard: renders the "wallboard" snapshots the bridge pushes on every call or agent
// event (no polling); listen / whisper / barge buttons send websocket commands.
import {clock, pct, secs} from "./lib/format.js";
import {errorText, label, t} from "./lib/i18n.js";
import {html, nothing, render, repeat, svg} from "./lib/html.js";
import {DeskSocket} from "./lib/socket.js";

const $ = (id) => document.getElementById(id);
const socket = new DeskSocket({onFrame: (f) => f.type === "wallboard" && show(f)});
let last = null;

const slClass = (f) => (f.sl == null ? "" : f.sl >= 0.8 ? "good" : f.sl >= 0.6 ? "warn" : "bad");
const row = (name, f, testid) => html`<tr data-testid=${testid} data-name=${f.name}><th scope="row">${name}</th>
  <td class=${f.waiting ? "hot" : ""} data-k="waiting">${f.waiting}</td><td data-k="longest">${secs(f.longest_wait)}</td>
  <td data-k="answered">${f.answered}</td><td data-k="abandoned">${f.abandoned}</td><td data-k="exited">${f.exited || 0}</td>
  <td class=${slClass(f)} data-k="sl">${pct(f.sl)}</td><td data-k="asa">${secs(f.asa)}</td><td data-k="aht">${secs(f.aht)}</td></tr>`;

function totals(s) {
  const sum = (k) => s.queues.reduce((a, q) => a + (q[k] || 0), 0);
  // An exit (callback, voicemail, goodbye at the queue's maximum wait) is not an abandon, but it
  // counts against the service level, as in the QCVN 36 report.
  const answered = sum("answered"), abandoned = sum("abandoned"), exited = sum("exited");
  const handled = answered + abandoned + exited;
  return {waiting: sum("waiting"), answered, abandoned, exited, offered: handled,
          longest: Math.max(0, ...s.queues.map((q) => q.longest_wait || 0)),
          sl: handled ? sum("answered_in_sl") / handled : null};
}

function tiles(s, tot) {
  const items = [["waiting", tot.waiting], ["longest", secs(tot.longest)], ["answered", tot.answered],
                 ["abandoned", tot.abandoned], ["exited", tot.exited], ["sl", pct(tot.sl)],
                 ["ready", (s.agent_counts || {}).ready || 0]];  // agents app_queue can ring
  return items.map(([id, v]) => html`<div class="tile" data-testid="tile-${id}"><span>${t(`wall.${id}`)}</span><b>${v}</b></div>`);
}

function dayOf(halves) {
  // The working day 07:00–21:30 (stretched to any slot with calls), empty slots included.
  const idx = (s) => Number(s.slice(0, 2)) * 2 + (s.slice(3) === "30" ? 1 : 0);
  const have = new Map(halves.map((h) => [h.slot, h]));
  const first = Math.min(14, ...halves.map((h) => idx(h.slot))), lastI = Math.max(43, ...halves.map((h) => idx(h.slot)));
  const out = [];
  for (let i = first; i <= lastI; i++) {
    const slot = `${String(Math.floor(i / 2)).padStart(2, "0")}:${i % 2 ? "30" : "00"}`;
    out.push(have.get(slot) || {slot, offered: 0, answered: 0, abandoned: 0, sl: null});
  }
  return out;
}

// The chart is an image with a summary as its accessible name; the same figures, slot by slot, are a
// real table under it (in a <details>), so a screen reader or a copy-paste gets every number.
function chart(raw, tot) {
  const halves = dayOf(raw);
  const W = 1000, H = 220, P = 34;
  const max = Math.max(1, ...halves.map((h) => h.offered));
  const bw = Math.min(48, (W - 2 * P) / halves.length - 6);
  const x = (i) => P + i * ((W - 2 * P) / halves.length) + 3;
  const y = (v) => H - P - (v / max) * (H - 2 * P);
  const target = P + 0.2 * (H - 2 * P);
  const pts = halves.map((h, i) => (h.sl == null ? null : [x(i) + bw / 2, P + (1 - h.sl) * (H - 2 * P)])).filter(Boolean);
  const summary = t("wall.chart_summary", {offered: tot.offered, answered: tot.answered, abandoned: tot.abandoned, sl: pct(tot.sl)});
  const used = raw.filter((h) => h.offered || h.answered || h.abandoned);
  return html`<svg viewBox="0 0 ${W} ${H}" class="chart" role="img" aria-label=${summary}>
      <line x1=${P} y1=${H - P} x2=${W - P} y2=${H - P} class="axis-line"/>
      ${halves.map((h, i) => svg`
        <rect x=${x(i)} y=${y(h.answered)} width=${bw} height=${H - P - y(h.answered)} class="bar-ans"></rect>
        <rect x=${x(i)} y=${y(h.answered + h.abandoned)} width=${bw} height=${y(h.answered) - y(h.answered + h.abandoned)} class="bar-ab"></rect>
        ${h.slot.endsWith(":00") ? svg`<text x=${x(i) + bw / 2} y=${H - P + 14} text-anchor="middle" class="axis">${h.slot.slice(0, 2)}h</text>` : nothing}`)}
      ${pts.length ? svg`<polyline points=${pts.map((p) => p.join(",")).join(" ")} class="sl-line"/>
        ${pts.map(([cx, cy]) => svg`<circle cx=${cx} cy=${cy} r="3.5" class="sl-dot"/>`)}` : nothing}
      <line x1=${P} y1=${target} x2=${W - P} y2=${target} class="target"/>
      <text x=${W - P} y=${target - 4} text-anchor="end" class="axis">SL 80 %</text>
      <text x=${P - 6} y=${P + 4} text-anchor="end" class="axis">${max}</text><text x=${P - 6} y=${H - P} text-anchor="end" class="axis">0</text>
    </svg>
    <div class="legend" aria-hidden="true"><span class="k ans"></span>${t("wall.answered")} <span class="k ab"></span>${t("wall.abandoned")} <span class="k sl"></span>${t("wall.sl")}</div>
    <details class="chart-data"><summary>${t("wall.chart_table")}</summary>
      ${used.length ? html`<table class="num" data-testid="chart-table"><thead><tr><th scope="col">${t("wall.slot")}</th>
          <th scope="col">${t("wall.offered")}</th><th scope="col">${t("wall.answered")}</th><th scope="col">${t("wall.abandoned")}</th>
          <th scope="col">${t("wall.sl")}</th></tr></thead>
        <tbody>${used.map((h) => html`<tr><th scope="row">${h.slot}</th><td>${h.offered}</td><td>${h.answered}</td><td>${h.abandoned}</td><td>${pct(h.sl)}</td></tr>`)}</tbody></table>`
        : html`<p class="muted">${t("wall.no_data")}</p>`}
    </details>`;
}

function agentRow(a, now) {
  const st = a.on_call ? "on_call" : a.status;
  const spy = (mode) => html`<button class="link-btn" data-spy=${mode} aria-label=${t("wall.spy_label", {mode: t(`wall.${mode}`), name: a.name})}
    @click=${() => socket.command("spy.start", {agent_id: a.agent_id, mode}).catch((err) => say(errorText(err)))}>${t(`wall.${mode}`)}</button>`;
  return html`<tr data-testid="agent-row" data-agent=${a.agent_id}><th scope="row">${a.name} <small>#${a.agent_id}</small></th>
    <td><span class="badge st-${st}">${label("agent_status", st)}</span></td><td data-k="since">${a.since ? secs(now - a.since) : "–"}</td>
    <td data-k="reason">${a.reason ? label("reasons", a.reason) : ""}</td>
    <td class="spy">${a.on_call ? [spy("listen"), " ", spy("whisper"), " ", spy("barge")] : nothing}</td></tr>`;
}

// The satisfaction block (agent_desktop/kpi_board.py): today's surveys, repeat contacts, the latest FCR.
function kpiTiles(k) {
  if (!k) return nothing;
  const tot = k.total, avg = (v) => (v == null ? "–" : v.toFixed(2).replace(".", ","));
  const items = [["csat", avg(tot.csat)], ["csat_top2", pct(tot.csat_top2)], ["response_rate", pct(tot.response_rate)],
                 ["surveyed", tot.surveyed], ["repeat_today", pct(tot.repeat_today_rate)], ["fcr", pct(k.fcr)]];
  return items.map(([id, v]) => html`<div class="tile" data-testid="kpi-${id}"><span>${t(`kpi.${id}`, {day: k.fcr_day})}</span><b>${v}</b></div>`);
}

function say(text) { $("wall-msg").textContent = text ? `${t("desk.error")}: ${text}` : ""; }

function show(s) {
  last = s;
  const tot = totals(s);
  render(tiles(s, tot), $("tiles"));
  render(repeat(s.queues, (q) => q.name, (q) => row(q.label || q.name, q, "queue-row")), $("queues"));
  render(repeat(s.tiers, (x) => x.name, (x) => row(x.name, x, "tier-row")), $("tiers"));
  const now = Date.now() / 1000;
  render(repeat(s.agents, (a) => a.agent_id, (a) => agentRow(a, now)), $("agents"));
  render(chart(s.halfhours, tot), $("chart"));
  render(kpiTiles(s.kpis), $("kpi-tiles"));
}

setInterval(() => {
  $("clock").textContent = clock(new Date());
  if (last) show(last);  // time in state ticks
}, 1000);

socket.connect();
