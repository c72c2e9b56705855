// The audit viewer (reports/http.py /api/audit): the trail filtered by period, kind, person and
// subject, newest first, and its CSV export with the same filter. Reading it is itself audited.
import {api} from "./lib/http.js";
import {day, hms} from "./lib/format.js";
import {errorText, t} from "./lib/i18n.js";
import {html, render} from "./lib/html.js";
import {dmy, periodOf, todayVn} from "./lib/period.js";
import {DeskSocket} from "./lib/socket.js";

const $ = (id) => document.getElementById(id);
const form = $("aud-filter");

function rows(entries) {
  if (!entries.length) return html`<p class="muted">${t("apage.none")}</p>`;
  return html`<table class="aud-list" data-testid="aud-rows" aria-labelledby="aud-title"><thead><tr>
      <th scope="col">${t("apage.when")}</th><th scope="col">${t("apage.actor")}</th><th scope="col">${t("apage.action")}</th>
      <th scope="col">${t("apage.subject_type")}</th><th scope="col">${t("apage.subject_id")}</th><th scope="col">${t("apage.detail")}</th></tr></thead>
    <tbody>${entries.map((e) => html`<tr data-action=${e.action} data-subject=${e.subject_id}>
      <th scope="row">${day(e.at)} ${hms(new Date(e.at))}</th><td data-k="actor">${e.actor}</td><td data-k="action">${e.action}</td>
      <td>${e.subject_type}</td><td data-k="subject">${e.subject_id}</td><td>${e.detail}</td></tr>`)}</tbody></table>`;
}

async function load() {
  const p = periodOf(form, t);
  const msg = $("aud-msg");
  if (p.error) {
    msg.textContent = p.error;
    return;
  }
  const f = form.elements;
  const q = new URLSearchParams(Object.entries({since: p.since, until: p.until, kind: f.kind.value, actor: f.actor.value.trim(),
                                                subject_id: f.subject_id.value.trim()}).filter(([, v]) => v)).toString();
  $("aud-csv").href = `/api/audit.csv?${q}`;
  msg.textContent = "";
  try {
    const r = await api("GET", `/api/audit?${q}`);
    $("aud-count").textContent = t("apage.count", {total: r.total, shown: r.entries.length});
    render(rows(r.entries), $("aud-list"));
  } catch (err) {
    msg.textContent = errorText(err);
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  load();
});
form.elements.since.value = form.elements.to.value = dmy(todayVn());
new DeskSocket().connect();
load();
