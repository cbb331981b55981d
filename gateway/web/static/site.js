// The admin pages' only script: two small polls. Every page works without it.
"use strict";

function csrfToken() {
  const field = document.querySelector('input[name="csrf_token"]');
  return field ? field.value : "";
}

// A broadcast's progress table: refresh the counts every second until it is finished.
function pollProgress(table) {
  const url = table.dataset.progressUrl;
  const shown = table.dataset.status;
  async function tick() {
    let progress;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) return setTimeout(tick, 5000);
      progress = await response.json();
    } catch (err) {
      return setTimeout(tick, 5000);
    }
    for (const cell of table.querySelectorAll("[data-field]")) {
      const value = progress[cell.dataset.field];
      if (value !== undefined && String(value) !== cell.textContent) cell.textContent = value;
    }
    if (progress.status !== shown) {
      window.location.reload(); // the buttons depend on the status
      return;
    }
    setTimeout(tick, 1000);
  }
  setTimeout(tick, 1000);
}

// The phone simulator: send without reloading, and show replies as they arrive.
function phone(conversation, form) {
  const number = conversation.dataset.number;
  const error = document.getElementById("phone-error");
  let after = Number(conversation.dataset.after || 0);
  const shown = new Set([...conversation.querySelectorAll("li")].map((li) => Number(li.dataset.id)));

  function show(message) {
    // A reply can be polled before the send's own answer arrives: show each message once.
    if (shown.has(message.id)) return;
    shown.add(message.id);
    after = Math.max(after, message.id);
    const item = document.createElement("li");
    item.className = message.direction;
    item.dataset.id = message.id;
    const who = document.createElement("span");
    who.className = "who";
    const youTo = conversation.dataset.youTo || "You to %(code)s"; // in the page's language
    who.textContent = (message.direction === "out" ? youTo.replace("%(code)s", message.to)
      : message.status) + ":";
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = message.text;
    item.append(who, " ", text);
    conversation.append(item);
  }

  async function poll() {
    try {
      const url = `${conversation.dataset.messagesUrl}?number=${encodeURIComponent(number)}&after=${after}`;
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) (await response.json()).messages.forEach(show);
    } catch (err) { /* the next poll tries again */ }
    setTimeout(poll, 1000);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = form.querySelector('input[name="text"]');
    const text = input.value.trim();
    const shortcode = form.querySelector('select[name="shortcode"]').value;
    if (!text) return;
    input.value = "";
    error.hidden = true;
    const response = await fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ number, text, shortcode }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      error.textContent = (body.error && body.error.message) || `could not send (${response.status})`;
      error.hidden = false;
    } else {
      const message = (await response.json()).message;
      show(message);
      if (message.status !== "ESME_ROK") {
        error.textContent = `not delivered: ${message.status}`;
        error.hidden = false;
      }
    }
    input.focus();
  });
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  const progress = document.querySelector("[data-progress-url]");
  if (progress && progress.dataset.live === "yes") pollProgress(progress);
  const conversation = document.getElementById("conversation");
  const form = document.getElementById("phone-form");
  if (conversation && form) phone(conversation, form);
});

// Phones (gateway/web/static/site.css, under 720px): the navigation folds behind a Menu
// button (Escape folds it again), and a table wider than the screen scrolls inside its
// own box, which can take the keyboard's focus (arrow keys scroll it) only while it
// does overflow.
function menuToggle(button, menu) {
  button.hidden = false;
  document.documentElement.classList.add("menu-folds");
  const show = (open) => {
    button.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  };
  button.addEventListener("click", () => show(button.getAttribute("aria-expanded") !== "true"));
  menu.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !menu.classList.contains("open")) return;
    show(false);
    button.focus();
  });
}

function scrollingTables() {
  for (const table of document.querySelectorAll("main table")) {
    const box = document.createElement("div");
    box.className = "table-scroll";
    table.before(box);
    box.append(table);
    const caption = table.querySelector("caption");
    const mark = () => {
      if (box.scrollWidth > box.clientWidth) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table");
      } else {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    };
    mark();
    new ResizeObserver(mark).observe(box);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const button = document.querySelector(".menu-toggle");
  const menu = document.getElementById("site-menu");
  if (button && menu) menuToggle(button, menu);
  scrollingTables();
});
