"""The dashboard page in headless Chromium (Debian's, through Playwright) against the real
dashboard server and the seeded world of tests/dashboard_helpers.py, with a mocked
``window.Telegram.WebApp`` whose initData is signed by the test token.

One browser and one server for the module (the review test changes a report the others do
not look at). Screenshots go to tests/artifacts/ (not committed): look at them.
The browser tests are skipped, with the reason, where Playwright or Chromium is missing;
the static checks of the page's files (texts, CSP, logical CSS) always run.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import format_decimal

from bot.dashboard.strings import STRINGS, translated
from bot.i18n import create_i18n
from tests.dashboard_helpers import (
    ADMIN,
    IRBID_COORDINATOR,
    LINA,
    RANA,
    SAMI,
    DashboardThread,
    Running,
    tampered,
)

try:
    from playwright import sync_api
except ImportError:  # the static checks below still run
    sync_api = None
CHROMIUM = Path("/usr/bin/chromium")

STATIC = Path(__file__).resolve().parent.parent / "bot" / "dashboard" / "static"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
BIDI_MARKS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")

# The mocked Telegram.WebApp: what the page needs of telegram-web-app.js.
MOCK = """
(() => {
  const calls = [];
  const back = { visible: false, handlers: [],
    show() { this.visible = true; calls.push("back:show"); },
    hide() { this.visible = false; calls.push("back:hide"); },
    onClick(f) { this.handlers.push(f); },
    offClick(f) { this.handlers = this.handlers.filter(h => h !== f); },
    press() { this.handlers.forEach(h => h()); } };
  window.__tg = { calls, back };
  window.Telegram = { WebApp: {
    initData: %(init)s, initDataUnsafe: { user: %(user)s }, colorScheme: "light",
    themeParams: { bg_color: "#ffffff", secondary_bg_color: "#eef1f5", text_color: "#111111",
                   button_color: "#2f7fd8", button_text_color: "#ffffff" },
    ready() { calls.push("ready"); }, expand() { calls.push("expand"); }, BackButton: back } };
})();
"""


def ar(n: int) -> str:
    """A number as the page writes it in Arabic: as the bot's messages do (bot/text/formats.py)."""
    return format_decimal(n, locale="ar")


def plain(text: str) -> str:
    return BIDI_MARKS.sub("", text).strip()


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardThread]:
    thread = DashboardThread(tmp_path_factory.mktemp("dashboard-browser"))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def server(dash: DashboardThread) -> Running:
    assert dash.running is not None
    return dash.running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if sync_api is None:
        pytest.skip("playwright is not installed (pip install '.[test]')")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium; scripts/test.sh "
                    "installs it as root with apt-get)")
    with sync_api.sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        except Exception as exc:  # a broken install: say so instead of failing every test
            pytest.skip(f"chromium does not start: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def texts() -> dict[str, dict[str, str]]:
    i18n = create_i18n("en")
    return {locale: translated(i18n, locale) for locale in ("ar", "en", "fr")}


def open_page(browser: Any, server: Running, init_data: str | None, route: str = "",
              width: int = 360, height: int = 740, language: str = "en") -> Any:
    context = browser.new_context(viewport={"width": width, "height": height}, locale=language)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The CSP refusing something (an inline style, a script) shows as a console error.
    page.on("console",
            lambda m: m.type == "error" and "Refused" in m.text and errors.append(m.text))
    page.errors = errors
    if init_data is not None:
        user = dict(urllib.parse.parse_qsl(init_data)).get("user", "null")
        page.add_init_script(MOCK % {"init": json.dumps(init_data), "user": user})
    page.goto(server.app_url + route)
    return page


def wait_screen(page: Any, name: str) -> Any:
    page.wait_for_selector(f"[data-screen={name}]")
    return page


def api_get(server: Running, path: str, tg_id: int) -> dict[str, Any]:
    request = urllib.request.Request(server.base_url + "/app/api/" + path,
                                     headers=server.headers(tg_id))
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=False)


def test_arabic_overview_shows_the_weeks_figures_right_to_left(browser, server, texts):
    """Hana (Irbid's coordinator, Arabic): this week's figures in the bot's digits, the
    page mirrored, nothing wider than the phone."""
    week = server.world.this_week
    page = wait_screen(open_page(browser, server, server.init_data(IRBID_COORDINATOR)), "overview")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"

    def value(key: str) -> str:
        return plain(page.inner_text(f"[data-stat={key}] .stat-value"))

    assert value("activities") == ar(week["activities"])
    assert value("participants") == ar(week["participants"])
    reporters = texts["ar"]["reporters_of"].format(
        n=ar(week["reporters"]), total=ar(week["members"]))
    assert value("reporters") == plain(reporters)
    assert ar(50) in value("rate")
    # The same digits as the bot's messages: no Arabic-Indic ones beside them.
    assert not re.search("[\u0660-\u0669]", value("rate") + value("participants"))
    # Against last week (3 activities): one more.
    note = plain(page.inner_text("[data-stat=activities] .stat-note"))
    assert ar(1) in note
    assert plain(texts["ar"]["more_than_last_week"].split("{n}")[0]) in note
    # The next event of Irbid, not Saida's.
    events = page.inner_text("[data-screen=overview]")
    assert "First aid training" in events and "Saida meeting" not in events
    # Mirrored: the first tile sits to the right of the second, the title at the right edge.
    first = page.locator("[data-stat=activities]").bounding_box()
    second = page.locator("[data-stat=participants]").bounding_box()
    assert first["x"] > second["x"]
    title = page.locator("#title").bounding_box()
    assert title["x"] + title["width"] > 360 - 40
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert "ready" in page.evaluate("window.__tg.calls")
    shot(page, "dashboard-ar-overview.png")
    page.set_viewport_size({"width": 1024, "height": 740})
    shot(page, "dashboard-ar-overview-wide.png")
    # Every screen fits the phone's width.
    page.set_viewport_size({"width": 360, "height": 740})
    for route, screen in (("people", "people"), ("events", "events"), ("trends", "trends"),
                          ("reports", "reports")):
        page.click(f".tab[data-route={route}]")
        wait_screen(page, screen)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, route
    page.click("[data-report-id] >> nth=0")
    wait_screen(page, "report")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.errors == []
    page.context.close()


def test_feed_shows_a_known_report_and_not_another_networks(browser, server, texts):
    world = server.world
    page = open_page(browser, server, server.init_data(ADMIN),
                     f"#/reports?net={world.irbid}", width=390, height=844)
    wait_screen(page, "reports")
    card = page.locator(f"[data-report-id='{world.reports['R1']}']")
    text = card.inner_text()
    assert "Football and talk" in text and "Rana" in text
    assert texts["en"]["participants_n"].format(n="20") in text
    feed = page.inner_text("main")
    assert world.saida_secret not in feed and "Nour" not in feed
    # The admin's picker names Irbid; English figures.
    assert page.get_attribute("html", "dir") == "ltr"
    assert page.eval_on_selector("#net", "s => s.value") == str(world.irbid)
    shot(page, "dashboard-en-reports.png")
    # A filter goes into the hash and narrows the list.
    page.click("details.filters summary")
    page.select_option("select[name=status]", "reviewed")
    page.wait_for_function("location.hash.includes('status=reviewed')")
    page.wait_for_selector(f"[data-report-id='{world.reports['R2']}']")
    assert page.locator(f"[data-report-id='{world.reports['R1']}']").count() == 0
    # The export of what is shown goes to the admin's chat with the bot.
    page.click("[data-export=xlsx]")
    page.wait_for_selector(".export .inline-ok")
    assert texts["en"]["export_sent"].format(n="1") in page.inner_text(".export")
    (sent,) = server.documents(ADMIN)
    assert sent["document"]["file_name"].endswith(".xlsx")
    assert page.errors == []
    page.context.close()


def test_review_and_flag_change_the_report(browser, server, texts):
    world = server.world
    rid = world.reports["R3"]
    page = open_page(browser, server, server.init_data(ADMIN), f"#/reports/{rid}?net={world.irbid}")
    wait_screen(page, "report")
    page.click("[data-action=reviewed]")
    page.wait_for_selector("[data-screen=report] [data-status=reviewed]")
    assert api_get(server, f"reports/{rid}", ADMIN)["report"]["status"] == "reviewed"
    # Flagging asks for the note first (the bot's rule), then sends it.
    page.click("[data-action=flag]")
    page.click("[data-action=flag-send]")
    assert texts["en"]["flag_note_needed"] in page.inner_text("[data-screen=report]")
    page.fill("textarea[name=note]", "Numbers look <b>odd</b>")
    page.click("[data-action=flag-send]")
    page.wait_for_selector("[data-screen=report] [data-status=flagged]")
    assert "Numbers look <b>odd</b>" in page.inner_text("[data-review-note]")  # text, not HTML
    detail = api_get(server, f"reports/{rid}", ADMIN)["report"]
    assert detail["status"] == "flagged" and detail["review_note"] == "Numbers look <b>odd</b>"
    assert page.errors == []
    page.context.close()


def test_nudge_a_silent_member_after_confirming(browser, server, dash, texts):
    world = server.world
    page = wait_screen(open_page(browser, server, server.init_data(IRBID_COORDINATOR), "#/people"),
                       "people")
    sami = page.locator(f"[data-member-id='{world.membership[SAMI]}']")
    sami.locator("[data-action=nudge]").click()
    page.get_by_role("dialog").get_by_role("button", name=texts["ar"]["send"]).click()
    sami.locator("[data-nudged]").wait_for()
    assert texts["ar"]["nudge_sent"] in sami.inner_text()
    dash.call(lambda running: running.flush())
    assert server.api.messages(SAMI), "the nudge reached Sami's chat"
    # Reloaded, the member shows as reminded today, without a button.
    page.reload()
    wait_screen(page, "people")
    assert sami.locator("[data-action=nudge]").count() == 0
    assert texts["ar"]["nudged_today"] in sami.inner_text()
    # Leaving the screen with the question open answers it "cancel".
    lina = page.locator(f"[data-member-id='{world.membership[LINA]}']")
    lina.locator("[data-action=nudge]").click()
    page.get_by_role("dialog").wait_for()
    page.evaluate("location.hash = '#/events'")
    wait_screen(page, "events")
    assert page.locator(".overlay").count() == 0
    dash.call(lambda running: running.flush())
    assert server.api.messages(LINA) == []
    assert page.errors == []
    page.context.close()


def test_tampered_init_data_shows_the_error_and_nothing_of_the_network(browser, server, texts):
    page = open_page(browser, server, tampered(server.init_data(IRBID_COORDINATOR)))
    page.wait_for_selector("[data-state=error]")
    body = page.inner_text("body")
    assert texts["ar"]["err_unauthorized"] in body
    for secret in ("Irbid", "Rana", "Football", "First aid", server.world.saida_secret):
        assert secret not in page.content()
    assert page.locator("[data-screen]").count() == 0
    page.context.close()
    # Opened outside Telegram (no initData at all): the way back to the bot.
    page = open_page(browser, server, None)
    page.wait_for_selector("[data-state=error]")
    assert texts["en"]["err_no_init"] in page.inner_text("body")
    page.context.close()


def test_hash_route_survives_a_reload_and_back_is_telegrams(browser, server):
    page = wait_screen(open_page(browser, server, server.init_data(ADMIN)), "overview")
    assert page.eval_on_selector("#net", "s => s.value") == "all"
    page.click(".tab[data-route=trends]")
    wait_screen(page, "trends")
    page.click("[data-screen=trends] .chip >> nth=2")  # one year
    page.wait_for_function("location.hash.includes('weeks=52')")
    wait_screen(page, "trends")
    assert page.evaluate("window.__tg.back.visible") is True
    assert page.locator("[data-screen=trends] svg.chart").count() >= 1
    page.reload()
    wait_screen(page, "trends")
    assert "weeks=52" in page.evaluate("location.hash")
    assert page.get_attribute("[data-screen=trends] .chip >> nth=2", "aria-pressed") == "true"
    assert page.get_attribute(".tab[data-route=trends]", "aria-current") == "page"
    # Telegram's back button: history back, to the overview, where it hides again.
    page.evaluate("window.__tg.back.press()")
    wait_screen(page, "overview")
    assert page.evaluate("window.__tg.back.visible") is False
    assert page.errors == []
    page.context.close()


def test_a_network_with_only_its_coordinator_is_not_praised(browser, server, texts):
    """A new network: its coordinator is listed, never silent; "Everyone reported, well
    done!" would praise what nobody did. The page says there are no members yet."""
    data = api_get(server, "participation?weeks=4", IRBID_COORDINATOR)
    data["members"] = [m for m in data["members"] if m["role"] == "coordinator"]
    assert data["members"]
    context = browser.new_context(viewport={"width": 360, "height": 740})
    context.route("**/app/api/participation*", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(data)))
    page = context.new_page()
    user = dict(urllib.parse.parse_qsl(server.init_data(IRBID_COORDINATOR))).get("user", "null")
    page.add_init_script(MOCK % {"init": json.dumps(server.init_data(IRBID_COORDINATOR)),
                                 "user": user})
    page.goto(server.app_url + "#/people")
    wait_screen(page, "people")
    body = page.inner_text("[data-screen=people]")
    assert texts["ar"]["no_members"] in body
    assert texts["ar"]["nobody_silent"] not in body
    page.context.close()


def test_a_member_is_told_the_dashboard_is_for_coordinators(browser, server, texts):
    page = open_page(browser, server, server.init_data(RANA))
    page.wait_for_selector("[data-state=error]")
    assert texts["en"]["err_forbidden"] in page.inner_text("body")
    assert "Irbid" not in page.content() and page.locator("[data-screen]").count() == 0
    page.context.close()


def test_launch_parameters_from_the_hash_without_the_webapp_script(browser, server):
    """Telegram's clients put tgWebAppData and the theme in the hash; the page keeps them,
    puts its route in the hash, talks back through TelegramWebviewProxy."""
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.add_init_script(
        "window.__events = []; window.TelegramWebviewProxy = "
        "{ postEvent(type, data) { window.__events.push([type, JSON.parse(data)]); } };"
    )
    theme = json.dumps({"bg_color": "#17212b", "text_color": "#f5f5f5", "button_color": "#5288c1"})
    launch = urllib.parse.urlencode({
        "tgWebAppData": server.init_data(ADMIN), "tgWebAppVersion": "8.0",
        "tgWebAppPlatform": "android", "tgWebAppThemeParams": theme,
    })
    page.goto(server.app_url + "#" + launch)
    wait_screen(page, "overview")
    assert page.evaluate("location.hash") == "#/overview"
    assert page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--tg-theme-bg-color')"
    ).strip() == "#17212b"
    events = page.evaluate("window.__events")
    assert ["web_app_ready", {}] in events
    page.click(".tab[data-route=events]")
    wait_screen(page, "events")
    assert page.evaluate("window.__events.at(-1)") == [
        "web_app_setup_back_button", {"is_visible": True}]
    page.reload()  # the signed data is kept for the session
    wait_screen(page, "events")
    page.evaluate("window.Telegram.WebView.receiveEvent('back_button_pressed', null)")
    wait_screen(page, "overview")
    assert page.evaluate("window.__events.at(-1)") == [
        "web_app_setup_back_button", {"is_visible": False}]
    context.close()


def test_a_lost_connection_offers_a_retry(browser, server, texts):
    """Reads are retried quietly on a weak connection; when they still fail, the page says
    so and a tap on "Try again" loads the screen."""
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.add_init_script(MOCK % {"init": json.dumps(server.init_data(ADMIN)), "user": "null"})
    tries: list[str] = []

    def drop(route: Any) -> None:
        tries.append(route.request.url)
        route.abort("internetdisconnected")

    page.route("**/app/api/events*", drop)
    page.goto(server.app_url + "#/events")
    page.wait_for_selector("[data-state=error]")
    assert texts["en"]["err_offline"] in page.inner_text("main")
    assert len(tries) == 3  # the first try and two quiet retries
    page.unroute("**/app/api/events*")
    page.get_by_role("button", name=texts["en"]["retry"]).click()
    wait_screen(page, "events")
    assert "First aid training" in page.inner_text("main")
    context.close()


def test_every_text_of_the_page_is_in_the_catalogue(texts):
    script = (STATIC / "app.js").read_text()
    used = {k for k in re.findall(r'\bt\("(\w+)"', script) if not k.endswith("_")}
    used |= {f"weeks_{n}" for n in (4, 8, 26, 52)} | {"export_csv", "export_xlsx"}
    used |= {f"nav_{r}" for r in ("overview", "people", "events", "trends", "reports")}
    assert len(used) > 80
    assert set(STRINGS) == used  # none missing, none left over
    for locale in ("ar", "fr"):
        same = {k for k, v in texts[locale].items() if v == texts["en"][k]}
        assert same <= {"export_csv", "participation", "description", "type", "export_xlsx"}, same


def test_the_page_keeps_to_the_csp_and_logical_css():
    html = (STATIC / "index.html").read_text()
    script = (STATIC / "app.js").read_text()
    css = (STATIC / "app.css").read_text()
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="{{asset:app.js}}" defer>']
    assert "<style" not in html and "style=" not in html and "http" not in html
    assert "innerHTML" not in script.replace("never innerHTML", "")
    assert not re.search(r"\beval\(|new Function|setAttribute\(\"style|insertAdjacentHTML", script)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", script)
    physical = re.compile(r"(?<![-\w])(left|right|(margin|padding|border)-(left|right)[\w-]*|"
                          r"float|text-align\s*:\s*(left|right))\s*:")
    assert physical.findall(css) == []
    assert "--tg-theme-bg-color" in css and "var(--tg-theme-button-color, #" in css
