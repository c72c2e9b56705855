// The supervisors' report page (reports/http.py): the period's figures from /api/reports/page, a bar
// chart of one figure by day, half-hour, queue, tier or agent (server numbers, drawn here as SVG: a
// bar's height is its value over the chart's scale), the same figures as a table, the calls behind a
// bar (/api/reports/calls), the CSV/XLSX exports of the same figures and the QA averages.
import {api} from "./lib/http.js";
import {day, hm, pct} from "./lib/format.js";
import {errorText, t} from "./lib/i18n.js";
import {html, nothing, render, svg} from "./lib/html.js";
import {dmy, periodOf, sec1, todayVn} from "./lib/period.js";
import {DeskSocket} from "./lib/socket.js";

const $ = (id) => document.getElementById(id);
const form = $("rep-period");
const view = $("rep-view");
const LISTS = {day: "days", halfhour: "half_hours", queue: "queues", tier: "tiers", agent: "agent_figures"};
const RATIOS = new Set(["sl", "abandon_rate"]);
// The chart's geometry (viewBox units): a bar of value v is v / scale × PLOT_H tall.
const W = 960, H = 280, LEFT = 56, RIGHT = 12, TOP = 16, BOTTOM = 44;
const PLOT_H = H - TOP - BOTTOM;
let page = null;
let query = null;  // {since, until, queue}

const fmt = (metric, v) => (RATIOS.has(metric) ? pct(v) : metric === "offered" ? String(v ?? 0) : sec1(v));
const keyText = (scope, key) => (scope === "day" ? dmy(key) : key);
const qs = (extra = {}) => new URLSearchParams(Object.entries({...query, ...extra}).filter(([, v]) => v !== "" && v != null)).toString();

/** The chart's scale: 100 % for ratios, else the largest value (at least 1). */
function scaleOf(metric, items) {
  if (RATIOS.has(metric)) return 1;
  return Math.max(1, ...items.map((i) => i[metric] ?? 0));
}

function chart(scope, metric, items) {
  if (!items.length) return html`<p class="muted">${t("rpage.none")}</p>`;
  const scale = scaleOf(metric, items);
  const slot = (W - LEFT - RIGHT) / items.length;
  const bw = Math.max(2, slot * 0.7);
  const y = (v) => TOP + PLOT_H - (v / scale) * PLOT_H;
  const target = metric === "sl" && page ? page.target : null;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * scale);
  const every = Math.ceil(items.length / 24);  // at most 24 labels under the bars
  const name = t("rpage.chart_label", {metric: t(`rpage.metrics.${metric}`), scope: t(`rpage.scopes.${scope}`), n: items.length});
  return html`<svg viewBox="0 0 ${W} ${H}" class="chart rep-chart" role="group" aria-label=${name} data-scale=${scale} data-plot-height=${PLOT_H}>
    ${ticks.map((v) => svg`<line x1=${LEFT} x2=${W - RIGHT} y1=${y(v)} y2=${y(v)} class="grid"/>
      <text x=${LEFT - 6} y=${y(v) + 4} text-anchor="end" class="axis">${fmt(metric, v)}</text>`)}
    ${items.map((it, i) => {
      const v = it[metric];
      const h = v == null ? 0 : (v / scale) * PLOT_H;
      const x = LEFT + i * slot + (slot - bw) / 2;
      const key = it.day || it.name;
      const text = t("rpage.bar_label", {key: keyText(scope, key), value: fmt(metric, v)});
      return svg`<g class="bar" role="button" tabindex="0" aria-label=${text} data-testid="rep-bar" data-key=${key}
          @click=${() => drill(scope, key)} @keydown=${(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), drill(scope, key))}>
        <title>${text}</title>
        <rect x=${x.toFixed(2)} y=${(TOP + PLOT_H - h).toFixed(2)} width=${bw.toFixed(2)} height=${h.toFixed(2)}
          data-value=${v == null ? "" : v} class=${metric === "sl" && it.compliant === false ? "bar-bad" : "bar-ok"}/>
        ${i % every === 0 ? svg`<text x=${(x + bw / 2).toFixed(2)} y=${H - BOTTOM + 16} text-anchor="middle" class="axis">${scope === "day" ? dmy(key).slice(0, 5) : key}</text>` : nothing}
      </g>`;
    })}
    ${target != null ? svg`<line x1=${LEFT} x2=${W - RIGHT} y1=${y(target)} y2=${y(target)} class="target"/>
      <text x=${W - RIGHT} y=${y(target) - 4} text-anchor="end" class="axis">${t("rpage.target_line", {target: pct(target)})}</text>` : nothing}
  </svg>`;
}

const COLS = ["offered", "answered", "answered_in_sl", "abandoned", "exited", "sl", "asa", "aht", "abandon_rate"];
const colName = (c) => ({answered_in_sl: t("rpage.in_sl"), sl: "SL", asa: "ASA", aht: "AHT", abandon_rate: t("rpage.metrics.abandon_rate")}[c] || t(`rpage.${c}`));
const cell = (c, v) => (c === "sl" || c === "abandon_rate" ? pct(v) : c === "asa" || c === "aht" ? sec1(v) : String(v ?? 0));

function table(scope, items) {
  if (!items.length) return nothing;
  return html`<table class="num rep-table" data-testid="rep-rows" aria-label=${t(`rpage.scopes.${scope}`)}><thead><tr>
      <th scope="col">${t(`rpage.scopes.${scope}`)}</th>${COLS.map((c) => html`<th scope="col">${colName(c)}</th>`)}
      <th scope="col">${t("rpage.compliant")}</th><th scope="col"><span class="sr-only">${t("rpage.open_calls")}</span></th></tr></thead>
    <tbody>${items.map((it) => {
      const key = it.day || it.name;
      return html`<tr data-key=${key}><th scope="row">${keyText(scope, key)}</th>
        ${COLS.map((c) => html`<td data-k=${c}>${cell(c, it[c])}</td>`)}
        <td data-k="compliant">${it.compliant == null ? "–" : t(it.compliant ? "rpage.yes" : "rpage.no")}</td>
        <td><button class="btn" type="button" aria-label=${t("rpage.open_calls_of", {key: keyText(scope, key)})} @click=${() => drill(scope, key)}>${t("rpage.open_calls")}</button></td></tr>`;
    })}</tbody></table>`;
}

function totals(p) {
  const f = p.total;
  const items = [["offered", f.offered], ["answered", f.answered], ["abandoned", f.abandoned],
                 ["sl", pct(f.sl)], ["asa", sec1(f.asa)], ["aht", sec1(f.aht)], ["abandon_rate", pct(f.abandon_rate)]];
  return html`<dl class="facts rep-facts" data-testid="rep-facts">
    ${items.map(([k, v]) => html`<div><dt>${colName(k)}</dt><dd data-k=${k}>${v}</dd></div>`)}
    <div><dt>${t("rpage.compliant")}</dt><dd data-k="compliant">${f.compliant == null ? "–" : t(f.compliant ? "rpage.yes" : "rpage.no")}</dd></div>
  </dl>`;
}

function draw() {
  if (!page) return;
  const scope = view.elements.scope.value;
  const metric = view.elements.metric.value;
  const items = page[LISTS[scope]];
  render(totals(page), $("rep-totals"));
  render(chart(scope, metric, items), $("rep-chart"));
  render(table(scope, items), $("rep-table"));
}

async function drill(scope, key) {
  const box = $("rep-calls");
  render(html`<p class="muted">${t("rpage.loading")}</p>`, box);
  try {
    const r = await api("GET", `/api/reports/calls?${qs({scope, key})}`);
    render(html`<p data-testid="rep-calls-title">${t("rpage.calls_of", {scope: t(`rpage.scopes.${scope}`), key: keyText(scope, key), count: r.count})}</p>
      ${r.truncated ? html`<p class="muted small">${t("rpage.calls_truncated", {shown: r.calls.length, count: r.count})}</p>` : nothing}
      <table class="num" data-testid="rep-call-rows" aria-label=${t("rpage.calls")}><thead><tr>
        <th scope="col">${t("rpage.call_id")}</th><th scope="col">${t("rpage.queued_at")}</th><th scope="col">${t("queue")}</th>
        <th scope="col">${t("tier")}</th><th scope="col">${t("agent")}</th><th scope="col">${t("wait")}</th><th scope="col">${t("talk")}</th>
        <th scope="col">${t("rpage.outcome")}</th><th scope="col"><span class="sr-only">${t("rpage.evaluate")}</span></th></tr></thead>
      <tbody>${r.calls.map((c) => html`<tr data-call=${c.call_id}><th scope="row">${c.call_id}</th><td>${day(c.queued_at)} ${hm(c.queued_at)}</td>
        <td>${c.queue}</td><td>${c.tier}</td><td>${c.agent_id || "–"}</td><td>${sec1(c.wait)}</td><td>${sec1(c.talk)}</td>
        <td data-k="outcome">${t(`rpage.outcomes.${c.outcome}`)}${c.in_sl ? ` · ${t("rpage.in_sl")}` : ""}</td>
        <td>${c.agent_id ? html`<a href="/quality?call=${encodeURIComponent(c.call_id)}">${t("rpage.evaluate")}</a>` : nothing}</td></tr>`)}</tbody></table>`, box);
  } catch (err) {
    render(html`<p class="error" role="alert">${errorText(err)}</p>`, box);
  }
}

function qaTables(a) {
  const one = (title, rows) => html`<h4>${title}</h4>${rows.length ? html`<table class="num" aria-label=${title}><thead><tr>
      <th scope="col">${t("rpage.col_key")}</th><th scope="col">${t("rpage.qa_count")}</th><th scope="col">${t("rpage.qa_average")}</th>
      <th scope="col">${t("rpage.qa_fatal")}</th></tr></thead><tbody>${rows.map((r) => html`<tr data-key=${r.name}><th scope="row">${r.name || "–"}</th>
      <td>${r.evaluations}</td><td data-k="average">${r.average.toFixed(2).replace(".", ",")}</td><td>${r.fatal}</td></tr>`)}</tbody></table>`
    : html`<p class="muted">${t("rpage.qa_none")}</p>`}`;
  return html`<div data-testid="rep-qa-agents">${one(t("rpage.qa_agents"), a.agents)}</div><div data-testid="rep-qa-queues">${one(t("rpage.qa_queues"), a.queues)}</div>`;
}

async function load() {
  const p = periodOf(form, t);
  const msg = $("rep-msg");
  if (p.error) {
    msg.textContent = p.error;
    return;
  }
  query = {since: p.since, until: p.until, queue: form.elements.queue.value};
  $("rep-csv").href = `/api/reports/page.csv?${qs()}`;
  $("rep-xlsx").href = `/api/reports/page.xlsx?${qs()}`;
  msg.textContent = "";
  try {
    page = await api("GET", `/api/reports/page?${qs()}`);
    draw();
    render(html`<p class="muted">${t("rpage.calls_hint")}</p>`, $("rep-calls"));
  } catch (err) {
    msg.textContent = errorText(err);
  }
  try {
    render(qaTables(await api("GET", `/api/quality/averages?${new URLSearchParams({since: p.since, until: p.until})}`)), $("rep-qa"));
  } catch (err) {
    render(html`<p class="error">${errorText(err)}</p>`, $("rep-qa"));
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  load();
});
view.addEventListener("change", draw);
form.elements.since.value = form.elements.to.value = dmy(todayVn());
new DeskSocket().connect();  // the header's link state, and the session's end (to the login page)
load();
