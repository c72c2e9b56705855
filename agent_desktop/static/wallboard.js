// Supervisor wallboard: renders the "wallboard" snapshots the bridge pushes on every call or agent
// event (no polling); listen / whisper / barge buttons send websocket commands.
"use strict";
const lang = document.body.dataset.lang || "vi";
const L = {
  vi: {waiting: "Đang chờ", longest: "Chờ lâu nhất", answered: "Đã trả lời", abandoned: "Bỏ máy", sl: "Mức phục vụ",
       asa: "ASA", aht: "AHT", listen: "Nghe", whisper: "Nhắc", barge: "Chen", oncall: "đang gọi",
       offered: "Cuộc gọi", status: {ready: "Sẵn sàng", paused: "Tạm nghỉ", logged_out: "Đăng xuất", unknown: "Chưa rõ",
       on_call: "Đang gọi", wrap_up: "Hoàn tất", ringing: "Đang đổ chuông", unavailable: "Không liên lạc"}},
  en: {waiting: "Waiting", longest: "Longest wait", answered: "Answered", abandoned: "Abandoned", sl: "Service level",
       asa: "ASA", aht: "AHT", listen: "Listen", whisper: "Whisper", barge: "Barge", oncall: "on call",
       offered: "Calls", status: {ready: "Ready", paused: "Paused", logged_out: "Logged out", unknown: "Unknown",
       on_call: "On call", wrap_up: "Wrap-up", ringing: "Ringing", unavailable: "Unavailable"}},
}[lang];
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const secs = (s) => s == null ? "–" : `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}`;
const pct = (x) => x == null ? "–" : `${(x * 100).toFixed(1).replace(".", ",")} %`;
const $ = (id) => document.getElementById(id);
const REASONS = JSON.parse($("reasons").textContent);  // pause reasons in the page's language
let ws = null, seq = 0, last = null;

function slClass(f) { return f.sl == null ? "" : f.sl >= 0.8 ? "good" : f.sl >= 0.6 ? "warn" : "bad"; }
function row(name, f, testid) {
  return `<tr data-testid="${testid}" data-name="${esc(f.name)}"><td>${esc(name)}</td>
    <td class="${f.waiting ? "hot" : ""}" data-k="waiting">${f.waiting}</td><td data-k="longest">${secs(f.longest_wait)}</td>
    <td data-k="answered">${f.answered}</td><td data-k="abandoned">${f.abandoned}</td>
    <td class="${slClass(f)}" data-k="sl">${pct(f.sl)}</td><td data-k="asa">${secs(f.asa)}</td><td data-k="aht">${secs(f.aht)}</td></tr>`;
}

function tiles(s) {
  const sum = (k) => s.queues.reduce((a, q) => a + (q[k] || 0), 0);
  const ans = sum("answered"), ab = sum("abandoned"), inSl = sum("answered_in_sl");
  const longest = Math.max(0, ...s.queues.map((q) => q.longest_wait || 0));
  const t = [[L.waiting, sum("waiting"), "waiting"], [L.longest, secs(longest), "longest"], [L.answered, ans, "answered"],
             [L.abandoned, ab, "abandoned"], [L.sl, pct(ans + ab ? inSl / (ans + ab) : null), "sl"],
             [L.status.ready, (s.agent_counts || {}).ready || 0, "ready"]];  // agents app_queue can ring
  $("tiles").innerHTML = t.map(([k, v, id]) => `<div class="tile" data-testid="tile-${id}"><span>${k}</span><b>${v}</b></div>`).join("");
}

function dayOf(halves) {
  // The working day 07:00–21:30 (stretched to any slot with calls), empty slots included.
  const idx = (s) => Number(s.slice(0, 2)) * 2 + (s.slice(3) === "30" ? 1 : 0);
  const have = new Map(halves.map((h) => [h.slot, h]));
  const first = Math.min(14, ...halves.map((h) => idx(h.slot))), lastI = Math.max(43, ...halves.map((h) => idx(h.slot)));
  const out = [];
  for (let i = first; i <= lastI; i++) {
    const slot = `${String(Math.floor(i / 2)).padStart(2, "0")}:${i % 2 ? "30" : "00"}`;
    out.push(have.get(slot) || {slot, offered: 0, answered: 0, abandoned: 0, sl: null});
  }
  return out;
}

function chart(raw) {
  const halves = dayOf(raw);
  const W = 1000, H = 220, P = 34;
  if (!halves.length) { $("chart").innerHTML = `<svg viewBox="0 0 ${W} ${H}" class="chart"><text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="axis">–</text></svg>`; return; }
  const max = Math.max(1, ...halves.map((h) => h.offered));
  const bw = Math.min(48, (W - 2 * P) / halves.length - 6);
  const x = (i) => P + i * ((W - 2 * P) / halves.length) + 3;
  const y = (v) => H - P - (v / max) * (H - 2 * P);
  let g = `<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" class="axis-line"/>`;
  halves.forEach((h, i) => {
    g += `<rect x="${x(i)}" y="${y(h.answered)}" width="${bw}" height="${H - P - y(h.answered)}" class="bar-ans"><title>${h.slot} ${L.answered} ${h.answered}</title></rect>`;
    g += `<rect x="${x(i)}" y="${y(h.answered + h.abandoned)}" width="${bw}" height="${y(h.answered) - y(h.answered + h.abandoned)}" class="bar-ab"><title>${h.slot} ${L.abandoned} ${h.abandoned}</title></rect>`;
    if (h.slot.endsWith(":00")) g += `<text x="${x(i) + bw / 2}" y="${H - P + 14}" text-anchor="middle" class="axis">${h.slot.slice(0, 2)}h</text>`;
  });
  const pts = halves.map((h, i) => h.sl == null ? null : `${x(i) + bw / 2},${P + (1 - h.sl) * (H - 2 * P)}`).filter(Boolean);
  if (pts.length) g += `<polyline points="${pts.join(" ")}" class="sl-line"/>` + pts.map((p) => `<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="3.5" class="sl-dot"/>`).join("");
  g += `<line x1="${P}" y1="${P + 0.2 * (H - 2 * P)}" x2="${W - P}" y2="${P + 0.2 * (H - 2 * P)}" class="target"/>`;
  g += `<text x="${W - P}" y="${P + 0.2 * (H - 2 * P) - 4}" text-anchor="end" class="axis">SL 80 %</text>`;
  g += `<text x="${P - 6}" y="${P + 4}" text-anchor="end" class="axis">${max}</text><text x="${P - 6}" y="${H - P}" text-anchor="end" class="axis">0</text>`;
  $("chart").innerHTML = `<svg viewBox="0 0 ${W} ${H}" class="chart" role="img">${g}</svg>
    <div class="legend"><span class="k ans"></span>${L.answered} <span class="k ab"></span>${L.abandoned} <span class="k sl"></span>${L.sl}</div>`;
}

function render(s) {
  last = s;
  tiles(s);
  $("queues").innerHTML = s.queues.map((q) => row(q.label || q.name, q, "queue-row")).join("");
  $("tiers").innerHTML = s.tiers.map((t) => row(t.name, t, "tier-row")).join("");
  const now = Date.now() / 1000;
  $("agents").innerHTML = s.agents.map((a) => {
    const st = a.on_call ? "on_call" : a.status;
    const since = a.since ? secs(now - a.since) : "–";
    return `<tr data-testid="agent-row" data-agent="${esc(a.agent_id)}"><td>${esc(a.name)} <small>#${esc(a.agent_id)}</small></td>
      <td><span class="badge st-${esc(st)}">${esc(L.status[st] || st)}</span></td><td>${since}</td><td data-k="reason">${esc(REASONS[a.reason] || a.reason)}</td>
      <td class="spy">${a.on_call ? ["listen", "whisper", "barge"].map((m) => `<button class="link-btn" data-spy="${m}" data-agent="${esc(a.agent_id)}">${L[m]}</button>`).join(" ") : ""}</td></tr>`;
  }).join("");
  for (const b of document.querySelectorAll("[data-spy]")) b.onclick = () => send("spy.start", {agent_id: b.dataset.agent, mode: b.dataset.spy});
  chart(s.halfhours);
}

function send(type, args) { if (ws && ws.readyState === 1) ws.send(JSON.stringify({id: ++seq, type, ...args})); }

setInterval(() => {
  $("clock").textContent = new Date().toLocaleString("vi-VN", {timeZone: "Asia/Ho_Chi_Minh", hour12: false,
    day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit"});
  if (last) for (const r of document.querySelectorAll("[data-testid=agent-row]")) { /* time in state ticks */
    const a = last.agents.find((x) => x.agent_id === r.dataset.agent);
    if (a && a.since) r.children[2].textContent = secs(Date.now() / 1000 - a.since);
  }
}, 1000);

let backoff = 500;
function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => { backoff = 500; $("link").className = "link up"; };
  ws.onclose = () => { $("link").className = "link down"; setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 10000); };
  ws.onmessage = (m) => { const f = JSON.parse(m.data); if (f.type === "wallboard") render(f); };
  window.tongdaiSocket = ws;
}
connect();
