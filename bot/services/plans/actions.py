"""Action plans: who sees and edits which plan, creating and changing actions and
milestones (audit-logged)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import AccessDenied, Actor
from bot.services.plans.rules import (
    STATUSES,
    PlanError,
    Problem,
    check_due,
    clean_aim,
    clean_milestone,
    clean_title,
    local_today,
    parse_month,
)
from storage.models import MembershipStatus, Network
from storage.models.plans import ACTIONS_MAX, MILESTONES_MAX, ActionStatus, PlanAction
from storage.repositories import audit, memberships, networks
from storage.repositories import plans as repo
from storage.repositories.plans import ActionView


@dataclass(frozen=True)
class PlanView:
    """A network's plan as the actor may see it."""

    network: Network
    actions: list[ActionView]
    editable: bool  # the actor coordinates the network (or is an admin)
    mine: frozenset[int]  # ids of the actions the actor is responsible for
    today: date


def _user_id(actor: Actor) -> int | None:
    return actor.user.id if actor.user is not None else None


async def plan_networks(session: AsyncSession, actor: Actor) -> Sequence[Network]:
    """Networks whose plan the actor may see: their own; every network for an admin."""
    if actor.is_admin:
        return await networks.list_all(session)
    return sorted((m.network for m in actor.memberships), key=lambda n: n.name)


async def _network(session: AsyncSession, actor: Actor, network_id: int) -> Network:
    actor.require_member(network_id)
    network = await networks.get(session, network_id)
    if network is None:
        raise AccessDenied(f"no network {network_id}")
    return network


async def _editable_action(session: AsyncSession, actor: Actor, action_id: int) -> PlanAction:
    action = await repo.get_action(session, action_id)
    if action is None:
        raise AccessDenied(f"no action {action_id}")
    actor.require_coordinator(action.network_id)
    return action


async def plan(session: AsyncSession, actor: Actor, network_id: int, now: datetime) -> PlanView:
    network = await _network(session, actor, network_id)
    actions = await repo.actions_of(session, network.id)
    views = await repo.views(session, actions)
    me = _user_id(actor)
    mine = frozenset(v.action.id for v in views if any(uid == me for uid, _n in v.responsible))
    return PlanView(network, views, actor.can_coordinate(network.id), mine,
                    local_today(network, now))


async def open_action(
    session: AsyncSession, actor: Actor, action_id: int, now: datetime
) -> tuple[PlanView, ActionView]:
    """One action, with the plan it belongs to (for the rights and the network)."""
    action = await repo.get_action(session, action_id)
    if action is None:
        raise AccessDenied(f"no action {action_id}")
    network = await _network(session, actor, action.network_id)
    views = await repo.views(session, [action])
    me = _user_id(actor)
    mine = frozenset(
        v.action.id for v in views if any(uid == me for uid, _n in v.responsible)
    )
    return (
        PlanView(network, views, actor.can_coordinate(network.id), mine,
                 local_today(network, now)),
        views[0],
    )


async def candidates(
    session: AsyncSession, actor: Actor, network_id: int
) -> list[tuple[int, str]]:
    """(user id, name) of the network's active members, who may be made responsible."""
    actor.require_coordinator(network_id)
    rows = await memberships.members(session, network_id)
    out = [
        (m.user_id, m.user.display_name or "—")
        for m in rows
        if m.status == MembershipStatus.ACTIVE
    ]
    return sorted(out, key=lambda p: (p[1].casefold(), p[0]))


async def start_action(session: AsyncSession, actor: Actor, network_id: int) -> Network:
    """The network a new action is for, if the actor may add one there."""
    actor.require_coordinator(network_id)
    network = await networks.get(session, network_id)
    if network is None:
        raise AccessDenied(f"no network {network_id}")
    if await repo.count_actions(session, network_id) >= ACTIONS_MAX:
        raise PlanError(Problem.TOO_MANY, max=ACTIONS_MAX)
    return network


async def create_action(
    session: AsyncSession, actor: Actor, draft: Mapping[str, Any], now: datetime
) -> PlanAction:
    """A new action (status planned) from the dialog's data."""
    network = await start_action(session, actor, int(draft.get("network_id") or 0))
    try:
        title = clean_title(str(draft["title"]))
        aim = clean_aim(str(draft["aim"])) if draft.get("aim") else None
        start = parse_month(str(draft["start"]))
        end = parse_month(str(draft["end"]))
        chosen = [int(u) for u in draft.get("responsible") or []]
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, PlanError):
            raise
        raise PlanError(Problem.INCOMPLETE) from exc
    if end < start:
        raise PlanError(Problem.BAD_MONTHS)
    allowed = {uid for uid, _n in await candidates(session, actor, network.id)}
    action = await repo.create_action(
        session, network_id=network.id, title=title, aim=aim, start_month=start,
        end_month=end, status=ActionStatus.PLANNED.value, created_at=now,
    )
    await repo.set_responsible(session, action.id, [u for u in chosen if u in allowed])
    await audit.record(session, "plan_action_add", actor_id=_user_id(actor),
                       network_id=network.id, plan_action=action.id)
    await session.commit()
    return action


async def set_status(
    session: AsyncSession, actor: Actor, action_id: int, status: str, now: datetime
) -> PlanAction:
    action = await _editable_action(session, actor, action_id)
    if status not in STATUSES:
        raise PlanError(Problem.INCOMPLETE)
    if action.status != status:
        old, action.status, action.updated_at = action.status, status, now
        await audit.record(session, "plan_action_status", actor_id=_user_id(actor),
                           network_id=action.network_id, plan_action=action.id, old=old, new=status)
        await session.commit()
    return action


async def responsible_action(
    session: AsyncSession, actor: Actor, action_id: int
) -> tuple[PlanAction, list[int]]:
    """An action whose members responsible the actor may change, and who they are now."""
    action = await _editable_action(session, actor, action_id)
    views = await repo.views(session, [action])
    return action, [uid for uid, _n in views[0].responsible]


async def set_responsible(
    session: AsyncSession, actor: Actor, action_id: int, user_ids: Sequence[int], now: datetime
) -> PlanAction:
    """The action's members responsible become `user_ids` (active members only)."""
    action = await _editable_action(session, actor, action_id)
    allowed = {uid for uid, _n in await candidates(session, actor, action.network_id)}
    chosen = sorted({u for u in user_ids if u in allowed})
    await repo.set_responsible(session, action.id, chosen)
    action.updated_at = now
    await audit.record(session, "plan_action_responsible", actor_id=_user_id(actor),
                       network_id=action.network_id, plan_action=action.id,
                       responsible=len(chosen))
    await session.commit()
    return action


async def milestone_action(session: AsyncSession, actor: Actor, action_id: int) -> PlanAction:
    """The action a milestone is being added to, if the actor may add one."""
    action = await _editable_action(session, actor, action_id)
    if await repo.count_milestones(session, action.id) >= MILESTONES_MAX:
        raise PlanError(Problem.TOO_MANY, max=MILESTONES_MAX)
    return action


async def add_milestone(
    session: AsyncSession, actor: Actor, action_id: int, text: str, due: date, now: datetime
) -> PlanAction:
    action = await milestone_action(session, actor, action_id)
    network = await networks.get(session, action.network_id)
    assert network is not None
    milestone = await repo.add_milestone(
        session, action_id=action.id, text=clean_milestone(text),
        due_date=check_due(due, local_today(network, now)), created_at=now,
    )
    action.updated_at = now
    await audit.record(session, "plan_milestone_add", actor_id=_user_id(actor),
                       network_id=action.network_id, plan_action=action.id, milestone=milestone.id)
    await session.commit()
    return action


async def toggle_milestone(
    session: AsyncSession, actor: Actor, milestone_id: int, now: datetime
) -> PlanAction:
    """Done <-> not done."""
    milestone = await repo.get_milestone(session, milestone_id)
    if milestone is None:
        raise AccessDenied(f"no milestone {milestone_id}")
    action = await _editable_action(session, actor, milestone.action_id)
    milestone.done = not milestone.done
    action.updated_at = now
    await audit.record(session, "plan_milestone_done", actor_id=_user_id(actor),
                       network_id=action.network_id, plan_action=action.id,
                       milestone=milestone.id, done=milestone.done)
    await session.commit()
    return action


async def under_way(session: AsyncSession, network_id: int) -> list[tuple[int, str]]:
    """(id, title) of the network's actions under way: the report dialog's choices."""
    actions = await repo.actions_of(session, network_id, [ActionStatus.UNDER_WAY.value])
    return [(a.id, a.title) for a in actions]


async def report_choices(
    session: AsyncSession, network_id: int, current: int | None = None
) -> list[list[Any]]:
    """[id, title] of the actions a report may serve (those under way), with the report's
    own action first when it is no longer under way (fixing a report keeps it)."""
    choices: list[list[Any]] = [[aid, title] for aid, title in await under_way(session, network_id)]
    if current and all(aid != current for aid, _t in choices):
        titles = await repo.titles(session, [current])
        if current in titles:
            choices.insert(0, [current, titles[current]])
    return choices


async def responsible_for(session: AsyncSession, user_id: int) -> Sequence[tuple[PlanAction, str]]:
    return await repo.responsible_for(session, user_id)
