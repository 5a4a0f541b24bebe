"""The sandbox's chat page in headless Chromium, against `prevnet sandbox` (the demo) and the
real bot: help, the registration dialog, edits in place, right-to-left, the menu button."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.i18n import create_i18n
from bot.sandbox.strings import page_texts
from tests.sandbox_helpers import Sandbox

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
COORDINATOR, KHALED, MARIE = 5_000_001, 5_000_002, 5_000_005
WAIT = 30_000  # ms: an upper bound for the bot's answer on a loaded machine

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not os.path.exists(CHROMIUM) and not shutil.which("chromium"):
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = Sandbox(tmp_path_factory.mktemp("sandbox"), "--demo")
    try:
        running.wait_answering()
        running.wait_bot_up()
        yield running
    finally:
        code = running.stop()
    assert code == 0, running.output()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 820})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, errors


def ready(page: Any) -> None:
    """The page has its texts and its chats (it shows nothing before: html.pending)."""
    page.wait_for_function("() => !document.documentElement.classList.contains('pending')")


def chat(page: Any, user_id: int) -> Any:
    return page.locator(f'.chat[data-user-id="{user_id}"]')


def send(page: Any, user_id: int, text: str) -> None:
    box = chat(page, user_id)
    box.locator(".composer .text").fill(text)
    box.locator(".composer .send").click()


def bot_message(page: Any, user_id: int, contains: str, has: str | None = None) -> Any:
    inner = page.locator(has) if has else None
    found = chat(page, user_id).locator(".msg.bot", has_text=contains, has=inner).last
    found.wait_for(timeout=WAIT)
    return found


def test_coordinator_and_member_side_by_side(sandbox: Sandbox, page: Any) -> None:
    page.goto(f"{sandbox.base_url}/?chats={COORDINATOR},{KHALED}")
    ready(page)
    assert page.locator(".chat").count() == 2
    coordinator, member = chat(page, COORDINATOR), chat(page, KHALED)
    # Arabic people's chats are right-to-left, and so is their text
    for box in (coordinator, member):
        assert box.get_attribute("dir") == "rtl"
        assert box.locator(".messages").evaluate("e => getComputedStyle(e).direction") == "rtl"
    send(page, COORDINATOR, "/digest")
    send(page, KHALED, "/help")
    bot_message(page, KHALED, "/mydata")
    coordinator.locator(".msg.bot img").first.wait_for(timeout=WAIT)  # the digest's chart
    digest = bot_message(page, COORDINATOR, "شبكة صيدا للوقاية", has=".ikb button")
    assert digest.locator(".ikb button").count() >= 1
    assert digest.locator("b").count() >= 1  # <b> of the bot's HTML, as formatting
    # the command menu: the coordinator's, in Arabic; typing "/" opens it
    coordinator.locator(".composer .text").fill("/")
    commands = coordinator.locator(".commands .c")
    commands.first.wait_for()
    names = commands.all_inner_texts()
    assert "/digest" in names and "/help" in names
    coordinator.locator(".composer .text").fill("")
    coordinator.locator(".composer .text").press("Escape")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sandbox-side-by-side.png"))


def test_the_page_speaks_arabic_right_to_left_and_switches_to_french(
    sandbox: Sandbox, page: Any
) -> None:
    """The page's own texts are the catalogue's, in the page's language (Arabic by default);
    each chat keeps its person's language and direction; the picker switches the page."""
    i18n = create_i18n("en")
    ar, fr = page_texts(i18n, "ar"), page_texts(i18n, "fr")
    invites = sandbox.get("/sandbox/api/info")["invites"]
    page.goto(f"{sandbox.base_url}/?chats={COORDINATOR},{KHALED},{MARIE}")
    ready(page)
    top = page.locator(".topbar")

    def shows(texts: dict[str, Any]) -> None:
        words = texts["strings"]
        assert page.get_attribute("html", "lang") == texts["locale"]
        assert page.get_attribute("html", "dir") == texts["dir"]
        assert top.evaluate("e => getComputedStyle(e).direction") == texts["dir"]
        assert page.title() == words["page_title"]
        assert top.locator(".brand b").inner_text() == words["page_title"]
        form = top.locator("#add-person")
        assert form.locator("button[type=submit]").inner_text() == words["add_person"]
        assert form.locator("input[name=name]").get_attribute("placeholder") == words["new_name"]
        assert top.locator("#add-chat").inner_text() == words["add_chat"]
        assert top.locator("#add-chat").get_attribute("title") == words["add_chat_title"]
        chips = top.locator(".invite")
        assert chips.count() == len(invites)
        for chip, invite in zip(chips.all(), invites, strict=True):
            role = words["invite_role"].replace("{role}", texts["roles"][invite["role"]])
            assert " ".join(chip.inner_text().split()) == f"{role} {invite['code']}"
        # the row above each phone is the page's: its direction, its words, the bot's roles
        for user_id in (COORDINATOR, MARIE):
            owner = chat(page, user_id).locator(".owner")
            assert owner.evaluate("e => getComputedStyle(e).direction") == texts["dir"]
            assert owner.locator(".close").get_attribute("title") == words["close_chat"]
        picked = chat(page, COORDINATOR).locator(".who option:checked").inner_text()
        assert texts["roles"]["coordinator"] in picked and "العربية" in picked

    shows(ar)
    # right-to-left: the brand at the right, the form for a new person to its left
    brand, form = (top.locator(sel).bounding_box() for sel in (".brand", "#add-person"))
    assert brand["x"] > form["x"]
    # Marie's phone stays French and left-to-right inside the Arabic page
    marie = chat(page, MARIE)
    assert marie.get_attribute("dir") == "ltr"
    assert marie.locator(".slash").get_attribute("title") == fr["strings"]["commands"]
    assert chat(page, KHALED).locator(".slash").get_attribute("title") == ar["strings"]["commands"]
    send(page, KHALED, "/help")  # something in a chat for the screenshot
    bot_message(page, KHALED, "/mydata")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sandbox-ar.png"))

    page.select_option("#page-language", "fr")
    shows(fr)
    assert "lang=fr" in page.url
    assert chat(page, KHALED).get_attribute("dir") == "rtl"  # Khaled's phone is still Arabic
    page.goto(f"{sandbox.base_url}/?chats={COORDINATOR}")  # no ?lang=: the browser remembers
    ready(page)
    assert page.get_attribute("html", "lang") == "fr"
    # no chat shown: the welcome, in the language the address asks for
    page.goto(f"{sandbox.base_url}/?chats=&lang=ar")
    welcome = page.locator("#welcome")
    welcome.wait_for()
    assert welcome.locator("h2").inner_text() == ar["strings"]["welcome_title"]
    assert welcome.locator("p").all_inner_texts() == [ar["strings"]["welcome_add"],
                                                       ar["strings"]["welcome_side"]]
    page.screenshot(path=str(ARTIFACTS / "sandbox-welcome-ar.png"))


def test_newcomer_joins_with_the_invite_and_edits_happen_in_place(
    sandbox: Sandbox, page: Any
) -> None:
    page.goto(f"{sandbox.base_url}/?chats={MARIE}")
    form = page.locator("#add-person")
    form.locator("input[name=name]").fill("Sam Newcomer")
    form.locator("select[name=language]").select_option("en")
    form.locator("button[type=submit]").click()
    sam = page.locator(".chat").nth(1)
    sam.wait_for()
    assert sam.get_attribute("dir") == "ltr"
    assert chat(page, MARIE).get_attribute("dir") == "ltr"  # French, left-to-right
    sam_id = int(sam.get_attribute("data-user-id"))
    # a new chat has no input yet, only START (as Telegram shows it)
    assert sam.locator(".composer").is_hidden()
    sam.locator(".start-area button.start").click()
    bot_message(page, sam_id, "")
    # /help before joining: the stranger's help
    send(page, sam_id, "/help")
    bot_message(page, sam_id, "To join your Prevention Network")
    # the invite, as a deep link opens it; the dialog asks for the language
    code = sandbox.get("/sandbox/api/info")["invites"][0]["code"]
    send(page, sam_id, f"/start {code}")
    question = sam.locator(".msg.bot", has=page.locator(".ikb button")).last
    question.wait_for(timeout=WAIT)
    message_id = question.get_attribute("data-id")
    before = question.locator(".bubble .text").inner_text()
    english = question.locator(".ikb button", has_text="English")
    english.click()
    same = sam.locator(f'.msg[data-id="{message_id}"]')
    page.wait_for_function(
        "([sel, old]) => { const m = document.querySelector(sel);"
        " return m && m.querySelector('.bubble .text').innerText !== old; }",
        arg=[f'.chat[data-user-id="{sam_id}"] .msg[data-id="{message_id}"]', before],
        timeout=WAIT,
    )
    assert same.count() == 1  # changed in place, not a new message
    assert same.locator(".meta").inner_text().startswith("edited")


def test_formatting_is_rendered_safely_and_the_menu_button_opens_a_signed_web_app(
    sandbox: Sandbox, page: Any
) -> None:
    from aiogram.utils.web_app import check_webapp_signature

    token = sandbox.child_env()["BOT_TOKEN"]
    sandbox.bot_api(
        "sendMessage", chat_id=MARIE, parse_mode="HTML",
        text='<b>gras</b> &lt;img src=x onerror="window.pwned=1"&gt; <i>it</i> '
             '<a href="https://example.org/">lien</a> <code>x &amp; y</code>',
    )
    app_url = f"{sandbox.base_url}/static/app.html"
    sandbox.bot_api("setChatMenuButton", chat_id=MARIE, menu_button={
        "type": "web_app", "text": "Tableau", "web_app": {"url": app_url},
    })
    page.goto(f"{sandbox.base_url}/?chats={MARIE}")
    message = bot_message(page, MARIE, "gras")
    text = message.locator(".bubble .text")
    assert text.locator("b").inner_text() == "gras" and text.locator("i").inner_text() == "it"
    assert text.locator("a").get_attribute("href") == "https://example.org/"
    assert text.locator("code").inner_text() == "x & y"
    assert text.locator("img").count() == 0
    assert '<img src=x onerror="window.pwned=1">' in text.inner_text()
    assert page.evaluate("window.pwned") is None
    menu = chat(page, MARIE).locator(".menu-button")
    page.wait_for_function(
        "() => document.querySelector('.menu-button').textContent === 'Tableau'", timeout=WAIT
    )
    with page.context.expect_page() as opened:
        menu.click()
    web_app = opened.value
    web_app.wait_for_url("**/static/app.html#*", timeout=WAIT)
    fragment = dict(parse_qsl(web_app.url.split("#", 1)[1]))
    assert fragment["tgWebAppVersion"] == "7.0" and fragment["tgWebAppPlatform"] == "web"
    assert json.loads(fragment["tgWebAppThemeParams"])["bg_color"]
    init_data = fragment["tgWebAppData"]
    assert check_webapp_signature(token, init_data)
    assert not check_webapp_signature(token.replace(token[-1], "Z" if token[-1] != "Z" else "Y"),
                                      init_data)
    fields = dict(parse_qsl(init_data))
    assert set(fields) == {"auth_date", "query_id", "user", "hash"}
    user = json.loads(fields["user"])
    assert user["id"] == MARIE and user["first_name"] == "Marie" and user["language_code"] == "fr"


def test_a_broadcast_arrives_side_by_side_and_the_understood_count_rises(
    sandbox: Sandbox, page: Any
) -> None:
    page.goto(f"{sandbox.base_url}/?chats={COORDINATOR},{KHALED},{MARIE}")
    coordinator = chat(page, COORDINATOR)
    send(page, COORDINATOR, "/broadcast")
    audience = coordinator.locator('.ikb button[data-callback="bcaud:all"]').last
    audience.wait_for(timeout=WAIT)
    audience.click()
    page.wait_for_function(
        "sel => !document.querySelector(sel)",  # the step's message was edited
        arg=f'.chat[data-user-id="{COORDINATOR}"] .ikb button[data-callback="bcaud:all"]',
        timeout=WAIT,
    )
    text = "اجتماع الخميس الساعة الخامسة"
    send(page, COORDINATOR, text)
    go = coordinator.locator('.ikb button[data-callback="bcgo:send"]').last
    go.wait_for(timeout=WAIT)
    go.click()
    for member in (KHALED, MARIE):
        bot_message(page, member, text, has=".ikb button")
    ack = chat(page, KHALED).locator('.msg.bot .ikb button[data-callback^="ack:"]').last
    ack.click()
    toast = chat(page, KHALED).locator(".toast")
    toast.wait_for(timeout=WAIT)
    assert toast.inner_text() == "شكرًا!"
    page.wait_for_function(  # the coordinator's progress: one understood
        "sel => [...document.querySelectorAll(sel)].some("
        "m => /فهموا: (1|١)(\\D|$)/.test(m.innerText))",
        arg=f'.chat[data-user-id="{COORDINATOR}"] .msg.bot .bubble',
        timeout=60_000,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sandbox-broadcast.png"))


def test_the_coordinators_menu_button_opens_the_dashboard_signed_in(
    sandbox: Sandbox, page: Any
) -> None:
    """The real bot sets the coordinator's Dashboard menu button (the sandbox sets WEBAPP_URL);
    pressing it opens the dashboard with initData signed as Telegram signs it, and the
    dashboard, which knows nothing of the sandbox, signs Rana in: Saida's week, in Arabic."""
    page.goto(f"{sandbox.base_url}/?chats={COORDINATOR}")
    box = chat(page, COORDINATOR)
    box.locator(".menu-button.web-app").wait_for(timeout=WAIT)
    with page.context.expect_page() as opened:
        box.locator(".menu-button").click()
    dashboard = opened.value
    dashboard.wait_for_selector("[data-screen=overview] [data-stat=activities]", timeout=WAIT)
    assert dashboard.get_attribute("html", "dir") == "rtl"
    assert "شبكة صيدا للوقاية" in dashboard.inner_text("body")
    ARTIFACTS.mkdir(exist_ok=True)
    dashboard.set_viewport_size({"width": 390, "height": 760})
    dashboard.screenshot(path=str(ARTIFACTS / "sandbox-dashboard-ar.png"))
