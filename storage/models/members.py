"""People: roles, sectors, users and their memberships of networks."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.crypto import EncryptedText
from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.networks import Network


class Role(enum.StrEnum):
    MEMBER = "member"
    COORDINATOR = "coordinator"


class MembershipStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"


class Sector(enum.StrEnum):
    TEACHER = "teacher"
    YOUTH_WORKER = "youth_worker"
    RELIGIOUS_LEADER = "religious_leader"
    YOUTH_REP = "youth_rep"
    POLICE = "police"
    NGO = "ngo"
    PSYCHOSOCIAL = "psychosocial"
    OTHER = "other"


class User(Base):
    """A person who has talked to the bot and given consent (or chose a language)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tg_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    language: Mapped[str | None] = mapped_column(String(2), default=None)
    # Encrypted with DATA_KEY (storage/crypto.py): never sort or filter by it in SQL.
    display_name: Mapped[str | None] = mapped_column(
        EncryptedText("users.display_name", 64), default=None
    )
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Set when Telegram answers 403 (blocked / deactivated); cleared when they write again.
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "network_id", name="uq_memberships_user_network"),
        Index("ix_memberships_network_status", "network_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER)
    status: Mapped[str] = mapped_column(String(16), default=MembershipStatus.ACTIVE)
    sector: Mapped[str] = mapped_column(String(32), default=Sector.OTHER)
    invite_id: Mapped[int | None] = mapped_column(
        ForeignKey("invites.id", ondelete="SET NULL"), default=None
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    user: Mapped[User] = relationship(back_populates="memberships")
    network: Mapped[Network] = relationship(lazy="joined")
