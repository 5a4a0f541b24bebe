"""The sandbox's parts in-process: the seed, the chat page's API over the local Bot API (with
a real aiogram Bot as the bot), a Web App's signed initData, the child's environment."""

from __future__ import annotations

import asyncio
import re
import tomllib
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonWebApp,
    ReplyKeyboardMarkup,
    WebAppInfo,
)
from aiogram.utils.web_app import check_webapp_signature, safe_parse_webapp_init_data
from sqlalchemy import func, select

from bot.i18n import create_i18n
from bot.sandbox import runner, seed, webapp
from bot.sandbox.page import SandboxBotAPI
from bot.sandbox.strings import STRINGS, page_texts, translated
from storage.engine import create_engine, create_session_pool
from storage.models import Invite, Membership, Network, utcnow
from storage.models.events import Event, EventRsvp
from storage.models.reports import Report

ROOT = Path(__file__).resolve().parents[1]
COORDINATOR = seed.COORDINATOR.tg_id


async def rows(url: str, query: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        async with create_session_pool(engine)() as session:
            return list((await session.execute(query)).all())
    finally:
        await engine.dispose()


async def test_the_demo_seed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    now = utcnow()
    seeded = await seed.seed(url, demo=True, now=now)
    [(network,)] = await rows(url, select(Network))
    assert (network.slug, network.locale, network.timezone) == ("saida", "ar", "Asia/Beirut")
    members = await rows(url, select(Membership.role, func.count()).group_by(Membership.role))
    assert dict(members) == {"coordinator": 1, "member": 4}
    languages = {p.language for p in seeded.people if p.role}
    assert languages == {"ar", "fr"}
    events = {e.kind: e for (e,) in await rows(url, select(Event))}
    assert events["training"].ends_at < now < events["meeting"].starts_at
    attended = await rows(url, select(func.count()).select_from(EventRsvp).where(
        EventRsvp.event_id == events["training"].id, EventRsvp.attended.is_(True)))
    assert attended == [(3,)]
    reports = [r for (r,) in await rows(url, select(Report))]
    assert len(reports) == 12
    assert all(now - timedelta(weeks=8) <= r.created_at <= now for r in reports)
    assert len({(now - r.created_at).days // 7 for r in reports}) >= 7  # spread over weeks
    assert all(r.notified_at is not None for r in reports)  # no flood of notices at start
    assert [i.role for i in seeded.invites] == ["member"]  # for newcomers in the room
    assert seeded.admin_ids == [seed.OPERATOR_ID]


async def test_the_empty_seed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    seeded = await seed.seed(url, demo=False)
    assert len(await rows(url, select(Network))) == 1
    assert await rows(url, select(Membership)) == []
    codes = {code for (code,) in await rows(url, select(Invite.code))}
    assert codes == {i.code for i in seeded.invites}
    assert sorted(i.role for i in seeded.invites) == ["coordinator", "member"]
    assert [p.tg_id for p in seeded.people] == [seed.OPERATOR_ID]


def test_init_data_is_signed_as_telegram_signs_it() -> None:
    token = "7000000001:AAbcdefghijklmnopqrstuvwxyz012345678"
    user = {"id": 5, "is_bot": False, "first_name": "رنا", "last_name": "حداد",
            "language_code": "ar"}
    data = webapp.init_data(token, user, auth_date=1_700_000_000, query_id="AAQ1")
    assert check_webapp_signature(token, data)
    assert not check_webapp_signature("7000000001:AAother", data)
    parsed = safe_parse_webapp_init_data(token, data)
    assert parsed.user is not None and parsed.user.first_name == "رنا"
    assert parsed.query_id == "AAQ1" and int(parsed.auth_date.timestamp()) == 1_700_000_000
    fields = dict(parse_qsl(data))
    assert webapp.data_check_string(fields).split("\n")[0].startswith("auth_date=")
    url = webapp.launch_url("http://127.0.0.1:9/app/#old", token, user)
    base, fragment = url.split("#", 1)
    assert base == "http://127.0.0.1:9/app/"
    params = dict(parse_qsl(fragment))
    assert check_webapp_signature(token, params["tgWebAppData"])
    assert params["tgWebAppVersion"] == "7.0" and params["tgWebAppPlatform"] == "web"


def test_the_child_gets_a_clean_environment(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATA_KEY", "REDIS_URL", "WEBHOOK_URL", "BOT_TOKEN", "EXPORT_PSEUDONYM_KEY"):
        monkeypatch.setenv(name, "from-outside")
    env = runner.child_env(token="1:x", api_url="http://127.0.0.1:1", database_url="sqlite://",
                           admin_ids=[7], webapp_port=8091, home=tmp_path, log_level="INFO")
    assert "from-outside" not in env.values()
    assert env["BOT_TOKEN"] == "1:x" and env["TELEGRAM_API_URL"] == "http://127.0.0.1:1"
    assert env["WEBAPP_URL"] == "http://127.0.0.1:8091/app/" and env["WEBAPP_PORT"] == "8091"
    assert env["ADMIN_IDS"] == "7" and env["HOME"] == str(tmp_path)
    bot_id, token = runner.make_token()
    prefix, secret = token.split(":")
    assert prefix == str(bot_id) and len(secret) == 35


def test_the_unknown_webapp_settings_are_harmless_to_the_bot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.config import Settings

    monkeypatch.setenv("WEBAPP_URL", "http://127.0.0.1:8091/app/")
    monkeypatch.setenv("WEBAPP_HOST", "127.0.0.1")
    monkeypatch.setenv("WEBAPP_PORT", "8091")
    Settings(_env_file=None)  # extra="ignore", or the fields of the dashboard


def test_rate_limits_only_with_telegram_limits() -> None:
    seeded = seed.Seeded(network="n")
    off = runner.make_api(runner.Options(port=0), seeded)
    on = runner.make_api(runner.Options(port=0, telegram_limits=True), seeded)
    assert off.global_rate is None and off.per_chat_rate is None
    assert on.global_rate == runner.GLOBAL_RATE and on.per_chat_rate == runner.PER_CHAT_RATE


def test_the_page_ships_with_the_package_and_the_contract_holds_the_line() -> None:
    static = resources.files("bot.sandbox").joinpath("static")
    assert {"index.html", "sandbox.js", "sandbox.css"} <= {p.name for p in static.iterdir()}
    html = static.joinpath("index.html").read_text()
    assert "http" not in html.replace("http-equiv", "")  # nothing from a CDN
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "sandbox/static/*" in pyproject["tool"]["setuptools"]["package-data"]["bot"]
    [contract] = [c for c in pyproject["tool"]["importlinter"]["contracts"]
                  if c.get("forbidden_modules") == ["bot.sandbox"]]
    assert {"bot.*", "handlers", "storage"} <= set(contract["source_modules"])


STATIC = ROOT / "bot" / "sandbox" / "static"


def test_every_text_of_the_page_is_in_the_strings_module_and_back() -> None:
    """Every key the page uses (t("..."), data-t*/data-c* of index.html, err_<code> of the
    API's errors) is in bot/sandbox/strings.py, and every key there is used."""
    script = (STATIC / "sandbox.js").read_text()
    html = (STATIC / "index.html").read_text()
    used = set(re.findall(r'\bt\("(\w+)"', script))
    used |= set(re.findall(r'\sdata-[tc](?:-[a-z-]+)?="(\w+)"', html))
    codes = set(re.findall(r'_bad\(\s*"(\w+)"', (ROOT / "bot/sandbox/page.py").read_text()))
    assert {"name_needed", "button_gone", "bad_request"} <= codes
    used |= {f"err_{code}" for code in codes}
    assert len(used) > 40
    assert set(STRINGS) == used  # none missing, none left over
    # no English left in the script for people to read: toasts, alerts, titles go through t()
    assert not re.search(r'(showToast|alert)\(\s*["`]', script)
    assert not re.search(r'(title|placeholder|alt):\s*["`][A-Za-z]', script)
    fallback = dict(re.findall(r'^\s+(\w+): "([^"]+)",$', script.split("const FALLBACK")[1]
                               .split("};")[0], re.M))
    assert fallback and all(STRINGS[k] == v for k, v in fallback.items())
    # the English of index.html (before the texts arrive) is the catalogue's
    for key, text in re.findall(r'data-t="(\w+)">([^<]+)<', html):
        assert " ".join(text.split()) == STRINGS[key], key
    texts = {locale: translated(create_i18n("en"), locale) for locale in ("ar", "en", "fr")}
    for locale, allowed in (("ar", {"invite_role"}),
                            ("fr", {"bot", "menu", "message", "ok", "photo", "add_chat"})):
        same = {k for k, v in texts[locale].items() if v == texts["en"][k]}
        assert same <= allowed, (locale, same)


def test_the_page_keeps_to_logical_css() -> None:
    css = (STATIC / "sandbox.css").read_text()
    physical = re.compile(r"(?<![-\w])(left|right|(margin|padding|border|inset)-(left|right)"
                          r"[\w-]*|float\s*:\s*(left|right)|text-align\s*:\s*(left|right))\s*:?")
    assert [m.group(0) for m in physical.finditer(css)] == []


async def test_the_page_texts_and_errors(sandbox_api: SandboxBotAPI,
                                         http: aiohttp.ClientSession) -> None:
    i18n = create_i18n("en")
    base = f"{sandbox_api.base_url}/sandbox/api/"
    for lang, expected in (("ar", "rtl"), ("fr", "ltr"), ("en", "ltr")):
        async with http.get(base + "strings", params={"lang": lang}) as response:
            body = await response.json()
        assert body == page_texts(i18n, lang) and body["dir"] == expected
    assert body["roles"] == {"member": "member", "coordinator": "coordinator"}
    async with http.get(base + "strings", params={"lang": "de"}) as response:
        assert (await response.json())["locale"] == "ar"  # the page's default (--lang)
    async with http.get(base + "info") as response:
        assert (await response.json())["language"] == "ar"
    arabic = page_texts(i18n, "ar")
    assert arabic["roles"]["coordinator"] != "coordinator"  # the bot's own label, translated
    assert arabic["strings"]["add_person"] != STRINGS["add_person"]
    for body, code in (({"name": " ", "language": "en"}, "name_needed"),
                       ({"name": "X", "language": "de"}, "bad_language")):
        async with http.post(base + "people", json=body) as response:
            assert response.status == 400
            assert (await response.json())["error"] == code
    async with http.post(base + "send", json={"user_id": 999, "text": "hi"}) as response:
        assert (await response.json())["error"] == "no_person"


def test_lang_reaches_the_page() -> None:
    api = runner.make_api(runner.Options(port=0, lang="fr"), seed.Seeded(network=""))
    assert api.language == "fr"


# ------------------------------------------------------------- the page's API, in-process


@pytest.fixture
async def sandbox_api() -> AsyncIterator[SandboxBotAPI]:
    people = [seed.COORDINATOR, seed.MEMBERS[3]]
    seeded = seed.Seeded(network="Saida", people=people,
                         invites=[seed.InviteInfo("CODE1234", "member", 5)])
    api = SandboxBotAPI(token="123:TOKEN", seeded=seeded)
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def bot(sandbox_api: SandboxBotAPI) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(sandbox_api.base_url))
    bot = Bot(sandbox_api.token, session=session)
    yield bot
    await session.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def view(http: aiohttp.ClientSession, api: SandboxBotAPI, user_id: int,
               since: int = -1) -> dict[str, Any]:
    async with http.get(f"{api.base_url}/sandbox/api/chats",
                        params={"ids": str(user_id), "since": str(since)}) as response:
        assert response.status == 200
        data = await response.json()
    return dict(data["chats"][str(user_id)], version=data["version"])


async def test_a_chat_as_its_client_shows_it(sandbox_api: SandboxBotAPI, bot: Bot,
                                             http: aiohttp.ClientSession) -> None:
    api = sandbox_api
    async with http.get(f"{api.base_url}/") as response:
        assert "Prevnet sandbox" in await response.text()
    async with http.get(f"{api.base_url}/sandbox/api/info") as response:
        info = await response.json()
    assert [p["id"] for p in info["people"]] == [COORDINATOR, seed.MEMBERS[3].tg_id]
    assert info["invites"] == [{"code": "CODE1234", "role": "member", "uses": 5}]
    assert info["limits"] is False

    # what the person does reaches the bot as updates
    async with http.post(f"{api.base_url}/sandbox/api/send",
                         json={"user_id": COORDINATOR, "text": "/help"}) as response:
        assert response.status == 200
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.text == "/help"

    keyboard = InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="OK", callback_data="ok"),
        InlineKeyboardButton(text="Web", url="https://example.org/"),
    ]])
    first = await bot.send_message(COORDINATOR, "<b>one</b>", parse_mode="HTML",
                                   reply_markup=keyboard)
    await bot.send_message(COORDINATOR, "pick", reply_markup=ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="📝 Report")]], resize_keyboard=True))
    gone = await bot.send_message(COORDINATOR, "soon gone")
    await bot.send_document(COORDINATOR, BufferedInputFile(b"BEGIN:VCALENDAR", "event.ics"),
                            caption="the calendar")
    await bot.set_my_commands([{"command": "digest", "description": "ملخص"}],  # type: ignore[list-item]
                               scope={"type": "chat", "chat_id": COORDINATOR},  # type: ignore[arg-type]
                               language_code=None)
    before = await view(http, api, COORDINATOR)
    texts = [m["text"] for m in before["messages"]]
    assert texts[:4] == ["/help", "one", "pick", "soon gone"]
    one = before["messages"][1]
    assert one["entities"] == [{"type": "bold", "offset": 0, "length": 3}]
    assert one["inline_keyboard"][0][1]["url"] == "https://example.org/"
    assert before["keyboard"]["rows"] == [["📝 Report"]]
    assert [c["command"] for c in before["commands"]] == ["digest"]
    document = before["messages"][4]["file"]
    assert document["file_name"] == "event.ics" and document["kind"] == "document"
    async with http.get(f"{api.base_url}/sandbox/api/file/{document['file_id']}") as response:
        assert await response.read() == b"BEGIN:VCALENDAR"
        assert "attachment" in response.headers["Content-Disposition"]

    # a long poll returns when something changes: an edit, a delete, a button's answer
    waiting = asyncio.ensure_future(view(http, api, COORDINATOR, since=before["version"]))
    await bot.edit_message_text("<i>two</i>", chat_id=COORDINATOR,
                                message_id=first.message_id, parse_mode="HTML")
    await bot.delete_message(COORDINATOR, gone.message_id)
    edited = await waiting
    assert edited["version"] > before["version"]
    after = await view(http, api, COORDINATOR)
    ids = [m["id"] for m in after["messages"]]
    assert gone.message_id not in ids and first.message_id in ids
    changed = next(m for m in after["messages"] if m["id"] == first.message_id)
    assert changed["text"] == "two" and changed["edited"]
    assert changed["inline_keyboard"] is None  # the edit dropped the keyboard

    await bot.edit_message_reply_markup(chat_id=COORDINATOR, message_id=first.message_id,
                                        reply_markup=keyboard)
    async with http.post(f"{api.base_url}/sandbox/api/press", json={
            "user_id": COORDINATOR, "message_id": first.message_id, "data": "ok"}) as response:
        assert response.status == 200
    async with http.post(f"{api.base_url}/sandbox/api/press", json={
            "user_id": COORDINATOR, "message_id": first.message_id, "data": "forged"}) as response:
        assert response.status == 400
    updates = await bot.get_updates(offset=update.update_id + 1)
    query = updates[-1].callback_query
    assert query is not None and query.data == "ok"
    await bot.answer_callback_query(query.id, text="Done!", show_alert=True)
    async with http.get(f"{api.base_url}/sandbox/api/chats",
                        params={"ids": str(COORDINATOR)}) as response:
        assert (await response.json())["stats"] == {"sent": 4, "too_many": 0}
    answers = (await view(http, api, COORDINATOR))["answers"]
    assert answers["count"] == 1 and answers["last"][0]["text"] == "Done!"
    assert answers["last"][0]["show_alert"] is True


async def test_the_menu_button_and_new_people(sandbox_api: SandboxBotAPI, bot: Bot,
                                              http: aiohttp.ClientSession) -> None:
    api = sandbox_api
    assert (await view(http, api, COORDINATOR))["menu_button"] is None
    await bot.set_chat_menu_button(chat_id=COORDINATOR, menu_button=MenuButtonWebApp(
        text="Dashboard", web_app=WebAppInfo(url="http://127.0.0.1:8091/app/")))
    menu = (await view(http, api, COORDINATOR))["menu_button"]
    assert menu == {"text": "Dashboard", "url": "http://127.0.0.1:8091/app/"}
    assert (await view(http, api, seed.MEMBERS[3].tg_id))["menu_button"] is None
    async with http.post(f"{api.base_url}/sandbox/api/webapp",
                         json={"user_id": COORDINATOR, "url": menu["url"]}) as response:
        url = (await response.json())["url"]
    data = dict(parse_qsl(url.split("#", 1)[1]))["tgWebAppData"]
    parsed = safe_parse_webapp_init_data(api.token, data)
    assert parsed.user is not None and parsed.user.id == COORDINATOR

    async with http.post(f"{api.base_url}/sandbox/api/people",
                         json={"name": "Sam New", "language": "en"}) as response:
        sam = await response.json()
    assert sam["id"] >= 6_000_001 and sam["language"] == "en" and not sam["started"]
    for bad in ({"name": "", "language": "en"}, {"name": "X", "language": "de"}):
        async with http.post(f"{api.base_url}/sandbox/api/people", json=bad) as response:
            assert response.status == 400
    async with http.post(f"{api.base_url}/sandbox/api/send",
                         json={"user_id": 999, "text": "hi"}) as response:
        assert response.status == 400
    form = aiohttp.FormData()
    form.add_field("user_id", str(sam["id"]))
    form.add_field("file", b"\x89PNG\r\n\x1a\n" + b"\0" * 16, filename="p.png",
                   content_type="image/png")
    form.add_field("caption", "our mural")
    async with http.post(f"{api.base_url}/sandbox/api/upload", data=form) as response:
        assert response.status == 200
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.photo
    assert update.message.caption == "our mural"
    shown = (await view(http, api, sam["id"]))["messages"]
    assert shown[0]["file"]["kind"] == "photo" and not shown[0]["from_bot"]
