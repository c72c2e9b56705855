// The desktop softphone (docs/softphone.md): JsSIP over secure WebSocket to Asterisk. Credentials
// come from POST /api/softphone/credentials (a per-session password the agent never sees); the page
// registers on load and unregisters before logout. An incoming INVITE carries the call's Linkedid
// (X-Tongdai-Linkedid), which ties it to the screen pop desktop.js shows ("desk-frame" events).
import JsSIP from "./vendor/jssip/jssip.js";
import {api} from "./lib/http.js";
import {errorText, t} from "./lib/i18n.js";

const $ = (id) => document.getElementById(id);
const root = $("softphone");
const audio = $("sp-audio");
let ua = null;
let session = null;       // the one call (a second INVITE while busy is refused with 486)
let caller = "";
let callId = "";          // the ringing or answered call's Linkedid
let popCallId = "";       // the call the screen pop shows
let muted = false, held = false;
let refetched = false;    // one new password per refused registration, not a loop
const ring = {ctx: null, osc: null};
const meter = {ctx: null, timer: 0};
const DEVICES = "tongdai.softphone.devices";   // the agent's microphone and speaker, kept in this browser
let dialled = null;       // {to, at}: the desk's click-to-call, whose first leg rings this softphone

function status(name, vars) {
  root.dataset.status = name;
  const el = $("sp-status");
  el.textContent = name === "taken" ? t("softphone_media.taken") : t(`softphone.${name}`, vars);
  el.className = `badge phone ${name === "registered" ? "registered" : "unregistered"}`;
}

function buttons() {
  const ringing = !!session && session.isInProgress() && session.direction === "incoming";
  const live = !!session && session.isEstablished();
  $("sp-answer").disabled = !ringing;
  $("sp-reject").disabled = !ringing;
  $("sp-hangup").disabled = !live;
  $("sp-mute").disabled = !live;
  $("sp-hold").disabled = !live;
  $("sp-transfer").disabled = !live;
  for (const k of root.querySelectorAll("[data-key]")) k.disabled = !live;
  $("sp-mute").setAttribute("aria-pressed", String(muted));
  $("sp-hold").setAttribute("aria-pressed", String(held));
  root.dataset.call = !session ? "idle" : ringing ? "ringing" : live ? (held ? "held" : "talking") : "ended";
}

function showCall() {
  const el = $("sp-call");
  if (!session) el.textContent = t("softphone.idle");
  else if (session.isInProgress()) el.textContent = t("softphone.ringing", {from: caller});
  else if (session.isEstablished()) el.textContent = t(held ? "softphone.on_hold" : "softphone.in_call", {from: caller});
  showMatch();
  buttons();
}

// A ringing softphone without a pop, or a pop whose call never rings here, is said, not hidden.
function showMatch() {
  const el = $("sp-match");
  if (session && callId) el.textContent = t(callId === popCallId ? "softphone.matched" : "softphone.no_pop");
  else el.textContent = popCallId ? t("softphone.no_call") : "";
  el.dataset.match = session && callId && callId === popCallId ? "yes" : "no";
}

// Ring tone: a generated 440/480 Hz pair, two seconds on, four off (no sound file to fetch).
function ringStart() {
  if (ring.ctx) return;
  const ctx = ring.ctx = new AudioContext();
  const gain = ctx.createGain();
  gain.gain.value = 0;
  for (const hz of [440, 480]) {
    const osc = ctx.createOscillator();
    osc.frequency.value = hz;
    osc.connect(gain);
    osc.start();
  }
  gain.connect(ctx.destination);
  for (let s = 0; s < 120; s += 6) {
    gain.gain.setValueAtTime(0.1, ctx.currentTime + s);
    gain.gain.setValueAtTime(0, ctx.currentTime + s + 2);
  }
}

function ringStop() {
  if (ring.ctx) ring.ctx.close();
  ring.ctx = null;
}

function endCall() {
  ringStop();
  meterStop();
  session = null;
  callId = "";
  muted = held = false;
  audio.srcObject = null;
  $("sp-call").textContent = t("softphone.ended");
  showMatch();
  buttons();
}

function incoming(s, request) {
  if (session) {
    s.terminate({status_code: 486, reason_phrase: "Busy Here"});
    return;
  }
  session = s;
  caller = (s.remote_identity.display_name || s.remote_identity.uri.user || "").trim();
  callId = request.getHeader("X-Tongdai-Linkedid") || "";
  // The first leg of the agent's own click-to-call (no queue, so no Linkedid header): say whom it calls.
  if (!callId && dialled && Date.now() - dialled.at < 30000) caller = t("softphone_media.outgoing", {to: dialled.to});
  root.dataset.linkedid = callId;
  s.on("peerconnection", (e) => e.peerconnection.addEventListener("track", (ev) => { audio.srcObject = ev.streams[0]; }));
  s.on("accepted", () => { ringStop(); showCall(); });
  s.on("confirmed", () => { meterStart(); showCall(); });
  s.on("hold", () => { held = true; showCall(); });
  s.on("unhold", () => { held = false; showCall(); });
  s.on("ended", endCall);
  s.on("failed", endCall);
  if ($("sp-auto").checked) answer();
  else ringStart();
  showCall();
}

function answer() {
  if (!session || !session.isInProgress()) return;
  ringStop();
  session.answer({mediaConstraints: micConstraints(), pcConfig: {iceServers: []}});
}

// --- microphone, speaker, level meter ---------------------------------------------------------

function micConstraints() {
  const id = $("sp-mic").value;
  return {audio: id ? {deviceId: {exact: id}} : true, video: false};
}

function chosen() {
  try { return JSON.parse(localStorage.getItem(DEVICES)) || {}; } catch { return {}; }
}

function remember() {
  localStorage.setItem(DEVICES, JSON.stringify({mic: $("sp-mic").value, speaker: $("sp-speaker").value}));
}

// Device labels are only given once the microphone is allowed: listed after the permission check.
async function listDevices() {
  const want = chosen();
  const devices = await navigator.mediaDevices.enumerateDevices();
  fill($("sp-mic"), devices.filter((d) => d.kind === "audioinput"), want.mic);
  fill($("sp-speaker"), devices.filter((d) => d.kind === "audiooutput"), want.speaker);
  if (typeof audio.setSinkId !== "function") {
    $("sp-speaker").disabled = true;
    $("sp-device-msg").textContent = t("softphone_media.no_sink");
  } else {
    await applySpeaker();
  }
}

function fill(select, devices, want) {
  // "default" / "communications" are the browser's aliases of a listed device: the first option is it.
  const real = devices.filter((d) => d.deviceId && !["default", "communications"].includes(d.deviceId));
  select.replaceChildren(select.options[0], ...real.map((d, i) => new Option(d.label || `${i + 1}`, d.deviceId)));
  select.value = real.some((d) => d.deviceId === want) ? want : "";
}

async function applySpeaker() {
  try {
    await audio.setSinkId($("sp-speaker").value);
    root.dataset.sink = audio.sinkId;
    $("sp-device-msg").textContent = "";
  } catch (err) {
    $("sp-device-msg").textContent = String(err.message || err);
  }
}

function sender() {
  const pc = session && session.connection;
  return pc ? pc.getSenders().find((x) => x.track && x.track.kind === "audio") : null;
}

// A new microphone during a call replaces the sent track (no re-INVITE); mute and hold stay as they are.
async function switchMic() {
  remember();
  const tx = sender();
  if (!tx) return;
  try {
    const track = (await navigator.mediaDevices.getUserMedia(micConstraints())).getAudioTracks()[0];
    track.enabled = tx.track.enabled;
    const old = tx.track;
    await tx.replaceTrack(track);
    old.stop();
    meterStart();
  } catch (err) {
    $("sp-device-msg").textContent = String(err.message || err);
  }
}

// What the far end gets from the microphone: the sent track's level (0 while muted or held).
function meterStart() {
  meterStop();
  const tx = sender();
  if (!tx) return;
  const ctx = meter.ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  ctx.createMediaStreamSource(new MediaStream([tx.track])).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  meter.timer = setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    const level = Math.min(1, 4 * Math.sqrt(sum / buf.length));
    $("sp-level").value = level;
    root.dataset.level = level.toFixed(3);
  }, 100);
}

function meterStop() {
  clearInterval(meter.timer);
  if (meter.ctx) meter.ctx.close();
  meter.ctx = null;
  $("sp-level").value = 0;
  root.dataset.level = "0";
}

// renew: a retry after Asterisk refused the registration. The server refuses it (softphone.taken)
// when another login of this agent took the account since: this page stops and says so, rather
// than take it back (two open desktops would steal it from each other at every refresh).
async function start(renew = false) {
  status("starting");
  try {
    const mic = await navigator.mediaDevices.getUserMedia({audio: true});
    for (const track of mic.getTracks()) track.stop();
  } catch (err) {
    status("no_mic");
    return;
  }
  listDevices().catch((err) => { $("sp-device-msg").textContent = String(err.message || err); });
  let creds;
  try {
    creds = await api("POST", "/api/softphone/credentials", renew ? {renew: true} : undefined);
  } catch (err) {
    if (err.code === "softphone.taken") {
      if (ua) ua.stop();
      ua = null;
      status("taken");
      $("sp-call").textContent = errorText(err);
    } else {
      status("failed", {why: errorText(err)});
    }
    return;
  }
  if (ua) ua.stop();
  const me = ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(creds.ws_url)],
    uri: creds.uri,
    authorization_user: creds.username,
    password: creds.password,
    display_name: creds.display_name,
    register: true,
    register_expires: creds.registration_seconds,
    session_timers: false,
    user_agent: "tongdai-softphone",
  });
  // Events of a UA this page has since stopped (replaced, or the account taken) are ignored.
  ua.on("connecting", () => { if (ua === me && root.dataset.status !== "starting") status("reconnecting"); });
  ua.on("disconnected", () => { if (ua === me) status("reconnecting"); });
  ua.on("registered", () => { if (ua === me) { refetched = false; status("registered"); } });
  ua.on("unregistered", () => { if (ua === me) status("unregistered"); });
  ua.on("registrationFailed", (e) => {
    if (ua !== me) return;
    // Refused credentials (another login took the account, or Asterisk restarted and forgot it):
    // ask once for a new password; a second refusal is shown.
    if (e.cause === JsSIP.C.causes.AUTHENTICATION_ERROR && !refetched) {
      refetched = true;
      start(true);
    } else {
      status("failed", {why: e.cause});
    }
  });
  ua.on("newRTCSession", (e) => { if (e.originator === "remote") incoming(e.session, e.request); });
  ua.start();
}

// Logout: unregister first (at most two seconds), then let the form go.
async function leave(form) {
  if (ua && ua.isRegistered()) {
    await new Promise((done) => {
      const timer = setTimeout(done, 2000);
      ua.on("unregistered", () => { clearTimeout(timer); done(); });
      ua.unregister({all: false});
    });
  }
  if (ua) ua.stop();
  ua = null;
  form.submit();
}

if (root) {
  $("sp-answer").addEventListener("click", answer);
  $("sp-reject").addEventListener("click", () => session && session.terminate({status_code: 603, reason_phrase: "Decline"}));
  $("sp-hangup").addEventListener("click", () => session && session.terminate());
  $("sp-mute").addEventListener("click", () => {
    if (!session) return;
    muted = !muted;
    if (muted) session.mute({audio: true}); else session.unmute({audio: true});
    buttons();
  });
  $("sp-hold").addEventListener("click", () => {
    if (!session) return;
    if (held) session.unhold(); else session.hold();
  });
  // Transfer goes through the desk's own transfer form (the call's pop card): open it there.
  $("sp-transfer").addEventListener("click", () => {
    $("wrap").hidden = false;
    const target = $("xfer-form").elements.target;
    target.scrollIntoView({block: "center"});
    target.focus();
  });
  $("sp-mic").addEventListener("change", switchMic);
  $("sp-speaker").addEventListener("change", () => { remember(); applySpeaker(); });
  navigator.mediaDevices.addEventListener("devicechange", () => listDevices().catch(() => {}));
  const dial = $("dial-form");
  if (dial) dial.addEventListener("submit", () => { dialled = {to: dial.elements.number.value.trim(), at: Date.now()}; });
  for (const k of root.querySelectorAll("[data-key]")) {
    k.addEventListener("click", () => session && session.sendDTMF(k.dataset.key, {transportType: "RFC2833"}));
  }
  for (const form of document.querySelectorAll('form[action^="/logout"]')) {
    form.addEventListener("submit", (e) => { e.preventDefault(); leave(form); });
  }
  document.addEventListener("desk-frame", (e) => {
    if (e.detail.type === "pop") { popCallId = e.detail.call_id; showMatch(); }
  });
  start();
}
