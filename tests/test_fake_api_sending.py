"""Tests of the fake Bot API (bot/sandbox/telegram), driven by a real aiogram Bot over HTTP:
sending and its checks, blocked users, rate limits, files, fault injection."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, LinkPreviewOptions, ReplyParameters

from bot.sandbox.telegram import FakeBotAPI
from tests import fake_bot
from tests.fake_bot import ALICE, BOB, _keyboard

# The fixtures of tests/fake_bot.py (a fake with Alice and Bob, a Bot on it), bound here for
# pytest to find.
api, bot = fake_bot.api, fake_bot.bot


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
