"""Helpers shared by tests/test_reports.py and test_reports_review.py: a network with a
member and a coordinator, a report filed through the whole dialog, a photo or document
sent, the callback data offered."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from aiogram.types import Document, Message, PhotoSize, Update
from sqlalchemy import func, select

from storage.models.reports import Report
from tests.helpers import make_network, member_of
from tests.people import Person, buttons, texts

_ids = itertools.count(50_000)


async def send_file(
    p: Person, *, kind: str = "photo", caption: str | None = None, file_id: str = "PHOTO-1"
) -> list[Any]:
    """The person sends a photo (or a document), optionally with a caption."""
    extra: dict[str, Any] = {"caption": caption}
    if kind == "photo":
        extra["photo"] = [
            PhotoSize(file_id=file_id + "-small", file_unique_id="s", width=90, height=90),
            PhotoSize(file_id=file_id, file_unique_id="b", width=1280, height=960),
        ]
    else:
        extra["document"] = Document(file_id=file_id, file_unique_id="d", file_name="list.pdf")
    message = Message(
        message_id=next(_ids),
        date=datetime.now(UTC),
        chat=p.chat,
        from_user=p.user,
        **extra,
    )
    return await p.feed(Update(update_id=next(_ids), message=message))


async def setup(session, person, **kw):  # type: ignore[no-untyped-def]
    network = await make_network(session, **kw)
    member, coordinator = person(2), person(3)
    await member_of(session, member, network, name="Rana", sector="youth_worker")
    await member_of(session, coordinator, network, role="coordinator", name="Omar")
    return network, member, coordinator


def data(requests: list[Any]) -> list[str]:
    return [b[1] for b in buttons(requests)]


async def count_reports(session) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.count()).select_from(Report)) or 0)


async def file_report(member: Person, description: str = "Football and talk") -> list[Any]:
    """The common path: six taps and one typed text."""
    out = await member.send("/report")
    assert "rt:workshop" in data(out), out
    out = await member.tap("Awareness session")
    assert "rd:0" in data(out)
    out = await member.tap("Today", contains=True)
    assert "rn:20" in data(out)
    out = await member.tap("20")
    assert "ra:youth" in data(out)
    out = await member.tap("Young people (18–29)")
    assert texts(out) == ["Describe the activity in a few words (up to 1,000 characters)."]
    out = await member.send(description)
    assert "rf:skip_file" in data(out)
    out = await member.tap("Skip")
    assert "rf:submit" in data(out)
    return await member.tap("✅ Submit")
