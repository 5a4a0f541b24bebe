// The chat page of `prevnet sandbox` (bot/sandbox/page.py serves it and its /sandbox/api/).
// Text is rendered from the message's entities (what Telegram's HTML parser made of the bot's
// parse_mode=HTML), building DOM nodes: nothing the bot sends is ever parsed as HTML here.
//
// Texts come from /sandbox/api/strings (bot/sandbox/strings.py, the gettext catalogues) by key:
// t(key) in the page's language (the picker in the top bar; data-t* attributes of
// index.html), view.t(key) in a chat's person's language (data-c* attributes), as their
// Telegram app would show them.
"use strict";

const API = "/sandbox/api/";
const MAX_CHATS = 3;
const LANGUAGES = ["ar", "en", "fr"];
const STORE = "prevnet-sandbox-language";
// English for the moments before (or without) /sandbox/api/strings.
const FALLBACK = {
  offline: "The sandbox is not answering. Is prevnet sandbox still running?",
  err_generic: "Something went wrong. Please try again.",
};
const SAFE_SCHEMES = ["http:", "https:", "mailto:", "tel:"];

let info = { bot: {}, invites: [], people: [], network: "", language: "ar" };
const texts = {};          // language -> what /sandbox/api/strings answered
let pageLanguage = "ar";
let lastStats = null;
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

// ---------------------------------------------------------------- texts

function t(key, params, language) {
  const pack = texts[language || pageLanguage];
  const text = (pack && pack.strings[key]) || FALLBACK[key] || key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, k) => (Object.prototype.hasOwnProperty.call(params, k) ? String(params[k]) : m));
}

// The bot's own words for the roles (bot/text/labels.py), and each language's name for itself.
function roleLabel(role, language) {
  const pack = texts[language || pageLanguage];
  return (pack && pack.roles[role]) || role;
}

function languageName(code) {
  const pack = texts[pageLanguage];
  return (pack && pack.languages[code]) || code;
}

function direction(language) {
  const pack = texts[language];
  return pack ? pack.dir : (language === "ar" ? "rtl" : "ltr");
}

// Numbers as the bot writes them (bot/text/formats.py: Babel's CLDR data, 0-9 in Arabic too).
function number(n, language, digits) {
  const locale = language === "ar" ? "ar-u-nu-latn" : language;
  return new Intl.NumberFormat(locale, { maximumFractionDigits: digits || 0 }).format(n);
}

// data-t, data-t-title, ... (prefix "t": the page's language) or data-c... ("c": a chat's).
function translateTree(root, prefix, language) {
  root.querySelectorAll(`[data-${prefix}]`).forEach((node) => {
    node.textContent = t(node.getAttribute(`data-${prefix}`), null, language);
  });
  for (const attr of ["title", "placeholder", "aria-label"]) {
    root.querySelectorAll(`[data-${prefix}-${attr}]`).forEach((node) => {
      node.setAttribute(attr, t(node.getAttribute(`data-${prefix}-${attr}`), null, language));
    });
  }
}

async function loadTexts() {
  const packs = await Promise.all(LANGUAGES.map((language) => call("strings?lang=" + language)));
  for (const pack of packs) texts[pack.locale] = pack;
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

async function call(path, body) {
  const options = body instanceof FormData ? { method: "POST", body }
    : body !== undefined ? { method: "POST", body: JSON.stringify(body),
                             headers: { "Content-Type": "application/json" } }
    : {};
  let response;
  try {
    response = await fetch(API + path, options);
  } catch (e) {
    throw new ApiError("offline", String(e));
  }
  if (!response.ok) {
    let answer = {};
    try { answer = await response.json(); } catch (e) { /* not the sandbox's JSON */ }
    throw new ApiError(answer.error || "generic", answer.message);
  }
  return response.json();
}

// An error in the page's language: the API's code has its err_<code> text (strings.py).
function errorText(error) {
  if (error && error.code === "offline") return t("offline");
  const pack = texts[pageLanguage];
  const known = error && error.code && pack && pack.strings["err_" + error.code];
  return known || t("err_generic");
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
      const node = el("span", { class: "spoiler", title: view.t("spoiler") });
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

function fileSize(bytes, language) {
  if (!bytes) return "";
  if (bytes < 1024) return t("size_b", { n: number(bytes, language) }, language);
  if (bytes < 1024 * 1024) return t("size_kb", { n: number(bytes / 1024, language, 1) }, language);
  return t("size_mb", { n: number(bytes / 1024 / 1024, language, 1) }, language);
}

function clock(seconds) {
  const d = new Date(seconds * 1000);
  return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
}

const ICONS = {
  download: "M12 4v10m0 0-4-4m4 4 4-4M6 19h12",
  globe: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18M3 12h18M12 3c2.5 2.5 3.5 5.5 3.5 9s-1 6.5-3.5 9c-2.5-2.5-3.5-5.5-3.5-9s1-6.5 3.5-9",
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
    q(".bot-name").textContent = info.bot.name || "Prevnet";
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
    this.pageChanged();
    this.chatTexts();
  }

  // The person's language: what their Telegram app shows around the bot's messages.
  language() {
    if (this.state) return this.state.person.language;
    const person = info.people.find((p) => p.id === this.userId);
    return person ? person.language : "en";
  }

  t(key, params) { return t(key, params, this.language()); }

  chatTexts() {
    const language = this.language();
    translateTree(this.root, "c", language);
    this.root.setAttribute("dir", direction(language));
    this.root.setAttribute("lang", language);
    this.root.querySelector(".sub").textContent = this.t("bot");
  }

  // The row above the phone (whose phone it is, close) is the page's, in the page's language.
  pageChanged() {
    const owner = this.root.querySelector(".owner");
    owner.setAttribute("dir", direction(pageLanguage));
    owner.setAttribute("lang", pageLanguage);
    translateTree(owner, "t", pageLanguage);
    this.fillPeople();
  }

  fillPeople() {
    this.who.replaceChildren(...info.people.map((p) => el("option", {
      value: p.id, selected: p.id === this.userId,
    }, `\u2068${p.name}\u2069 · ${p.role ? roleLabel(p.role) : t("no_network")} · ${languageName(p.language)}`)));
  }

  async send(text) {
    try { await call("send", { user_id: this.userId, text }); } catch (e) { this.showToast(errorText(e)); }
  }

  async press(button, messageId, node) {
    if (button.callback_data !== undefined) {
      node.classList.add("pending");
      try {
        await call("press", { user_id: this.userId, message_id: messageId, data: button.callback_data });
      } catch (e) { node.classList.remove("pending"); this.showToast(errorText(e)); }
    } else if (button.url) {
      const start = deepLinkStart(button.url);
      if (start) this.send(start);
      else if (safeUrl(button.url)) window.open(safeUrl(button.url), "_blank", "noopener");
    } else if (button.web_app) {
      this.openWebApp(button.web_app.url);
    } else if (button.copy_text) {
      navigator.clipboard && navigator.clipboard.writeText(button.copy_text.text || "");
      this.showToast(this.t("copied"));
    } else {
      this.showToast(this.t("unsupported_button"));
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
      this.showToast(errorText(e));
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
    try { await call("upload", form); } catch (e) { this.showToast(errorText(e)); }
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
    const before = this.language();
    this.state = state;
    if (first || this.language() !== before) this.chatTexts();
    this.input.placeholder = this.t("message");
    this.menuButton.textContent = state.menu_button ? state.menu_button.text : "☰ " + this.t("menu");
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
      this.messages.append(el("div", { class: "intro", dir: "auto" },
        el("h4", {}, this.t("intro")), this.state.description || info.bot.name || ""));
    }
    return grew;
  }

  messageNode(message) {
    const bubble = el("div", { class: "bubble", dir: "auto" });
    if (message.file && message.file.kind === "photo") {
      bubble.append(el("a", { href: API + "file/" + encodeURIComponent(message.file.file_id), target: "_blank" },
        el("img", { src: API + "file/" + encodeURIComponent(message.file.file_id), alt: this.t("photo"),
                    onload: () => { if (this.following) this.messages.scrollTop = this.messages.scrollHeight; } })));
    } else if (message.file) {
      bubble.append(el("a", { class: "doc", href: API + "file/" + encodeURIComponent(message.file.file_id),
                              download: message.file.file_name },
        el("span", { class: "icon" }, icon("download")),
        el("span", {}, el("div", { class: "name" }, message.file.file_name),
           el("div", { class: "size" }, fileSize(message.file.file_size, this.language())))));
    }
    let text = message.text !== null ? message.text : message.caption;
    let entities = message.text !== null ? message.entities : message.caption_entities;
    if (!message.from_bot && /^\/start \S+$/.test(text || "")) {
      // a deep link's payload: Telegram shows the person only "/start"
      text = "/start";
      entities = [{ type: "bot_command", offset: 0, length: 6 }];
    }
    if (text) bubble.append(el("span", { class: "text" }, formatted(text, entities, this)));
    bubble.append(el("span", { class: "meta" }, (message.edited ? this.t("edited") + " " : "") + clock(message.date)));
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
    const buttons = [el("button", { type: "button", class: "start", onclick: () => this.send("/start") }, this.t("start"))];
    for (const invite of info.invites) {
      buttons.push(el("button", { type: "button", class: "secondary start-invite", "data-code": invite.code,
                                  onclick: () => this.send("/start " + invite.code) },
        this.t("start_invite", { role: roleLabel(invite.role, this.language()) })));
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
  keepInUrl();
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
      document.getElementById("offline").hidden = true;
      if (data.people !== info.people.length) refreshInfo();  // added in another tab
      showStats(data.stats);
      for (const [id, state] of Object.entries(data.chats)) views.get(Number(id))?.update(state);
    } catch (e) {
      if (controller.signal.aborted) return;
      document.getElementById("offline").hidden = false;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function showStats(stats) {
  const box = document.getElementById("stats");
  box.hidden = !info.limits;
  if (stats) lastStats = stats;
  if (info.limits && lastStats) {
    box.textContent = t("limits", { sent: number(lastStats.sent, pageLanguage),
                                    refused: number(lastStats.too_many, pageLanguage) });
  }
}

function renderTop() {
  document.getElementById("network").textContent = info.network ? "· " + info.network : "";
  document.getElementById("invites").replaceChildren(...info.invites.map((i) => el("span", {
    class: "invite", title: t("invite_hint", { code: i.code }),
  }, t("invite_role", { role: roleLabel(i.role) }) + " ", el("code", { dir: "ltr" }, i.code))));
  for (const view of views.values()) view.fillPeople();
}

// ?chats=...&lang=...: a reload (or a bookmark) shows the same chats in the same language.
function keepInUrl() {
  const url = new URL(location.href);
  url.searchParams.set("chats", shown.join(","));
  url.searchParams.set("lang", pageLanguage);
  history.replaceState(null, "", url);
}

function setPageLanguage(language) {
  pageLanguage = LANGUAGES.includes(language) ? language : info.language;
  const root = document.documentElement;
  root.lang = pageLanguage;
  root.dir = direction(pageLanguage);
  document.title = t("page_title");
  translateTree(document.body, "t", pageLanguage);
  document.getElementById("page-language").value = pageLanguage;
  try { localStorage.setItem(STORE, pageLanguage); } catch (e) { /* private mode */ }
  renderTop();
  showStats(null);
  for (const view of views.values()) view.pageChanged();
  keepInUrl();
}

// The page's language: the address's ?lang=, else the last one picked in this browser, else
// `prevnet sandbox --lang` (Arabic unless told otherwise: the room's language, whatever the
// trainer's laptop is set to).
function firstLanguage() {
  const asked = new URL(location.href).searchParams.get("lang");
  if (LANGUAGES.includes(asked)) return asked;
  let stored = null;
  try { stored = localStorage.getItem(STORE); } catch (e) { /* private mode */ }
  return LANGUAGES.includes(stored) ? stored : info.language;
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
    alert(errorText(e));
  }
});

document.getElementById("page-language").addEventListener("change", (event) => {
  setPageLanguage(event.target.value);
});
document.querySelector(".page-language").prepend(icon("globe"));

document.getElementById("add-chat").addEventListener("click", () => {
  const next = info.people.find((p) => !shown.includes(p.id));
  if (next) openChat(next.id);
});

(async function start() {
  const asked = new URL(location.href).searchParams.get("chats");  // before keepInUrl()
  try {
    [info] = await Promise.all([call("info"), loadTexts()]);
  } catch (e) {
    document.documentElement.classList.remove("pending");
    document.getElementById("offline").hidden = false;
    return;
  }
  setPageLanguage(firstLanguage());
  document.documentElement.classList.remove("pending");
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
