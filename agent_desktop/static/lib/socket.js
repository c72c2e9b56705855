// The page's websocket: connects, reconnects with backoff (0.5 s doubling to 10 s), shows the link
// state in the header's #link status, and runs commands {id, type, ...} answered by
// {id, type: "result", success, result | error}. Other frames go to onFrame.
import {ApiError} from "./http.js";
import {t} from "./i18n.js";

export class DeskSocket {
  constructor({onFrame = () => {}, onOpen = () => {}} = {}) {
    this.onFrame = onFrame;
    this.onOpen = onOpen;
    this.ws = null;
    this.seq = 0;
    this.pending = new Map();
    this.backoff = 500;
    this.link = document.getElementById("link");
  }

  connect() {
    const ws = (this.ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws"));
    ws.onopen = () => { this.backoff = 500; this.showLink(true); this.onOpen(); };
    ws.onclose = (e) => {
      this.showLink(false);
      for (const p of this.pending.values()) p.reject(new ApiError(0, "desktop.offline", "offline"));
      this.pending.clear();
      // The server's close codes (agent_desktop/ws.py): session over → login; role changed → reload
      // for the new role; too many pages → stay closed (retrying would only be refused again).
      if (e.code === 4401) { location.assign("/login"); return; }
      if (e.code === 4403) { location.reload(); return; }
      if (e.code === 4429) return;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
    ws.onmessage = (m) => {
      const f = JSON.parse(m.data);
      if (f.type === "error") {  // refused before any command (too many pages): shown, not retried
        this.onFrame(f);
      } else if (f.type === "result") {
        const p = this.pending.get(f.id);
        this.pending.delete(f.id);
        if (p) f.success ? p.resolve(f.result) : p.reject(new ApiError(0, f.error.code, f.error.message));
      } else {
        this.onFrame(f);
      }
    };
  }

  showLink(up) {
    if (!this.link) return;
    this.link.className = up ? "link up" : "link down";
    this.link.querySelector(".sr-only").textContent = t(up ? "link.up" : "link.down");
    this.link.title = t(up ? "link.up" : "link.down");
  }

  /** A command; resolves with its result, rejects with an ApiError (offline: "desktop.offline"). */
  command(type, args = {}) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new ApiError(0, "desktop.offline", "offline"));
        return;
      }
      const id = ++this.seq;
      this.pending.set(id, {resolve, reject});
      this.ws.send(JSON.stringify({id, type, ...args}));
    });
  }
}
