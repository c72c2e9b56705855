// The data-rights page (crm_bridge/data_rights_http.py): the export archive (downloaded as a file),
// the erasure (confirmed first), consent changes with their source and the consent log.
import {ApiError, api} from "./lib/http.js";
import {dayHm} from "./lib/format.js";
import {errorText, t} from "./lib/i18n.js";
import {html, render} from "./lib/html.js";
import {DeskSocket} from "./lib/socket.js";

const $ = (id) => document.getElementById(id);
const csrf = document.body.dataset.csrf || "";
const failure = (err) => `${t("desk.error")}: ${errorText(err)}`;
function say(el, text, cls = "muted") { el.textContent = text; el.className = cls; }
const done = [];

function log(text) {
  done.unshift(text);
  render(done.map((d) => html`<li>${d}</li>`), $("rights-done"));
}

async function exportArchive(id, reason) {
  // A POST (it is recorded with its reason), answered with the ZIP: saved through a blob link.
  let r;
  try {
    r = await fetch(`/api/customers/${encodeURIComponent(id)}/export`, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify({reason})});
  } catch (err) {
    throw new ApiError(0, "desktop.offline", err.message);
  }
  if (!r.ok) {
    const data = await r.json().catch(() => ({}));
    throw new ApiError(r.status, data.error && data.error.code, data.error && data.error.message);
  }
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = `${id}-data.zip`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

$("rights-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const fd = new FormData(e.target), id = String(fd.get("customer_id")).trim(), reason = String(fd.get("reason"));
  const act = (e.submitter && e.submitter.value) || "export";
  const msg = $("rights-msg");
  if (act === "erase" && !confirm(t("rights.confirm_erase", {id}))) return;
  say(msg, t("cpage.sending"));
  try {
    if (act === "export") {
      await exportArchive(id, reason);
      say(msg, t("rights.exported", {id}), "ok");
      log(t("rights.exported", {id}));
    } else {
      const r = await api("POST", `/api/customers/${encodeURIComponent(id)}/erase`, {reason});
      const text = t("rights.erased", {id, recordings: r.recordings_deleted.length, kept: r.recordings_kept.length});
      say(msg, text, "ok");
      log(text);
    }
  } catch (err) {
    say(msg, failure(err), "error");
  }
});

async function showLog(id) {
  try {
    const rows = await api("GET", `/api/customers/${encodeURIComponent(id)}/consent-log`);
    render(rows.slice().reverse().map((c) => html`<tr data-testid="consent-row"><td>${dayHm(c.at)}</td>
      <td>${t(`rights.consents.${c.consent}`)}</td>
      <td>${c.granted ? t("rights.yes") : t("rights.no")}</td><td>${t(`rights.sources.${c.source}`)}</td><td>${c.actor}</td><td>${c.note}</td></tr>`),
    $("consent-log"));
  } catch (err) {
    say($("consent-msg"), failure(err), "error");
  }
}

$("consent-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const fd = new FormData(e.target), id = String(fd.get("customer_id")).trim();
  const body = {source: fd.get("source"), note: fd.get("note") || ""};
  body[fd.get("consent")] = fd.get("granted") === "true";
  try {
    const r = await api("POST", `/api/customers/${encodeURIComponent(id)}/consent`, body);
    say($("consent-msg"), r.changes.length ? t("rights.consent_saved") : t("rights.consent_same"), "ok");
    await showLog(id);
  } catch (err) {
    say($("consent-msg"), failure(err), "error");
  }
});
$("consent-form").elements.customer_id.addEventListener("change", (e) => { if (e.target.value.trim()) showLog(e.target.value.trim()); });

new DeskSocket().connect();  // the header's link state, and the session's end (to the login page)
