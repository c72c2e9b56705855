// The desk's "pause recording" button (recordings/http.py: POST /api/recordings/<call>/pause|resume):
// muted both directions while the customer reads a card or ID number, the span marked on the
// recording. It follows the call through desktop.js's "desk-frame" events: enabled once the call
// is answered, off when it ends (Asterisk stops the recording with the call).
import {api} from "./lib/http.js";
import {errorText, t} from "./lib/i18n.js";

const $ = (id) => document.getElementById(id);
const button = $("rec-pause"), state = $("rec-pause-state");
let call = "";
let paused = false;

function show(text = "", cls = "muted") {
  button.textContent = paused ? t("recpause.resume") : t("recpause.pause");
  button.setAttribute("aria-pressed", String(paused));
  button.classList.toggle("pause", !paused);
  button.classList.toggle("ready", paused);
  state.textContent = text;
  state.className = cls;
}

document.addEventListener("desk-frame", (ev) => {
  const f = ev.detail;
  if (f.type === "pop") {
    call = f.call_id;
    paused = false;
    button.disabled = true;
    show();
  } else if (f.call_id === call && f.type === "answered") {
    button.disabled = false;
    show(t("recpause.recording"));
  } else if (f.call_id === call && (f.type === "ended" || f.type === "retract")) {
    button.disabled = true;
    paused = false;
    show();
  }
});

button.addEventListener("click", async () => {
  if (!call) return;
  button.disabled = true;
  try {
    await api("POST", `/api/recordings/${encodeURIComponent(call)}/${paused ? "resume" : "pause"}`, {});
    paused = !paused;
    show(paused ? t("recpause.paused") : t("recpause.recording"), paused ? "error" : "ok");
  } catch (err) {
    show(`${t("desk.error")}: ${errorText(err)}`, "error");
  } finally {
    button.disabled = false;
  }
});
