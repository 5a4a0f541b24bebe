"""The daily purge's record (bot/services/retention.py): one row per UTC day.

The row is inserted before anything is purged, and its primary key is the lock: with
several processes on one database (PostgreSQL), one of them runs the day's purge and
writes its audit entry; the others find the row and do nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class RetentionRun(Base):
    __tablename__ = "retention_runs"

    day: Mapped[date] = mapped_column(Date, primary_key=True, autoincrement=False)
    claimed_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # None: cut off (the next day's run purges what this one left).
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Rows purged per kind: {"attachments": 3, "audit_entries": 120, ...}
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
