"""Models of a network's action plan: actions, the members responsible, milestones.

An action's months are stored as the first day of the month. The members responsible
are links to users that go with the member (/leave, erasure). Titles, aims and milestone
texts are typed by coordinators and may name people or places, so they are encrypted
with DATA_KEY like reports' texts (storage/crypto.py): never sort, filter or search by
them in SQL.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.crypto import EncryptedText
from storage.models.base import Base, UTCDateTime, utcnow


class ActionStatus(enum.StrEnum):
    PLANNED = "planned"
    UNDER_WAY = "under_way"
    DONE = "done"
    DROPPED = "dropped"


TITLE_MAX = 80
AIM_MAX = 300
MILESTONE_MAX = 200
ACTIONS_MAX = 30  # per network: "a handful"
MILESTONES_MAX = 20  # per action


class PlanAction(Base):
    """One action of a network's plan."""

    __tablename__ = "plan_actions"
    __table_args__ = (Index("ix_plan_actions_network_status", "network_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(EncryptedText("plan_actions.title", TITLE_MAX))
    aim: Mapped[str | None] = mapped_column(
        EncryptedText("plan_actions.aim", AIM_MAX), default=None
    )
    start_month: Mapped[date] = mapped_column(Date)  # the first day of the month
    end_month: Mapped[date] = mapped_column(Date)  # the first day of the last month
    status: Mapped[str] = mapped_column(String(16), default=ActionStatus.PLANNED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class PlanResponsible(Base):
    """A member responsible for an action."""

    __tablename__ = "plan_responsibles"
    __table_args__ = (Index("ix_plan_responsibles_user", "user_id"),)

    action_id: Mapped[int] = mapped_column(
        ForeignKey("plan_actions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )


class PlanMilestone(Base):
    """A step of an action with a due date; reminded when overdue (`reminded_on`)."""

    __tablename__ = "plan_milestones"
    __table_args__ = (Index("ix_plan_milestones_action", "action_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("plan_actions.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(EncryptedText("plan_milestones.text", MILESTONE_MAX))
    due_date: Mapped[date] = mapped_column(Date)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    # The network's local date of the last overdue reminder (a claim: at most one a day).
    reminded_on: Mapped[date | None] = mapped_column(Date, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
