// The chat page of `prevnet sandbox` (bot/sandbox/page.py serves it and its /sandbox/api/).
// Text is rendered from the message's entities (what Telegram's HTML parser made of the bot's
// parse_mode=HTML), building DOM nodes: nothing the bot sends is ever parsed as HTML here.
"use strict";

const API = "/sandbox/api/";
const MAX_CHATS = 3;
const WORDS = {
  en: { edited: "edited", bot: "bot", menu: "Menu", start: "START", message: "Message",
        invite: "START with the invite", as: { member: "member", coordinator: "coordinator" },
        intro: "What can this bot do?" },
  fr: { edited: "modifié", bot: "bot", menu: "Menu", start: "DÉMARRER", message: "Message",
        invite: "DÉMARRER avec l'invitation", as: { member: "membre", coordinator: "coordinateur" },
        intro: "Que peut faire ce bot ?" },
  ar: { edited: "معدّلة", bot: "بوت", menu: "القائمة", start: "ابدأ", message: "رسالة",
        invite: "ابدأ بالدعوة", as: { member: "عضو", coordinator: "منسّق" },
        intro: "ماذا يستطيع هذا البوت أن يفعل؟" },
};
const SAFE_SCHEMES = ["http:", "https:", "mailto:", "tel:"];

let info = { bot: {}, invites: [], people: [], network: "" };
let shown = [];            // user ids of the chats on screen, in order
const views = new Map();   // user id -> ChatView
let version = -1;
let poller = null;         // AbortController of the running long poll

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

async function call(path, body) {
  const options = body instanceof FormData ? { method: "POST", body }
    : body !== undefined ? { method: "POST", body: JSON.stringify(body),
                             headers: { "Content-Type": "application/json" } }
    : {};
  const response = await fetch(API + path, options);
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, location.href);
    return SAFE_SCHEMES.includes(parsed.protocol) ? parsed.href : null;
  } catch (e) {
    return null;
  }
}

// A t.me link to this bot with ?start=...: the chat sends "/start <payload>", as Telegram does.
function deepLinkStart(url) {
  try {
    const parsed = new URL(url);
    const bot = (info.bot.username || "").toLowerCase();
    if (["t.me", "telegram.me"].includes(parsed.hostname)
        && parsed.pathname.replace(/^\//, "").toLowerCase() === bot) {
      const payload = parsed.searchParams.get("start");
      return payload ? "/start " + payload : "/start";
    }
  } catch (e) { /* not a URL */ }
  return null;
}

// ---------------------------------------------------------------- formatted text

function entityNode(entity, inner, view) {
  switch (entity.type) {
    case "bold": return el("b");
    case "italic": return el("i");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "pre": return el("pre", { "data-language": entity.language });
    case "blockquote": case "expandable_blockquote": return el("blockquote");
    case "spoiler": {
      const node = el("span", { class: "spoiler", title: "spoiler" });
      node.addEventListener("click", () => node.classList.add("shown"));
      return node;
    }
    case "text_link": case "url": {
      const target = entity.type === "url" ? inner : entity.url;
      return linkNode(target, view);
    }
    case "email": return el("a", { href: "mailto:" + inner });
    case "phone_number": return el("a", { href: "tel:" + inner.replace(/[^+\d]/g, "") });
    case "bot_command": {
      const node = el("a", { href: "#", class: "command", dir: "ltr" });
      node.addEventListener("click", (e) => { e.preventDefault(); view.send(inner.split("@")[0]); });
      return node;
    }
    case "mention": case "hashtag": case "cashtag": case "text_mention":
      return el("span", { class: "link" });
    default: return el("span", { "data-entity": entity.type });
  }
}

function linkNode(target, view) {
  const start = deepLinkStart(target || "");
  if (start) {
    const node = el("a", { href: "#" });
    node.addEventListener("click", (e) => { e.preventDefault(); view.send(start); });
    return node;
  }
  const href = safeUrl(target || "");
  return href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }) : el("span");
}

// Entity offsets count UTF-16 code units, which is what JavaScript strings index.
function formatted(text, entities, view) {
  const root = document.createDocumentFragment();
  const sorted = [...(entities || [])].sort((a, b) => a.offset - b.offset || b.length - a.length);
  build(text || "", sorted, 0, (text || "").length, root, view);
  return root;
}

function build(text, entities, start, end, parent, view, inside) {
  let pos = start;
  let i = 0;
  while (i < entities.length) {
    const entity = entities[i];
    const from = Math.max(entity.offset, pos);
    const to = Math.min(entity.offset + entity.length, end);
    let j = i + 1;
    while (j < entities.length && entities[j].offset < entity.offset + entity.length) j++;
    if (to <= from) { i = j; continue; }
    if (from > pos) plain(text.slice(pos, from), parent, view, inside);
    const node = entityNode(entity, text.slice(from, to), view);
    const linked = inside || ["text_link", "url", "bot_command", "code", "pre", "email"].includes(entity.type);
    build(text, entities.slice(i + 1, j), from, to, node, view, linked);
    parent.append(node);
    pos = to;
    i = j;
  }
  if (pos < end) plain(text.slice(pos, end), parent, view, inside);
}

// Commands and links in plain text become entities, as Telegram finds them in a message.
const AUTO = /(^|[\s(])(\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?|https?:\/\/[^\s<>"]+[^\s<>".,:;!?)])(?=$|[\s.,:;!?)])/g;

function plain(text, parent, view, inside) {
  if (inside) { parent.append(text); return; }
  let last = 0;
  for (const match of text.matchAll(AUTO)) {
    const at = match.index + match[1].length;
    if (at > last) parent.append(text.slice(last, at));
    const found = match[2];
    const type = found.startsWith("/") ? "bot_command" : "url";
    const node = entityNode({ type }, found, view);
    node.append(found);
    parent.append(node);
    last = at + found.length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

function fileSize(bytes) {
  if (!bytes) return "";
  if (bytes < 1024) return bytes + " B";
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
  return (bytes / 1024 / 1024).toFixed(1) + " MB";
}

function clock(seconds) {
  const d = new Date(seconds * 1000);
  return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
}

const ICONS = {
  download: "M12 4v10m0 0-4-4m4 4 4-4M6 19h12",
  clip: "M16.5 6.5 8.6 14.4a2 2 0 0 0 2.8 2.8l7.8-7.8a4 4 0 0 0-5.6-5.6L5.7 11.7a6 6 0 0 0 8.5 8.5l6.3-6.3",
};

function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "22");
  svg.setAttribute("height", "22");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

// ---------------------------------------------------------------- a chat

class ChatView {
  constructor(userId) {
    this.userId = userId;
    this.state = null;
    this.rendered = new Map();  // message id -> [signature, element]
    this.answersSeen = null;
    this.root = document.getElementById("chat-template").content.firstElementChild.cloneNode(true);
    this.root.dataset.userId = String(userId);
    const q = (s) => this.root.querySelector(s);
    this.who = q(".who");
    this.messages = q(".messages");
    this.toast = q(".toast");
    this.commandsBox = q(".commands");
    this.startArea = q(".start-area");
    this.keyboardBox = q(".reply-keyboard");
    this.composer = q(".composer");
    this.input = q(".text");
    this.menuButton = q(".menu-button");
    this.alertBox = q(".alert");
    q(".bot-name").textContent = info.bot.name || "Bot";
    q(".close").addEventListener("click", () => closeChat(this.userId));
    this.who.addEventListener("change", () => swapChat(this.userId, Number(this.who.value)));
    this.composer.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = this.input.value.trim();
      if (text) { this.input.value = ""; this.hideCommands(); this.send(text); }
    });
    this.input.addEventListener("input", () => this.typing());
    this.input.addEventListener("keydown", (e) => this.commandKeys(e));
    q(".slash").addEventListener("click", () => {
      if (this.commandsBox.hidden) this.showCommands(""); else this.hideCommands();
    });
    q(".attach").prepend(icon("clip"));
    q(".attach input").addEventListener("change", (e) => this.upload(e.target));
    this.menuButton.addEventListener("click", () => this.pressMenu());
    this.alertBox.querySelector("button").addEventListener("click", () => { this.alertBox.hidden = true; });
    this.fillPeople();
  }

  words() {
    return WORDS[this.state ? this.state.person.language : "en"] || WORDS.en;
  }

  fillPeople() {
    this.who.replaceChildren(...info.people.map((p) => el("option", {
      value: p.id, selected: p.id === this.userId,
    }, `\u2068${p.name}\u2069 · ${p.role || "no network yet"} · ${p.language}`)));
  }

  async send(text) {
    try { await call("send", { user_id: this.userId, text }); } catch (e) { this.showToast(String(e.message || e)); }
  }

  async press(button, messageId, node) {
    if (button.callback_data !== undefined) {
      node.classList.add("pending");
      try {
        await call("press", { user_id: this.userId, message_id: messageId, data: button.callback_data });
      } catch (e) { node.classList.remove("pending"); this.showToast(String(e.message || e)); }
    } else if (button.url) {
      const start = deepLinkStart(button.url);
      if (start) this.send(start);
      else if (safeUrl(button.url)) window.open(safeUrl(button.url), "_blank", "noopener");
    } else if (button.web_app) {
      this.openWebApp(button.web_app.url);
    } else if (button.copy_text) {
      navigator.clipboard && navigator.clipboard.writeText(button.copy_text.text || "");
      this.showToast("Copied");
    } else {
      this.showToast("This kind of button is not in the sandbox");
    }
  }

  pressMenu() {
    const menu = this.state && this.state.menu_button;
    if (menu) this.openWebApp(menu.url);
    else if (this.commandsBox.hidden) this.showCommands("");
    else this.hideCommands();
  }

  async openWebApp(url) {
    const win = window.open("", "_blank");  // now, while the click counts: no popup blocker
    try {
      const answer = await call("webapp", { user_id: this.userId, url });
      if (win) win.location.href = answer.url; else location.assign(answer.url);
    } catch (e) {
      if (win) win.close();
      this.showToast(String(e.message || e));
    }
  }

  async upload(input) {
    const file = input.files && input.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("user_id", String(this.userId));
    form.append("file", file, file.name);
    const caption = this.input.value.trim();
    if (caption) { form.append("caption", caption); this.input.value = ""; }
    input.value = "";
    try { await call("upload", form); } catch (e) { this.showToast(String(e.message || e)); }
  }

  // -- the command menu (setMyCommands for this chat's scope and language)

  typing() {
    const text = this.input.value;
    if (text.startsWith("/") && !text.includes(" ")) this.showCommands(text.slice(1));
    else this.hideCommands();
  }

  showCommands(prefix) {
    const commands = ((this.state && this.state.commands) || [])
      .filter((c) => c.command.startsWith(prefix.toLowerCase()));
    if (!commands.length) { this.hideCommands(); return; }
    this.commandsBox.replaceChildren(...commands.map((c, i) => el("button", {
      type: "button", class: i === 0 ? "active" : null,
      onclick: () => { this.input.value = ""; this.hideCommands(); this.send("/" + c.command); },
    }, el("span", { class: "c" }, "/" + c.command), el("span", { class: "d", dir: "auto" }, c.description))));
    this.commandsBox.hidden = false;
  }

  hideCommands() { this.commandsBox.hidden = true; }

  commandKeys(event) {
    if (this.commandsBox.hidden) return;
    const items = [...this.commandsBox.querySelectorAll("button")];
    let index = items.findIndex((b) => b.classList.contains("active"));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      index = (index + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items.forEach((b, i) => b.classList.toggle("active", i === index));
    } else if (event.key === "Tab" && index >= 0) {
      event.preventDefault();
      this.input.value = items[index].querySelector(".c").textContent;
    } else if (event.key === "Escape") {
      this.hideCommands();
    }
  }

  // -- rendering

  update(state) {
    const first = this.state === null;
    this.state = state;
    const words = this.words();
    const rtl = state.person.language === "ar";
    this.root.setAttribute("dir", rtl ? "rtl" : "ltr");
    this.root.setAttribute("lang", state.person.language);
    this.root.querySelector(".sub").textContent = words.bot;
    this.input.placeholder = words.message;
    this.menuButton.textContent = state.menu_button ? state.menu_button.text : "☰ " + words.menu;
    this.menuButton.classList.toggle("web-app", !!state.menu_button);
    const atBottom = this.messages.scrollHeight - this.messages.scrollTop - this.messages.clientHeight < 40;
    const grew = this.renderMessages(state.messages);
    this.renderStart(state);
    this.renderKeyboard(state.keyboard);
    this.renderAnswers(state.answers, first);
    this.following = first || grew || atBottom;
    if (this.following) this.messages.scrollTop = this.messages.scrollHeight;
  }

  renderMessages(messages) {
    const keep = new Set(messages.map((m) => m.id));
    for (const [id, [, node]] of this.rendered) {
      if (!keep.has(id)) { node.remove(); this.rendered.delete(id); }
    }
    this.messages.querySelector(".intro")?.remove();
    let grew = false;
    let previous = null;
    for (const message of messages) {
      const signature = JSON.stringify(message);
      const known = this.rendered.get(message.id);
      if (known && known[0] === signature) { previous = known[1]; continue; }
      const node = this.messageNode(message);
      if (known) {
        known[1].replaceWith(node);
        node.classList.add("flash");
      } else {
        if (previous) previous.after(node); else this.messages.prepend(node);
        grew = true;
      }
      this.rendered.set(message.id, [signature, node]);
      previous = node;
    }
    if (!messages.length) {
      const words = this.words();
      this.messages.append(el("div", { class: "intro", dir: "auto" },
        el("h4", {}, words.intro), this.state.description || info.bot.name || ""));
    }
    return grew;
  }

  messageNode(message) {
    const words = this.words();
    const bubble = el("div", { class: "bubble", dir: "auto" });
    if (message.file && message.file.kind === "photo") {
      bubble.append(el("a", { href: API + "file/" + encodeURIComponent(message.file.file_id), target: "_blank" },
        el("img", { src: API + "file/" + encodeURIComponent(message.file.file_id), alt: "photo",
                    onload: () => { if (this.following) this.messages.scrollTop = this.messages.scrollHeight; } })));
    } else if (message.file) {
      bubble.append(el("a", { class: "doc", href: API + "file/" + encodeURIComponent(message.file.file_id),
                              download: message.file.file_name },
        el("span", { class: "icon" }, icon("download")),
        el("span", {}, el("div", { class: "name" }, message.file.file_name),
           el("div", { class: "size" }, fileSize(message.file.file_size)))));
    }
    let text = message.text !== null ? message.text : message.caption;
    let entities = message.text !== null ? message.entities : message.caption_entities;
    if (!message.from_bot && /^\/start \S+$/.test(text || "")) {
      // a deep link's payload: Telegram shows the person only "/start"
      text = "/start";
      entities = [{ type: "bot_command", offset: 0, length: 6 }];
    }
    if (text) bubble.append(el("span", { class: "text" }, formatted(text, entities, this)));
    bubble.append(el("span", { class: "meta" }, (message.edited ? words.edited + " " : "") + clock(message.date)));
    const node = el("div", { class: "msg " + (message.from_bot ? "bot" : "me"), "data-id": message.id }, bubble);
    if (message.inline_keyboard && message.inline_keyboard.length) {
      node.append(el("div", { class: "ikb" }, ...message.inline_keyboard.map((row) => el("div", { class: "row" },
        ...row.map((button) => {
          const b = el("button", { type: "button", dir: "auto", "data-callback": button.callback_data }, button.text);
          if (button.url) b.append(el("span", { class: "kind" }, "↗"));
          if (button.web_app) b.append(el("span", { class: "kind" }, "▣"));
          b.addEventListener("click", () => this.press(button, message.id, b));
          return b;
        })))));
    }
    return node;
  }

  renderStart(state) {
    const empty = !state.messages.length && !state.person.started;
    this.startArea.hidden = !empty;
    this.composer.hidden = empty;
    if (!empty) return;
    const words = this.words();
    const buttons = [el("button", { type: "button", class: "start", onclick: () => this.send("/start") }, words.start)];
    for (const invite of info.invites) {
      buttons.push(el("button", { type: "button", class: "secondary start-invite", "data-code": invite.code,
                                  onclick: () => this.send("/start " + invite.code) },
        `${words.invite} (${words.as[invite.role] || invite.role})`));
    }
    this.startArea.replaceChildren(...buttons);
  }

  renderKeyboard(keyboard) {
    this.keyboardBox.hidden = !keyboard;
    if (!keyboard) { this.keyboardBox.replaceChildren(); return; }
    if (keyboard.placeholder) this.input.placeholder = keyboard.placeholder;
    this.keyboardBox.replaceChildren(...keyboard.rows.map((row) => el("div", { class: "row" },
      ...row.map((text) => el("button", { type: "button", dir: "auto", onclick: () => {
        if (keyboard.one_time) this.keyboardBox.hidden = true;
        this.send(text);
      } }, text)))));
  }

  renderAnswers(answers, first) {
    if (first || this.answersSeen === null) { this.answersSeen = answers.count; return; }
    if (answers.count !== this.answersSeen) {  // answered: the buttons stop waiting
      this.root.querySelectorAll(".ikb button.pending").forEach((b) => b.classList.remove("pending"));
    }
    for (const answer of answers.last) {
      if (answer.n < this.answersSeen) continue;
      if (answer.url) {
        const start = deepLinkStart(answer.url);
        if (start) this.send(start); else if (safeUrl(answer.url)) window.open(safeUrl(answer.url), "_blank", "noopener");
      }
      if (answer.text && answer.show_alert) {
        this.alertBox.querySelector("p").textContent = answer.text;
        this.alertBox.hidden = false;
      } else if (answer.text) {
        this.showToast(answer.text);
      }
    }
    this.answersSeen = answers.count;
  }

  showToast(text) {
    this.toast.textContent = text;
    this.toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { this.toast.hidden = true; }, 3000);
  }
}

// ---------------------------------------------------------------- the page

function layout() {
  const box = document.getElementById("chats");
  for (const [id, view] of views) {
    if (!shown.includes(id)) { view.root.remove(); views.delete(id); }
  }
  for (const id of shown) {
    if (!views.has(id)) views.set(id, new ChatView(id));
    box.append(views.get(id).root);
  }
  document.getElementById("welcome").hidden = shown.length > 0;
  box.hidden = shown.length === 0;
  document.getElementById("add-chat").disabled = shown.length >= MAX_CHATS
    || info.people.every((p) => shown.includes(p.id));
  const url = new URL(location.href);
  url.searchParams.set("chats", shown.join(","));
  history.replaceState(null, "", url);
  restartPolling();
}

function openChat(id) {
  if (shown.includes(id)) return;
  if (shown.length >= MAX_CHATS) shown[shown.length - 1] = id; else shown.push(id);
  layout();
}

function closeChat(id) {
  shown = shown.filter((x) => x !== id);
  layout();
}

function swapChat(from, to) {
  if (shown.includes(to)) { views.get(from).who.value = String(from); return; }
  shown = shown.map((x) => (x === from ? to : x));
  layout();
}

function restartPolling() {
  if (poller) poller.abort();
  version = -1;
  poll();
}

async function poll() {
  const controller = new AbortController();
  poller = controller;
  while (!controller.signal.aborted) {
    if (!shown.length) return;
    try {
      const response = await fetch(`${API}chats?ids=${shown.join(",")}&since=${version}`,
                                   { signal: controller.signal });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      if (controller.signal.aborted) return;
      version = data.version;
      if (data.people !== info.people.length) refreshInfo();  // added in another tab
      showStats(data.stats);
      for (const [id, state] of Object.entries(data.chats)) views.get(Number(id))?.update(state);
    } catch (e) {
      if (controller.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function showStats(stats) {
  const box = document.getElementById("stats");
  box.hidden = !info.limits;
  if (info.limits && stats) {
    box.textContent = `Telegram's limits on · ${stats.sent} messages sent · ${stats.too_many} refused (429)`;
  }
}

function renderTop() {
  document.getElementById("network").textContent = info.network ? "· " + info.network : "";
  document.getElementById("invites").replaceChildren(...info.invites.map((i) => el("span", {
    class: "invite", title: `Send /start ${i.code} in a chat, or press its START button`,
  }, `${i.role}: `, el("code", {}, i.code))));
  for (const view of views.values()) view.fillPeople();
}

async function refreshInfo() {
  info = await call("info");
  renderTop();
}

document.getElementById("add-person").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    const person = await call("people", { name: form.name.value, language: form.language.value });
    form.name.value = "";
    await refreshInfo();
    openChat(person.id);
  } catch (e) {
    alert(String(e.message || e));
  }
});

document.getElementById("add-chat").addEventListener("click", () => {
  const next = info.people.find((p) => !shown.includes(p.id));
  if (next) openChat(next.id);
});

(async function start() {
  await refreshInfo();
  const asked = new URL(location.href).searchParams.get("chats");
  const known = new Set(info.people.map((p) => p.id));
  if (asked !== null) {
    shown = asked.split(",").map(Number).filter((id) => known.has(id)).slice(0, MAX_CHATS);
  } else {
    const coordinator = info.people.filter((p) => p.role === "coordinator");
    const members = info.people.filter((p) => p.role === "member");
    shown = [...coordinator.slice(0, 1), ...members.filter((p) => p.language === "ar").slice(0, 1),
             ...members.filter((p) => p.language !== "ar").slice(0, 1)].map((p) => p.id);
  }
  layout();
})();
