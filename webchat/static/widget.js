// tongdai web chat widget: one tag on the operator's site, served by tongdai itself (no CDN):
//   <script src="https://tongdai.example.vn/chat/widget.js" data-topic="mobile"
//           data-token="<portal token, if the customer is logged in>" data-lang="vi"></script>
// "Chat with us" (a websocket bound to this one chat) and "Call me back" (a form with a proof of work).
// Every message is shown as text (text nodes only, never innerHTML); links become plain http(s) links
// that open apart from the page; each message is isolated for bidirectional text, so an RTL mark
// cannot reorder the page around it. The widget lives in a shadow root: the site's CSS cannot hide it.
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script) return;
  const base = new URL(script.src).origin;
  const opts = {
    topic: script.dataset.topic || "",
    token: script.dataset.token || "",
    lang: script.dataset.lang === "en" ? "en" : "vi",
  };
  let words = {errors: {}};
  // The page the customer is on goes to the agent without its query or fragment: a site may keep
  // tokens or personal data there.
  const w = (k, vars) => String(words[k] || k).replace(/\{(\w+)\}/g, (_, n) => (vars && n in vars ? vars[n] : ""));
  const errText = (e) => (e && words.errors[e.code]) || (e && e.message) || w("error");

  // --- SHA-256 (synchronous: the proof of work hashes tens of thousands of times) ----------------
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  function sha256(bytes) {
    const l = bytes.length, n = ((l + 9 + 63) >> 6) << 6, m = new Uint8Array(n);
    m.set(bytes); m[l] = 0x80;
    const dv = new DataView(m.buffer);
    dv.setUint32(n - 4, l * 8); dv.setUint32(n - 8, Math.floor(l / 0x20000000));
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    const W = new Uint32Array(64);
    const r = (x, k) => (x >>> k) | (x << (32 - k));
    for (let o = 0; o < n; o += 64) {
      for (let i = 0; i < 16; i++) W[i] = dv.getUint32(o + i * 4);
      for (let i = 16; i < 64; i++) {
        const s0 = r(W[i - 15], 7) ^ r(W[i - 15], 18) ^ (W[i - 15] >>> 3);
        const s1 = r(W[i - 2], 17) ^ r(W[i - 2], 19) ^ (W[i - 2] >>> 10);
        W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (hh + (r(e, 6) ^ r(e, 11) ^ r(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
        const t2 = ((r(a, 2) ^ r(a, 13) ^ r(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    return h;
  }
  function zeroBits(h) {
    let n = 0;
    for (const word of h) {
      if (word === 0) { n += 32; continue; }
      return n + Math.clz32(word);
    }
    return n;
  }
  function solve(token, bits) {
    const enc = new TextEncoder();
    for (let i = 0; ; i++) if (zeroBits(sha256(enc.encode(`${token}:${i}`))) >= bits) return String(i);
  }

  // --- the DOM (text only) -------------------------------------------------------------------------
  const host = document.createElement("div");
  host.id = "tongdai-chat";
  document.body.appendChild(host);
  const root = host.attachShadow({mode: "open"});
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const k of kids) e.append(k);  // strings become text nodes
    return e;
  };
  const css = `:host{all:initial}
    .td{position:fixed;right:16px;bottom:16px;font:14px/1.4 system-ui,sans-serif;color:#1a1a1a;z-index:2147483000}
    .btn{border:0;border-radius:6px;padding:8px 12px;background:#0b57d0;color:#fff;cursor:pointer;margin:2px}
    .btn.alt{background:#e8eaed;color:#1a1a1a}
    .panel{width:340px;max-height:520px;display:flex;flex-direction:column;background:#fff;border:1px solid #c4c7c5;border-radius:8px;box-shadow:0 4px 16px #0003;margin-bottom:8px}
    .head{padding:8px 12px;font-weight:600;border-bottom:1px solid #e0e0e0;display:flex;justify-content:space-between}
    .log{flex:1;overflow-y:auto;padding:8px;min-height:120px}
    .msg{unicode-bidi:isolate;white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0;padding:6px 8px;border-radius:6px;background:#f1f3f4}
    .msg.me{background:#d3e3fd;margin-left:24px}
    .msg small{display:block;color:#5f6368;font-size:11px}
    .note{color:#5f6368;font-size:12px;margin:4px 0}
    form{padding:8px;display:flex;gap:4px;flex-wrap:wrap}
    input,select,textarea{font:inherit;padding:4px;border:1px solid #c4c7c5;border-radius:4px}
    textarea{flex:1;resize:none}
    label{display:block;width:100%}`;
  const launcher = el("div", {class: "td"});
  // A constructed style sheet: a site whose Content-Security-Policy forbids inline styles still
  // shows the widget styled (a <style> element only where constructed sheets are not supported).
  if ("adoptedStyleSheets" in root && typeof CSSStyleSheet.prototype.replaceSync === "function") {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
    root.append(launcher);
  } else {
    const style = el("style");
    style.textContent = css;
    root.append(style, launcher);
  }
  let panel = null;

  function link(text) {
    // Plain text with its http(s) URLs as safe links; anything else stays text.
    const out = document.createDocumentFragment();
    const re = /https?:\/\/[^\s<>"'`]+/g;
    let at = 0, m;
    while ((m = re.exec(text))) {
      out.append(text.slice(at, m.index));
      let url = null;
      try { url = new URL(m[0]); } catch (e) { url = null; }
      if (url && (url.protocol === "https:" || url.protocol === "http:")) {
        const a = el("a", {href: url.href, target: "_blank", rel: "noopener noreferrer nofollow ugc"}, m[0]);
        out.append(a);
      } else {
        out.append(m[0]);
      }
      at = m.index + m[0].length;
    }
    out.append(text.slice(at));
    return out;
  }

  function openPanel(title) {
    if (panel) panel.remove();
    const close = el("button", {class: "btn alt", type: "button", "aria-label": w("close")}, "×");
    panel = el("section", {class: "panel", role: "dialog", "aria-label": title},
      el("div", {class: "head"}, el("span", {}, title), close));
    // Closed on purpose: a reload does not take the chat up again.
    close.addEventListener("click", () => { store.set(""); stopChat(); panel.remove(); panel = null; });
    launcher.prepend(panel);
    return panel;
  }

  // --- chat ------------------------------------------------------------------------------------------
  // The chat's resume secret, per tab: a reload takes the same chat up again (webchat.resume_seconds).
  const KEY = "tongdai-chat-resume";
  const store = {
    get() { try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; } },
    set(v) { try { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); } catch (e) { /* storage off */ } },
  };
  let ws = null, log = null, status = null, typingNote = null, typingTimer = 0, lastTyping = 0, ended = false;
  const mine = new Map();  // ref → the customer's message element, until the server names it

  function note(text, cls = "note") {
    const p = el("p", {class: cls, "data-testid": "chat-note"}, text);
    log.append(p);
    log.scrollTop = log.scrollHeight;
    return p;
  }

  function showMessage(m, me, node) {
    const div = node || el("div", {class: me ? "msg me" : "msg", dir: "auto", "data-testid": me ? "chat-mine" : "chat-theirs"});
    div.textContent = "";
    div.append(link(m.text));
    div.dataset.id = m.id || "";
    if (me) {
      div.dataset.state = m.state || "sending";
      div.append(el("small", {"data-testid": "chat-state"}, w(`state_${div.dataset.state}`)));
    }
    if (!node) log.append(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  function setState(id, state) {
    const div = log && log.querySelector(`[data-id="${CSS.escape(id)}"]`);
    if (!div || !div.dataset.state) return;
    div.dataset.state = state;
    div.querySelector("small").textContent = w(`state_${state}`);
  }

  function stopChat() {
    if (ws) { ws.close(); ws = null; }
  }

  function startChat(identity) {
    const p = openPanel(w("chat_title"));
    // A log (announced politely), focusable so a keyboard can scroll it.
    log = el("div", {class: "log", role: "log", tabindex: "0", "aria-label": w("chat_title"), "data-testid": "chat-log"});
    status = el("p", {class: "note", role: "status", "data-testid": "chat-status"}, w("connecting"));
    typingNote = el("p", {class: "note", "data-testid": "chat-typing", hidden: ""}, w("agent_typing"));
    const box = el("textarea", {rows: "2", "aria-label": w("message"), "data-testid": "chat-input"});
    const send = el("button", {class: "btn", type: "submit", "data-testid": "chat-send"}, w("send"));
    const form = el("form", {}, box, send);
    p.append(status, log, typingNote, form);
    ws = new WebSocket(`${base.replace(/^http/, "ws")}/chat/ws`);
    let ref = 0;
    ws.onopen = () => ws.send(JSON.stringify({type: "hello", topic: opts.topic, page: location.origin + location.pathname, lang: opts.lang, ...identity}));
    ws.onmessage = (e) => onFrame(JSON.parse(e.data));
    ended = false;
    ws.onclose = () => { if (!ended) status.textContent = w("closed"); send.disabled = true; };
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = box.value;
      if (!text.trim() || !ws || ws.readyState !== 1) return;
      ref += 1;
      mine.set(ref, showMessage({text, state: "sending"}, true));
      ws.send(JSON.stringify({type: "message", ref, text}));
      box.value = "";
      lastTyping = 0;  // typing the next message is news again
    });
    box.addEventListener("input", () => {
      const now = Date.now();
      if (ws && ws.readyState === 1 && now - lastTyping > 2000) {
        lastTyping = now;
        ws.send(JSON.stringify({type: "typing"}));
      }
    });
  }

  function onFrame(f) {
    if (f.type === "welcome") {
      store.set(f.resume);
      for (const m of f.messages || []) showMessage(m, m.from === "customer");
      status.textContent = f.agent ? w("agent_joined") : f.position ? w("position", {n: f.position}) : w("waiting");
    } else if (f.type === "position") {
      status.textContent = w("position", {n: f.position});
    } else if (f.type === "waiting") {  // the agent's desktop went away: back in line
      status.textContent = w("waiting");
    } else if (f.type === "agent") {
      status.textContent = w("agent_joined");
    } else if (f.type === "sent") {
      const node = mine.get(f.ref);
      mine.delete(f.ref);
      showMessage(f.message, true, node);
    } else if (f.type === "delivery") {
      setState(f.id, f.state);
    } else if (f.type === "message") {
      typingNote.hidden = true;
      showMessage(f, false);
      if (document.visibilityState === "visible") ws.send(JSON.stringify({type: "read", id: f.id}));
    } else if (f.type === "typing") {
      typingNote.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { typingNote.hidden = true; }, 4000);
    } else if (f.type === "callback_offer") {
      const b = el("button", {class: "btn", type: "button", "data-testid": "chat-callback-offer"}, w("callback_offer"));
      b.addEventListener("click", () => showCallbackForm());
      note(w("no_agent")).append(" ", b);
    } else if (f.type === "ended") {
      ended = true;
      store.set("");
      status.textContent = w("ended");
    } else if (f.type === "error") {
      if (f.code === "chat.ended") store.set("");  // a resume that came too late
      if (f.ref && mine.has(f.ref)) { mine.get(f.ref).remove(); mine.delete(f.ref); }
      note(errText(f), "note error").setAttribute("role", "alert");
    }
  }

  function askPhone() {
    const p = openPanel(w("chat_title"));
    const input = el("input", {type: "tel", inputmode: "tel", autocomplete: "tel", required: "", "data-testid": "chat-phone"});
    const go = el("button", {class: "btn", type: "submit", "data-testid": "chat-start"}, w("start"));
    const form = el("form", {}, el("label", {}, w("your_phone"), input), go);
    p.append(form);
    form.addEventListener("submit", (e) => { e.preventDefault(); startChat({phone: input.value}); });
  }

  // --- callback form -----------------------------------------------------------------------------------
  async function showCallbackForm() {
    stopChat();
    const p = openPanel(w("callback_title"));
    const msg = el("p", {class: "note", role: "status", "data-testid": "cb-msg"});
    let form;
    try {
      const r = await fetch(`${base}/chat/callback/form`, {credentials: "omit"});
      form = await r.json();
      if (!r.ok) throw form.error;
    } catch (err) {
      p.append(el("p", {class: "note", role: "alert"}, errText(err)));
      return;
    }
    const vn = new Date(Date.now() + 7 * 3600 * 1000).toISOString();  // today in Việt Nam
    const number = el("input", {type: "tel", name: "number", required: "", "data-testid": "cb-number"});
    const day = el("input", {type: "date", name: "day", value: vn.slice(0, 10), required: "", "data-testid": "cb-day"});
    // Whole hours: "from" 00:00–23:00, "to" 01:00–24:00 (midnight); the server checks our hours.
    const hour = (h) => `${String(h).padStart(2, "0")}:00`;
    const hours = (first, last) => Array.from({length: last - first + 1}, (_, i) => el("option", {value: hour(first + i)}, hour(first + i)));
    const from = el("select", {name: "from", "data-testid": "cb-from"}, ...hours(0, 23));
    const to = el("select", {name: "to", "data-testid": "cb-to"}, ...hours(1, 24));
    from.value = "09:00";
    to.value = "11:00";
    const topic = el("select", {name: "topic", "data-testid": "cb-topic"},
      ...form.topics.map((t) => { const o = el("option", {value: t.name}, t[opts.lang] || t.name); return o; }));
    if (opts.topic) topic.value = opts.topic;
    const send = el("button", {class: "btn", type: "submit", "data-testid": "cb-send"}, w("callback_send"));
    const f = el("form", {},
      el("label", {}, w("your_phone"), number), el("label", {}, w("day"), day),
      el("label", {}, w("from"), from), el("label", {}, w("to"), to), el("label", {}, w("topic"), topic), send);
    p.append(f, msg);
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      send.disabled = true;
      msg.textContent = w("sending");
      const work = solve(form.token, form.bits);
      const body = {token: form.token, work, number: number.value, day: day.value, from: from.value, to: to.value, topic: topic.value};
      if (opts.token) body.identity = opts.token;
      try {
        const r = await fetch(`${base}/chat/callback`, {method: "POST", credentials: "omit",
          headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
        const data = await r.json();
        if (!r.ok) throw data.error;
        msg.textContent = w("callback_done");
        msg.dataset.done = "1";
      } catch (err) {
        msg.textContent = errText(err);
        send.disabled = false;
        if (err && (err.code === "callback_form.expired" || err.code === "callback_form.refused")) showCallbackForm();
      }
    });
  }

  // --- the launcher ---------------------------------------------------------------------------------
  fetch(`${base}/chat/strings?lang=${opts.lang}`, {credentials: "omit"}).then((r) => r.json()).then((d) => {
    words = d;
    const chat = el("button", {class: "btn", type: "button", "data-testid": "chat-open"}, w("chat_open"));
    const cb = el("button", {class: "btn alt", type: "button", "data-testid": "callback-open"}, w("callback_open"));
    chat.addEventListener("click", () => (opts.token ? startChat({token: opts.token}) : askPhone()));
    cb.addEventListener("click", () => showCallbackForm());
    launcher.append(chat, cb);
    if (store.get()) startChat({resume: store.get()});  // the page was reloaded mid-chat
  });
})();
