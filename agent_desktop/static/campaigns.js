// Campaign calls (campaigns/http.py). A pop whose frame carries `campaign` offers the campaign's own
// dispositions (and, for a callback, when to call back); saved against the contact, whose next call
// the campaign's rules then schedule. Preview campaigns (campaigns/preview_http.py): "Next contact"
// shows the offered contact's profile and script; Dial goes through click-to-call, then the agent
// tells the outcome (and the disposition) in the same form.
import {api} from "./lib/http.js";
import {errorText, t} from "./lib/i18n.js";
import {html, nothing, render} from "./lib/html.js";

const box = document.getElementById("campaign-wrap");
let call = null;  // {campaign_id, contact_id, dispositions, outcome: true for a preview call}

const failure = (err) => `${t("desk.error")}: ${errorText(err)}`;

function view(msg = "", cls = "muted") {
  box.hidden = !call;
  if (!call) return;
  const outcomes = ["reached", "busy", "no_answer", "wrong_number", "machine", "failed"];
  render(html`<h3>${t("campaigns.disposition")}: ${call.name}</h3>
    <form class="grid2" data-testid="campaign-dispo-form" @submit=${save}>
      ${call.outcome ? html`<label>${t("campaigns.outcome")}<select name="outcome" data-testid="campaign-outcome">
        ${outcomes.map((o) => html`<option value=${o}>${t(`outcomes.${o}`)}</option>`)}</select></label>` : nothing}
      <label>${t("campaigns.disposition")}<select name="disposition" data-testid="campaign-dispo">
        ${call.dispositions.map((d) => html`<option value=${d}>${d}</option>`)}</select></label>
      <label>${t("campaigns.callback_at")}<input type="datetime-local" name="callback_at" data-testid="campaign-callback-at"></label>
      <label class="wide">${t("campaigns.note")}<textarea name="note" rows="2" data-testid="campaign-note"></textarea></label>
      <button class="btn primary" data-testid="campaign-dispo-save">${t("campaigns.save")}</button>
      <span class=${cls} role="status" data-testid="campaign-dispo-msg">${msg}</span>
    </form>`, box);
}

async function save(e) {
  e.preventDefault();
  const fd = new FormData(e.target);
  const outcome = call.outcome ? fd.get("outcome") : null;
  const body = {note: fd.get("note") || ""};
  if (outcome) body.outcome = outcome;
  if (!outcome || outcome === "reached") body.disposition = fd.get("disposition");
  if (fd.get("callback_at")) body.callback_at = fd.get("callback_at");
  try {
    const r = await api("POST", `/api/campaigns/${call.campaign_id}/contacts/${call.contact_id}/disposition`, body);
    const done = call;
    call = null;
    view();
    document.dispatchEvent(new CustomEvent("campaign-saved", {detail: {...r, call: done}}));
  } catch (err) {
    view(failure(err), "error");
  }
}

/** A campaign call to record: from a pop (progressive) or from a preview dial (outcome asked too). */
export function expect(c) {
  call = c;
  view();
}

document.addEventListener("desk-frame", (ev) => {
  const f = ev.detail;
  if (f.type === "pop" && f.campaign) {
    const c = f.campaign;
    expect({campaign_id: c.id, contact_id: c.contact_id, name: c.name, dispositions: c.dispositions || [], outcome: false});
  }
});

// --- preview dialling: the next contact offered to this (ready) agent, dialled with click-to-call ---
const card = document.getElementById("preview");
const out = document.getElementById("preview-offer");
const pmsg = document.getElementById("preview-msg");
let offer = null;

function showOffer() {
  if (!offer) {
    render(nothing, out);
    document.dispatchEvent(new CustomEvent("show-customer", {detail: null}));
    return;
  }
  const {campaign: c, contact: k} = offer;
  render(html`<div class="campaign" data-testid="preview-offer" data-contact=${k.id}>
      <h4>${t("pop.campaign")}: ${c.name}</h4>
      <p><b data-testid="preview-name">${k.name || (offer.customer && offer.customer.name) || ""}</b>
        <span data-testid="preview-number">${k.national}</span></p>
      <p class="script" data-testid="preview-script">${c.script}</p>
      <button class="btn primary" data-testid="preview-dial" @click=${dialOffer}>${t("campaigns.dial")}</button>
      <button class="btn" data-testid="preview-skip" @click=${skipOffer}>${t("campaigns.skip")}</button>
    </div>`, out);
  // The full profile in the pop, as for a call (desktop.js renders it).
  document.dispatchEvent(new CustomEvent("show-customer", {detail: offer.customer || null}));
}

async function nextOffer() {
  try {
    const r = await api("POST", "/api/campaigns/preview/next");
    offer = r.offer;
    pmsg.textContent = offer ? "" : t("campaigns.none");
    pmsg.className = "muted";
    showOffer();
  } catch (err) {
    pmsg.textContent = failure(err);
    pmsg.className = "error";
  }
}

async function dialOffer() {
  const {campaign: c, contact: k} = offer;
  try {
    const r = await api("POST", `/api/campaigns/${c.id}/contacts/${k.id}/dial`);
    offer = null;
    render(nothing, out);  // the customer stays in the pop for the call
    expect({campaign_id: c.id, contact_id: k.id, name: c.name, dispositions: c.dispositions || [], outcome: true});
    await api("POST", "/api/calls/dial", {number: r.dial});  // the desktop's click-to-call
    pmsg.textContent = t("campaigns.dialling", {number: r.dial});
    pmsg.className = "muted";
  } catch (err) {
    pmsg.textContent = failure(err);
    pmsg.className = "error";
  }
}

async function skipOffer() {
  const {campaign: c, contact: k} = offer;
  try {
    await api("POST", `/api/campaigns/${c.id}/contacts/${k.id}/skip`);
    offer = null;
    await nextOffer();
  } catch (err) {
    pmsg.textContent = failure(err);
    pmsg.className = "error";
  }
}

if (card) document.getElementById("preview-next").addEventListener("click", nextOffer);
document.addEventListener("campaign-saved", (ev) => {
  pmsg.textContent = t("campaigns.saved");
  pmsg.className = "ok";
});
