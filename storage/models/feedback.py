"""Training feedback: one row per (event, person) asked after a training or workshop.

The row is written when the questions are queued (so each person is asked once, also
with several workers: the unique key is the claim), ``reminded_at`` when the one
reminder is queued, ``answered_at`` with the 1-5 usefulness. The two texts are optional
and encrypted with DATA_KEY (storage/crypto.py). When a person's data is erased
(/leave from their last network) ``user_id`` becomes NULL: the answer stays, anonymous,
for the statistics, as reports do.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.crypto import EncryptedText
from storage.models.base import Base, UTCDateTime

TEXT_MAX = 500  # characters of each optional answer
RATINGS = (1, 2, 3, 4, 5)


class EventFeedback(Base):
    __tablename__ = "event_feedback"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", name="uq_event_feedback_event_user"),
        Index("ix_event_feedback_asked_at", "asked_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None, index=True
    )
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    usefulness: Mapped[int | None] = mapped_column(Integer, default=None)  # 1-5
    # Never sort, filter or search by these in SQL (encrypted).
    apply_text: Mapped[str | None] = mapped_column(
        EncryptedText("event_feedback.apply_text"), default=None
    )
    missing_text: Mapped[str | None] = mapped_column(
        EncryptedText("event_feedback.missing_text"), default=None
    )
