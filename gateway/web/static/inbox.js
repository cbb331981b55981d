// The expert inbox: count the SMS an answer will cost while it is typed.
// The server counts again on every render (gateway/smstext.py); this is a preview.
"use strict";

const GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION = "^{}\\[~]|€\f";

function segments(text) {
  let septets = 0;
  for (const ch of text) {
    if (GSM_BASIC.includes(ch)) septets += 1;
    else if (GSM_EXTENSION.includes(ch)) septets += 2;
    else {
      const units = text.length; // UTF-16 code units, as UCS-2 counts them
      return units <= 70 ? 1 : Math.ceil(units / 67);
    }
  }
  return septets <= 160 ? 1 : Math.ceil(septets / 153);
}

document.addEventListener("DOMContentLoaded", () => {
  const area = document.querySelector("textarea[data-before]");
  const out = document.getElementById("answer-segments");
  if (!area || !out) return;
  const max = Number(area.dataset.max || 0);
  const update = () => {
    const body = area.value.split(/\s+/).filter(Boolean).join(" ");
    const count = segments(area.dataset.before + body + area.dataset.after);
    out.textContent = String(count);
    out.classList.toggle("error", max > 0 && count > max);
  };
  area.addEventListener("input", update);
  update();
});
