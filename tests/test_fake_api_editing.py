"""Tests of the fake Bot API (bot/sandbox/telegram), driven by a real aiogram Bot over HTTP:
edits and deletes, waiting for messages, callback queries, copies and forwards."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile

from bot.sandbox.telegram import FakeBotAPI
from tests import fake_bot
from tests.fake_bot import ALICE, BOB, _keyboard

# The fixtures of tests/fake_bot.py (a fake with Alice and Bob, a Bot on it), bound here for
# pytest to find.
api, bot = fake_bot.api, fake_bot.bot


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
