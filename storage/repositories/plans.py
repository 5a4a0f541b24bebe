"""Action plans: actions, the members responsible, milestones and their progress. The
SQL behind bot.services.plans; portable (SQLite and PostgreSQL); nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Membership, MembershipStatus, Network, User
from storage.models.plans import ActionStatus, PlanAction, PlanMilestone, PlanResponsible
from storage.models.reports import Report

OPEN = (ActionStatus.PLANNED.value, ActionStatus.UNDER_WAY.value)


@dataclass(slots=True)
class Progress:
    """An action's figures: reports linked, participants reached, milestones."""

    reports: int = 0
    participants: int = 0
    milestones: int = 0
    milestones_done: int = 0


@dataclass(slots=True)
class ActionView:
    action: PlanAction
    progress: Progress
    responsible: list[tuple[int, str | None]] = field(default_factory=list)  # (user id, name)
    milestones: list[PlanMilestone] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Overdue:
    """An overdue milestone to remind, with its action and network."""

    milestone_id: int
    text: str
    due_date: date
    action_id: int
    action_title: str
    network_id: int


@dataclass(frozen=True, slots=True)
class Person:
    user_id: int
    tg_id: int
    language: str | None


async def create_action(session: AsyncSession, **values: Any) -> PlanAction:
    action = PlanAction(**values)
    session.add(action)
    await session.flush()
    return action


async def get_action(session: AsyncSession, action_id: int) -> PlanAction | None:
    return await session.get(PlanAction, action_id, populate_existing=True)


async def get_milestone(session: AsyncSession, milestone_id: int) -> PlanMilestone | None:
    return await session.get(PlanMilestone, milestone_id, populate_existing=True)


async def count_actions(session: AsyncSession, network_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(PlanAction).where(PlanAction.network_id == network_id)
        )
        or 0
    )


async def count_milestones(session: AsyncSession, action_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(PlanMilestone)
            .where(PlanMilestone.action_id == action_id)
        )
        or 0
    )


async def set_responsible(session: AsyncSession, action_id: int, user_ids: Sequence[int]) -> None:
    await session.execute(delete(PlanResponsible).where(PlanResponsible.action_id == action_id))
    for uid in sorted(set(user_ids)):
        session.add(PlanResponsible(action_id=action_id, user_id=uid))
    await session.flush()


async def add_milestone(session: AsyncSession, **values: Any) -> PlanMilestone:
    milestone = PlanMilestone(**values)
    session.add(milestone)
    await session.flush()
    return milestone


async def delete_milestone(session: AsyncSession, milestone: PlanMilestone) -> None:
    await session.delete(milestone)
    await session.flush()


async def actions_of(
    session: AsyncSession, network_id: int, statuses: Sequence[str] | None = None
) -> Sequence[PlanAction]:
    query = (
        select(PlanAction)
        .where(PlanAction.network_id == network_id)
        .order_by(PlanAction.start_month, PlanAction.id)
        .execution_options(populate_existing=True)
    )
    if statuses is not None:
        query = query.where(PlanAction.status.in_(list(statuses)))
    return (await session.scalars(query)).all()


async def views(session: AsyncSession, actions: Sequence[PlanAction]) -> list[ActionView]:
    """The actions with their progress, the members responsible (names only while they
    are active members of the action's network) and milestones."""
    out = {a.id: ActionView(a, Progress()) for a in actions}
    ids = sorted(out)
    if not ids:
        return []
    rows = await session.execute(
        select(Report.action_id, func.count(), func.coalesce(func.sum(Report.participants), 0))
        .where(Report.action_id.in_(ids))
        .group_by(Report.action_id)
    )
    for aid, n, people in rows.all():
        if aid in out:
            out[aid].progress.reports, out[aid].progress.participants = int(n), int(people)
    milestones = await session.scalars(
        select(PlanMilestone)
        .where(PlanMilestone.action_id.in_(ids))
        .order_by(PlanMilestone.due_date, PlanMilestone.id)
        .execution_options(populate_existing=True)
    )
    for m in milestones.all():
        view = out[m.action_id]
        view.milestones.append(m)
        view.progress.milestones += 1
        view.progress.milestones_done += int(m.done)
    names = await session.execute(
        select(PlanResponsible.action_id, User.id, User.display_name)
        .join(User, User.id == PlanResponsible.user_id)
        .join(PlanAction, PlanAction.id == PlanResponsible.action_id)
        .join(
            Membership,
            and_(
                Membership.user_id == User.id,
                Membership.network_id == PlanAction.network_id,
                Membership.status == MembershipStatus.ACTIVE,
            ),
        )
        .where(PlanResponsible.action_id.in_(ids))
        .order_by(User.id)
    )
    for aid, uid, name in names.all():
        out[aid].responsible.append((uid, name))
    return [out[a.id] for a in actions]


async def responsible_for(session: AsyncSession, user_id: int) -> Sequence[tuple[PlanAction, str]]:
    """(action, network name) of every action the person is responsible for."""
    rows = await session.execute(
        select(PlanAction, Network.name)
        .join(PlanResponsible, PlanResponsible.action_id == PlanAction.id)
        .join(Network, Network.id == PlanAction.network_id)
        .where(PlanResponsible.user_id == user_id)
        .order_by(Network.name, PlanAction.id)
    )
    return [(a, name) for a, name in rows.all()]


async def remove_responsible(session: AsyncSession, user_id: int, network_id: int) -> int:
    """The person is no longer responsible for any action of this network (/leave)."""
    ids = select(PlanAction.id).where(PlanAction.network_id == network_id)
    result = await session.execute(
        delete(PlanResponsible).where(
            PlanResponsible.user_id == user_id, PlanResponsible.action_id.in_(ids)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def overdue(session: AsyncSession, network_id: int, today: date) -> Sequence[Overdue]:
    """Milestones past their due date, not done, of open actions, not reminded within the
    week (a reminder on a day the network's today)."""
    rows = await session.execute(
        select(
            PlanMilestone.id,
            PlanMilestone.text,
            PlanMilestone.due_date,
            PlanAction.id,
            PlanAction.title,
            PlanAction.network_id,
        )
        .join(PlanAction, PlanAction.id == PlanMilestone.action_id)
        .where(
            PlanAction.network_id == network_id,
            PlanAction.status.in_(OPEN),
            PlanMilestone.done.is_(False),
            PlanMilestone.due_date < today,
        )
        .order_by(PlanMilestone.due_date, PlanMilestone.id)
    )
    return [Overdue(*r) for r in rows.all()]


async def claim_reminder(
    session: AsyncSession, milestone_id: int, today: date, not_since: date
) -> bool:
    """Mark the milestone reminded today unless it was reminded on or after `not_since`
    (two processes never both remind)."""
    result = await session.execute(
        update(PlanMilestone)
        .where(
            PlanMilestone.id == milestone_id,
            or_(PlanMilestone.reminded_on.is_(None), PlanMilestone.reminded_on < not_since),
        )
        .values(reminded_on=today)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def responsible_people(session: AsyncSession, action_id: int) -> Sequence[Person]:
    """The action's responsible members who are still active members of its network."""
    rows = await session.execute(
        select(User.id, User.tg_id, User.language)
        .join(PlanResponsible, PlanResponsible.user_id == User.id)
        .join(PlanAction, PlanAction.id == PlanResponsible.action_id)
        .join(
            Membership,
            and_(
                Membership.user_id == User.id,
                Membership.network_id == PlanAction.network_id,
                Membership.status == MembershipStatus.ACTIVE,
            ),
        )
        .where(PlanResponsible.action_id == action_id, User.unreachable_since.is_(None))
        .order_by(User.id)
    )
    return [Person(*r) for r in rows.all()]


async def networks_with_open_milestones(session: AsyncSession) -> Sequence[Network]:
    rows = await session.scalars(
        select(Network)
        .where(
            Network.id.in_(
                select(PlanAction.network_id)
                .join(PlanMilestone, PlanMilestone.action_id == PlanAction.id)
                .where(PlanAction.status.in_(OPEN), PlanMilestone.done.is_(False))
            )
        )
        .order_by(Network.id)
    )
    return rows.all()


async def titles(session: AsyncSession, action_ids: Sequence[int]) -> dict[int, str]:
    ids = sorted(set(action_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(PlanAction.id, PlanAction.title).where(PlanAction.id.in_(ids))
    )
    return {aid: title for aid, title in rows.all()}


async def status_counts(
    session: AsyncSession, network_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """network id -> status -> number of actions."""
    out: dict[int, dict[str, int]] = {}
    if not network_ids:
        return out
    rows = await session.execute(
        select(PlanAction.network_id, PlanAction.status, func.count())
        .where(PlanAction.network_id.in_(list(network_ids)))
        .group_by(PlanAction.network_id, PlanAction.status)
    )
    for net, status, n in rows.all():
        out.setdefault(net, {})[status] = int(n)
    return out
