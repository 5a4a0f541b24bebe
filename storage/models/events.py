"""Models of the events feature (`Base` is in storage/models/base.py).

* `Event`: a meeting, training or workshop of one network; times are stored in UTC and
  shown in the network's time zone. ``sequence`` is the iCalendar SEQUENCE, raised on each
  change, and ``uid`` the stable iCalendar UID so a phone's calendar replaces its entry.
* `EventRsvp`: one person's answer to one event (unique per event and user), and whether
  they came (marked by a coordinator after the event).
* `EventReminder`: one due reminder, a row per (event, plan, offset). The database is the
  source of truth: the scheduler claims each due row atomically before sending it.
* `EventSettings`: per-network settings of this feature (reminder offsets).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.networks import Network

DEFAULT_REMINDER_OFFSETS: tuple[int, ...] = (24 * 60, 60)  # minutes before the start


class EventKind(enum.StrEnum):
    MEETING = "meeting"
    TRAINING = "training"
    WORKSHOP = "workshop"


class EventStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Answer(enum.StrEnum):
    GOING = "going"
    MAYBE = "maybe"
    NO = "no"


class ReminderStatus(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    SKIPPED = "skipped"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_network_starts", "network_id", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=EventKind.MEETING)
    title: Mapped[str] = mapped_column(String(128))
    place: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.SCHEDULED)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # The calendar file of the current sequence, uploaded once; sent again by file_id.
    ics_file_id: Mapped[str | None] = mapped_column(String(255), default=None)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    network: Mapped[Network] = relationship(lazy="joined")


class EventRsvp(Base):
    __tablename__ = "event_rsvps"
    __table_args__ = (UniqueConstraint("event_id", "user_id", name="uq_event_rsvps_event_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # None when a coordinator marked attendance of someone who never answered.
    answer: Mapped[str | None] = mapped_column(String(8), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attended: Mapped[bool | None] = mapped_column(Boolean, default=None)


class EventReminder(Base):
    __tablename__ = "event_reminders"
    __table_args__ = (
        # One row per offset and plan: a plan is the event's sequence when it was made.
        UniqueConstraint(
            "event_id", "plan", "offset_minutes", name="uq_event_reminders_event_plan_offset"
        ),
        Index("ix_event_reminders_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    plan: Mapped[int] = mapped_column(Integer, default=0)
    offset_minutes: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=ReminderStatus.PENDING)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Send jobs of the delivery engine that carried it, by group of recipients
    # ("going", "maybe", "open"); written in the transaction that enqueued each job.
    jobs: Mapped[dict[str, int] | None] = mapped_column(JSON, default=None)
    note: Mapped[str | None] = mapped_column(String(64), default=None)


class EventSettings(Base):
    """Per-network settings of events. No row means the defaults."""

    __tablename__ = "event_settings"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    # Minutes before the start, largest first, e.g. [1440, 60].
    reminder_offsets: Mapped[list[int]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_REMINDER_OFFSETS)
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
