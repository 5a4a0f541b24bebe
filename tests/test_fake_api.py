"""Tests of the fake Telegram Bot API (tests/fake_api), driven by a real aiogram Bot over HTTP."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
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
    TelegramNetworkError,
    TelegramNotFound,
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
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from aiohttp import web

from tests.fake_api import FakeBotAPI

ROOT = Path(__file__).resolve().parents[1]
ALICE = 42
BOB = 43


def _keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=d.upper(), callback_data=d) for d in data]]
    )


async def _close_bot(bot: Bot) -> None:
    # AiohttpSession.close() sleeps 250 ms for TLS shutdown; plain HTTP does not need it.
    session = bot.session
    inner = getattr(session, "_session", None)
    if inner is not None and not inner.closed:
        await inner.close()


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        fake.add_user(ALICE, "Alice", username="alice")
        fake.add_user(BOB, "Bob", language_code="fr")
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot(api.token, session=session)
    try:
        yield bot
    finally:
        await _close_bot(bot)


@pytest.fixture
async def http(api: FakeBotAPI) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=api.base_url) as session:
        yield session


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


# ---------------------------------------------------------------- sending


async def test_send_message_html(api: FakeBotAPI, bot: Bot):
    sent = await bot.send_message(
        ALICE,
        '  <b>Bold</b> &amp; <a href="https://example.org/x?a=1&amp;b=2">link</a> '
        '<span class="tg-spoiler">s</span> <pre><code class="language-py">x = 1</code></pre>'
        " &lt;3 &#128512;\n",
        parse_mode="HTML",
        reply_markup=_keyboard("yes", "no"),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        protect_content=True,
    )
    expected_text = "Bold & link s x = 1 <3 \U0001f600"
    assert sent.text == expected_text
    assert sent.message_id == 1
    assert sent.from_user is not None and sent.from_user.is_bot
    assert sent.chat.id == ALICE and sent.chat.first_name == "Alice"
    assert sent.reply_markup is not None
    assert sent.has_protected_content is True
    ents = [(e.type, e.offset, e.length, e.url or e.language) for e in sent.entities or []]
    assert ents == [
        ("bold", 0, 4, None),
        ("text_link", 7, 4, "https://example.org/x?a=1&b=2"),
        ("spoiler", 12, 1, None),
        ("pre", 14, 5, "py"),
    ]

    stored = api.last_message(ALICE)
    assert stored is not None
    assert stored["text"] == expected_text
    assert stored["raw_text"].startswith("  <b>Bold</b>")
    assert stored["parse_mode"] == "HTML"
    assert stored["method"] == "sendMessage"
    assert stored["protect_content"] is True
    assert stored["link_preview_options"] == {"is_disabled": True}
    assert stored["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "no"

    # message ids increase per chat; a user message takes an id in that chat too
    api.send_message(ALICE, "hey")
    second = await bot.send_message(ALICE, "plain", reply_parameters=ReplyParameters(message_id=1))
    assert second.message_id == 3
    assert second.reply_to_message is not None and second.reply_to_message.message_id == 1
    assert (await bot.send_message(BOB, "first for bob")).message_id == 1
    assert [m["text"] for m in api.messages(ALICE)] == [expected_text, "plain"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<blink>x</blink>", 'Unsupported start tag "blink" at byte offset 0'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("Tom & Jerry", "byte offset 4"),
        ("&nbsp;", "byte offset 0"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
async def test_html_parse_errors(api: FakeBotAPI, bot: Bot, text: str, error: str):
    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.send_message(ALICE, text, parse_mode="HTML")
    assert "Bad Request: can't parse entities: " in exc_info.value.message
    assert error in exc_info.value.message
    assert api.messages(ALICE) == []
    # without parse_mode the same text is fine
    await bot.send_message(ALICE, text)
    assert api.last_message(ALICE)["text"] == text  # type: ignore[index]


async def test_send_message_validation(api: FakeBotAPI, bot: Bot):
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(ALICE, "")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(ALICE, "<b> </b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ALICE, "x" * 4097)
    # the limit applies after entity parsing
    await bot.send_message(ALICE, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE, "kb", reply_markup=_keyboard("x" * 65))
    await bot.send_message(ALICE, "kb", reply_markup=_keyboard("é" * 32))  # 64 bytes
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999, "who?")
    with pytest.raises(TelegramBadRequest, match="unsupported parse_mode"):
        await bot.send_message(ALICE, "x", parse_mode="BBCode")
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(ALICE, "x", reply_parameters=ReplyParameters(message_id=77))
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(ALICE, BufferedInputFile(b"1", "a.txt"), caption="c" * 1025)
    assert len(api.messages(ALICE)) == 2
    assert api.stats()["errors"] == {400: 8}


async def test_blocked_and_deactivated_users(api: FakeBotAPI, bot: Bot):
    api.set_blocked(ALICE)
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(ALICE, "hello?")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(ALICE, "typing")
    updates = await bot.get_updates()
    member = updates[0].my_chat_member
    assert member is not None
    assert member.new_chat_member.status == "kicked"
    assert member.old_chat_member.status == "member"

    # the user writes again -> unblocked (my_chat_member back to member), then the message
    api.send_message(ALICE, "/start")
    updates = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert updates[0].my_chat_member is not None
    assert updates[0].my_chat_member.new_chat_member.status == "member"
    assert updates[1].message is not None
    await bot.send_message(ALICE, "welcome back")

    api.set_deactivated(BOB)
    with pytest.raises(TelegramForbiddenError, match="Forbidden: user is deactivated"):
        await bot.send_message(BOB, "hello?")
    assert api.messages(BOB) == []
    assert api.stats()["errors"] == {403: 3}


# ---------------------------------------------------------------- rate limits


async def test_global_rate_limit(api: FakeBotAPI, bot: Bot):
    api.configure(global_rate=5, retry_after=3)
    for i in range(5):
        await bot.send_message(ALICE if i % 2 else BOB, f"m{i}")
    with pytest.raises(TelegramRetryAfter) as exc_info:
        await bot.send_message(ALICE, "too fast")
    assert exc_info.value.retry_after == 3
    assert "Too Many Requests: retry after 3" in exc_info.value.message
    # copyMessage counts too; refused requests are not delivered nor counted
    with pytest.raises(TelegramRetryAfter):
        await bot.copy_message(ALICE, ALICE, 1)
    # paid broadcasts use the 1000/s cap instead
    await bot.send_message(ALICE, "paid", allow_paid_broadcast=True)
    # other methods are not counted
    await bot.get_me()
    await asyncio.sleep(1.05)
    await bot.send_message(ALICE, "later")
    stats = api.stats()
    assert stats["too_many_requests"] == 2
    assert stats["total_sent"] == 7
    assert stats["max_rate_per_second"] == 6
    assert stats["sent_per_chat"] == {ALICE: 4, BOB: 3}
    assert [m["text"] for m in api.messages(ALICE)] == ["m1", "m3", "paid", "later"]
    assert api.calls("sendMessage")[5]["error_code"] == 429


async def test_per_chat_rate_limit(api: FakeBotAPI, bot: Bot):
    api.configure(per_chat_rate=2)
    results = await asyncio.gather(
        *(bot.send_message(ALICE, f"a{i}") for i in range(4)),
        *(bot.send_message(BOB, f"b{i}") for i in range(2)),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 2
    assert all(isinstance(e, TelegramRetryAfter) and e.retry_after == 1 for e in errors)
    assert len(api.messages(ALICE)) == 2
    assert len(api.messages(BOB)) == 2


# ---------------------------------------------------------------- files


async def test_send_document_upload_and_download(api: FakeBotAPI, bot: Bot):
    payload = b"name,score\nalice,3\n" * 100
    sent = await bot.send_document(
        ALICE,
        BufferedInputFile(payload, filename="report.csv"),
        caption="<i>Monthly</i> report",
        parse_mode="HTML",
        reply_markup=_keyboard("ok"),
    )
    doc = sent.document
    assert doc is not None
    assert doc.file_name == "report.csv"
    assert doc.mime_type == "text/csv"
    assert doc.file_size == len(payload)
    assert re.fullmatch(r"AgAD[0-9a-f]{6}\d{6}", doc.file_unique_id)  # per server, then a count
    assert sent.caption == "Monthly report"
    assert sent.caption_entities is not None and sent.caption_entities[0].type == "italic"
    assert api.file_content(doc.file_id) == payload

    stored = api.last_message(ALICE)
    assert stored is not None
    assert stored["document"]["file_name"] == "report.csv"
    assert stored["raw_caption"] == "<i>Monthly</i> report"
    assert stored["method"] == "sendDocument"

    file = await bot.get_file(doc.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == payload

    # resend by file_id
    again = await bot.send_document(BOB, doc.file_id)
    assert again.document is not None and again.document.file_id == doc.file_id
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_document(BOB, "BQACAgIAAxkBAAInvalid")
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")
    # the upload went as multipart with an attach:// reference
    assert api.calls("sendDocument")[0]["params"]["document"].startswith("attach://")


async def test_photos_and_user_files(api: FakeBotAPI, bot: Bot):
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000280000001e00806000000"
    )  # 640x480 header
    sent = await bot.send_photo(ALICE, BufferedInputFile(png, "p.png"), caption="pic")
    assert sent.photo is not None
    assert (sent.photo[-1].width, sent.photo[-1].height) == (640, 480)
    assert api.file_content(sent.photo[-1].file_id) == png

    update = api.send_document(ALICE, "id.pdf", b"%PDF-1.4 fake", "application/pdf", caption="ID")
    updates = await bot.get_updates()
    message = updates[-1].message
    assert updates[-1].update_id == update["update_id"]
    assert message is not None and message.document is not None
    assert message.caption == "ID"
    file = await bot.get_file(message.document.file_id)
    assert file.file_path is not None
    data = await bot.download_file(file.file_path)
    assert data is not None and data.read() == b"%PDF-1.4 fake"

    api.send_photo(BOB, caption="selfie")
    photo_msg = (await bot.get_updates(offset=updates[-1].update_id + 1))[0].message
    assert photo_msg is not None and photo_msg.photo is not None
    assert photo_msg.caption == "selfie"


# ---------------------------------------------------------------- editing


async def test_edit_and_delete(api: FakeBotAPI, bot: Bot):
    sent = await bot.send_message(ALICE, "Step 1", reply_markup=_keyboard("next"))
    edited = await bot.edit_message_text(
        chat_id=ALICE,
        message_id=sent.message_id,
        text="<b>Step 2</b>",
        parse_mode="HTML",
        reply_markup=_keyboard("next", "back"),
    )
    assert not isinstance(edited, bool)
    assert edited.text == "Step 2"
    assert edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            chat_id=ALICE,
            message_id=sent.message_id,
            text="<b>Step 2</b>",
            parse_mode="HTML",
            reply_markup=_keyboard("next", "back"),
        )
    # without reply_markup the inline keyboard goes away (so this is a modification)
    await bot.edit_message_text(
        chat_id=ALICE, message_id=sent.message_id, text="<b>Step 2</b>", parse_mode="HTML"
    )
    await bot.edit_message_reply_markup(
        chat_id=ALICE, message_id=sent.message_id, reply_markup=_keyboard("done")
    )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=ALICE, message_id=sent.message_id, reply_markup=_keyboard("done")
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(chat_id=ALICE, message_id=99, text="x")
    with pytest.raises(TelegramBadRequest, match="there is no caption in the message to edit"):
        await bot.edit_message_caption(chat_id=ALICE, message_id=sent.message_id, caption="c")

    doc = await bot.send_document(ALICE, BufferedInputFile(b"abc", "a.txt"), caption="old")
    cap = await bot.edit_message_caption(chat_id=ALICE, message_id=doc.message_id, caption="new")
    assert not isinstance(cap, bool) and cap.caption == "new"

    stored = api.messages(ALICE)[0]
    assert stored["text"] == "Step 2"
    assert stored["method"] == "editMessageReplyMarkup"
    assert [e["text"] for e in stored["edits"]] == ["Step 1", "Step 2", "Step 2"]
    assert stored["edits"][1]["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "back"
    assert stored["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "done"

    assert await bot.delete_message(ALICE, sent.message_id) is True
    assert api.messages(ALICE)[0]["deleted"] is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ALICE, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(chat_id=ALICE, message_id=sent.message_id, text="zombie")


async def test_wait_for_message(api: FakeBotAPI, bot: Bot):
    async def later() -> None:
        await asyncio.sleep(0.05)
        m = await bot.send_message(ALICE, "working…")
        await asyncio.sleep(0.05)
        await bot.edit_message_text(chat_id=ALICE, message_id=m.message_id, text="done!")

    task = asyncio.create_task(later())
    first = await api.wait_for_message(ALICE, timeout=2)
    assert first["index"] == 0
    done = await api.wait_for_message(ALICE, lambda m: m["text"] == "done!", timeout=2)
    assert done["edits"][0]["text"] == "working…"
    await task
    with pytest.raises(TimeoutError):
        await api.wait_for_message(ALICE, timeout=0.1, after=1)


# ---------------------------------------------------------------- callbacks & copies


async def test_callback_queries(api: FakeBotAPI, bot: Bot):
    sent = await bot.send_message(ALICE, "Choose", reply_markup=_keyboard("red", "blue"))
    update = api.press_button(ALICE, sent.message_id, "blue")
    updates = await bot.get_updates()
    query = updates[0].callback_query
    assert query is not None
    assert query.id == update["callback_query"]["id"]
    assert query.data == "blue"
    assert query.from_user.id == ALICE
    assert re.fullmatch(r"-1\d{18}", query.chat_instance)  # stable per chat, like Telegram's
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="Saved", show_alert=True) is True
    answers = api.callback_answers(ALICE)
    assert answers[0]["text"] == "Saved"
    assert answers[0]["show_alert"] is True
    assert answers[0]["data"] == "blue"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("12345")

    with pytest.raises(ValueError, match="no button"):
        api.press_button(ALICE, sent.message_id, "green")
    with pytest.raises(ValueError):
        api.press_button(ALICE, 999, "red")
    # forged callback data (e.g. an old keyboard, a malicious client)
    forged = api.press_button(ALICE, sent.message_id, "admin:delete_all", force=True)
    assert forged["callback_query"]["data"] == "admin:delete_all"
    ghost = api.press_button(ALICE, 999, "red", force=True)
    updates = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert [u.callback_query.data for u in updates if u.callback_query] == [
        "admin:delete_all",
        "red",
    ]
    assert ghost["callback_query"]["message"]["date"] == 0  # InaccessibleMessage


async def test_copy_and_forward(api: FakeBotAPI, bot: Bot):
    api.send_document(ALICE, "scan.pdf", b"%PDF", "application/pdf", caption="my scan")
    api.send_message(ALICE, "plain <text>")
    copied = await bot.copy_message(
        chat_id=BOB,
        from_chat_id=ALICE,
        message_id=1,
        caption="from Alice",
        reply_markup=_keyboard("ack"),
    )
    assert copied.message_id == 1
    stored = api.last_message(BOB)
    assert stored is not None
    assert stored["method"] == "copyMessage"
    assert stored["document"]["file_name"] == "scan.pdf"
    assert stored["caption"] == "from Alice"
    assert stored["copied_from"] == {"chat_id": ALICE, "message_id": 1}
    assert api.file_content(stored["document"]["file_id"]) == b"%PDF"

    await bot.copy_message(chat_id=BOB, from_chat_id=ALICE, message_id=2)
    assert api.last_message(BOB)["text"] == "plain <text>"  # type: ignore[index]
    forwarded = await bot.forward_message(chat_id=BOB, from_chat_id=ALICE, message_id=2)
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.type == "user"
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(chat_id=BOB, from_chat_id=ALICE, message_id=50)
    assert api.stats()["sent_per_chat"] == {BOB: 3}


# ---------------------------------------------------------------- faults


async def test_fault_injection(api: FakeBotAPI, bot: Bot):
    api.fail_next("sendMessage", 500, "Internal Server Error")
    api.fail_next("sendMessage", 502, "Bad Gateway")
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(ALICE, "1")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(ALICE, "2")
    await bot.send_message(ALICE, "3")
    api.fail_next("getMe", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as exc_info:
        await bot.get_me()
    assert exc_info.value.retry_after == 7
    api.fail_next("deleteMessage", 404, "Not Found")
    with pytest.raises(TelegramNotFound):
        await bot.delete_message(ALICE, 1)
    assert [m["text"] for m in api.messages(ALICE)] == ["3"]

    # a delay longer than the client's timeout: the request is lost, nothing delivered
    api.set_delay("sendMessage", 0.4)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(ALICE, "slow", request_timeout=0.1)  # type: ignore[arg-type]
    await asyncio.sleep(0.4)
    assert len(api.messages(ALICE)) == 1
    # mode="after": delivered, but the response comes too late
    api.set_delay("sendMessage", 0.3, mode="after")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(ALICE, "late", request_timeout=0.1)  # type: ignore[arg-type]
    assert api.last_message(ALICE)["text"] == "late"  # type: ignore[index]
    api.set_delay("sendMessage", None)
    await bot.send_message(ALICE, "fast again")


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
        "tests.fake_api",
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
