// Agent desktop: one websocket (reconnects with backoff); screen pop on "pop" frames; commands
// {id, type, ...} answered by {id, type: "result", success, result | error}.
"use strict";
const lang = document.body.dataset.lang || "vi";
const L = {
  vi: {ringing: "Cuộc gọi đến", answered: "Đang nói chuyện", ended: "Đã kết thúc", tier: "Hạng", reason: "Lý do",
       services: "Dịch vụ", points: "Điểm", debt: "Nợ quá hạn", path: "Hành trình IVR", recent: "Tương tác gần đây",
       tickets: "Phiếu yêu cầu / khiếu nại", unknown: "Khách hàng chưa xác định", stale: "dữ liệu có thể cũ",
       consent: "Đồng ý", marketing: "tiếp thị", recording: "ghi âm", sharing: "chia sẻ dữ liệu", yes: "có", no: "không",
       language: "Ngôn ngữ", idno: "CCCD", unmask: "Hiện số", unmask_reason: "Lý do xem số CCCD (được ghi nhật ký):",
       saved: "Đã lưu vào lịch sử khách hàng.", none: "Không có", catchup: "(kết nối lại)", use: "Chọn",
       dialling: "Đang gọi", transferred: "Đã chuyển", province: "Tỉnh/TP", error: "Lỗi",
       transferred_by: "Được chuyển từ tổng đài viên",
       tiers: {large: "Khách hàng lớn", sme: "Vừa và nhỏ", other: "Khách hàng khác", standard: "Phổ thông"},
       cards: {red: "thẻ đỏ", yellow: "thẻ vàng", green: "thẻ xanh"},
       svc: {mobile_prepaid: "Di động trả trước", mobile_postpaid: "Di động trả sau", fixed: "Cố định",
             gphone: "Gphone", internet: "Internet", tv: "Truyền hình"},
       status: {active: "đang dùng", suspended: "tạm ngưng", terminated: "đã thanh lý"}},
  en: {ringing: "Incoming call", answered: "On call", ended: "Ended", tier: "Tier", reason: "Why",
       services: "Services", points: "Points", debt: "Overdue debt", path: "IVR path", recent: "Recent interactions",
       tickets: "Tickets / complaints", unknown: "Unidentified caller", stale: "data may be stale",
       consent: "Consent", marketing: "marketing", recording: "recording", sharing: "data sharing", yes: "yes", no: "no",
       language: "Language", idno: "ID number", unmask: "Unmask", unmask_reason: "Reason to see the ID number (audited):",
       saved: "Saved to the customer's history.", none: "None", catchup: "(reconnected)", use: "Use",
       dialling: "Dialling", transferred: "Transferred", province: "Province", error: "Error",
       transferred_by: "Transferred by agent",
       tiers: {large: "Large customer", sme: "SME", other: "Other", standard: "Standard"},
       cards: {red: "red card", yellow: "yellow card", green: "green card"},
       svc: {mobile_prepaid: "Mobile prepaid", mobile_postpaid: "Mobile postpaid", fixed: "Fixed line",
             gphone: "Gphone", internet: "Internet", tv: "TV"},
       status: {active: "active", suspended: "suspended", terminated: "terminated"}},
}[lang];
const vnd = (n) => new Intl.NumberFormat("vi-VN").format(n || 0) + " ₫";
// Numbers are stored E.164; agents read and say them in the national form (+84912345678 → 0912345678).
const natl = (n) => (n && n.startsWith("+84") ? "0" + n.slice(3) : n);
const TZ = "Asia/Ho_Chi_Minh";  // dates and times as the contact center lives them: dd/mm/yyyy, 24 h
const dmy = (iso) => iso ? new Intl.DateTimeFormat("vi-VN", {timeZone: TZ, day: "2-digit", month: "2-digit", year: "numeric"}).format(new Date(iso)) : "";
const hm = (iso) => iso ? new Date(iso).toLocaleTimeString("vi-VN", {timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false}) : "";
const secs = (s) => s == null ? "–" : `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}`;
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const $ = (id) => document.getElementById(id);
const pop = $("pop"), log = $("log");
let current = null;   // the pop frame of the current / last call
let customerId = "";  // the customer the disposition goes to (pop or search)
let ws = null, seq = 0;
const pending = new Map();

function command(type, args = {}) {
  return new Promise((resolve, reject) => {
    if (!ws || ws.readyState !== 1) { reject(new Error("offline")); return; }
    const id = ++seq;
    pending.set(id, {resolve, reject});
    ws.send(JSON.stringify({id, type, ...args}));
  });
}

function flag(v) { return `<span class="flag ${v ? "on" : "off"}">${v ? L.yes : L.no}</span>`; }

function renderCustomer(c) {
  const why = lang === "vi" ? c.tier_reason.explanation_vi : c.tier_reason.explanation_en;
  const inter = c.recent_interactions || [];
  const tickets = inter.filter((i) => i.kind === "ticket" || i.kind === "complaint");
  const cs = c.consent || {};
  return `<div class="cust-head"><h3 data-testid="pop-name">${esc(c.name)}</h3>
      <small data-testid="pop-customer-id">${esc(c.customer_id)}</small>
      <span class="tier card-${esc(c.care_card)}" data-testid="pop-tier" data-tier="${esc(c.tier)}">${L.tier}:
        ${esc(L.tiers[c.tier] || c.tier)}${L.cards[c.care_card] ? ` · ${esc(L.cards[c.care_card])}` : ""}</span>
      ${c.stale ? `<em class="muted">(${L.stale})</em>` : ""}</div>
    <p class="why">${L.reason}: ${esc(why)}</p>
    <dl class="facts">
      <div><dt>${L.points}</dt><dd>${new Intl.NumberFormat("vi-VN").format(c.points || 0)}</dd></div>
      <div><dt>${L.debt}</dt><dd data-testid="pop-debt">${vnd(c.overdue_debt_vnd)}</dd></div>
      <div><dt>${L.language}</dt><dd>${esc((c.preferred_language || "").toUpperCase())}</dd></div>
      <div><dt>${L.province}</dt><dd>${esc(c.province || "–")}</dd></div>
      <div><dt>${L.idno}</dt><dd><span id="idno">${esc(c.id_number_masked || "–")}</span>
        ${c.id_number_masked ? `<button class="link-btn" id="unmask">${L.unmask}</button>` : ""}</dd></div>
      <div><dt>${L.consent}</dt><dd>${L.marketing} ${flag(cs.marketing)} · ${L.recording} ${flag(cs.recording)} · ${L.sharing} ${flag(cs.data_sharing)}</dd></div>
    </dl>
    <h4>${L.services}</h4><table class="svc">${(c.services || []).map((s) =>
      `<tr><td>${esc(L.svc[s.service] || s.service)}</td><td>${esc(natl(s.number) || s.account)}</td><td>${esc(s.package)}</td><td>${esc(L.status[s.status] || s.status)}</td><td class="r">${vnd(s.monthly_revenue_vnd)}</td></tr>`).join("")}</table>
    <h4>${L.tickets}</h4><ul class="hist">${tickets.map((i) =>
      `<li><b>${dmy(i.at)}</b> ${esc(i.kind)} · ${esc(i.summary)}</li>`).join("") || `<li class="muted">${L.none}</li>`}</ul>
    <h4>${L.recent}</h4><ul class="hist" data-testid="pop-history">${inter.slice(0, 6).map(histItem).join("") || `<li class="muted">${L.none}</li>`}</ul>`;
}

// The disposition's label in the page's language (the codes' labels are the form's options).
function dispoLabel(code) {
  const o = document.querySelector(`[data-testid=dispo-code] option[value="${CSS.escape(code || "")}"]`);
  return o ? o.textContent : code;
}
function histItem(i) {
  return `<li data-testid="history-item"><b>${dmy(i.at)}</b> ${esc(i.kind)}${i.disposition ? " · " + esc(dispoLabel(i.disposition)) : ""} · ${esc(i.summary)}</li>`;
}

function renderPop(f) {
  current = f;
  const c = f.customer;
  customerId = c ? c.customer_id : "";
  let html = `<h2 data-testid="pop-title"><span class="badge ring" id="pop-state">${L.ringing}</span> ${esc(f.caller_number)}
    ${f.catch_up ? `<small class="muted">${L.catchup}</small>` : ""}</h2>
    <p class="path">${L.path}: <span data-testid="pop-path">${esc(f.ivr_path_text)}</span> · ${esc(f.queue)}${f.language ? " · " + esc(f.language.toUpperCase()) : ""}</p>
    ${f.transferred_by ? `<p class="xfer" data-testid="pop-transferred-by">${L.transferred_by} #${esc(f.transferred_by)}</p>` : ""}`;
  html += c ? renderCustomer(c) : `<h3 data-testid="pop-name">${L.unknown}</h3>`;
  pop.className = "card pop ringing";
  pop.innerHTML = html;
  $("wrap").hidden = false;
  $("dispo-msg").textContent = "";
  const btn = $("unmask");
  if (btn) btn.onclick = async () => {
    const reason = prompt(L.unmask_reason);
    if (!reason) return;
    try { const r = await command("customer.unmask", {customer_id: customerId, reason}); $("idno").textContent = r.id_number; btn.remove(); }
    catch (e) { alert(e.message); }
  };
}

function setPopState(cls, text) {
  pop.className = "card pop " + cls;
  const s = $("pop-state"); if (s) { s.textContent = text; s.className = "badge " + cls; }
}

function note(text) {
  const li = document.createElement("li");
  li.textContent = new Date().toLocaleTimeString("vi-VN", {timeZone: TZ, hour12: false}) + " " + text;
  log.prepend(li);
  while (log.children.length > 30) log.lastChild.remove();
}

async function refreshToday() {
  try {
    const rows = await command("calls.today");
    $("today").innerHTML = rows.map((r) => `<tr><td>${hm(r.started_at)}</td><td>${esc(r.caller_number)}</td><td>${esc(r.queue)}</td><td>${secs(r.wait_seconds)}</td><td>${secs(r.talk_seconds)}</td></tr>`).join("");
  } catch (e) { /* offline: next connect refreshes */ }
}

$("dispo-form").onsubmit = async (e) => {
  e.preventDefault();
  if (!current) return;
  const fd = new FormData(e.target);
  try {
    const saved = await command("disposition.save", {call_id: current.call_id, customer_id: customerId, code: fd.get("code"), note: fd.get("note")});
    $("dispo-msg").textContent = L.saved; $("dispo-msg").className = "ok"; e.target.note.value = "";
    // Show it in the customer's history at once (the server stored it; the cache was invalidated).
    const hist = pop.querySelector("[data-testid=pop-history]");
    if (hist && saved.customer_id === customerId) {
      hist.querySelector(".muted")?.remove();
      hist.insertAdjacentHTML("afterbegin", histItem(saved));
    }
  } catch (err) { $("dispo-msg").textContent = L.error + ": " + err.message; $("dispo-msg").className = "error"; }
};
$("xfer-form").onsubmit = async (e) => {
  e.preventDefault();
  if (!current) return;
  const mode = (e.submitter && e.submitter.value) || "blind";
  try { await command("call.transfer", {call_id: current.call_id, target: e.target.target.value, mode}); $("xfer-msg").textContent = L.transferred; }
  catch (err) { $("xfer-msg").textContent = L.error + ": " + err.message; }
};
$("search-form").onsubmit = async (e) => {
  e.preventDefault();
  try {
    const rows = await command("customer.search", {q: e.target.q.value});
    $("search-results").innerHTML = rows.map((r) => `<li><span><b>${esc(r.name)}</b> <small>${esc(r.customer_id)} · ${esc(r.province || "")}</small></span>
      <button class="link-btn" data-id="${esc(r.customer_id)}">${L.use}</button></li>`).join("") || `<li class="muted">${L.none}</li>`;
    for (const b of $("search-results").querySelectorAll("button")) b.onclick = async () => {
      const p = await command("customer.profile", {customer_id: b.dataset.id});
      customerId = p.customer_id;
      if (current) { const box = document.createElement("div"); box.innerHTML = renderCustomer(p); pop.append(box); }
      else { pop.className = "card pop"; pop.innerHTML = renderCustomer(p); }
    };
  } catch (err) { $("search-results").innerHTML = `<li class="error">${esc(err.message)}</li>`; }
};
$("dial-form").onsubmit = async (e) => {
  e.preventDefault();
  try { const r = await command("call.dial", {number: e.target.number.value}); $("dial-msg").textContent = `${L.dialling} ${r.dialling}…`; }
  catch (err) { $("dial-msg").textContent = L.error + ": " + err.message; }
};

let backoff = 500;
function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  const link = $("link");
  ws.onopen = () => { backoff = 500; link.className = "link up"; refreshToday(); };
  ws.onclose = () => {
    link.className = "link down";
    for (const p of pending.values()) p.reject(new Error("offline"));
    pending.clear();
    setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 10000);
  };
  ws.onmessage = (m) => {
    const f = JSON.parse(m.data);
    if (f.type === "result") {
      const p = pending.get(f.id); pending.delete(f.id);
      if (p) f.success ? p.resolve(f.result) : p.reject(new Error(f.error.message));
    } else if (f.type === "pop") { renderPop(f); note(L.ringing + " " + f.caller_number); }
    else if (f.type === "answered" && current && f.call_id === current.call_id) { setPopState("answered", L.answered); note(L.answered); }
    else if ((f.type === "retract" || f.type === "ended") && current && f.call_id === current.call_id) {
      setPopState("ended", L.ended); note(L.ended + " " + (f.disposition || "")); refreshToday(); }
  };
  window.tongdaiSocket = ws;
}
connect();
