"""Tests of the fake Bot API (bot/sandbox/telegram), driven by a real aiogram Bot over HTTP:
the basics, getUpdates, webhooks, the control HTTP API, the standalone process and an
aiogram Dispatcher polling it. Sending and files: test_fake_api_sending.py; edits,
callbacks and copies: test_fake_api_editing.py."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router, html
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import GetMe
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    CallbackQuery,
    Message,
)
from aiohttp import web

from bot.sandbox.telegram import FakeBotAPI
from tests import fake_bot
from tests.fake_bot import ALICE, BOB, _close_bot, _keyboard

ROOT = Path(__file__).resolve().parents[1]

# The fixtures of tests/fake_bot.py (a fake with Alice and Bob, a Bot on it, a plain HTTP
# client), bound here for pytest to find.
api, bot, http = fake_bot.api, fake_bot.bot, fake_bot.http


# ---------------------------------------------------------------- basics


async def test_get_me_and_method_names(api: FakeBotAPI, bot: Bot, http: aiohttp.ClientSession):
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot is True
    assert me.username == "prevnet_test_bot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False

    # case-insensitive method names, JSON body and GET with query string all work
    async with http.get(f"/bot{api.token}/GETME") as resp:
        assert resp.status == 200
        assert (await resp.json())["result"]["id"] == 123456
    async with http.post(
        f"/bot{api.token}/sendmessage", json={"chat_id": ALICE, "text": "json body"}
    ) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        assert body["result"]["text"] == "json body"

    async with http.post(f"/bot{api.token}/noSuchMethod") as resp:
        assert resp.status == 404
        assert await resp.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }

    assert await bot.log_out() is True
    assert await bot.close() is True
    assert [c["method"] for c in api.calls()][:2] == ["getMe", "getMe"]


async def test_wrong_token_is_unauthorized(api: FakeBotAPI):
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    other = Bot("999:WRONG", session=session)
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await other(GetMe())
    finally:
        await _close_bot(other)


async def test_bot_profile_settings(api: FakeBotAPI, bot: Bot):
    await bot.set_my_commands(
        [
            BotCommand(command="start", description="Start"),
            BotCommand(command="help", description="Help"),
        ]
    )
    await bot.set_my_commands(
        [BotCommand(command="aide", description="Aide")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="fr",
    )
    await bot.set_my_commands(
        [BotCommand(command="admin", description="Admin")], scope=BotCommandScopeChat(chat_id=ALICE)
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    fr = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="fr")
    assert [c.command for c in fr] == ["aide"]
    assert api.get_commands("all_private_chats", "fr")[0]["description"] == "Aide"
    assert api.commands[(f"chat:{ALICE}", "")] == [{"command": "admin", "description": "Admin"}]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == []

    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Command", description="x")])

    await bot.set_my_description("Long description")
    await bot.set_my_short_description("Short", language_code="fr")
    await bot.set_my_name("Prevnet")
    assert (await bot.get_my_description()).description == "Long description"
    assert (await bot.get_my_short_description(language_code="fr")).short_description == "Short"
    assert api.bot_settings == {
        "description": "Long description",
        "short_description:fr": "Short",
        "name": "Prevnet",
    }
    assert await bot.set_chat_menu_button() is True
    assert await bot.send_chat_action(ALICE, "typing") is True
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    info = await bot.get_webhook_info()
    assert info.url == ""
    assert info.pending_update_count == 0


# ---------------------------------------------------------------- getUpdates


async def test_get_updates_offset_and_redelivery(api: FakeBotAPI, bot: Bot):
    u1 = api.send_message(ALICE, "/start ref42")
    u2 = api.send_message(BOB, "hello")
    assert u2["update_id"] > u1["update_id"]

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [u1["update_id"], u2["update_id"]]
    msg = updates[0].message
    assert msg is not None
    assert msg.text == "/start ref42"
    assert msg.from_user is not None and msg.from_user.id == ALICE
    assert msg.chat.type == "private"
    assert msg.entities is not None
    assert (msg.entities[0].type, msg.entities[0].offset, msg.entities[0].length) == (
        "bot_command",
        0,
        6,
    )

    # not confirmed yet -> delivered again
    assert [u.update_id for u in await bot.get_updates()] == [u1["update_id"], u2["update_id"]]
    # limit
    assert len(await bot.get_updates(limit=1)) == 1
    # offset confirms everything below it, forever
    assert [u.update_id for u in await bot.get_updates(offset=u2["update_id"])] == [u2["update_id"]]
    assert await bot.get_updates(offset=u2["update_id"] + 1) == []
    assert await bot.get_updates() == []
    assert api.pending_update_count == 0

    # duplicate delivery of an already confirmed update
    api.inject_raw_update(u1)
    again = await bot.get_updates(offset=u2["update_id"] + 1)
    assert [u.update_id for u in again] == [u1["update_id"]]
    u3 = api.send_message(ALICE, "next")
    assert u3["update_id"] > u2["update_id"]
    after = await bot.get_updates(offset=u1["update_id"] + 1)
    assert [u.update_id for u in after] == [u3["update_id"]]


async def test_get_updates_long_poll(api: FakeBotAPI, bot: Bot):
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 2.0

    task = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.1)
    assert not task.done()
    started = time.monotonic()
    api.send_message(ALICE, "wake up")
    updates = await asyncio.wait_for(task, 2)
    assert time.monotonic() - started < 1.0
    assert updates[0].message is not None and updates[0].message.text == "wake up"

    # allowed_updates is remembered: callback queries are not even queued now
    await bot.get_updates(offset=updates[-1].update_id + 1, allowed_updates=["message"])
    sent = await bot.send_message(ALICE, "menu", reply_markup=_keyboard("a"))
    api.press_button(ALICE, sent.message_id, "a")
    assert await bot.get_updates() == []
    assert api.stats()["updates_dropped"] == 1


async def test_second_poller_conflicts(api: FakeBotAPI, bot: Bot):
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 2)
    api.send_message(ALICE, "hi")
    assert len(await asyncio.wait_for(second, 2)) == 1


# ---------------------------------------------------------------- webhook


async def test_webhook_delivery(api: FakeBotAPI, bot: Bot):
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        assert request.headers.get("X-Telegram-Bot-Api-Secret-Token") == "s3cr3t"
        update = await request.json()
        received.append(update)
        if "message" in update:  # answer with a method call in the response body
            return web.json_response({"method": "sendMessage", "chat_id": ALICE, "text": "pong"})
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cr3t")
        assert (await bot.get_webhook_info()).url.endswith("/hook")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        api.send_message(ALICE, "ping")
        reply = await api.wait_for_message(ALICE, timeout=3)
        assert reply["text"] == "pong"
        await api.wait_for_updates_confirmed(timeout=3)
        assert received[0]["message"]["text"] == "ping"
        assert (await bot.get_webhook_info()).pending_update_count == 0
        await bot.delete_webhook()
        api.send_message(ALICE, "polling again")
        assert len(await bot.get_updates()) == 1
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------- control HTTP API


async def test_control_http_endpoints(api: FakeBotAPI, bot: Bot, http: aiohttp.ClientSession):
    async def call(path: str, verb: str = "POST", /, **body: object) -> object:
        kwargs = {"json": body} if verb == "POST" else {"params": body}
        async with http.request(verb, f"/_test/{path}", **kwargs) as resp:
            data = await resp.json()
            assert resp.status == 200, data
            assert data["ok"] is True
            return data["result"]

    await call("users", user_id=7, first_name="Carol", username="carol")
    assert await call("users/bulk", count=100, start_id=5000) == list(range(5000, 5100))
    update = await call("send_message", user_id=7, text="/help")
    assert isinstance(update, dict)
    updates = await bot.get_updates()
    assert updates[0].message is not None and updates[0].message.text == "/help"
    sent = await bot.send_message(7, "Menu", reply_markup=_keyboard("go"))
    await bot.send_message(5099, "bulk user")

    messages = await call("messages", "GET", chat_id=7)
    assert isinstance(messages, list) and messages[0]["text"] == "Menu"
    pressed = await call("press_button", user_id=7, message_id=sent.message_id, callback_data="go")
    assert isinstance(pressed, dict) and pressed["callback_query"]["data"] == "go"
    async with http.post(
        "/_test/press_button",
        json={"user_id": 7, "message_id": sent.message_id, "callback_data": "x"},
    ) as resp:
        assert resp.status == 400
        assert "no button" in (await resp.json())["error"]

    await call("blocked", user_id=7, blocked=True)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(7, "hi")
    await call("blocked", user_id=7, blocked=False)

    config = await call("config", global_rate=1, retry_after=2)
    assert config == {"global_rate": 1.0, "per_chat_rate": None, "retry_after": 2}
    await bot.send_message(7, "one")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(7, "two")
    await call("config", global_rate=None)

    await call("fail_next", method="sendMessage", error_code=502, description="Bad Gateway")
    with pytest.raises(TelegramServerError):
        await bot.send_message(7, "three")

    stats = await call("stats", "GET")
    assert isinstance(stats, dict)
    assert stats["too_many_requests"] == 1
    assert stats["sent_per_chat"] == {"7": 2, "5099": 1}
    assert stats["methods"]["sendMessage"] == 6
    assert stats["users"] == 103

    waited = await call("wait_message", "GET", chat_id=7, text_contains="one", timeout=1)
    assert isinstance(waited, dict) and waited["text"] == "one"
    calls = await call("calls", "GET", method="sendMessage")
    assert isinstance(calls, list) and len(calls) == 6
    await call("reset_calls")
    assert api.calls() == []
    assert api.stats()["methods"]["sendMessage"] == 6


async def test_standalone_process():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox.telegram",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--rate",
        "30",
        "--users",
        "3",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
        assert line.startswith("READY http://127.0.0.1:")
        base_url = line.split()[1]
        session = AiohttpSession(api=TelegramAPIServer.from_base(base_url))
        remote = Bot("123456:TEST-TOKEN", session=session)
        try:
            sent = await remote.send_message(1_000_001, "hello from afar")
            assert sent.chat.id == 1_000_001
        finally:
            await _close_bot(remote)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base_url}/_test/messages", params={"chat_id": 1_000_001}) as resp,
        ):
            assert (await resp.json())["result"][0]["text"] == "hello from afar"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 5) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_aiogram_dispatcher_polling(api: FakeBotAPI, bot: Bot):
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        name = message.from_user.first_name if message.from_user else ""
        await message.answer(
            f"Hello, <b>{html.quote(name)}</b>",
            reply_markup=_keyboard("menu"),
        )

    @router.callback_query(F.data == "menu")
    async def menu(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text("Menu <i>opened</i>")
        await query.answer("ok")

    dp = Dispatcher()
    dp.include_router(router)
    bot.default = DefaultBotProperties(parse_mode="HTML")
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=5)
    )
    try:
        api.add_user(44, "<Dave & co>")
        api.send_message(44, "/start")
        hello = await api.wait_for_message(44, timeout=5)
        assert hello["text"] == "Hello, <Dave & co>"
        assert hello["raw_text"] == "Hello, <b>&lt;Dave &amp; co&gt;</b>"
        api.press_button(44, hello["message_id"], "menu")
        edited = await api.wait_for_message(44, lambda m: bool(m["edits"]), timeout=5)
        assert edited["text"] == "Menu opened"
        answer = await api.wait_for_callback_answer(44, timeout=5)
        assert answer["text"] == "ok"
        await api.wait_for_updates_confirmed(timeout=5)
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)
