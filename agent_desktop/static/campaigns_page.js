// The supervisors' outbound campaigns page (campaigns/http.py, report_http.py, crm_lists_http.py):
// the list with each campaign's live report (polled every few seconds), its controls, its CSV and
// CRM-query imports, its exports, and the create form. Errors are the API's ids, translated; a
// rejected list also shows its bad rows, each with its row number, as the API names them.
import {api} from "./lib/http.js";
import {hms, pct, secs} from "./lib/format.js";
import {errorText, label, t} from "./lib/i18n.js";
import {html, nothing, render, repeat} from "./lib/html.js";
import {DeskSocket} from "./lib/socket.js";

const $ = (id) => document.getElementById(id);
const list = $("camp-list");
const opts = $("crm-options").dataset;
const split = (s) => (s ? s.split(",") : []);
const CRM = {tiers: split(opts.tiers), services: split(opts.services), segments: split(opts.segments)};
const REFRESH_MS = 5000;
// A queue's label, as the create form offers it (settings' queues).
const queueLabel = new Map([...$("camp-new").elements.queue.options].map((o) => [o.value, o.textContent]));
let campaigns = [];
const reports = new Map();  // id -> report
// The report's window: live (the campaign's creation until now) unless a period is applied.
let period = {since: "", until: ""};
const periodQuery = () => {
  const q = new URLSearchParams(Object.entries(period).filter(([, v]) => v)).toString();
  return q ? `?${q}` : "";
};
const notes = new Map();  // id -> {text, cls, rows}

// The translated id; for a field the API refused, also the API's own words (they name the field).
const WORDY = new Set(["request.invalid", "campaign.invalid"]);
const failure = (err) => `${t("desk.error")}: ${errorText(err)}` + (WORDY.has(err.code) && err.message ? ` (${err.message})` : "");

/** The bad rows of a rejected list, as the API names them ("row 3: number: …", campaigns/lists.py):
 * the row number in the page's language, what is wrong with it in the API's words. */
function badRows(err) {
  if (err.code !== "campaign.list_rejected") return [];
  const m = /nothing imported: (.*)$/s.exec(err.message || "");
  if (!m) return [];
  return m[1].split(/; (?=row \d+:)/).map((line) => {
    const r = /^row (\d+): (.*)$/s.exec(line);
    return r ? t("cpage.row", {n: r[1], text: r[2]}) : line;
  });
}

function note(id, text, cls = "ok", rows = []) {
  notes.set(id, {text, cls, rows});
  draw();
}

async function act(id, fn, done) {
  note(id, t("cpage.sending"), "muted");  // never the last answer's words for this one
  try {
    const r = await fn();
    note(id, done(r), "ok");
    await refresh();
  } catch (err) {
    note(id, failure(err), "error", badRows(err));
  }
}

function control(c, action) {
  if (action === "stop" && !confirm(t("cpage.confirm_stop", {name: c.name}))) return;
  act(c.id, () => api("POST", `/api/campaigns/${c.id}/${action}`),
      (v) => t("cpage.now", {state: label("cstates", v.state)}));
}

async function upload(c, e) {
  e.preventDefault();
  const file = e.target.elements.file.files[0];
  if (!file) {
    note(c.id, t("cpage.csv_choose"), "error");
    return;
  }
  const csv = await file.text();
  await act(c.id, () => api("POST", `/api/campaigns/${c.id}/contacts`, {csv}), (r) => t("cpage.imported", r));
  e.target.reset();
}

function crmQuery(c, e) {
  e.preventDefault();
  const f = e.target.elements;
  const picked = (name) => [...e.target.querySelectorAll(`input[name=${name}]:checked`)].map((x) => x.value);
  const body = {tiers: picked("tiers"), services: picked("services"), segments: picked("segments"),
                provinces: f.provinces.value.split(",").map((p) => p.trim()).filter(Boolean),
                priority: Number(f.priority.value || 0)};
  if (f.min_debt_vnd.value) body.min_debt_vnd = Number(f.min_debt_vnd.value);
  if (f.contract_ends_from.value) body.contract_ends_from = f.contract_ends_from.value;
  if (f.contract_ends_until.value) body.contract_ends_until = f.contract_ends_until.value;
  act(c.id, () => api("POST", `/api/campaigns/${c.id}/contacts/query`, body), (r) => t("cpage.built", r));
}

const checks = (name, codes, section) => html`<fieldset><legend>${t(`cpage.${name}`)}</legend>
  ${codes.map((code) => html`<label class="check"><input type="checkbox" name=${name} value=${code}>${label(section, code)}</label>`)}</fieldset>`;

function figures(r) {
  if (!r) return html`<p class="muted">…</p>`;
  const over = r.over_cap;
  const items = [["dialled", r.dialled], ["answered", r.answered], ["connected", r.connected],
                 ["abandoned", r.abandoned], ["machines", r.machines],
                 ["refused", Object.values(r.refusals).reduce((a, n) => a + n, 0)],
                 ["occupancy", pct(r.occupancy.rate)]];
  return html`<dl class="facts camp-figures" data-testid="camp-figures">
    ${items.map(([k, v]) => html`<div><dt>${t(`cpage.fig.${k}`)}</dt><dd data-k=${k}>${v}</dd></div>`)}
    <div><dt>${t("cpage.fig.abandon_rate")}</dt><dd data-k="abandon_rate" class=${over ? "error" : ""}>${pct(r.abandon_rate)}
      <small>${t("cpage.cap", {cap: pct(r.abandon_cap)})}</small>${over ? html` <b>${t("cpage.over_cap")}</b>` : nothing}</dd></div>
  </dl>`;
}

function detail(c, r) {
  if (!r) return nothing;
  const refusals = Object.entries(r.refusals);
  const agents = Object.entries(r.occupancy.agents);
  const contacts = Object.entries(r.contacts);
  return html`<details class="camp-detail" data-testid="camp-detail"><summary>${t("cpage.detail")}</summary>
    <h4 id="ref-${c.id}">${t("cpage.refusals")}</h4>
    ${refusals.length ? html`<table class="num" aria-labelledby="ref-${c.id}" data-testid="camp-refusals"><thead><tr>
        <th scope="col">${t("cpage.rule")}</th><th scope="col">${t("cpage.count")}</th></tr></thead>
        <tbody>${refusals.map(([k, n]) => html`<tr data-reason=${k}><th scope="row">${label("refusals", k)}</th><td>${n}</td></tr>`)}</tbody></table>`
      : html`<p class="muted">${t("cpage.no_refusals")}</p>`}
    <h4>${t("cpage.fig.abandon_rate")}</h4>
    <p data-testid="camp-abandon">${t("cpage.abandon_line", {abandoned: r.abandoned, answered: r.answered, rate: pct(r.abandon_rate), cap: pct(r.abandon_cap)})}</p>
    <h4 id="occ-${c.id}">${t("cpage.occupancy")}</h4>
    ${agents.length ? html`<table class="num" aria-labelledby="occ-${c.id}" data-testid="camp-occupancy"><thead><tr>
        <th scope="col">${t("agent")}</th><th scope="col">${t("cpage.talk")}</th><th scope="col">${t("cpage.wrap")}</th>
        <th scope="col">${t("cpage.logged_in")}</th><th scope="col">${t("cpage.fig.occupancy")}</th></tr></thead>
        <tbody>${agents.map(([a, o]) => html`<tr data-agent=${a}><th scope="row">${a}</th><td>${secs(o.talk_seconds)}</td>
          <td>${secs(o.wrap_seconds)}</td><td>${secs(o.logged_in_seconds)}</td><td>${pct(o.rate)}</td></tr>`)}</tbody></table>`
      : html`<p class="muted">${t("cpage.no_occupancy")}</p>`}
    <h4>${t("cpage.contacts")}</h4>
    <p data-testid="camp-contacts">${contacts.length ? contacts.map(([k, n]) => `${label("contact_states", k)}: ${n}`).join(" · ") : t("cpage.no_contacts")}</p>
    <p class="muted small">${t("cpage.definitions")}</p>
  </details>`;
}

function card(c) {
  const r = reports.get(c.id);
  const n = notes.get(c.id);
  const id = Number(c.id);
  const can = {start: c.state === "draft" || c.state === "paused", pause: c.state === "running", stop: c.state !== "stopped"};
  return html`<article class="camp" data-testid="campaign" data-id=${id} data-state=${c.state} aria-labelledby="camp-${id}">
    <h3 id="camp-${id}">${c.name} <span class="badge st-${c.state}" data-testid="camp-state">${label("cstates", c.state)}</span></h3>
    <p class="muted small">${t(`cpage.modes.${c.mode}`)} · ${t(`cpage.purposes.${c.purpose}`)}${c.amd ? ` · ${t("cpage.amd_on")}` : ""} · ${t("cpage.queue")}: ${queueLabel.get(c.queue) || c.queue}
      · ${t("cpage.window")}: ${c.window_start}–${c.window_end}</p>
    ${figures(r)}
    <div class="camp-actions" role="group" aria-label=${t("cpage.controls", {name: c.name})}>
      ${["start", "pause", "stop"].map((a) => html`<button class="btn ${a === "stop" ? "" : "primary"}" data-act=${a}
        ?disabled=${!can[a]} @click=${() => control(c, a)}>${t(`cpage.${a}`)}</button>`)}
      <a class="btn" href="/api/campaigns/${id}/outcomes.csv${periodQuery()}" download data-testid="camp-csv">${t("cpage.export_csv")}</a>
      <a class="btn" href="/api/campaigns/${id}/outcomes.xlsx${periodQuery()}" download data-testid="camp-xlsx">${t("cpage.export_xlsx")}</a>
    </div>
    <div role="status" data-testid="camp-msg" class=${n ? n.cls : ""}>${n ? n.text : ""}
      ${n && n.rows.length ? html`<ul class="bad-rows" data-testid="camp-bad-rows" aria-label=${t("cpage.bad_rows")}>${n.rows.map((row) => html`<li>${row}</li>`)}</ul>` : nothing}</div>
    ${c.state === "stopped" ? nothing : html`
    <form class="inline-form camp-upload" data-testid="camp-upload" @submit=${(e) => upload(c, e)}>
      <label>${t("cpage.csv_file")}<input type="file" name="file" accept=".csv,text/csv" aria-describedby="csv-hint-${id}" data-testid="camp-csv-file"></label>
      <button class="btn">${t("cpage.import")}</button>
      <span class="muted small" id="csv-hint-${id}">${t("cpage.csv_hint")}</span>
    </form>
    <details class="camp-crm"><summary>${t("cpage.crm")}</summary>
      <form class="camp-form" data-testid="camp-crm" @submit=${(e) => crmQuery(c, e)}>
        ${checks("tiers", CRM.tiers, "tier_names")}${checks("services", CRM.services, "services")}
        ${checks("segments", CRM.segments, "segments")}
        <label>${t("cpage.provinces")}<input name="provinces" maxlength="2000"></label>
        <label>${t("cpage.min_debt")}<input name="min_debt_vnd" type="number" min="0" step="1000"></label>
        <label>${t("cpage.contract_from")}<input name="contract_ends_from" type="date"></label>
        <label>${t("cpage.contract_until")}<input name="contract_ends_until" type="date"></label>
        <label>${t("cpage.priority")}<input name="priority" type="number" value="0" min="-1000" max="1000"></label>
        <div class="wide"><button class="btn">${t("cpage.build")}</button></div>
      </form></details>`}
    ${detail(c, r)}
  </article>`;
}

function draw() {
  render(campaigns.length ? repeat(campaigns, (c) => c.id, card) : html`<p class="muted">${t("cpage.none")}</p>`, list);
}

async function refresh() {
  try {
    campaigns = (await api("GET", "/api/campaigns")).campaigns;
    const got = await Promise.all(campaigns.map((c) => api("GET", `/api/campaigns/${c.id}/report${periodQuery()}`)));
    got.forEach((r, i) => reports.set(campaigns[i].id, r));
    $("camp-list-msg").textContent = "";
    $("camp-updated").textContent = period.since || period.until
      ? t("cpage.period_shown", {since: period.since || "…", until: period.until || "…"})
      : t("cpage.updated", {time: hms(new Date())});
  } catch (err) {
    $("camp-list-msg").textContent = failure(err);
  }
  draw();
}

// --- the create form: the browser checks what it can (required, ranges); the API has the last word ---
function parseRules(text) {
  const out = {};
  for (const line of text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = line.split("=").map((s) => (s || "").trim());
    out[k] = v;
  }
  return out;
}

$("camp-period").addEventListener("submit", (e) => {
  e.preventDefault();
  period = {since: e.target.elements.since.value, until: e.target.elements.until.value};
  refresh();
});
$("camp-period").addEventListener("reset", () => {
  period = {since: "", until: ""};
  refresh();
});

$("camp-new").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target.elements;
  const msg = $("camp-new-msg");
  const body = {name: f.name.value, queue: f.queue.value, purpose: f.purpose.value, mode: f.mode.value,
                script: f.script.value, window_start: f.window_start.value, window_end: f.window_end.value,
                max_attempts_per_day: Number(f.max_attempts_per_day.value), max_attempts: Number(f.max_attempts.value),
                dispositions: f.dispositions.value.split(",").map((s) => s.trim()).filter(Boolean),
                disposition_rules: parseRules(f.disposition_rules.value), retry_minutes: {}};
  for (const o of ["no_answer", "busy", "wrong_number", "machine"]) {
    if (f[`retry_${o}`].value) body.retry_minutes[o] = Number(f[`retry_${o}`].value);
  }
  if (f.amd.checked) body.amd = {};  // Asterisk's own AMD() defaults; finer settings through the API
  if (f.min_gap_hours.value) body.min_gap_hours = Number(f.min_gap_hours.value);
  if (f.starts_at.value) body.starts_at = f.starts_at.value;
  if (f.ends_at.value) body.ends_at = f.ends_at.value;
  try {
    const v = await api("POST", "/api/campaigns", body);
    msg.className = "ok";
    msg.textContent = t("cpage.created", {name: v.name});
    e.target.reset();
    await refresh();
  } catch (err) {
    msg.className = "error";
    msg.textContent = failure(err);
  }
});

new DeskSocket().connect();  // the header's link state, and the session's end (to the login page)
refresh();
setInterval(refresh, REFRESH_MS);
