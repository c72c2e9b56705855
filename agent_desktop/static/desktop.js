// Agent desktop: one websocket (lib/socket.js); screen pop on "pop" frames, then "answered" and
// "ended"/"retract" for the same call; disposition, transfer, search and click-to-call as commands.
// The pop is rendered from state (the frame, profiles opened from search, unmasked ID numbers), so a
// saved disposition or an unmask re-renders it rather than patching the DOM.
import {errorText, label, lang, t} from "./lib/i18n.js";
import {day, hm, hms, national, number, secs, vnd} from "./lib/format.js";
import {html, nothing, render} from "./lib/html.js";
import {DeskSocket} from "./lib/socket.js";

const $ = (id) => document.getElementById(id);
const pop = $("pop"), log = $("log");
let current = null;     // the pop frame of the current / last call
let phase = "ringing";  // the current call's state: ringing → answered → ended
let customerId = "";    // the customer the disposition goes to (pop or search)
let opened = [];        // profiles opened from search (below the call's customer, or alone)
const unmasked = new Map();  // customer_id → the ID number an audited unmask returned

export const socket = new DeskSocket({onFrame, onOpen: refreshToday});

const failure = (err) => `${t("desk.error")}: ${errorText(err)}`;
function say(el, text, cls = "muted") { el.textContent = text; el.className = cls; }

// The disposition's label in the page's language (the codes' labels are the form's options).
function dispoLabel(code) {
  const o = document.querySelector(`[data-testid=dispo-code] option[value="${CSS.escape(code || "")}"]`);
  return o ? o.textContent : code;
}

const flag = (v) => html`<span class="flag ${v ? "on" : "off"}">${v ? t("pop.yes") : t("pop.no")}</span>`;
const none = html`<li class="muted">${t("pop.none")}</li>`;
const historyItem = (i) => html`<li data-testid="history-item"><b>${day(i.at)}</b> ${i.kind}${i.disposition ? ` · ${dispoLabel(i.disposition)}` : ""} · ${i.summary}</li>`;

export function customerView(c) {
  const reason = c.tier_reason || {};
  const why = reason[`explanation_${lang}`] ?? reason.explanation_en ?? "";
  const inter = c.recent_interactions || [];
  const tickets = inter.filter((i) => i.kind === "ticket" || i.kind === "complaint");
  const cs = c.consent || {};
  const card = c.care_card ? label("cards", c.care_card) : "";
  const idno = unmasked.get(c.customer_id) || c.id_number_masked;
  return html`<div class="customer">
    <div class="cust-head"><h3 data-testid="pop-name">${c.name}</h3>
      <small data-testid="pop-customer-id">${c.customer_id}</small>
      <span class="tier card-${c.care_card || "none"}" data-testid="pop-tier" data-tier=${c.tier}>${t("pop.tier")}:
        ${label("tier_names", c.tier)}${card ? ` · ${card}` : ""}</span>
      ${c.stale ? html`<em class="muted">(${t("pop.stale")})</em>` : nothing}</div>
    <p class="why">${t("pop.reason")}: ${why}</p>
    <dl class="facts">
      <div><dt>${t("pop.points")}</dt><dd>${number(c.points)}</dd></div>
      <div><dt>${t("pop.debt")}</dt><dd data-testid="pop-debt">${vnd(c.overdue_debt_vnd)}</dd></div>
      <div><dt>${t("pop.language")}</dt><dd>${(c.preferred_language || "").toUpperCase()}</dd></div>
      <div><dt>${t("pop.province")}</dt><dd>${c.province || "–"}</dd></div>
      <div><dt>${t("pop.idno")}</dt><dd><span data-testid="idno">${idno || "–"}</span>
        ${c.id_number_masked && !unmasked.has(c.customer_id)
          ? html`<button class="link-btn" data-testid="unmask" @click=${() => unmask(c.customer_id)}>${t("pop.unmask")}</button>`
          : nothing}</dd></div>
      <div><dt>${t("pop.consent")}</dt><dd>${t("pop.marketing")} ${flag(cs.marketing)} · ${t("pop.recording")} ${flag(cs.recording)} · ${t("pop.sharing")} ${flag(cs.data_sharing)}</dd></div>
    </dl>
    <h4>${t("pop.services")}</h4>
    <table class="svc"><thead><tr><th scope="col">${t("pop.service")}</th><th scope="col">${t("pop.account")}</th>
      <th scope="col">${t("pop.package")}</th><th scope="col">${t("pop.status")}</th><th scope="col" class="r">${t("pop.revenue")}</th></tr></thead>
      <tbody>${(c.services || []).map((s) => html`<tr><td>${label("services", s.service)}</td><td>${national(s.number) || s.account}</td>
        <td>${s.package}</td><td>${label("service_status", s.status)}</td><td class="r">${vnd(s.monthly_revenue_vnd)}</td></tr>`)}</tbody></table>
    <h4>${t("pop.tickets")}</h4>
    <ul class="hist">${tickets.length ? tickets.map((i) => html`<li><b>${day(i.at)}</b> ${i.kind} · ${i.summary}</li>`) : none}</ul>
    <h4>${t("pop.recent")}</h4>
    <ul class="hist" data-testid="pop-history">${inter.length ? inter.slice(0, 6).map(historyItem) : none}</ul>
  </div>`;
}

/** "2026-11-28" → "28/11" (the sticky line: the agent knows the year). */
function dayMonth(iso) {
  const [, m, d] = String(iso || "").split("-");
  return d && m ? `${d}/${m}` : String(iso || "");
}

function callView(f) {
  const badge = {ringing: "ring", answered: "answered", ended: "ended"}[phase];
  return html`<h2 data-testid="pop-title"><span class="badge ${badge}" id="pop-state">${t(`pop.${phase}`)}</span> ${f.caller_number}
      ${f.catch_up ? html`<small class="muted">${t("pop.catchup")}</small>` : nothing}</h2>
    <p class="path">${t("pop.path")}: <span data-testid="pop-path">${f.ivr_path_text}</span> · ${f.queue}${f.language ? ` · ${f.language.toUpperCase()}` : ""}</p>
    ${f.transferred_by ? html`<p class="xfer" data-testid="pop-transferred-by">${t("pop.transferred_by")} #${f.transferred_by}</p>` : nothing}
    ${f.campaign ? html`<div class="campaign" data-testid="pop-campaign"><h4>${t("pop.campaign")}: ${f.campaign.name}</h4>
      <p class="script" data-testid="pop-script">${f.campaign.script}</p></div>` : nothing}
    ${f.sticky ? html`<p class="xfer" data-testid="pop-sticky">${t("pop.sticky", {date: dayMonth(f.sticky.served_on)})}</p>` : nothing}
    ${f.repeat ? html`<p class="xfer" data-testid="pop-repeat">${t("repeat_note.text", {n: f.repeat.ordinal, days: f.repeat.window_days,
      date: dayMonth(f.repeat.last_day), topic: f.repeat.last_topic || "–", outcome: t(`repeat_note.${f.repeat.last_outcome}`)})}</p>` : nothing}
    ${f.customer ? customerView(f.customer) : html`<h3 data-testid="pop-name">${t("pop.unknown")}</h3>`}`;
}

function showPop() {
  pop.className = current ? `card pop ${phase}` : opened.length ? "card pop" : "card idle";
  const body = current ? callView(current) : opened.length ? nothing : html`<p class="muted">${t("waiting")}</p>`;
  render(html`${body}${opened.map(customerView)}`, pop);
}

async function unmask(id) {
  const reason = prompt(t("pop.unmask_reason"));
  if (!reason) return;
  try {
    const r = await socket.command("customer.unmask", {customer_id: id, reason});
    unmasked.set(id, r.id_number);
    showPop();
  } catch (err) {
    note(failure(err));
  }
}

function note(text) {
  const li = document.createElement("li");
  li.textContent = `${hms(new Date())} ${text}`;
  log.prepend(li);
  while (log.children.length > 30) log.lastChild.remove();
}

async function refreshToday() {
  try {
    const rows = await socket.command("calls.today");
    render(rows.map((r) => html`<tr><td>${hm(r.started_at)}</td><td>${r.caller_number}</td><td>${r.queue}</td>
      <td>${secs(r.wait_seconds)}</td><td>${secs(r.talk_seconds)}</td></tr>`), $("today"));
  } catch (err) { /* offline: the next connect refreshes */ }
}

// The desk phone's registration (acd.phone_service): registered, not answering qualify, or gone.
function showPhone(f) {
  const el = $("phone-state");
  el.hidden = false;
  el.dataset.status = f.status;
  el.className = `badge phone ${f.status}`;
  el.textContent = t(`phone.${f.status}`) + (f.status === "registered" && f.rtt_ms != null ? ` · ${t("phone.rtt", {ms: f.rtt_ms})}` : "");
  el.title = f.user_agent || "";
}

function onFrame(f) {
  // Other modules of the page (softphone.js) follow the calls too.
  document.dispatchEvent(new CustomEvent("desk-frame", {detail: f}));
  if (f.type === "phone") {
    showPhone(f);
  } else if (f.type === "error") {  // the server refused this page's socket (too many pages open)
    note(failure(f.error));
  } else if (f.type === "access.alert") {  // supervisors: someone opened unusually many customers
    note(t("desk.access_alert", {agent: f.agent_id, n: f.customers, minutes: f.window_minutes}));
  } else if (f.type === "pop") {
    current = f;
    phase = "ringing";
    opened = [];
    customerId = f.customer ? f.customer.customer_id : "";
    $("wrap").hidden = false;
    say($("dispo-msg"), "");
    showPop();
    note(`${t("pop.ringing")} ${f.caller_number}`);
  } else if (current && f.call_id === current.call_id && f.type === "answered") {
    phase = "answered";
    showPop();
    note(t("pop.answered"));
  } else if (current && f.call_id === current.call_id && (f.type === "retract" || f.type === "ended")) {
    phase = "ended";
    showPop();
    note(`${t("pop.ended")} ${f.disposition ? dispoLabel(f.disposition) : ""}`);
    refreshToday();
  }
}

$("dispo-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!current) return;
  const form = e.target, fd = new FormData(form);
  try {
    const saved = await socket.command("disposition.save", {call_id: current.call_id, customer_id: customerId,
                                                            code: fd.get("code"), note: fd.get("note")});
    say($("dispo-msg"), t("desk.saved"), "ok");
    form.note.value = "";
    // Shown in the customer's history at once (the server stored it and invalidated its cache).
    for (const c of [current.customer, ...opened]) {
      if (c && c.customer_id === saved.customer_id) c.recent_interactions = [saved, ...(c.recent_interactions || [])];
    }
    showPop();
  } catch (err) {
    say($("dispo-msg"), failure(err), "error");
  }
});

$("xfer-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!current) return;
  const mode = (e.submitter && e.submitter.value) || "blind";
  try {
    await socket.command("call.transfer", {call_id: current.call_id, target: e.target.target.value, mode});
    say($("xfer-msg"), t("desk.transferred"), "ok");
  } catch (err) {
    say($("xfer-msg"), failure(err), "error");
  }
});

async function useCustomer(id) {
  try {
    let p;
    try {
      p = await socket.command("customer.profile", {customer_id: id});
    } catch (err) {
      // Not on one of the agent's calls: opened only for a stated reason, which the server audits.
      if (err.code !== "access.reason_required") throw err;
      const reason = prompt(t("pop.view_reason"));
      if (!reason) return;
      p = await socket.command("customer.profile", {customer_id: id, reason});
    }
    customerId = p.customer_id;
    opened = [...opened.filter((c) => c.customer_id !== p.customer_id), p];
    showPop();
  } catch (err) {
    note(failure(err));
  }
}

$("search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const results = $("search-results");
  try {
    const rows = await socket.command("customer.search", {q: e.target.q.value});
    render(rows.length ? rows.map((r) => html`<li><span><b>${r.name}</b> <small>${r.customer_id} · ${r.province || ""}</small></span>
      <button class="link-btn" aria-label=${t("desk.use_customer", {name: r.name})} @click=${() => useCustomer(r.customer_id)}>${t("desk.use")}</button></li>`)
      : html`<li class="muted">${t("desk.none")}</li>`, results);
  } catch (err) {
    render(html`<li class="error">${failure(err)}</li>`, results);
  }
});

$("dial-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await socket.command("call.dial", {number: e.target.number.value});
    say($("dial-msg"), t("desk.dialling", {number: r.dialling}));
  } catch (err) {
    say($("dial-msg"), failure(err), "error");
  }
});

// A preview offer's customer (campaigns.js), in place of the previous offer's (null: none); a call
// that has ended makes way for it.
document.addEventListener("show-customer", (ev) => {
  const p = ev.detail;
  if (current && phase === "ended") current = null;
  customerId = p ? p.customer_id : (current && current.customer ? current.customer.customer_id : "");
  opened = p ? [p] : [];
  showPop();
});

pop.replaceChildren();  // the server's "waiting" text; from here on the pop is rendered from state
showPop();
socket.connect();
