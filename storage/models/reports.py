"""Models of the reports feature (`Base` is in storage/models/base.py).

A report keeps its author's sector and network on its own row, and its author is a
nullable foreign key with ``ON DELETE SET NULL``: when a member's data is erased
(/leave from their last network) their reports stay, anonymised, for the statistics.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.crypto import EncryptedText
from storage.models.base import Base, UTCDateTime, utcnow


class ActivityType(enum.StrEnum):
    WORKSHOP = "workshop"
    AWARENESS = "awareness"
    CULTURE = "culture"  # sports, arts, culture
    DIALOGUE = "dialogue"
    MENTORING = "mentoring"
    REFERRAL = "referral"  # referral or case support
    TRAINING = "training"  # a training the member attended
    OTHER = "other"


class AgeGroup(enum.StrEnum):
    CHILDREN = "children"  # under 12
    ADOLESCENTS = "adolescents"  # 12-17
    YOUTH = "youth"  # 18-29
    ADULTS = "adults"  # 30 and over
    MIXED = "mixed"


class ReportStatus(enum.StrEnum):
    NEW = "new"
    REVIEWED = "reviewed"
    FLAGGED = "flagged"


class AttachmentKind(enum.StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"


DESCRIPTION_MAX = 1000
NOTE_MAX = 500
MAX_PARTICIPANTS = 10_000
DEFAULT_NUDGE_DAYS = 14
DEFAULT_MAX_AGE_DAYS = 30
# What the buttons offer (and the only values accepted from them).
PARTICIPANT_CHOICES = (5, 10, 15, 20, 25, 30, 40, 50)
NUDGE_DAY_CHOICES = (7, 14, 21, 30)
MAX_AGE_CHOICES = (7, 30, 90)
PERIOD_CHOICES = (7, 30, 90, 365)  # filters of a coordinator's list, in days
PERIODS = ("week", "lastweek", "month", "lastmonth", "30", "all")  # export periods


class Report(Base):
    """One activity a member ran or attended. Files are Telegram file ids, never bytes."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_network_date", "network_id", "activity_date"),
        Index("ix_reports_network_created", "network_id", "created_at"),
        Index("ix_reports_author_created", "author_id", "created_at"),
        Index("ix_reports_notified_at", "notified_at"),
        Index("ix_reports_action", "action_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # The author's sector when they reported: statistics by sector survive erasure.
    author_sector: Mapped[str] = mapped_column(String(32))
    activity_type: Mapped[str] = mapped_column(String(24))
    activity_date: Mapped[date] = mapped_column(Date)
    participants: Mapped[int] = mapped_column(Integer)
    age_group: Mapped[str | None] = mapped_column(String(16), default=None)
    # These three are encrypted with DATA_KEY (storage/crypto.py): never sort, filter or
    # search by them in SQL.
    description: Mapped[str] = mapped_column(EncryptedText("reports.description"))
    attachment_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    attachment_file_id: Mapped[str | None] = mapped_column(
        EncryptedText("reports.attachment_file_id", 255), default=None
    )
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.NEW)
    # The action of the network's plan this activity served (storage/models/plans.py).
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("plan_actions.id", ondelete="SET NULL"), default=None
    )
    review_note: Mapped[str | None] = mapped_column(
        EncryptedText("reports.review_note"), default=None
    )
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Set when the coordinators' notice was queued (the notifier claims rows by it).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def reference(self) -> str:
        return reference(self.id)


def reference(report_id: int) -> str:
    """The number a member and their coordinator quote: R-42."""
    return f"R-{report_id}"


class ReportSettings(Base):
    """Per-network settings of reports and nudges; a network without a row has the defaults."""

    __tablename__ = "report_settings"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    nudge_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    nudge_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_NUDGE_DAYS)
    # Python weekday numbers ("4,5" = Friday and Saturday); None: the country's default.
    weekend: Mapped[str | None] = mapped_column(String(16), default=None)
    # How far back a report may be dated.
    max_age_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_AGE_DAYS)
    # The last nudge run that claimed this network (two processes never both nudge).
    nudge_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class ReportNudge(Base):
    """When a member was last nudged to report, per network."""

    __tablename__ = "report_nudges"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    nudged_at: Mapped[datetime] = mapped_column(UTCDateTime())
