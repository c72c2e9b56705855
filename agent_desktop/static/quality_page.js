// Quality evaluations (quality/http.py): an analyst picks a call and a form, answers each question
// (yes/no, a scale, or "not applicable" where the form allows it) and saves; the API scores it (a fatal
// question answered "no" scores 0). Everyone sees the list: an agent only their own calls'.
import {api} from "./lib/http.js";
import {day, hm} from "./lib/format.js";
import {errorText, t} from "./lib/i18n.js";
import {html, nothing, render} from "./lib/html.js";
import {DeskSocket} from "./lib/socket.js";

const $ = (id) => document.getElementById(id);
const analyst = document.body.dataset.analyst === "1";
let forms = [];

const score = (x) => `${Number(x).toFixed(2).replace(".", ",")} %`;

function question(q) {
  const name = `q_${q.id}`;
  const choices = q.kind === "scale"
    ? [...Array(q.points + 1).keys()].map((n) => [String(n), String(n)])
    : [["yes", t("qpage.yes")], ["no", t("qpage.no")]];
  if (q.na_allowed) choices.push(["na", t("qpage.na")]);
  return html`<div class="qa-q" role="radiogroup" aria-labelledby="qt-${q.id}" data-q=${q.id}>
    <span class="qa-text" id="qt-${q.id}">${q.text}${q.fatal ? html` <span class="qa-fatal">(${t("qpage.fatal")})</span>` : nothing}
      <span class="muted small">${t("qpage.points", {points: q.points})}</span></span>
    ${choices.map(([v, text]) => html`<label><input type="radio" name=${name} value=${v} required>${text}</label>`)}
  </div>`;
}

function drawForm() {
  const sel = $("qa-form").elements.form_id;
  const form = forms.find((f) => f.id === sel.value) || forms[0];
  render(form ? form.sections.map((s) => html`<fieldset><legend>${s.name} <span class="muted small">${t("qpage.weight", {weight: s.weight})}</span></legend>
    ${s.questions.map(question)}</fieldset>`) : html`<p class="muted">${t("qpage.no_forms")}</p>`, $("qa-questions"));
}

function answersOf(formEl, form) {
  const out = {};
  for (const s of form.sections) {
    for (const q of s.questions) {
      const v = formEl.elements[`q_${q.id}`].value;
      out[q.id] = v === "na" ? "na" : q.kind === "scale" ? Number(v) : v === "yes";
    }
  }
  return out;
}

function list(rows) {
  if (!rows.length) return html`<p class="muted">${t("qpage.none")}</p>`;
  return html`<table class="qa-list" data-testid="qa-rows" aria-labelledby="qa-list-title"><thead><tr>
      <th scope="col">${t("qpage.when")}</th><th scope="col">${t("qpage.call_id")}</th><th scope="col">${t("qpage.agent")}</th>
      <th scope="col">${t("qpage.form")}</th><th scope="col">${t("qpage.evaluator")}</th><th scope="col">${t("qpage.score")}</th>
      <th scope="col">${t("qpage.fatal_errors")}</th><th scope="col">${t("qpage.sections")}</th><th scope="col">${t("qpage.comment")}</th></tr></thead>
    <tbody>${rows.map((e) => html`<tr data-id=${e.id} data-call=${e.call_id}><th scope="row">${day(e.created_at)} ${hm(e.created_at)}</th>
      <td>${e.call_id}</td><td>${e.agent_id}</td><td>${e.form_name}</td><td>${e.evaluator}</td>
      <td data-k="score" class=${e.fatal.length ? "qa-fatal" : ""}>${score(e.score)}</td><td data-k="fatal">${e.fatal.join(", ") || "–"}</td>
      <td>${e.sections.map((s) => t("qpage.section_line", s)).join(" · ")}</td><td data-k="comment">${e.comment}</td></tr>`)}</tbody></table>`;
}

async function refresh() {
  try {
    render(list((await api("GET", "/api/quality/evaluations")).evaluations), $("qa-list"));
    $("qa-list-msg").textContent = "";
  } catch (err) {
    $("qa-list-msg").textContent = errorText(err);
  }
}

async function setUp() {
  const formEl = $("qa-form");
  forms = (await api("GET", "/api/quality/forms")).forms;
  render(forms.map((f) => html`<option value=${f.id}>${f.name}</option>`), formEl.elements.form_id);
  drawForm();
  formEl.elements.form_id.addEventListener("change", drawForm);
  formEl.addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = forms.find((f) => f.id === formEl.elements.form_id.value);
    const msg = $("qa-msg");
    msg.className = "muted";
    msg.textContent = t("qpage.saving");
    try {
      const r = await api("POST", "/api/quality/evaluations", {call_id: formEl.elements.call_id.value.trim(), form_id: form.id,
                                                              answers: answersOf(formEl, form), comment: formEl.elements.comment.value});
      msg.className = "ok";
      msg.textContent = r.fatal.length ? t("qpage.saved_fatal", {fatal: r.fatal.join(", ")})
        : t("qpage.saved", {score: score(r.score), agent: r.agent_id});
      await refresh();
    } catch (err) {
      msg.className = "error";
      msg.textContent = `${t("desk.error")}: ${errorText(err)}` + (err.message && err.code === "quality.bad_evaluation" ? ` (${err.message})` : "");
    }
  });
}

new DeskSocket().connect();
if (analyst) setUp().catch((err) => { $("qa-msg").textContent = errorText(err); });
refresh();
