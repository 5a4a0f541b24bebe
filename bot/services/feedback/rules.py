"""Training feedback: when people are asked and reminded, and what is refused."""

from __future__ import annotations

import enum
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.models.feedback import RATINGS, TEXT_MAX

__all__ = ["RATINGS", "TEXT_MAX"]

# Events that ended within this window are asked about (a bot that was down a day still
# asks; a new deployment does not ask about last year's trainings).
ASK_WINDOW = timedelta(days=2)
REMIND_AT = time(10, 0)  # local time, the day after the questions were asked
REMIND_LATE = timedelta(hours=12)  # a reminder missed by more (the bot was down) is dropped
TICK_SECONDS = 60
JOB_ID = "feedback.tick"
STEPS = ("apply", "missing")
RECENT_SHOWN = 8  # events listed on /feedback
OVERVIEW_DAYS = 365  # /feedback's months


class Problem(enum.StrEnum):
    NOT_ASKED = "not_asked"  # nobody asked this person about this event (or they left)
    ANSWERED = "answered"  # that question was answered (or skipped) already
    TOO_LONG = "too_long"


class FeedbackError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def reminder_due(asked_at: datetime, tz: ZoneInfo) -> datetime:
    """REMIND_AT local time on the day after the questions were asked."""
    day = asked_at.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(day, REMIND_AT, tzinfo=tz)


def clean_answer(text: str) -> str:
    """A typed answer, stripped; FeedbackError(TOO_LONG) past TEXT_MAX characters."""
    value = text.strip()
    if len(value) > TEXT_MAX:
        raise FeedbackError(Problem.TOO_LONG)
    return value
