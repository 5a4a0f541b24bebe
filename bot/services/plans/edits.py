"""Action plans: changing an action's title, aim and months, a milestone's text and due
date, removing a milestone. The same rights as the other plan changes (the network's
coordinators and admins); every change is audit-logged, without the typed texts (they
are encrypted in their tables and stay out of the log)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import Actor
from bot.services.plans.actions import _editable_action, _user_id
from bot.services.plans.rules import (
    PlanError,
    Problem,
    clean_aim,
    clean_milestone,
    clean_title,
    local_today,
    parse_due,
    parse_month,
)
from storage.models import Network
from storage.models.plans import PlanAction, PlanMilestone
from storage.repositories import audit, networks
from storage.repositories import plans as repo


async def action_to_edit(session: AsyncSession, actor: Actor, action_id: int) -> PlanAction:
    """The action, if the actor may change it (AccessDenied otherwise)."""
    return await _editable_action(session, actor, action_id)


async def milestone_to_edit(
    session: AsyncSession, actor: Actor, milestone_id: int
) -> tuple[PlanMilestone, PlanAction]:
    """The milestone and its action, if the actor may change them. A milestone that is
    gone (removed by another coordinator, or pressed twice) is a PlanError, not a
    refusal: nothing of any network is told."""
    milestone = await repo.get_milestone(session, milestone_id)
    if milestone is None:
        raise PlanError(Problem.MILESTONE_GONE)
    action = await _editable_action(session, actor, milestone.action_id)
    return milestone, action


async def _network(session: AsyncSession, action: PlanAction) -> Network:
    network = await networks.get(session, action.network_id)
    assert network is not None  # an action goes with its network (ON DELETE CASCADE)
    return network


async def _changed(
    session: AsyncSession, actor: Actor, action: PlanAction, what: str, now: datetime,
    **details: Any,
) -> None:
    action.updated_at = now
    await audit.record(session, what, actor_id=_user_id(actor), network_id=action.network_id,
                       plan_action=action.id, **details)
    await session.commit()


async def set_title(
    session: AsyncSession, actor: Actor, action_id: int, text: str, now: datetime
) -> bool:
    """The action's new title; False when it is the same."""
    action = await _editable_action(session, actor, action_id)
    title = clean_title(text)
    if title == action.title:
        return False
    action.title = title
    await _changed(session, actor, action, "plan_action_edit", now, field="title")
    return True


async def set_aim(
    session: AsyncSession, actor: Actor, action_id: int, text: str | None, now: datetime
) -> bool:
    """The action's new aim (None: cleared); False when it is the same."""
    action = await _editable_action(session, actor, action_id)
    aim = clean_aim(text) if text is not None else None
    if aim == action.aim:
        return False
    action.aim = aim
    await _changed(session, actor, action, "plan_action_edit", now,
                   field="aim" if aim is not None else "aim_cleared")
    return True


async def set_months(
    session: AsyncSession, actor: Actor, action_id: int, start: str, end: str, now: datetime
) -> bool:
    """The action's new first and last months (YYYY-MM, the last not before the first)."""
    action = await _editable_action(session, actor, action_id)
    first, last = parse_month(start), parse_month(end)
    if last < first:
        raise PlanError(Problem.BAD_MONTHS)
    if (first, last) == (action.start_month, action.end_month):
        return False
    old = f"{action.start_month:%Y-%m}/{action.end_month:%Y-%m}"
    action.start_month, action.end_month = first, last
    await _changed(session, actor, action, "plan_action_months", now, old=old,
                   new=f"{first:%Y-%m}/{last:%Y-%m}")
    return True


async def set_milestone_text(
    session: AsyncSession, actor: Actor, milestone_id: int, text: str, now: datetime
) -> tuple[PlanAction, bool]:
    milestone, action = await milestone_to_edit(session, actor, milestone_id)
    value = clean_milestone(text)
    if value == milestone.text:
        return action, False
    milestone.text = value
    await _changed(session, actor, action, "plan_milestone_edit", now, milestone=milestone.id,
                   field="text")
    return action, True


async def network_today(session: AsyncSession, action: PlanAction, now: datetime) -> date:
    """The action's network's today (months and due dates are the network's)."""
    return local_today(await _network(session, action), now)


async def set_milestone_due(
    session: AsyncSession, actor: Actor, milestone_id: int, due_text: str, now: datetime
) -> tuple[PlanAction, bool]:
    """A new due date, typed (YYYY-MM-DD) or a button's: today or later, as when adding.
    A new date may be overdue again, so it may be reminded again."""
    milestone, action = await milestone_to_edit(session, actor, milestone_id)
    today = await network_today(session, action, now)
    due = parse_due(due_text, today)
    if due == milestone.due_date:
        return action, False
    old = milestone.due_date.isoformat()
    milestone.due_date, milestone.reminded_on = due, None
    await _changed(session, actor, action, "plan_milestone_due", now, milestone=milestone.id,
                   old=old, new=due.isoformat())
    return action, True


async def remove_milestone(
    session: AsyncSession, actor: Actor, milestone_id: int, now: datetime
) -> PlanAction:
    milestone, action = await milestone_to_edit(session, actor, milestone_id)
    gone = milestone.id
    await repo.delete_milestone(session, milestone)
    await _changed(session, actor, action, "plan_milestone_remove", now, milestone=gone)
    return action
