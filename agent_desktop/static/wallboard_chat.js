// The wallboard's web chat block (webchat: GET /api/chats/board): waiting chats per queue with the
// longest wait, and each agent's chat load. Shown only on a node with web chat; refreshed every 3 s.
import {api} from "./lib/http.js";
import {t} from "./lib/i18n.js";
import {secs} from "./lib/format.js";
import {html, render} from "./lib/html.js";

const card = document.getElementById("chat-board");

async function refresh() {
  let board;
  try {
    board = await api("GET", "/api/chats/board");
  } catch (err) {
    return;  // web chat is off on this node (404), or offline: the next refresh tries again
  }
  card.hidden = false;
  const queues = Object.entries(board.queues);
  render(queues.map(([name, q]) => html`<tr data-testid="chat-queue-row" data-queue=${name}><th scope="row">${name}</th>
    <td data-testid="chat-waiting">${q.waiting}</td><td>${secs(q.longest)}</td></tr>`), document.getElementById("chat-queues"));
  const load = Object.entries(board.agents).sort();
  render(load.length ? load.map(([agent, n]) => html`<li data-testid="chat-agent-load" data-agent=${agent}>#${agent}: ${n}</li>`)
    : html`<li>${t("chat.no_load")}</li>`, document.getElementById("chat-load"));
}

if (card) {
  refresh();
  setInterval(refresh, 3000);
}
