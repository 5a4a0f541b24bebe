"""Broadcasts and the networks each went to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.delivery import SendJob


class Broadcast(Base):
    """A coordinator's update to one or more networks; its sending is a SendJob."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("send_jobs.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # {"networks": [ids], "roles": ["coordinator"] | None, "sectors": [..] | None}
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16))  # text / photo / document
    preview: Mapped[str] = mapped_column(String(200))  # the first line, for lists and digests
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    job: Mapped[SendJob] = relationship(lazy="joined")


class BroadcastNetwork(Base):
    """Which networks a broadcast went to (a coordinator lists only their networks')."""

    __tablename__ = "broadcast_networks"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True, index=True
    )
