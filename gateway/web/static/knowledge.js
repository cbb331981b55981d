// The knowledge base in the answer form: insert a passage or a link at the cursor, in place.
// Without this file the same buttons post the draft and the server appends (pages/inbox_knowledge.py).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const area = document.getElementById("text");
  if (!area) return;
  for (const button of document.querySelectorAll("#knowledge button[data-insert]")) {
    button.addEventListener("click", (event) => {
      event.preventDefault();
      const addition = button.dataset.insert || "";
      const start = area.selectionStart ?? area.value.length;
      const before = area.value.slice(0, start);
      const after = area.value.slice(area.selectionEnd ?? start);
      const gap = before === "" || /\s$/.test(before) ? "" : " ";
      area.value = before + gap + addition + after;
      const caret = before.length + gap.length + addition.length;
      area.setSelectionRange(caret, caret);
      area.dispatchEvent(new Event("input", { bubbles: true }));  // the segment count
      area.focus();
    });
  }
});
