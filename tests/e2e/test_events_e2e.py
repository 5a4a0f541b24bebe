"""An event on the real process: a coordinator plans it two minutes ahead with one-minute
reminders, two members answer (going / not going), the bot is restarted in between, and
the reminder arrives once, only for those who did not decline."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.callbacks import NewEventCb
from tests.e2e.conftest import User, button_data
from tests.e2e.test_registration_e2e import register

pytestmark = pytest.mark.e2e

BEIRUT = ZoneInfo("Asia/Beirut")


def is_reminder(m: dict[str, Any]) -> bool:
    return (m.get("text") or "").startswith("⏰ Reminder")


def reminders(api: Any, user: User) -> list[dict[str, Any]]:
    return [m for m in api.messages(user.id) if is_reminder(m)]


def ticked(answer: str) -> Any:
    def check(m: dict[str, Any]) -> bool:
        markup = m.get("reply_markup") or {}
        labels = [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
        return any(label.startswith("✓") and answer in label for label in labels)

    return check


async def test_event_announced_answered_and_reminded_across_a_restart(prevnet, fake_api):
    await prevnet.make_network("saida", name="Saida Network")
    coordinator_code = await prevnet.invite("saida", role="coordinator", uses=1)
    member_code = await prevnet.invite("saida", uses=2)
    await prevnet.start()
    hana = User(fake_api, 6001, first_name="Hana")
    rana = User(fake_api, 6002, first_name="Rana")
    sami = User(fake_api, 6003, first_name="Sami")
    await register(hana, coordinator_code, "en", "Hana")
    await register(rana, member_code, "en", "Rana")
    await register(sami, member_code, "en", "Sami")

    # One-minute reminders for this network, typed in /settings.
    settings = await hana.say("/settings", lambda m: any(
        d.startswith("remoff:") for d in button_data(m)
    ))
    typed = next(d for d in button_data(settings) if d.endswith(":0"))
    await hana.tap(settings, typed, "Send the reminder times")
    await hana.say("1m", "Event reminders: 1 minute before the start.")

    # The event, about two minutes ahead (on a whole minute, as typed on a phone).
    kinds = await hana.say("/newevent", lambda m: "nev:kind:training" in button_data(m))
    await hana.tap(kinds, "nev:kind:training", "What is its title?")
    await hana.say("First aid <basics>", "When does it start?")
    now = datetime.now(UTC)
    reminder_at = datetime.fromtimestamp(
        math.ceil((now + timedelta(seconds=25)).timestamp() / 60) * 60, UTC
    )
    starts_at = reminder_at + timedelta(minutes=1)
    typed_start = starts_at.astimezone(BEIRUT).strftime("%Y-%m-%d %H:%M")
    await hana.say(typed_start, "How long will it last?")
    await hana.say("1h", "Where?")
    describe = await hana.say("Town hall", lambda m: NewEventCb(step="skip").pack()
                              in button_data(m))
    preview = await hana.tap(describe, NewEventCb(step="skip").pack(), "2 members will get")
    assert "Reminders: 1 minute before" in preview["text"]
    await hana.tap(preview, "nev:confirm:1", "Announced to 2 members.")

    # Both members get the announcement with its calendar file and the RSVP buttons.
    def announcement(m: dict[str, Any]) -> bool:
        return m.get("document") is not None and "First aid" in (m.get("caption") or "")

    for_rana = await rana.wait(announcement)
    for_sami = await sami.wait(announcement)
    assert for_rana["document"]["file_id"] == for_sami["document"]["file_id"]
    cal = icalendar.Calendar.from_ical(fake_api.file_content(for_rana["document"]["file_id"]))
    (vevent,) = cal.walk("VEVENT")
    assert vevent["DTSTART"].params["TZID"] == "Asia/Beirut"
    assert vevent.decoded("DTSTART").astimezone(UTC) == starts_at
    assert str(vevent["SUMMARY"]) == "First aid <basics>"
    going = next(d for d in button_data(for_rana) if d.endswith(":going"))
    declined = next(d for d in button_data(for_sami) if d.endswith(":no"))
    await rana.tap(for_rana, going, ticked("Going"))
    await sami.tap(for_sami, declined, ticked("Not going"))
    assert fake_api.callback_answers(rana.id)[-1]["text"] == "Your answer: Going."

    # A restart before the reminder is due loses nothing.
    assert datetime.now(UTC) < reminder_at, "the dialog took too long for this test"
    assert await prevnet.stop() == 0
    await prevnet.start()

    timeout = (reminder_at - datetime.now(UTC)).total_seconds() + 30
    for_rana = await rana.wait(is_reminder, timeout=timeout)
    assert "You said you will come" in for_rana["text"]
    assert datetime.now(UTC) >= reminder_at - timedelta(seconds=1)
    for_hana = await hana.wait(is_reminder, timeout=15)
    assert any(d.endswith(":going") for d in button_data(for_hana))  # no answer yet: buttons
    await asyncio.sleep(6)  # more than one scheduler tick: nothing comes twice
    assert len(reminders(fake_api, rana)) == 1 and len(reminders(fake_api, hana)) == 1
    assert reminders(fake_api, sami) == []
    assert "Traceback" not in prevnet.log()
