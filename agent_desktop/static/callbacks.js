// Callback worklist (ivr/callbacks_http.py): my claims, then pending requests by tier and age.
// "Call back" claims the request (409 if a colleague was quicker) and dials it through click-to-call;
// the agent then records the outcome or releases the request, which keeps its place in the list.
"use strict";
(() => {
  const lang = document.body.dataset.lang || "vi";
  const T = {
    vi: {call: "Gọi lại", again: "Gọi lần nữa", release: "Trả lại", save: "Lưu", none: "Không có yêu cầu gọi lại",
         attempts: "lần gọi", dialling: "Đang gọi", error: "Lỗi",
         outcomes: {reached: "Đã liên lạc", no_answer: "Không nghe máy", busy: "Máy bận", voicemail: "Hộp thư thoại",
                    wrong_number: "Sai số", declined: "Khách không cần nữa"}},
    en: {call: "Call back", again: "Call again", release: "Release", save: "Save", none: "No callback requests",
         attempts: "attempts", dialling: "Dialling", error: "Error",
         outcomes: {reached: "Reached", no_answer: "No answer", busy: "Busy", voicemail: "Voicemail",
                    wrong_number: "Wrong number", declined: "No longer needed"}},
  }[lang];
  const me = document.body.dataset.agent;
  const csrf = document.body.dataset.csrf;
  const list = document.getElementById("callbacks");
  const msg = document.getElementById("callbacks-msg");
  if (!list) return;
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const hm = (iso) => new Date(iso).toLocaleString("vi-VN", {timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit", hour12: false});
  let outcomes = [];

  async function api(method, path, body) {
    const r = await fetch(path, {method, headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                                 body: body ? JSON.stringify(body) : undefined, credentials: "same-origin"});
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
    return data;
  }

  function row(c) {
    const mine = c.status === "claimed" && c.claimed_by === me;
    const head = `<span><b>${esc(c.number)}</b> <span class="tier">${esc(c.acd_tier || "–")}</span>
      <small>${esc(c.customer_id || "")} · ${hm(c.requested_at)}${c.attempts ? ` · ${c.attempts} ${T.attempts}` : ""}${c.claimed_by && !mine ? ` · ${esc(c.claimed_by)}` : ""}</small></span>`;
    let acts = "";
    if (c.status === "pending") acts = `<button class="btn primary" data-act="call">${T.call}</button>`;
    else if (mine) {
      acts = `<button class="btn" data-act="dial">${T.again}</button>
        <select data-testid="callback-outcome">${outcomes.map((o) => `<option value="${esc(o)}">${esc(T.outcomes[o] || o)}</option>`).join("")}</select>
        <button class="btn primary" data-act="complete">${T.save}</button>
        <button class="link-btn" data-act="release">${T.release}</button>`;
    }
    return `<li data-testid="callback" data-id="${c.id}" data-number="${esc(c.number)}" data-status="${esc(c.status)}">${head}<span>${acts}</span></li>`;
  }

  async function refresh() {
    try {
      const data = await api("GET", "/api/callbacks");
      outcomes = data.outcomes;
      list.innerHTML = data.callbacks.map(row).join("") || `<li class="muted">${T.none}</li>`;
    } catch (e) { msg.textContent = `${T.error}: ${e.message}`; }
  }

  async function dial(number) {
    const r = await api("POST", "/api/calls/dial", {number});
    msg.textContent = `${T.dialling} ${r.dialling}…`;
  }

  list.addEventListener("click", async (e) => {
    const btn = e.target.closest("button[data-act]");
    if (!btn) return;
    const li = btn.closest("li");
    const id = li.dataset.id, act = btn.dataset.act;
    btn.disabled = true;
    msg.textContent = "";
    try {
      if (act === "call") { await api("POST", `/api/callbacks/${id}/claim`); await dial(li.dataset.number); }
      else if (act === "dial") await dial(li.dataset.number);
      else if (act === "complete") await api("POST", `/api/callbacks/${id}/complete`, {outcome: li.querySelector("select").value});
      else if (act === "release") await api("POST", `/api/callbacks/${id}/release`);
    } catch (err) { msg.textContent = `${T.error}: ${err.message}`; }
    btn.disabled = false;
    await refresh();
  });

  refresh();
  setInterval(refresh, 30000);  // new requests arrive from the IVR; a colleague's claims disappear
})();
