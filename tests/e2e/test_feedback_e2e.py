"""Training feedback on the real process: a coordinator plans a training, two members say
"going", the training ends (its times moved into the past while the bot is stopped, as if
the day had passed), and at the restart both are asked; they answer the three questions
(a 1-5 button, a typed text, "Skip"), and the coordinator sees the figures and exports."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select, update

from bot.callbacks import NewEventCb
from storage.engine import create_engine, create_session_pool
from storage.models import Event, EventFeedback
from tests.e2e.conftest import User, button_data
from tests.e2e.test_registration_e2e import register

pytestmark = pytest.mark.e2e

BEIRUT = ZoneInfo("Asia/Beirut")


def is_question(m: dict[str, Any]) -> bool:
    return (m.get("text") or "").startswith("📝 Thank you for taking part")


async def _end_the_training(url: str) -> int:
    """The training started two hours ago and ended a minute ago."""
    engine = create_engine(url)
    try:
        async with create_session_pool(engine)() as s:
            now = datetime.now(UTC)
            event_id = await s.scalar(select(Event.id))
            assert event_id is not None
            await s.execute(update(Event).values(starts_at=now - timedelta(hours=2),
                                                 ends_at=now - timedelta(minutes=1)))
            await s.commit()
            return int(event_id)
    finally:
        await engine.dispose()


async def _stored(url: str) -> list[tuple[int | None, str | None, str | None]]:
    engine = create_engine(url)
    try:
        async with create_session_pool(engine)() as s:
            rows = (await s.scalars(select(EventFeedback).order_by(EventFeedback.id))).all()
            return [(r.usefulness, r.apply_text, r.missing_text) for r in rows]
    finally:
        await engine.dispose()


async def test_a_training_ends_and_attendees_answer_the_feedback(prevnet, fake_api):
    await prevnet.make_network("saida", name="Saida Network")
    coordinator_code = await prevnet.invite("saida", role="coordinator", uses=1)
    member_code = await prevnet.invite("saida", uses=3)
    await prevnet.start()
    hana = User(fake_api, 6101, first_name="Hana")
    rana = User(fake_api, 6102, first_name="Rana")
    sami = User(fake_api, 6103, first_name="Sami")
    lina = User(fake_api, 6104, first_name="Lina")
    for person, code, name in ((hana, coordinator_code, "Hana"), (rana, member_code, "Rana"),
                               (sami, member_code, "Sami"), (lina, member_code, "Lina")):
        await register(person, code, "en", name)

    kinds = await hana.say("/newevent", lambda m: "nev:kind:training" in button_data(m))
    await hana.tap(kinds, "nev:kind:training", "What is its title?")
    await hana.say("Mentoring young people", "When does it start?")
    tomorrow = (datetime.now(UTC).astimezone(BEIRUT) + timedelta(days=1)).date()
    await hana.say(f"{tomorrow.isoformat()} 10:00", "How long will it last?")
    await hana.say("2h", "Where?")
    describe = await hana.say("Town hall", lambda m: NewEventCb(step="skip").pack()
                              in button_data(m))
    preview = await hana.tap(describe, NewEventCb(step="skip").pack(), "3 members will get")
    await hana.tap(preview, "nev:confirm:1", "Announced to 3 members.")

    def announcement(m: dict[str, Any]) -> bool:
        return "Mentoring young people" in (m.get("caption") or "")

    for person, answer in ((rana, "going"), (sami, "going"), (lina, "no")):
        card = await person.wait(announcement)
        await person.tap(card, next(d for d in button_data(card) if d.endswith(f":{answer}")))

    assert await prevnet.stop() == 0
    url = prevnet.env["DATABASE_URL"]
    event_id = await _end_the_training(url)
    await prevnet.start()  # the feedback tick runs at start, then every minute

    asked = {p.id: await p.wait(is_question, timeout=20) for p in (rana, sami)}
    for question in asked.values():
        assert button_data(question) == [f"fbr:{event_id}:{n}" for n in range(1, 6)]
        assert "Mentoring young people" in question["text"]

    step = await rana.tap(asked[rana.id], f"fbr:{event_id}:5", "What will you apply")
    assert button_data(step) == [f"fbs:{event_id}:apply"]
    step = await rana.say("Listening circles with parents", "What was missing")
    await rana.tap(step, f"fbs:{event_id}:missing", "Thank you! Your answers help")
    step = await sami.tap(asked[sami.id], f"fbr:{event_id}:3", "What will you apply")
    step = await sami.tap(step, f"fbs:{event_id}:apply", "What was missing")
    await sami.say("More time for questions", "Thank you! Your answers help")
    # The question now shows the answer, without its buttons.
    rated = fake_api.get_message(rana.id, asked[rana.id]["message_id"])
    assert "your answer is 5 of 5" in rated["text"] and button_data(rated) == []
    assert await _stored(url) == [(5, "Listening circles with parents", ""),
                                  (3, "", "More time for questions")]
    assert not [m for m in fake_api.messages(lina.id) if is_question(m)]  # she said no

    overview = await hana.say("/feedback", "Training feedback")
    assert "2 of 2 asked answered, average 4.0 of 5." in overview["text"]
    view = await hana.tap(overview, f"fbv:{event_id}", "Feedback: Mentoring young people")
    assert "• Listening circles with parents" in view["text"]
    assert "• More time for questions" in view["text"] and "Rana" not in view["text"]
    after = hana.seen
    await hana.tap(view, f"fbx:{event_id}")
    doc = await hana.wait(lambda m: (m.get("document") or {}).get("file_name", "").endswith(
        ".xlsx"), after=after)
    book = openpyxl.load_workbook(io.BytesIO(fake_api.file_content(doc["document"]["file_id"])))
    rows = list(book.active.iter_rows(values_only=True))
    assert [r[4] for r in rows[1:]] == [5, 3]
    assert "Traceback" not in prevnet.log()
