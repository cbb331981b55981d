// The call simulator (pages/voice_simulator.py): the browser is the caller, the server is
// the voice provider. The page says which link of the line to follow and which key was
// pressed; the server signs and sends the request and answers with the line's steps.
"use strict";

const WAV_RATE = 8000; // telephone audio: what a provider records, and small

// The browser's microphone recording (WebM or Ogg, whatever its MediaRecorder writes) as
// a mono 16-bit WAV: the line keeps WAV or MP3 only, as a provider's recordings are. The
// browser decodes its own format (decodeAudioData) and resamples (OfflineAudioContext).
async function toWav(blob) {
  const context = new AudioContext();
  let decoded;
  try {
    decoded = await context.decodeAudioData(await blob.arrayBuffer());
  } finally {
    context.close();
  }
  const frames = Math.max(1, Math.ceil(decoded.duration * WAV_RATE));
  const offline = new OfflineAudioContext(1, frames, WAV_RATE);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  const samples = (await offline.startRendering()).getChannelData(0);
  const view = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const ascii = (at, text) => [...text].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  ascii(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  ascii(8, "WAVEfmt ");
  view.setUint32(16, 16, true);            // the fmt chunk's size
  view.setUint16(20, 1, true);             // PCM
  view.setUint16(22, 1, true);             // mono
  view.setUint32(24, WAV_RATE, true);
  view.setUint32(28, WAV_RATE * 2, true);  // bytes a second
  view.setUint16(32, 2, true);             // bytes a frame
  view.setUint16(34, 16, true);            // bits a sample
  ascii(36, "data");
  view.setUint32(40, samples.length * 2, true);
  samples.forEach((s, i) => view.setInt16(44 + i * 2, Math.max(-1, Math.min(1, s)) * 0x7fff, true));
  let binary = "";
  new Uint8Array(view.buffer).forEach((b) => { binary += String.fromCharCode(b); });
  return { base64: btoa(binary), seconds: decoded.duration };
}

function voiceSimulator(root) {
  const $ = (id) => document.getElementById(id);
  const log = $("call-log");
  const keys = [...root.querySelectorAll("#keypad [data-key]")];
  const wait = $("call-wait");
  const start = $("call-start");
  const end = $("call-end");
  const recordForm = $("call-record");
  const error = $("call-error");
  const base = root.dataset.baseUrl;
  // The page's words in the viewer's language (pages/voice_simulator.py SCRIPT_WORDS).
  const words = JSON.parse(root.dataset.words || "{}");
  const say = (key, values = {}) => (words[key] || key)
    .replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
  let call = null; // {sid, started}
  let next = {};   // what the line waits for: {gather, redirect, record}

  function line(kind, text) {
    const item = document.createElement("li");
    item.className = kind;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = kind === "out" ? say("you") : say("line");
    const said = document.createElement("span");
    said.className = "text";
    said.textContent = text;
    item.append(who, " ", said);
    log.append(item);
    log.scrollTop = log.scrollHeight; // the newest line in view
    return item;
  }

  function controls() {
    keys.forEach((b) => { b.disabled = !next.gather; });
    wait.disabled = !(next.gather || next.redirect) || Boolean(next.record);
    recordForm.hidden = !next.record;
    start.disabled = Boolean(call);
    end.disabled = !call;
  }

  function play(steps) {
    next = {};
    for (const step of steps) {
      if (step.verb === "say") line("in", step.text);
      else if (step.verb === "play") {
        const item = line("in", say("plays_message"));
        const audio = document.createElement("audio");
        audio.controls = true;
        audio.src = step.src;
        audio.className = "message";
        item.append(" ", audio);
      } else if (step.verb === "gather") {
        step.texts.forEach((text) => line("in", text));
        next.gather = step.action;
      } else if (step.verb === "redirect") next.redirect = step.url;
      else if (step.verb === "record") next.record = step;
      else if (step.verb === "hangup") {
        line("in", say("hangs_up"));
        finish();
      }
    }
    controls();
  }

  async function send(body) {
    error.hidden = true;
    const field = document.querySelector('input[name="csrf_token"]');
    const response = await fetch(root.dataset.stepUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": field ? field.value : "" },
      body: JSON.stringify({
        call_sid: call.sid, number: $("caller-number").value,
        withheld: $("caller-withheld").checked, ...body,
      }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok || answer.status >= 400) {
      const message = (answer.error && answer.error.message) || answer.error;
      error.textContent = message || say("line_answered", { status: answer.status || response.status });
      error.hidden = false;
      return null;
    }
    $("call-xml").textContent = answer.xml || say("no_content");
    return answer;
  }

  async function follow(url, fields) {
    const answer = await send({ url, fields });
    if (answer) play(answer.verbs);
  }

  function finish() {
    if (!call) return;
    const seconds = Math.round((Date.now() - call.started) / 1000);
    send({ url: `${base}/status`, fields: { CallStatus: "completed", CallDuration: String(seconds) } });
    call = null;
    next = {};
    controls();
  }

  start.addEventListener("click", () => {
    const random = crypto.getRandomValues(new Uint8Array(16));
    call = { sid: "CA" + [...random].map((b) => b.toString(16).padStart(2, "0")).join(""),
             started: Date.now() };
    log.replaceChildren();
    line("out", say("calls"));
    follow(`${base}/incoming`, { CallStatus: "ringing" });
  });
  end.addEventListener("click", () => { line("out", say("hangs_up")); finish(); });
  keys.forEach((button) => button.addEventListener("click", () => {
    line("out", say("presses", { key: button.dataset.key }));
    follow(next.gather, { Digits: button.dataset.key });
  }));
  wait.addEventListener("click", () => {
    line("out", say("presses_nothing"));
    follow(next.redirect, {});
  });
  $("record-silent").addEventListener("click", () => {
    line("out", say("says_nothing"));
    follow(next.redirect, {});
  });
  const mic = $("record-mic");
  const micStatus = $("record-mic-status");
  let recorder = null; // the MediaRecorder while the microphone records
  let spoken = null;   // the last microphone recording: {base64, seconds}, as WAV

  async function recorded(chunks) {
    try {
      spoken = await toWav(new Blob(chunks, { type: chunks.length ? chunks[0].type : "" }));
      micStatus.textContent = say("recorded", { seconds: spoken.seconds.toFixed(1) });
    } catch (err) {
      spoken = null;
      micStatus.textContent = "";
      error.textContent = say("unreadable", { reason: err.name || err });
      error.hidden = false;
    }
  }

  mic.addEventListener("click", async () => {
    if (recorder) { recorder.stop(); return; }
    error.hidden = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      error.textContent = say("no_microphone", { reason: err.name || err });
      error.hidden = false;
      return;
    }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (e) => { if (e.data.size) chunks.push(e.data); });
    recorder.addEventListener("stop", () => {
      stream.getTracks().forEach((track) => track.stop());
      recorder = null;
      mic.textContent = say("record");
      mic.setAttribute("aria-pressed", "false");
      recorded(chunks);
    });
    recorder.start();
    spoken = null;
    mic.textContent = say("stop");
    mic.setAttribute("aria-pressed", "true");
    micStatus.textContent = say("recording");
  });

  recordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("record-file").files[0];
    if (!file && spoken) {
      const said = spoken;
      spoken = null;
      micStatus.textContent = "";
      line("out", say("records_microphone", { seconds: said.seconds.toFixed(1) }));
      const answer = await send({ record: next.record, recording_base64: said.base64,
                                  transcription: $("record-text").value });
      if (answer) play(answer.verbs);
      return;
    }
    if (!file) {
      error.textContent = say("nothing_to_send");
      error.hidden = false;
      return;
    }
    const reader = new FileReader();
    reader.onload = async () => {
      const recording = String(reader.result).split(",", 2)[1] || "";
      line("out", say("records_file", { name: file.name }));
      const answer = await send({ record: next.record, recording_base64: recording,
                                  transcription: $("record-text").value });
      if (answer) play(answer.verbs);
    };
    reader.readAsDataURL(file);
  });
  controls();
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("voice-simulator");
  if (root) voiceSimulator(root);
});
