// Campaign calls (campaigns/http.py). A pop whose frame carries `campaign` offers the campaign's own
// dispositions (and, for a callback, when to call back); saved against the contact, whose next call
// the campaign's rules then schedule.
import {api} from "./lib/http.js";
import {errorText, t} from "./lib/i18n.js";
import {html, nothing, render} from "./lib/html.js";

const box = document.getElementById("campaign-wrap");
let call = null;  // {campaign_id, contact_id, dispositions, outcome: true for a preview call}

const failure = (err) => `${t("desk.error")}: ${errorText(err)}`;

function view(msg = "", cls = "muted") {
  box.hidden = !call;
  if (!call) return;
  const outcomes = ["reached", "busy", "no_answer", "wrong_number", "machine"];
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
