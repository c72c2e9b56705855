// Callback worklist (ivr/callbacks_http.py): my claims, then pending requests by tier and age.
// "Call back" claims the request (409 if a colleague was quicker) and dials it through click-to-call;
// the agent then records the outcome or releases the request, which keeps its place in the list.
import {api} from "./lib/http.js";
import {errorText, label, t} from "./lib/i18n.js";
import {dayHm} from "./lib/format.js";
import {html, nothing, render, repeat} from "./lib/html.js";

const me = document.body.dataset.agent;
const list = document.getElementById("callbacks");
const msg = document.getElementById("callbacks-msg");
let outcomes = [];

function row(c) {
  const mine = c.status === "claimed" && c.claimed_by === me;
  const facts = [c.customer_id, dayHm(c.requested_at), c.attempts ? t("callbacks.attempts", {n: c.attempts}) : "",
                 c.claimed_by && !mine ? c.claimed_by : ""].filter(Boolean).join(" · ");
  let acts = nothing;
  if (c.status === "pending") {
    acts = html`<button class="btn primary" data-act="call" @click=${act(c, call)}>${t("callbacks.call")}</button>`;
  } else if (mine) {
    acts = html`<button class="btn" data-act="dial" @click=${act(c, () => dial(c.number))}>${t("callbacks.again")}</button>
      <select data-testid="callback-outcome" aria-label=${t("callbacks.outcome", {number: c.number})}>
        ${outcomes.map((o) => html`<option value=${o}>${label("outcomes", o)}</option>`)}</select>
      <button class="btn primary" data-act="complete" @click=${act(c, complete)}>${t("callbacks.save")}</button>
      <button class="link-btn" data-act="release" @click=${act(c, () => api("POST", `/api/callbacks/${c.id}/release`))}>${t("callbacks.release")}</button>`;
  }
  return html`<li data-testid="callback" data-id=${c.id} data-number=${c.number} data-status=${c.status}>
    <span><b>${c.number}</b> <span class="tier">${c.acd_tier || "–"}</span> <small>${facts}</small></span><span>${acts}</span></li>`;
}

async function call(c) {
  await api("POST", `/api/callbacks/${c.id}/claim`);
  await dial(c.number);
}

async function dial(number) {
  const r = await api("POST", "/api/calls/dial", {number});
  msg.textContent = t("callbacks.dialling", {number: r.dialling});
}

function complete(c, li) {
  return api("POST", `/api/callbacks/${c.id}/complete`, {outcome: li.querySelector("select").value});
}

// A row's button: runs fn(callback, row), says what went wrong, and refreshes the list either way
// (a 409 means a colleague was quicker: the refreshed list shows it).
function act(c, fn) {
  return async (e) => {
    const btn = e.currentTarget;
    btn.disabled = true;
    msg.textContent = "";
    try {
      await fn(c, btn.closest("li"));
    } catch (err) {
      msg.textContent = `${t("desk.error")}: ${errorText(err)}`;
    }
    btn.disabled = false;
    await refresh();
  };
}

async function refresh() {
  try {
    const data = await api("GET", "/api/callbacks");
    outcomes = data.outcomes;
    render(data.callbacks.length ? repeat(data.callbacks, (c) => c.id, row) : html`<li class="muted">${t("callbacks.none")}</li>`, list);
  } catch (err) {
    msg.textContent = `${t("desk.error")}: ${errorText(err)}`;
  }
}

if (list) {
  refresh();
  setInterval(refresh, 30000);  // new requests arrive from the IVR; a colleague's claims disappear
}
