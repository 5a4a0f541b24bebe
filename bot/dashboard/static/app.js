/* The coordinator dashboard (a Telegram Mini App). Plain JavaScript, no build step, no
   library. Every text goes into the page with textContent or DOM nodes, never innerHTML;
   no inline style (the CSP forbids it): colours and sizes are classes of app.css. */
(function () {
  "use strict";

  // English texts for the moments before (or without) /app/api/strings.
  var FALLBACK = {
    app_title: "Dashboard", loading: "Loading…", retry: "Try again",
    err_offline: "No connection. Check your network and try again.",
    err_unauthorized: "Your sign-in has expired. Open the dashboard again from the bot.",
    err_forbidden: "Only coordinators can open the dashboard.",
    err_no_init: "Open this from the bot's Dashboard button.",
    err_generic: "Something went wrong. Please try again.",
    err_too_many: "Too many attempts. Wait a minute, then try again.",
    err_not_found: "This is no longer here."
  };
  var LOCALES = ["ar", "en", "fr"];
  var ROUTES = ["overview", "people", "events", "trends", "reports"];
  var PEOPLE_WEEKS = [4, 8, 26];
  var TREND_WEEKS = [8, 26, 52];

  var S = {};
  var st = {
    initData: "", locale: "en", dir: "ltr", session: null, net: null, showNet: false,
    lastHash: null, seq: 0, nf: null, pf: null, shownAt: 0
  };
  var $main, $tabs, $title, $picker, $net, $top, $toast;

  // ---------------------------------------------------------------- texts and formats
  function t(key, params) {
    var s = S[key] || FALLBACK[key] || key;
    if (!params) return s;
    return s.replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(params, k) ? String(params[k]) : m;
    });
  }
  function intlLocale(kind) {
    // The bot's messages write numbers with Babel's CLDR data, which gives Arabic 0-9 digits;
    // the page writes them the same way, so one report does not show two kinds of digits.
    if (st.locale === "ar") return kind === "date" ? "ar-u-ca-gregory-nu-latn" : "ar-u-nu-latn";
    return st.locale;
  }
  function setLocale(locale, dir) {
    st.locale = LOCALES.indexOf(locale) >= 0 ? locale : "en";
    st.dir = dir === "rtl" ? "rtl" : "ltr";
    document.documentElement.lang = st.locale;
    document.documentElement.dir = st.dir;
    st.nf = new Intl.NumberFormat(intlLocale("number"));
    st.pf = new Intl.NumberFormat(intlLocale("number"), { style: "percent", maximumFractionDigits: 0 });
    document.title = t("app_title");
  }
  function nf(n) { return st.nf.format(Number(n) || 0); }
  function pct(r) { return st.pf.format(Number(r) || 0); }
  function plainDate(s) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s || "");
    return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], 12)) : null;
  }
  // form: "long" always with the year, "short" never, else the year when it is not this one
  function fmtDate(s, form) {
    var d = plainDate(s);
    if (!d) return "";
    var opts = { day: "numeric", month: "short", timeZone: "UTC" };
    if (form === "long" || (form !== "short" && d.getUTCFullYear() !== new Date().getUTCFullYear())) opts.year = "numeric";
    return new Intl.DateTimeFormat(intlLocale("date"), opts).format(d);
  }
  function tzOf(netRef) {
    var nets = (st.session && st.session.networks) || [];
    var id = netRef && netRef.id;
    for (var i = 0; i < nets.length; i++) if (nets[i].id === id) return nets[i].timezone;
    for (var j = 0; j < nets.length; j++) if (String(nets[j].id) === String(st.net)) return nets[j].timezone;
    return nets.length ? nets[0].timezone : undefined;
  }
  function dtf(opts, tz) {
    try { return new Intl.DateTimeFormat(intlLocale("date"), Object.assign({ timeZone: tz }, opts)); }
    catch (e) { return new Intl.DateTimeFormat(intlLocale("date"), opts); }
  }
  function fmtDateTime(iso, tz) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return dtf({ weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" }, tz).format(d);
  }
  function fmtRange(startIso, endIso, tz) {
    var a = new Date(startIso), b = new Date(endIso);
    if (isNaN(a)) return "";
    var f = dtf({ weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" }, tz);
    if (isNaN(b) || typeof f.formatRange !== "function") return f.format(a);
    try { return f.formatRange(a, b); } catch (e) { return f.format(a); }
  }

  // ---------------------------------------------------------------- DOM helpers
  function el(tag, props) {
    var e = document.createElement(tag);
    if (props) Object.keys(props).forEach(function (k) {
      var v = props[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
      else if (k === "value" || k === "disabled" || k === "selected" || k === "hidden" || k === "open") e[k] = v;
      else if (k !== "style") e.setAttribute(k, v === true ? "" : String(v));
    });
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(parent, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(parent, c); }); return; }
    parent.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  var SVGNS = "http://www.w3.org/2000/svg";
  function sv(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function toast(text) {
    $toast.textContent = text;
    $toast.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { $toast.hidden = true; }, 2600);
  }
  var closeDialog = function () { /* none open */ };
  function confirmDialog(text, okLabel) {
    closeDialog();
    return new Promise(function (resolve) {
      var overlay;
      function done(v) {
        overlay.remove(); document.removeEventListener("keydown", onKey);
        closeDialog = function () { /* none open */ };
        resolve(v);
      }
      closeDialog = function () { done(false); };  // leaving the screen answers "cancel"
      function onKey(ev) { if (ev.key === "Escape") done(false); }
      var ok = el("button", { class: "btn", type: "button", text: okLabel, onclick: function () { done(true); } });
      overlay = el("div", { class: "overlay", onclick: function (ev) { if (ev.target === overlay) done(false); } },
        el("div", { class: "dialog", role: "dialog", "aria-modal": "true" },
          el("p", { text: text }),
          el("div", { class: "btn-row" },
            el("button", { class: "btn secondary", type: "button", text: t("cancel"), onclick: function () { done(false); } }),
            ok)));
      document.addEventListener("keydown", onKey);
      document.body.append(overlay);
      ok.focus();
    });
  }

  // ---------------------------------------------------------------- Telegram bridge
  function store(key, value) { try { sessionStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function stored(key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } }
  function tgApp() {
    var w = window.Telegram && window.Telegram.WebApp;
    return w && typeof w.initData === "string" ? w : null;
  }
  function readLaunchParams() {
    var h = location.hash.slice(1);
    if (h.indexOf("tgWebAppData=") < 0 && h.indexOf("tgWebAppThemeParams=") < 0) return;
    var p = new URLSearchParams(h);
    if (p.get("tgWebAppData")) store("tgWebAppData", p.get("tgWebAppData"));
    if (p.get("tgWebAppThemeParams")) store("tgWebAppThemeParams", p.get("tgWebAppThemeParams"));
    history.replaceState({ depth: 0 }, "", location.pathname + location.search + "#/overview");
  }
  function postEvent(type, data) {
    var json = JSON.stringify(data || {});
    try {
      if (window.TelegramWebviewProxy && window.TelegramWebviewProxy.postEvent) {
        window.TelegramWebviewProxy.postEvent(type, json);
      } else if (window.parent && window.parent !== window) {
        window.parent.postMessage(JSON.stringify({ eventType: type, eventData: data || {} }), "*");
      }
    } catch (e) { /* not inside Telegram */ }
  }
  function isDark(hex) {
    var m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(hex || "");
    if (!m) return false;
    return 0.2126 * parseInt(m[1], 16) + 0.7152 * parseInt(m[2], 16) + 0.0722 * parseInt(m[3], 16) < 128;
  }
  function applyTheme(params) {
    if (!params || typeof params !== "object") return;
    var root = document.documentElement;
    // Form controls (date pickers, selects) follow the theme's lightness.
    if (params.bg_color) root.style.colorScheme = isDark(String(params.bg_color)) ? "dark" : "light";
    Object.keys(params).forEach(function (k) {
      var v = String(params[k]);
      if (/^[a-z_]+$/.test(k) && /^#[0-9a-fA-F]{3,8}$/.test(v)) {
        root.style.setProperty("--tg-theme-" + k.replace(/_/g, "-"), v);
      }
    });
  }
  function onBridgeEvent(type, data) {
    if (type === "back_button_pressed") history.back();
    else if (type === "theme_changed" && data) applyTheme(data.theme_params);
  }
  function setupBridge() {
    var app = tgApp();
    if (app) {
      applyTheme(app.themeParams);
      try { if (app.ready) app.ready(); if (app.expand) app.expand(); } catch (e) { /* mock */ }
      if (app.BackButton && app.BackButton.onClick) app.BackButton.onClick(function () { history.back(); });
      if (app.onEvent) app.onEvent("themeChanged", function () { applyTheme(app.themeParams); });
      return;
    }
    var theme = stored("tgWebAppThemeParams");
    if (theme) { try { applyTheme(JSON.parse(theme)); } catch (e) { /* ignore */ } }
    window.Telegram = window.Telegram || {};
    var prev = window.Telegram.WebView && window.Telegram.WebView.receiveEvent;
    window.Telegram.WebView = window.Telegram.WebView || {};
    window.Telegram.WebView.receiveEvent = function (type, data) {
      onBridgeEvent(type, data);
      if (prev) try { prev(type, data); } catch (e) { /* ignore */ }
    };
    window.addEventListener("message", function (ev) {
      if (typeof ev.data !== "string") return;
      try { var m = JSON.parse(ev.data); if (m && m.eventType) onBridgeEvent(m.eventType, m.eventData); }
      catch (e) { /* not ours */ }
    });
    postEvent("web_app_ready");
    postEvent("web_app_expand");
  }
  function showBack(visible) {
    var app = tgApp();
    if (app && app.BackButton) {
      try { if (visible) app.BackButton.show(); else app.BackButton.hide(); } catch (e) { /* mock */ }
    } else {
      postEvent("web_app_setup_back_button", { is_visible: !!visible });
    }
  }
  function getInitData() {
    var app = tgApp();
    if (app && app.initData) return app.initData;
    return stored("tgWebAppData") || "";
  }
  function guessLocale() {
    var code = "";
    try {
      var app = tgApp();
      var user = app && app.initDataUnsafe && app.initDataUnsafe.user;
      if (!user && st.initData) user = JSON.parse(new URLSearchParams(st.initData).get("user") || "null");
      code = (user && user.language_code) || "";
    } catch (e) { code = ""; }
    code = (code || navigator.language || "en").split("-")[0].toLowerCase();
    return LOCALES.indexOf(code) >= 0 ? code : "en";
  }

  // ---------------------------------------------------------------- API
  function ApiError(status, code, message) {
    this.status = status; this.code = code; this.message = message || "";
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  async function request(path, opts) {
    opts = opts || {};
    var headers = { "Accept": "application/json" };
    if (!opts.noAuth) headers.Authorization = "tma " + st.initData;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    var tries = opts.body === undefined ? 3 : 1;  // reads are retried on a weak connection
    for (var attempt = 0; ; attempt++) {
      var ctrl = typeof AbortController === "function" ? new AbortController() : null;
      var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, 20000) : null;
      var resp;
      try {
        resp = await fetch("api/" + path, {
          method: opts.body === undefined ? "GET" : "POST", headers: headers, cache: "no-store",
          credentials: "omit", body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          signal: ctrl ? ctrl.signal : undefined
        });
      } catch (e) {
        if (timer) clearTimeout(timer);
        if (attempt + 1 < tries) { await sleep(700 * (attempt + 1) * (attempt + 1)); continue; }
        throw new ApiError(0, "offline", "");
      }
      if (timer) clearTimeout(timer);
      var body = null;
      try { body = await resp.json(); } catch (e) { body = null; }
      if (resp.ok && body) return body;
      if (resp.status >= 502 && resp.status <= 504 && attempt + 1 < tries) { await sleep(1000); continue; }
      throw new ApiError(resp.status, (body && body.error) || "error", (body && body.message) || "");
    }
  }
  function errorText(err) {
    if (!(err instanceof ApiError)) return t("err_generic");
    if (err.status === 0) return t("err_offline");
    if (err.status === 401) return t("err_unauthorized");
    if (err.status === 403) return t("err_forbidden");
    if (err.status === 429) return t("err_too_many");
    if (err.status === 404) return t("err_not_found");
    return err.message || t("err_generic");
  }
  function canRetry(err) {
    return !(err instanceof ApiError) || [0, 404, 429].indexOf(err.status) >= 0 || err.status >= 500;
  }
  async function loadStrings(locale) {
    var body = await request("strings?lang=" + encodeURIComponent(locale), { noAuth: true });
    S = body.strings || {};
    setLocale(body.locale || locale, body.dir);
  }

  // ---------------------------------------------------------------- states
  function loadingView() {
    return el("div", { class: "state state-loading", "data-state": "loading" },
      el("div", { class: "spinner", "aria-hidden": "true" }), el("p", { text: t("loading") }));
  }
  // Small line icons drawn here (emoji fonts are missing on some phones).
  var ICONS = {
    alert: "M12 7v6M12 16.5v.5", lock: "M8 11V8.5a4 4 0 0 1 8 0V11M7.5 11h9v6h-9z",
    wifi: "M6 10.5a8.5 8.5 0 0 1 12 0M8.5 13a5 5 0 0 1 7 0M12 16v.5",
    empty: "M8 9h8M8 12h8M8 15h5", calendar: "M7 8h10v9H7zM7 11h10M10 6.5v2M14 6.5v2",
    people: "M9.5 11a2 2 0 1 0 0-.1M7 16.5c.5-2 4.5-2 5 0M14.5 10.5h2.5M14.5 13.5h2.5",
    chart: "M7.5 16.5V12M11 16.5V8.5M14.5 16.5v-5.5M17 16.5H7", check: "M8 12.5l2.7 2.7L16 9.5"
  };
  function icon(name) {
    var s = sv("svg", { class: "icon", viewBox: "0 0 24 24", "aria-hidden": "true" });
    s.append(sv("circle", { cx: 12, cy: 12, r: 10.5 }), sv("path", { d: ICONS[name] || ICONS.alert }));
    return s;
  }
  function stateView(kind, iconName, text, onRetry) {
    return el("div", { class: "state state-" + kind, "data-state": kind, role: kind === "error" ? "alert" : null },
      icon(iconName),
      el("p", { class: "msg", text: text }),
      onRetry ? el("button", { class: "btn", type: "button", text: t("retry"), onclick: onRetry }) : null);
  }
  function errorView(err, onRetry) {
    var name = err && err.status === 0 ? "wifi" : err && (err.status === 401 || err.status === 403) ? "lock" : "alert";
    return stateView("error", name, errorText(err), canRetry(err) ? onRetry : null);
  }
  function emptyBox(iconName, text, extra) {
    return el("div", { class: "empty", "data-empty": "1" }, icon(iconName), el("span", { text: text }), extra || null);
  }
  function fatal(view) {
    $top.hidden = true;
    showBack(false);
    $main.replaceChildren(view);
  }

  // ---------------------------------------------------------------- routing
  function parseHash() {
    var h = location.hash.replace(/^#/, "");
    if (h.charAt(0) !== "/") h = "/overview";
    var i = h.indexOf("?");
    var path = i < 0 ? h : h.slice(0, i);
    return { parts: path.split("/").filter(Boolean), q: new URLSearchParams(i < 0 ? "" : h.slice(i + 1)) };
  }
  function hashFor(path, params) {
    var q = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    });
    if (st.showNet && st.net !== null) q.set("net", String(st.net));
    var s = q.toString();
    return "#" + path + (s ? "?" + s : "");
  }
  function go(path, params, replace) {
    var url = hashFor(path, params);
    var depth = (history.state && history.state.depth) || 0;
    if (replace) history.replaceState({ depth: depth }, "", url);
    else { history.pushState({ depth: depth + 1 }, "", url); window.scrollTo(0, 0); }
    render();
  }
  function paramsOf(q, keys) {
    var out = {};
    keys.forEach(function (k) { if (q.get(k)) out[k] = q.get(k); });
    return out;
  }
  function pickNet(q) {
    var s = st.session, wanted = q.get("net");
    var ids = s.networks.map(function (n) { return String(n.id); });
    if (wanted === "all" && s.can_all) return "all";
    if (wanted && ids.indexOf(wanted) >= 0) return wanted;
    if (s.can_all) return "all";
    return ids.length ? ids[0] : null;
  }
  function netName() {
    if (st.net === "all") return t("all_networks");
    var n = st.session.networks.filter(function (x) { return String(x.id) === String(st.net); })[0];
    return n ? n.name : t("app_title");
  }
  function netQuery() { return "net=" + encodeURIComponent(st.net); }

  async function render(force) {
    if (!st.session) return;
    if (!force && location.hash === st.lastHash) return;
    st.lastHash = location.hash;
    closeDialog();
    var seq = ++st.seq;
    var r = parseHash();
    st.net = pickNet(r.q);
    var route = ROUTES.indexOf(r.parts[0]) >= 0 ? r.parts[0] : "overview";
    $title.textContent = st.showNet ? t("app_title") : netName();
    $net.value = String(st.net);
    Array.prototype.forEach.call($tabs.children, function (b) {
      if (b.dataset.route === route) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
    });
    showBack(((history.state && history.state.depth) || 0) > 0);
    $main.replaceChildren(loadingView());
    var stale = function () { return seq !== st.seq; };
    try {
      var view;
      if (route === "reports" && r.parts[1]) view = await screenReport(r.parts[1], stale);
      else view = await SCREENS[route](r.q, stale);
      if (!stale()) { $main.replaceChildren(view); st.shownAt = Date.now(); }
    } catch (err) {
      if (!stale()) {
        if (err instanceof ApiError && err.status === 401) fatal(errorView(err));
        else {
          var view = errorView(err, function () { render(true); });
          if (route === "reports" && err instanceof ApiError && err.status === 400) {  // filters it refuses
            view.append(el("button", { class: "btn secondary", type: "button", text: t("clear_filters"),
              onclick: function () { go("/reports", {}, true); } }));
          }
          $main.replaceChildren(view);
        }
      }
    }
  }

  // ---------------------------------------------------------------- shared pieces
  function section(title, children, extra) {
    return el("section", { class: "section" },
      title ? el("h2", { class: "section-title", text: title }) : null, extra || null, children);
  }
  function chips(options, current, onPick) {
    return el("div", { class: "chips", role: "group" }, options.map(function (o) {
      return el("button", {
        class: "chip", type: "button", text: o.label, "aria-pressed": String(String(o.value) === String(current)),
        onclick: function () { onPick(o.value); }
      });
    }));
  }
  function weekLabel(n) { return t("weeks_" + n); }
  function counts(items) {
    return el("div", { class: "counts" }, items.map(function (it) {
      return el("span", { class: "count " + it.key, "data-count": it.key }, el("b", { text: nf(it.n) }), it.label);
    }));
  }
  function deltaNote(cur, prev) {
    var d = (Number(cur) || 0) - (Number(prev) || 0);
    if (d > 0) return el("div", { class: "stat-note delta-up", text: "▲ " + t("more_than_last_week", { n: nf(d) }) });
    if (d < 0) return el("div", { class: "stat-note delta-down", text: "▼ " + t("fewer_than_last_week", { n: nf(-d) }) });
    return el("div", { class: "stat-note", text: t("same_as_last_week") });
  }
  function netBadge(ref) {
    return st.net === "all" && ref ? el("span", { class: "badge", text: ref.name }) : null;
  }
  function eventCard(ev, past) {
    var tz = tzOf(ev.network);
    var extra = null;
    if (past) {
      extra = ev.attended === null || ev.attended === undefined
        ? el("div", { class: "line muted", text: t("not_marked") })
        : counts([{ key: "attended", n: ev.attended, label: t("attended") },
                  { key: "no_shows", n: ev.no_shows || 0, label: t("no_shows") }]);
    }
    return el("article", { class: "card", "data-event-id": ev.id },
      el("div", { class: "card-head" }, el("div", { class: "card-title", text: ev.title }),
        el("span", { class: "badge", text: ev.kind_label })),
      el("div", { class: "line muted", text: fmtRange(ev.starts_at, ev.ends_at, tz) }),
      ev.place ? el("div", { class: "line muted", text: ev.place }) : null,
      netBadge(ev.network),
      counts([{ key: "going", n: ev.going, label: t("going") }, { key: "maybe", n: ev.maybe, label: t("maybe") },
              { key: "not_going", n: ev.not_going, label: t("not_going") }]),
      extra);
  }
  function statusBadge(status, label) {
    var cls = status === "flagged" ? "badge bad" : status === "reviewed" ? "badge good" : "badge warn";
    return el("span", { class: cls, "data-status": status, text: label });
  }

  // ---------------------------------------------------------------- overview
  function stat(key, label, value, note) {
    return el("div", { class: "stat", "data-stat": key },
      el("div", { class: "stat-label", text: label }), el("div", { class: "stat-value", text: value }), note);
  }
  async function screenOverview() {
    var d = await request("overview?" + netQuery());
    var prev = d.previous || {};
    var quiet = !d.activities && !d.reporters;
    return el("div", { "data-screen": "overview" },
      el("p", { class: "sub", text: t("week_of", { start: fmtDate(d.week.start), end: fmtDate(d.week.end) }) }),
      quiet ? el("div", { class: "note", "data-note": "quiet", text: d.members ? t("quiet_week") : t("no_members") }) : null,
      el("div", { class: "stats" },
        stat("activities", t("activities"), nf(d.activities), deltaNote(d.activities, prev.activities)),
        stat("participants", t("participants"), nf(d.participants), deltaNote(d.participants, prev.participants)),
        stat("reporters", t("reporters"), t("reporters_of", { n: nf(d.reporters), total: nf(d.members) }),
          deltaNote(d.reporters, prev.reporters)),
        stat("rate", t("rate"), pct(d.rate), el("div", { class: "stat-note", text: t("last_week", { value: pct(prev.rate) }) }))),
      el("div", { class: "btn-row" },
        el("button", { class: "btn secondary", type: "button", text: t("see_who_reported"), onclick: function () { go("/people", {}); } })),
      el("div", { class: "section" }),
      section(t("next_events"), (d.upcoming || []).length
        ? d.upcoming.map(function (ev) { return eventCard(ev, false); })
        : emptyBox("calendar", t("no_events_planned")),
        null),
      (d.upcoming || []).length ? el("button", { class: "linkbtn", type: "button", text: t("see_all_events"), onclick: function () { go("/events", {}); } }) : null);
  }

  // ---------------------------------------------------------------- participation
  async function screenPeople(q) {
    var weeks = PEOPLE_WEEKS.indexOf(+q.get("weeks")) >= 0 ? +q.get("weeks") : 4;
    var onlySilent = q.get("silent") === "1";
    var d = await request("participation?" + netQuery() + "&weeks=" + weeks);
    var members = (d.members || []).slice();
    var silent = members.filter(function (m) { return m.silent; });
    // Coordinators are never silent: with no member yet, nobody "reported, well done".
    var reporting = members.some(function (m) { return m.role === "member"; });
    members.sort(function (a, b) { return (b.silent ? 1 : 0) - (a.silent ? 1 : 0); });
    var shown = onlySilent ? silent : members;
    function keep(p) { go("/people", Object.assign({ weeks: weeks, silent: onlySilent ? "1" : "" }, p), true); }
    var list;
    if (!members.length) list = emptyBox("people", t("no_members"));
    else if (!shown.length) list = emptyBox(reporting ? "check" : "people", reporting ? t("nobody_silent") : t("no_members"));
    else list = el("div", { class: "list" }, shown.map(memberCard));
    return el("div", { "data-screen": "people" },
      chips(PEOPLE_WEEKS.map(function (w) { return { value: w, label: weekLabel(w) }; }), weeks,
        function (w) { keep({ weeks: w }); }),
      el("p", { class: "sub", text: t("period", { start: fmtDate(d.period.start), end: fmtDate(d.period.end) }) }),
      members.length ? chips([{ value: "0", label: t("everyone") + " · " + nf(members.length) },
                              { value: "1", label: t("silent_n", { n: nf(silent.length) }) }],
        onlySilent ? "1" : "0", function (v) { keep({ silent: v === "1" ? "1" : "" }); }) : null,
      members.length && !silent.length && !onlySilent ? el("div", { class: "note", "data-note": reporting ? "nobody-silent" : "no-members", text: reporting ? t("nobody_silent") : t("no_members") }) : null,
      list);
  }
  function memberCard(m) {
    var action = el("div", { class: "row" });
    function setNudged(text) {
      action.replaceChildren(el("span", { class: "inline-ok", "data-nudged": "1", text: "✓ " + text }));
    }
    if (m.unreachable) action.append(el("span", { class: "badge bad", "data-unreachable": "1", text: t("unreachable") }));
    else if (m.silent && m.nudged_today) setNudged(t("nudged_today"));
    else if (m.silent) {
      var btn = el("button", { class: "btn", type: "button", "data-action": "nudge", text: t("nudge") });
      var msg = el("div", { class: "inline-error", role: "alert", hidden: true });
      btn.addEventListener("click", async function () {
        if (!(await confirmDialog(t("nudge_confirm", { name: m.name }), t("send")))) return;
        btn.disabled = true; msg.hidden = true;
        try {
          await request("nudge", { body: { member: m.id } });
          m.nudged_today = true; setNudged(t("nudge_sent")); toast(t("nudge_sent"));
        } catch (err) {
          if (err instanceof ApiError && err.code === "already_nudged") { m.nudged_today = true; setNudged(t("nudged_today")); return; }
          btn.disabled = false; msg.textContent = errorText(err); msg.hidden = false;
        }
      });
      action.append(btn, msg);
    }
    var r = m.rsvp || {};
    return el("article", { class: "card", "data-member-id": m.id },
      el("div", { class: "card-head" }, el("div", { class: "card-title", text: m.name }),
        m.silent ? el("span", { class: "badge warn", text: t("silent") }) : null),
      el("div", { class: "muted" }, m.role_label || "", st.net === "all" && m.network ? " · " + m.network.name : ""),
      el("div", { class: "line", text: m.last_report ? t("last_report", { date: fmtDate(m.last_report) }) : t("no_report_yet") }),
      el("div", { class: "line", text: t("reports_n", { n: nf(m.reports) }) + " · " + t("attended_n", { n: nf(m.attended) }) }),
      el("div", { class: "muted line", text: t("rsvp") }),
      counts([{ key: "going", n: r.going, label: t("going") }, { key: "maybe", n: r.maybe, label: t("maybe") },
              { key: "not_going", n: r.not_going, label: t("not_going") }, { key: "no_answer", n: r.no_answer, label: t("no_answer") }]),
      action);
  }

  // ---------------------------------------------------------------- events
  async function screenEvents() {
    var d = await request("events?" + netQuery());
    var up = d.upcoming || [], past = d.past || [];
    return el("div", { "data-screen": "events" },
      section(t("upcoming"), up.length ? up.map(function (e) { return eventCard(e, false); }) : emptyBox("calendar", t("no_upcoming"))),
      section(t("past"), past.length ? past.map(function (e) { return eventCard(e, true); }) : emptyBox("calendar", t("no_past"))));
  }

  // ---------------------------------------------------------------- trends (SVG)
  var CW = 340, CH = 170, PAD_TOP = 14, PAD_BOTTOM = 24, PAD_SIDE = 34, PAD_END = 8;
  function niceMax(v) {
    if (v <= 4) return Math.max(v, 1);
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function chartFrame(n, max, weeks, label) {
    var rtl = st.dir === "rtl";
    var svg = sv("svg", { class: "chart", viewBox: "0 0 " + CW + " " + CH, role: "img", "aria-label": label });
    var plotW = CW - PAD_SIDE - PAD_END, plotH = CH - PAD_TOP - PAD_BOTTOM;
    var slot = plotW / n;
    // x of the middle of week i: time runs in the reading direction (right to left in Arabic)
    function x(i) { return rtl ? CW - PAD_SIDE - (i + 0.5) * slot : PAD_SIDE + (i + 0.5) * slot; }
    function y(v) { return PAD_TOP + plotH - (v / max) * plotH; }
    var axisX = rtl ? CW - PAD_SIDE : PAD_SIDE;
    [0, max / 2, max].forEach(function (v) {
      svg.append(sv("line", { class: v ? "grid" : "axis", x1: rtl ? PAD_END : PAD_SIDE, x2: rtl ? CW - PAD_SIDE : CW - PAD_END, y1: y(v), y2: y(v) }));
      if (v === 0 || v === Math.round(v)) {
        svg.append(sv("text", { x: rtl ? axisX + 4 : axisX - 4, y: y(v) + 3, "text-anchor": rtl ? "start" : "end" }, nf(v)));
      }
    });
    var every = Math.ceil(n / 5);
    weeks.forEach(function (w, i) {
      if ((n - 1 - i) % every === 0) {
        var lx = x(i), anchor = "middle";  // kept inside the picture at both ends
        if (lx < 30) { lx = 2; anchor = "start"; } else if (lx > CW - 30) { lx = CW - 2; anchor = "end"; }
        svg.append(sv("text", { x: lx, y: CH - 8, "text-anchor": anchor }, fmtDate(w.start, "short")));
      }
    });
    return { svg: svg, x: x, y: y, slot: slot };
  }
  function barChart(weeks, types) {
    var n = weeks.length, max = niceMax(Math.max.apply(null, weeks.map(function (w) { return w.activities; }).concat([1])));
    var f = chartFrame(n, max, weeks, t("activities_per_week"));
    var bw = Math.max(2, Math.min(22, f.slot * 0.7));
    weeks.forEach(function (w, i) {
      var base = 0, g = sv("g", {});
      var parts = types.map(function (ty, k) { return { k: k, v: (w.by_type && w.by_type[ty.key]) || 0 }; });
      var rest = w.activities - parts.reduce(function (s, p) { return s + p.v; }, 0);
      if (rest > 0) parts.push({ k: 7, v: rest });
      parts.forEach(function (p) {
        if (!p.v) return;
        var y0 = f.y(base), y1 = f.y(base + p.v);
        g.append(sv("rect", { class: "s" + (p.k % 8), x: f.x(i) - bw / 2, y: y1, width: bw, height: Math.max(0.5, y0 - y1), rx: 1.5 }));
        base += p.v;
      });
      g.append(sv("title", {}, t("chart_week", { date: fmtDate(w.start, "long"), n: nf(w.activities) })));
      f.svg.append(g);
    });
    return f.svg;
  }
  function lineChart(weeks) {
    var n = weeks.length, max = niceMax(Math.max.apply(null, weeks.map(function (w) { return w.participants; }).concat([1])));
    var f = chartFrame(n, max, weeks, t("participants_per_week"));
    var pts = weeks.map(function (w, i) { return [f.x(i), f.y(w.participants)]; });
    var d = pts.map(function (p, i) { return (i ? "L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1); }).join(" ");
    var bottom = f.y(0).toFixed(1);
    f.svg.append(sv("path", { class: "area", d: d + " L" + pts[n - 1][0].toFixed(1) + " " + bottom + " L" + pts[0][0].toFixed(1) + " " + bottom + " Z" }));
    f.svg.append(sv("path", { class: "line", d: d }));
    if (n <= 26) weeks.forEach(function (w, i) {
      var c = sv("circle", { class: "dot", cx: pts[i][0], cy: pts[i][1], r: 2.5 });
      c.append(sv("title", {}, t("chart_week", { date: fmtDate(w.start, "long"), n: nf(w.participants) })));
      f.svg.append(c);
    });
    return f.svg;
  }
  async function screenTrends(q) {
    var weeks = TREND_WEEKS.indexOf(+q.get("weeks")) >= 0 ? +q.get("weeks") : 8;
    var d = await request("trends?" + netQuery() + "&weeks=" + weeks);
    var ws = d.weeks || [], types = d.types || [];
    var totalA = 0, totalP = 0, active = 0, seen = {};
    ws.forEach(function (w) {
      totalA += w.activities; totalP += w.participants; if (w.activities) active++;
      Object.keys(w.by_type || {}).forEach(function (k) { if (w.by_type[k]) seen[k] = true; });
    });
    var picker = chips(TREND_WEEKS.map(function (w) { return { value: w, label: weekLabel(w) }; }), weeks,
      function (w) { go("/trends", { weeks: w }, true); });
    if (!ws.length || !totalA) {
      return el("div", { "data-screen": "trends" }, picker, emptyBox("chart", t("no_trend")));
    }
    var shownTypes = types.filter(function (ty) { return seen[ty.key]; });
    var legend = el("ul", { class: "legend" }, shownTypes.map(function (ty) {
      return el("li", {}, el("span", { class: "swatch sw" + (types.indexOf(ty) % 8), "aria-hidden": "true" }), ty.label);
    }));
    return el("div", { "data-screen": "trends" }, picker,
      active < 3 ? el("div", { class: "note", text: t("few_weeks") }) : null,
      section(t("activities_per_week"), el("div", { class: "card" },
        el("div", { class: "big", "data-total": "activities", text: t("total_n", { n: nf(totalA) }) }),
        barChart(ws, types), shownTypes.length ? legend : null)),
      section(t("participants_per_week"), el("div", { class: "card" },
        el("div", { class: "big", "data-total": "participants", text: t("total_n", { n: nf(totalP) }) }),
        lineChart(ws))));
  }

  // ---------------------------------------------------------------- report feed
  var FILTER_KEYS = ["type", "since", "until", "member", "status"];
  function validDate(s) { return /^\d{4}-\d{2}-\d{2}$/.test(s || "") ? s : ""; }
  function reportFilters(q) {
    var f = paramsOf(q, FILTER_KEYS);
    if (f.since) f.since = validDate(f.since);
    if (f.until) f.until = validDate(f.until);
    return f;
  }
  function filterQuery(f) {
    return FILTER_KEYS.filter(function (k) { return f[k]; })
      .map(function (k) { return "&" + k + "=" + encodeURIComponent(f[k]); }).join("");
  }
  function reportCard(r, filters) {
    return el("button", { class: "card link", type: "button", "data-report-id": r.id,
      onclick: function () { go("/reports/" + r.id, filters); } },
      el("div", { class: "card-head" }, el("div", { class: "card-title", text: r.type_label }),
        statusBadge(r.status, r.status_label)),
      el("div", { class: "muted" }, el("bdi", { text: fmtDate(r.date) }), " · ",
        el("bdi", { text: t("participants_n", { n: nf(r.participants) }) }),
        r.reference ? el("span", {}, " · ", el("bdi", { class: "ref", text: r.reference })) : null),
      r.snippet ? el("div", { class: "line", text: r.snippet }) : null,
      el("div", { class: "muted line" }, t("by_name", { name: (r.author && r.author.name) || "" }),
        st.net === "all" && r.network ? " · " + r.network.name : ""));
  }
  function select(name, label, allLabel, options, value, onChange) {
    var s = el("select", { name: name, onchange: function () { onChange(s.value); } },
      el("option", { value: "", text: allLabel }),
      options.map(function (o) {
        var label = o.label || o.name;
        if (st.net === "all" && o.network && o.network.name) label += " · " + o.network.name;
        return el("option", { value: String(o.key !== undefined ? o.key : o.id), text: label });
      }));
    s.value = value || "";
    return el("label", {}, label, s);
  }
  function filtersPanel(f, opts) {
    function set(k, v) { var n = Object.assign({}, f); n[k] = v; go("/reports", n, true); }
    function dateInput(k, label) {
      var i = el("input", { type: "date", name: k, value: f[k] || "", onchange: function () { set(k, validDate(i.value)); } });
      return el("label", {}, label, i);
    }
    var active = FILTER_KEYS.filter(function (k) { return f[k]; }).length;
    return el("details", { class: "filters", open: active > 0 },
      el("summary", {}, t("filters"), active ? " · " + nf(active) : ""),
      el("div", { class: "form" },
        select("type", t("type"), t("all_types"), opts.types || [], f.type, function (v) { set("type", v); }),
        select("status", t("status"), t("any_status"), opts.statuses || [], f.status, function (v) { set("status", v); }),
        el("div", { class: "full" }, select("member", t("member"), t("all_members"), opts.members || [], f.member, function (v) { set("member", v); })),
        dateInput("since", t("since")), dateInput("until", t("until")),
        active ? el("button", { class: "btn secondary full", type: "button", text: t("clear_filters"), onclick: function () { go("/reports", {}, true); } }) : null));
  }
  function exportPanel(f, empty) {
    var msg = el("div", { class: "line", role: "status" });
    var buttons = ["csv", "xlsx"].map(function (fmt) {
      return el("button", { class: "btn secondary", type: "button", "data-export": fmt, disabled: empty,
        text: t("export_" + fmt), onclick: async function () {
          buttons.forEach(function (b) { b.disabled = true; });
          msg.className = "line muted"; msg.textContent = t("export_sending");
          try {
            var body = Object.assign({ format: fmt, net: st.net }, f);
            var res = await request("export", { body: body });
            msg.className = "line inline-ok"; msg.textContent = "✓ " + t("export_sent", { n: nf(res.count) });
          } catch (err) {
            msg.className = "line inline-error"; msg.textContent = errorText(err);
          }
          buttons.forEach(function (b) { b.disabled = false; });
        } });
    });
    return el("div", { class: "card export" },
      el("div", { class: "export-head" }, el("b", { text: t("export") }), el("div", { class: "btn-row" }, buttons)),
      el("div", { class: "muted", text: t("export_hint") }), msg);
  }
  async function screenReports(q) {
    var f = reportFilters(q);
    var base = "reports?" + netQuery() + filterQuery(f) + "&limit=20";
    var d = await request(base);
    var list = el("div", { class: "list", "data-list": "reports" }, (d.reports || []).map(function (r) { return reportCard(r, f); }));
    var active = FILTER_KEYS.some(function (k) { return f[k]; });
    var more = el("div", {});
    function moreButton(next) {
      if (!next) { more.replaceChildren(); return; }
      var err = el("div", { class: "inline-error", role: "alert", hidden: true });
      var b = el("button", { class: "btn secondary block", type: "button", "data-action": "more", text: t("load_more"),
        onclick: async function () {
          b.disabled = true; err.hidden = true; b.textContent = t("loading");
          try {
            var page = await request(base + "&before=" + encodeURIComponent(next));
            (page.reports || []).forEach(function (r) { list.append(reportCard(r, f)); });
            moreButton(page.next);
          } catch (e) {
            b.disabled = false; b.textContent = t("load_more"); err.textContent = errorText(e); err.hidden = false;
          }
        } });
      more.replaceChildren(b, err);
    }
    moreButton(d.next);
    var empty = !(d.reports || []).length;
    return el("div", { "data-screen": "reports" },
      filtersPanel(f, d.filters || {}),
      exportPanel(f, empty),
      empty ? emptyBox("empty", active ? t("no_matching_reports") : t("no_reports"),
        active ? el("div", { class: "btn-row" }, el("button", { class: "btn secondary", type: "button", text: t("clear_filters"), onclick: function () { go("/reports", {}, true); } })) : null)
        : list,
      more);
  }

  async function screenReport(id, stale) {
    if (!/^\d+$/.test(id)) throw new ApiError(404, "not_found", "");
    var d = await request("reports/" + id);
    return reportView(d, stale);
  }
  function reportView(d) {
    var r = d.report, tz = tzOf(r.network);
    var msg = el("div", { class: "inline-error", role: "alert", hidden: true });
    var wrap = el("div", { "data-screen": "report", "data-report-id": r.id });
    async function review(status, note) {
      msg.hidden = true;
      Array.prototype.forEach.call(wrap.querySelectorAll("button"), function (b) { b.disabled = true; });
      try {
        var res = await request("reports/" + r.id + "/review", { body: { status: status, note: note || null } });
        wrap.replaceWith(reportView(res));
        toast(t("saved"));
      } catch (err) {
        Array.prototype.forEach.call(wrap.querySelectorAll("button"), function (b) { b.disabled = false; });
        msg.textContent = errorText(err); msg.hidden = false;
      }
    }
    var actions;
    if (d.can_review) {
      // The bot's rule: a flag carries a note, so the page asks for it before sending.
      var note = el("textarea", { name: "note", maxlength: "500", "aria-label": t("flag_note"), placeholder: t("flag_note") });
      var flagBox = el("div", { hidden: true }, note,
        el("div", { class: "btn-row" },
          el("button", { class: "btn danger", type: "button", "data-action": "flag-send", text: t("flag_send"),
            onclick: function () {
              if (!note.value.trim()) { msg.textContent = t("flag_note_needed"); msg.hidden = false; note.focus(); return; }
              review("flagged", note.value.trim());
            } })));
      actions = el("div", {},
        el("div", { class: "btn-row" },
          el("button", { class: "btn", type: "button", "data-action": "reviewed", text: "✓ " + t("mark_reviewed"),
            onclick: function () { review("reviewed", null); } }),
          el("button", { class: "btn danger", type: "button", "data-action": "flag", text: "⚑ " + t("flag"),
            onclick: function () { flagBox.hidden = false; note.focus(); } })),
        flagBox, msg);
    } else {
      actions = el("div", { class: "note", text: t("cannot_review") });
    }
    var fields = el("dl", { class: "fields" });
    var hasFields = (r.fields || []).length > 0;
    var inFields = false;  // the bot's report view may list the description among its fields
    (r.fields || []).forEach(function (fl) {
      if (fl.value === r.description) inFields = true;
      fields.append(el("dt", { text: fl.label }), el("dd", { text: fl.value }));
    });
    var reviewed = r.reviewed_by ? el("div", { class: "muted line", "data-reviewed": "1",
      text: t("reviewed_by", { name: r.reviewed_by, date: r.reviewed_at ? fmtDateTime(r.reviewed_at, tz) : "" }) }) : null;
    add(wrap, [
      el("article", { class: "card" },
        el("div", { class: "card-head" }, el("h2", { class: "card-title", text: r.type_label }), statusBadge(r.status, r.status_label)),
        // The bot's own fields (date, author, reference, ...) when the server sends them.
        hasFields ? (r.age_label ? el("div", { class: "muted", text: r.age_label }) : null) : [
          r.reference ? el("div", { class: "muted" }, el("bdi", { class: "ref", text: r.reference })) : null,
          el("div", { class: "muted", text: fmtDate(r.date, "long") + (r.age_label ? " · " + r.age_label : "") }),
          el("div", { class: "line", text: t("by_name", { name: (r.author && r.author.name) || "" }) }),
          netBadge(r.network)],
        fields,
        r.description && !inFields ? el("div", {}, el("div", { class: "muted", text: t("description") }), el("p", { class: "desc", text: r.description })) : null,
        r.review_note ? el("div", { class: "note", "data-review-note": "1" }, el("b", { text: t("review_note") + ": " }), r.review_note) : null,
        reviewed),
      el("div", { class: "card" }, actions),
      el("button", { class: "linkbtn", type: "button", text: t("back"), onclick: function () { history.back(); } })
    ]);
    return wrap;
  }

  var SCREENS = { overview: screenOverview, people: screenPeople, events: screenEvents, trends: screenTrends, reports: screenReports };

  // ---------------------------------------------------------------- start
  function buildFrame() {
    var s = st.session;
    $top.hidden = false;
    $tabs.replaceChildren.apply($tabs, ROUTES.map(function (r) {
      var b = el("button", { class: "tab", type: "button", text: t("nav_" + r), onclick: function () {
        if (parseHash().parts[0] !== r || parseHash().parts[1]) go("/" + r, {});
      } });
      b.dataset.route = r;
      return b;
    }));
    st.showNet = s.can_all || s.networks.length > 1;
    $picker.hidden = !st.showNet;
    document.getElementById("picker-label").textContent = t("network");
    var opts = s.networks.map(function (n) { return el("option", { value: String(n.id), text: n.name }); });
    if (s.can_all) opts.unshift(el("option", { value: "all", text: t("all_networks") }));
    $net.replaceChildren.apply($net, opts);
    $net.setAttribute("aria-label", t("network"));
    $net.onchange = function () {
      st.net = $net.value;
      var r = parseHash();
      var path = "/" + (ROUTES.indexOf(r.parts[0]) >= 0 ? r.parts[0] : "overview");  // a report of another network would not fit
      var keep = path === "/reports" ? {} : paramsOf(r.q, ["weeks", "silent"]);
      go(path, keep, true);
    };
  }

  async function boot() {
    $main.replaceChildren(loadingView());
    st.initData = getInitData();
    var guess = guessLocale();
    try {
      await loadStrings(guess);
    } catch (err) {
      setLocale(guess, guess === "ar" ? "rtl" : "ltr");
      S = {};
      return fatal(errorView(err, boot));
    }
    if (!st.initData) return fatal(stateView("error", "lock", t("err_no_init")));
    var session;
    try { session = await request("session"); }
    catch (err) { return fatal(errorView(err, canRetry(err) ? boot : null)); }
    if (session.user && session.user.locale && session.user.locale !== st.locale) {
      try { await loadStrings(session.user.locale); } catch (err) { /* keep the first language */ }
    }
    if (!session.networks || (!session.networks.length && !session.can_all)) {
      return fatal(stateView("empty", "empty", t("no_networks")));
    }
    st.session = session;
    if (!history.state) history.replaceState({ depth: 0 }, "", location.href);
    buildFrame();
    if (location.hash.replace(/^#/, "").charAt(0) !== "/") history.replaceState(history.state, "", hashFor("/overview", {}));
    st.lastHash = null;
    render(true);
  }

  function start() {
    $main = document.getElementById("main");
    $tabs = document.getElementById("tabs");
    $title = document.getElementById("title");
    $picker = document.getElementById("picker");
    $net = document.getElementById("net");
    $top = document.getElementById("top");
    $toast = document.getElementById("toast");
    readLaunchParams();
    setupBridge();
    st.initData = getInitData();
    setLocale(guessLocale(), null);
    window.addEventListener("popstate", function () { render(); });
    window.addEventListener("hashchange", function () { render(); });
    // Back to the app after a while (Telegram keeps it open in the background): fresh figures.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && st.session && st.shownAt &&
          Date.now() - st.shownAt > 5 * 60 * 1000 && !document.querySelector(".overlay") &&
          !Array.prototype.some.call(document.querySelectorAll("textarea"), function (x) { return x.value; })) {
        render(true);
      }
    });
    boot();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
