// The recordings page (recordings/http.py): search, play with seeking, download, legal hold. The
// audio element loads /api/recordings/<call>/audio, asking byte ranges as it starts and on each seek;
// every request is access-checked and audited by the server (an agent hears only their own calls).
import {api} from "./lib/http.js";
import {dayHm, national, secs} from "./lib/format.js";
import {errorText, t} from "./lib/i18n.js";
import {html, nothing, render} from "./lib/html.js";
import {DeskSocket} from "./lib/socket.js";

const $ = (id) => document.getElementById(id);
const form = $("rec-search"), list = $("rec-list"), audio = $("rec-audio");
const supervisor = ["supervisor", "admin"].includes(document.body.dataset.role);
const dispoLabel = new Map([...form.elements.disposition.options].map((o) => [o.value, o.textContent]));
const queueLabel = new Map([...form.elements.queue.options].map((o) => [o.value, o.textContent]));
let rows = [];
let playing = "";

const failure = (err) => `${t("desk.error")}: ${errorText(err)}`;
function say(text, cls = "muted") { const m = $("rec-msg"); m.textContent = text; m.className = cls; }

/** A day typed as dd/mm/yyyy, as the instant it starts in Việt Nam (``next``: the day after);
 * throws "bad_date" for anything that is not a real day. */
function vnDay(value, next = false) {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(String(value).trim());
  if (!m) throw new Error("bad_date");
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) throw new Error("bad_date");
  if (next) day.setUTCDate(day.getUTCDate() + 1);
  return new Date(day.getTime() - 7 * 3600 * 1000).toISOString();  // 00:00 in UTC+7
}

function query() {
  const fd = new FormData(form), q = new URLSearchParams();
  for (const k of ["agent_id", "queue", "customer_id", "number", "disposition"]) {
    const v = String(fd.get(k) || "").trim().replace(/\s+/g, "");
    if (v) q.set(k, v);
  }
  if (fd.get("since")) q.set("since", vnDay(fd.get("since")));
  if (fd.get("until")) q.set("until", vnDay(fd.get("until"), true));  // the last day included
  return q.toString();
}

const audioUrl = (r) => `/api/recordings/${encodeURIComponent(r.call_id)}/audio`;
const spans = (r) => r.pauses.map(([a, b]) => `${secs(a)}–${b == null ? t("recpage.to_end") : secs(b)}`).join(", ");

function play(r) {
  playing = r.call_id;
  audio.src = audioUrl(r);
  $("rec-playing").textContent = t("recpage.playing", {call: r.call_id, when: dayHm(r.started_at), agent: r.agent_id || "–"});
  audio.play().catch(() => { /* autoplay refused: the controls are there */ });
  draw();
}

async function hold(r, on) {
  const reason = prompt(on ? t("recpage.hold_reason") : t("recpage.release_reason"));
  if (!reason) return;
  try {
    await api("POST", `/api/recordings/${encodeURIComponent(r.call_id)}/${on ? "hold" : "release"}`, {reason});
    say(on ? t("recpage.held") : t("recpage.released"), "ok");
    await search();
  } catch (err) {
    say(failure(err), "error");
  }
}

function row(r) {
  return html`<tr data-testid="rec-row" data-call=${r.call_id} class=${r.call_id === playing ? "playing" : ""}>
    <td>${dayHm(r.started_at)}</td><td>${r.agent_id || "–"}</td><td>${queueLabel.get(r.queue) || r.queue || "–"}</td>
    <td>${r.customer_id || "–"}</td><td>${national(r.caller_number) || "–"}</td><td class="r">${secs(r.duration_seconds)}</td>
    <td>${r.disposition ? dispoLabel.get(r.disposition) || r.disposition : "–"}</td>
    <td>${r.pauses.length ? html`<span data-testid="rec-pauses">${spans(r)}</span>` : "–"}</td>
    <td>${r.legal_hold ? html`<span class="badge ring" data-testid="rec-held" title=${r.legal_hold_reason}>${t("recpage.on_hold")}</span>` : nothing}
      ${r.encrypted ? html`<span class="muted small">${t("recpage.encrypted")}</span>` : nothing}</td>
    <td class="camp-actions">${r.status === "ok" ? html`
      <button class="btn primary" data-testid="rec-play" aria-label=${t("recpage.play_call", {call: r.call_id})} @click=${() => play(r)}>${t("recpage.play")}</button>
      <a class="btn" data-testid="rec-download" href=${`${audioUrl(r)}?download=true`} download=${`${r.call_id}.wav`}>${t("recpage.download")}</a>`
      : html`<span class="muted">${t("recpage.missing")}</span>`}
      ${supervisor ? (r.legal_hold
        ? html`<button class="btn" data-testid="rec-release" @click=${() => hold(r, false)}>${t("recpage.release")}</button>`
        : html`<button class="btn" data-testid="rec-hold" @click=${() => hold(r, true)}>${t("recpage.hold")}</button>`) : nothing}</td></tr>`;
}

function draw() {
  if (!rows.length) {
    render(html`<p class="muted" data-testid="rec-none">${t("recpage.none")}</p>`, list);
    return;
  }
  render(html`<table class="calls"><thead><tr><th scope="col">${t("recpage.when")}</th><th scope="col">${t("recpage.agent")}</th>
    <th scope="col">${t("recpage.queue")}</th><th scope="col">${t("recpage.customer")}</th><th scope="col">${t("recpage.number")}</th>
    <th scope="col" class="r">${t("recpage.duration")}</th><th scope="col">${t("recpage.disposition")}</th>
    <th scope="col">${t("recpage.paused")}</th><th scope="col">${t("recpage.flags")}</th><th scope="col">${t("recpage.actions")}</th></tr></thead>
    <tbody>${rows.map(row)}</tbody></table>`, list);
}

async function search() {
  let q;
  try {
    q = query();
  } catch (err) {
    say(t("recpage.bad_date"), "error");
    return;
  }
  say(t("cpage.sending"));
  try {
    rows = await api("GET", `/api/recordings${q ? `?${q}` : ""}`);
    say(t("recpage.found", {n: rows.length}));
    draw();
  } catch (err) {
    say(failure(err), "error");
  }
}

form.addEventListener("submit", (e) => { e.preventDefault(); search(); });
audio.addEventListener("error", () => {
  if (audio.getAttribute("src")) $("rec-playing").textContent = t("recpage.play_refused");
});
new DeskSocket().connect();  // the header's link state, and the session's end (to the login page)
search();
