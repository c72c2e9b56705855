// Web chats on the desktop (webchat/http.py): offered chats arrive as "chat.offer" frames on the
// desktop's websocket with the same profile the screen pop shows and the page the customer came from;
// messages both ways with typing and delivered/read states; transfer to an agent or a queue; end with
// a disposition (the transcript goes to the customer's history). Every message is text (lit escapes
// it), isolated for bidirectional text. Messages, typing and read go as commands on the desktop's
// websocket (no HTTP request, no session read each time); the rest over the JSON API.
import {api} from "./lib/http.js";
import {errorText, t} from "./lib/i18n.js";
import {hm} from "./lib/format.js";
import {html, nothing, render, repeat} from "./lib/html.js";
import {customerView, socket} from "./desktop.js";

const card = document.getElementById("chats");
const list = document.getElementById("chat-list");
const msg = document.getElementById("chats-msg");
const chats = new Map();  // chat_id → {chat, typing, left}
let lastTyping = 0;

const options = (sel) => [...document.querySelectorAll(`${sel} option`)].map((o) => ({value: o.value, text: o.textContent}));

function state(m) {
  return m.from === "agent" ? html`<small data-testid="chat-msg-state" data-state=${m.state}>${t(`chat.state_${m.state}`)}</small>` : nothing;
}

function messageView(m) {
  return html`<div class="chat-msg ${m.from}" dir="auto" data-testid="chat-msg" data-from=${m.from} data-id=${m.id}>${m.text}<small>${hm(m.at)}</small>${state(m)}</div>`;
}

function chatView(entry) {
  const c = entry.chat;
  const who = c.customer ? c.customer.name : (c.phone || t("chat.unknown"));
  return html`<article class="chat" data-testid="chat" data-chat=${c.chat_id} aria-label=${who}>
    <p class="muted"><b>${c.queue}</b> · ${c.verified ? t("chat.verified") : t("chat.unverified")}
      ${c.transferred_by ? html` · ${t("chat.transferred_by")} #${c.transferred_by}` : nothing}</p>
    <p class="chat-page">${t("chat.page")}: <span data-testid="chat-page">${c.page}</span></p>
    <div data-testid="chat-profile">${c.customer ? customerView(c.customer) : html`<h3>${who}</h3>`}</div>
    <div class="chat-log" role="log" tabindex="0" aria-label=${who} data-testid="chat-log">${repeat(c.messages, (m) => m.id, messageView)}</div>
    ${entry.typing ? html`<p class="muted" data-testid="chat-typing">${t("chat.typing")}</p>` : nothing}
    ${entry.left ? html`<p class="muted" data-testid="chat-left">${t("chat.left")}</p>` : nothing}
    <form @submit=${(e) => send(e, c)}>
      <textarea rows="2" aria-label=${t("chat.message", {who})} data-testid="chat-reply" @input=${() => typing(c)}></textarea>
      <button class="btn primary" data-testid="chat-send">${t("chat.send")}</button></form>
    <form @submit=${(e) => transfer(e, c)}>
      <select aria-label=${t("chat.target")} data-testid="chat-xfer-target">${options("[data-testid=xfer-target]").map((o) => html`<option value=${o.value}>${o.text}</option>`)}</select>
      <button class="btn" data-testid="chat-xfer">${t("chat.transfer")}</button></form>
    <form @submit=${(e) => end(e, c)}>
      <select aria-label=${t("chat.disposition")} data-testid="chat-dispo">${options("[data-testid=dispo-code]").map((o) => html`<option value=${o.value}>${o.text}</option>`)}</select>
      <button class="btn pause" data-testid="chat-end">${t("chat.end")}</button></form>
  </article>`;
}

function show() {
  const all = [...chats.values()];
  render(all.length ? repeat(all, (e) => e.chat.chat_id, chatView) : html`<p class="muted">${t("chat.none")}</p>`, list);
  for (const e of all) markRead(e.chat);
}

const failure = (err) => { msg.textContent = `${t("desk.error")}: ${errorText(err)}`; };

async function call(fn) {
  msg.textContent = "";
  try { return await fn(); } catch (err) { failure(err); return null; }
}

async function send(e, c) {
  e.preventDefault();
  const box = e.currentTarget.querySelector("textarea");
  if (!box.value.trim()) return;
  const m = await call(() => socket.command("chat.send", {chat_id: c.chat_id, text: box.value}));
  if (m) {
    box.value = "";
    lastTyping = 0;
    if (!c.messages.some((x) => x.id === m.id)) c.messages.push(m);
    show();
  }
}

function typing(c) {
  const now = Date.now();
  if (now - lastTyping < 2000) return;
  lastTyping = now;
  socket.command("chat.typing", {chat_id: c.chat_id}).catch(() => {});
}

const reading = new Set();  // chat ids with a read command in flight

function markRead(c) {
  if (document.visibilityState !== "visible" || reading.has(c.chat_id)) return;
  const last = [...c.messages].reverse().find((m) => m.from === "customer");
  if (!last || last.state === "read") return;
  reading.add(c.chat_id);
  // Marked read once the server has it; a refused command (offline) is tried again on the next render.
  socket.command("chat.read", {chat_id: c.chat_id, message_id: last.id})
    .then(() => { for (const m of c.messages) if (m.from === "customer") m.state = "read"; })
    .catch(() => {})
    .finally(() => { reading.delete(c.chat_id); if (chats.has(c.chat_id)) markRead(c); });
}

async function transfer(e, c) {
  e.preventDefault();
  const target = e.currentTarget.querySelector("select").value;
  await call(() => api("POST", `/api/chats/${c.chat_id}/transfer`, {target}));
}

async function end(e, c) {
  e.preventDefault();
  const disposition = e.currentTarget.querySelector("select").value;
  await call(() => api("POST", `/api/chats/${c.chat_id}/end`, {disposition}));
}

function onFrame(f) {
  if (f.type === "chat.offer") {
    chats.set(f.chat.chat_id, {chat: f.chat, typing: false, left: false});
  } else if (f.type === "chat.message") {
    const e = chats.get(f.chat_id);
    if (!e) return;
    e.typing = false;
    if (!e.chat.messages.some((x) => x.id === f.message.id)) e.chat.messages.push(f.message);
  } else if (f.type === "chat.typing") {
    const e = chats.get(f.chat_id);
    if (!e) return;
    e.typing = true;
    clearTimeout(e.timer);
    e.timer = setTimeout(() => { e.typing = false; show(); }, 4000);
  } else if (f.type === "chat.delivery") {
    const e = chats.get(f.chat_id);
    const m = e && e.chat.messages.find((x) => x.id === f.id);
    if (m) m.state = f.state;
  } else if (f.type === "chat.left") {
    const e = chats.get(f.chat_id);
    if (e) e.left = true;
  } else if (f.type === "chat.gone") {
    chats.delete(f.chat_id);
  } else {
    return;
  }
  card.hidden = false;
  show();
}

if (card) {
  document.addEventListener("desk-frame", (e) => onFrame(e.detail));
  document.addEventListener("visibilitychange", show);
  api("GET", "/api/chats").then((data) => {
    card.hidden = false;
    for (const c of data.chats) chats.set(c.chat_id, {chat: c, typing: false, left: c.customer_gone});
    show();
  }).catch(() => { /* web chat is off on this node */ });
}
