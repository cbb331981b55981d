// The call simulator (pages/voice_simulator.py): the browser is the caller, the server is
// the voice provider. The page says which link of the line to follow and which key was
// pressed; the server signs and sends the request and answers with the line's steps.
"use strict";

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
  let call = null; // {sid, started}
  let next = {};   // what the line waits for: {gather, redirect, record}

  function line(kind, text) {
    const item = document.createElement("li");
    item.className = kind;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = kind === "out" ? "You:" : "Line:";
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
        const item = line("in", "(plays the candidate's message)");
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
        line("in", "(hangs up)");
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
      error.textContent = message || `the line answered ${answer.status || response.status}`;
      error.hidden = false;
      return null;
    }
    $("call-xml").textContent = answer.xml || "(no content)";
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
    line("out", "(calls the line)");
    follow(`${base}/incoming`, { CallStatus: "ringing" });
  });
  end.addEventListener("click", () => { line("out", "(hangs up)"); finish(); });
  keys.forEach((button) => button.addEventListener("click", () => {
    line("out", `presses ${button.dataset.key}`);
    follow(next.gather, { Digits: button.dataset.key });
  }));
  wait.addEventListener("click", () => {
    line("out", "(presses nothing)");
    follow(next.redirect, {});
  });
  $("record-silent").addEventListener("click", () => {
    line("out", "(says nothing)");
    follow(next.redirect, {});
  });
  recordForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = $("record-file").files[0];
    if (!file) {
      error.textContent = "choose an audio file first";
      error.hidden = false;
      return;
    }
    const reader = new FileReader();
    reader.onload = async () => {
      const recording = String(reader.result).split(",", 2)[1] || "";
      line("out", `(records ${file.name})`);
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
