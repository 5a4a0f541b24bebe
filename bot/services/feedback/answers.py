"""A member answering the three questions: the 1-5 first, then the two optional texts.

Only the person asked may answer, each question once (a second press is refused), and
only while a member of the event's network. Answers after the reminder are accepted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import Actor
from bot.services.feedback.rules import RATINGS, STEPS, FeedbackError, Problem, clean_answer
from storage.models.events import Event
from storage.models.feedback import EventFeedback
from storage.repositories import events as events_repo
from storage.repositories import feedback as repo

COLUMN = {"apply": "apply_text", "missing": "missing_text"}
SKIPPED = ""  # an optional question skipped (no answer is empty)


async def _own(session: AsyncSession, actor: Actor, event_id: int) -> tuple[Event, EventFeedback]:
    if actor.user is None:
        raise FeedbackError(Problem.NOT_ASKED)
    event = await events_repo.get(session, event_id)
    row = await repo.get_own(session, event_id, actor.user.id)
    if event is None or row is None or not actor.can_see(event.network_id):
        raise FeedbackError(Problem.NOT_ASKED)
    return event, row


async def rate(
    session: AsyncSession, actor: Actor, event_id: int, usefulness: int, now: datetime
) -> Event:
    """Record the 1-5 answer; FeedbackError if not asked, or answered already."""
    event, row = await _own(session, actor, event_id)
    if usefulness not in RATINGS:
        raise FeedbackError(Problem.NOT_ASKED)  # a forged button
    if row.answered_at is not None:
        raise FeedbackError(Problem.ANSWERED)
    assert actor.user is not None
    if not await repo.rate(session, event_id, actor.user.id, usefulness, now):
        raise FeedbackError(Problem.ANSWERED)  # a double tap, answered meanwhile
    await session.commit()
    return event


def next_step(row: EventFeedback) -> str | None:
    """The optional question still open: "apply", "missing" or None (all answered)."""
    if row.answered_at is None:
        return None
    if row.apply_text is None:
        return "apply"
    if row.missing_text is None:
        return "missing"
    return None


async def answer_step(
    session: AsyncSession, actor: Actor, event_id: int, step: str, text: str | None
) -> str | None:
    """Record (``text``) or skip (None) one optional question; returns the next one."""
    if step not in STEPS:
        raise FeedbackError(Problem.NOT_ASKED)
    _event, row = await _own(session, actor, event_id)
    current = next_step(row)
    if current != step:
        raise FeedbackError(Problem.NOT_ASKED if row.answered_at is None else Problem.ANSWERED)
    value = SKIPPED if text is None else clean_answer(text)
    await repo.set_text(session, row.id, COLUMN[step], value)
    await session.commit()
    return "missing" if step == "apply" and row.missing_text is None else None
