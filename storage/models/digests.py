"""Models of the weekly digest feature (`Base` is in storage/models/base.py).

* `DigestSettings`: a network's weekday and hour (local, in the network's time zone) for
  its weekly digest. No row means the default, Sunday 09:00.
* `Digest`: one digest of one week, for one network (``scope`` = ``network:<id>``) or for
  the admins (``scope`` = ``admin``). The row is inserted *before* anything is sent, and
  the unique constraint on (scope, week) is the lock: restarts, two processes, a manual
  send and the coordinator's "send now" can never make a second digest of the same week.
  ``week`` is the Monday of the ISO week of the digest's local date. ``progress`` records
  which parts are done (the uploaded chart or spreadsheet and its file ids, the queued
  send jobs), written in the same transaction as each part's send job, so a digest cut
  off by a crash is finished by the next process without repeating a part.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

DEFAULT_WEEKDAY = 6  # Python's weekday(): Monday is 0, Sunday 6
DEFAULT_HOUR = 9


class DigestStatus(enum.StrEnum):
    CLAIMED = "claimed"  # being built and queued by `claimed_by`
    SENT = "sent"  # every part is in the outbox
    ABANDONED = "abandoned"  # cut off, and its week was over before anyone could finish it


class DigestSettings(Base):
    """A network's digest schedule. No row means the defaults."""

    __tablename__ = "digest_settings"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    weekday: Mapped[int] = mapped_column(Integer, default=DEFAULT_WEEKDAY)
    hour: Mapped[int] = mapped_column(Integer, default=DEFAULT_HOUR)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Digest(Base):
    """One week's digest of one network (or the admins'); see the module docstring."""

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("scope", "week", name="uq_digests_scope_week"),
        Index("ix_digests_status_claimed", "status", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(24))
    network_id: Mapped[int | None] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), default=None, index=True
    )
    week: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=DigestStatus.CLAIMED)
    # schedule / catchup / cli / coordinator
    trigger: Mapped[str] = mapped_column(String(16))
    # The moment the digest describes (its "last 7 days" end the day before, local).
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # Times it was sent again with --force / "send anyway".
    resends: Mapped[int] = mapped_column(Integer, default=0)
    # {"files": {locale: file_id}, "uploaded": [user ids], "parts": ["chart", "text"]}
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Send jobs by part: {"chart": 12, "text": 13}
    job_ids: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
