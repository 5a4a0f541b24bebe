"""Invites, joining a network, approval, leaving, and a member's own data."""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import AccessDenied, Actor, is_service_account
from storage.models import Invite, Membership, MembershipStatus, Network, Role, Sector, User
from storage.repositories import (
    audit,
    events,
    feedback,
    invites,
    memberships,
    networks,
    plans,
    reports,
    users,
)

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{4,64}$")
NAME_MAX = 64
MAX_INVITE_USES = 1000
MAX_INVITE_DAYS = 90


class InviteProblem(enum.StrEnum):
    NOT_FOUND = "not_found"
    EXPIRED = "expired"
    USED_UP = "used_up"
    REVOKED = "revoked"
    ALREADY_MEMBER = "already_member"
    PENDING = "pending"
    SERVICE_ACCOUNT = "service_account"  # Telegram's own accounts (access.SERVICE_ACCOUNTS)


class InviteError(Exception):
    def __init__(self, problem: InviteProblem, network: Network | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.network = network


@dataclass(frozen=True)
class Registration:
    membership: Membership
    network: Network
    user: User

    @property
    def pending(self) -> bool:
        return self.membership.status == MembershipStatus.PENDING


def new_code() -> str:
    # 12 characters of A-Z a-z 0-9 _ - : 72 bits, valid as a /start payload.
    return secrets.token_urlsafe(9)


def clean_name(text: str) -> str | None:
    """A display name: one line, no control characters, 1..64 characters."""
    name = " ".join(text.split())
    if not name or len(name) > NAME_MAX or name.startswith("/"):
        return None
    if any(not ch.isprintable() for ch in name):
        return None
    return name


async def check_invite(session: AsyncSession, code: str, tg_id: int, now: datetime) -> Invite:
    """The invite behind a code, or InviteError saying exactly what is wrong with it."""
    if is_service_account(tg_id):  # every join goes through here: register() too
        raise InviteError(InviteProblem.SERVICE_ACCOUNT)
    invite = await invites.get_by_code(session, code) if CODE_RE.match(code) else None
    if invite is None:
        raise InviteError(InviteProblem.NOT_FOUND)
    if invite.revoked_at is not None:
        raise InviteError(InviteProblem.REVOKED, invite.network)
    if invite.expires_at <= now:
        raise InviteError(InviteProblem.EXPIRED, invite.network)
    if invite.uses >= invite.max_uses:
        raise InviteError(InviteProblem.USED_UP, invite.network)
    user = await users.get_by_tg_id(session, tg_id)
    if user is not None:
        existing = next((m for m in user.memberships if m.network_id == invite.network_id), None)
        if existing is not None:
            problem = (
                InviteProblem.PENDING
                if existing.status == MembershipStatus.PENDING
                else InviteProblem.ALREADY_MEMBER
            )
            raise InviteError(problem, invite.network)
    return invite


async def register(
    session: AsyncSession,
    *,
    tg_id: int,
    code: str,
    language: str,
    display_name: str,
    sector: str,
    now: datetime,
) -> Registration:
    """Redeem the invite and create the membership, in one transaction."""
    sector = Sector(sector)  # ValueError on anything but a known sector
    invite = await check_invite(session, code, tg_id, now)
    if not await invites.redeem(session, invite.id, now):
        # Someone took the last use between the check and now.
        raise InviteError(InviteProblem.USED_UP, invite.network)
    user = await users.get_or_create(session, tg_id)
    user.language = language
    user.display_name = display_name
    user.consent_at = now
    user.unreachable_since = None
    network = invite.network
    needs_approval = network.require_approval and invite.role == Role.MEMBER
    membership = await memberships.add(
        session,
        user=user,
        network_id=network.id,
        role=invite.role,
        status=MembershipStatus.PENDING if needs_approval else MembershipStatus.ACTIVE,
        sector=sector,
        invite_id=invite.id,
        now=now,
    )
    await audit.record(
        session,
        "join",
        actor_id=user.id,
        subject_id=user.id,
        network_id=network.id,
        invite_id=invite.id,
        role=invite.role,
        status=membership.status,
    )
    await session.commit()
    return Registration(membership=membership, network=network, user=user)


async def make_invite(
    session: AsyncSession,
    *,
    network_id: int,
    role: str,
    max_uses: int,
    days: int,
    now: datetime,
    actor: Actor | None = None,
) -> Invite:
    """A new invite. `actor=None` means the command line (the operator)."""
    role = Role(role)
    if not 1 <= max_uses <= MAX_INVITE_USES:
        raise ValueError(f"uses must be between 1 and {MAX_INVITE_USES}")
    if not 1 <= days <= MAX_INVITE_DAYS:
        raise ValueError(f"expiry must be between 1 and {MAX_INVITE_DAYS} days")
    if actor is not None:
        actor.require_coordinator(network_id)
        if role == Role.COORDINATOR and not actor.is_admin:
            raise AccessDenied("only admins invite coordinators")
    network = await networks.get(session, network_id)
    if network is None:
        if actor is not None:  # a forged or stale button
            raise AccessDenied(f"no network {network_id}")
        raise LookupError(f"no network {network_id}")
    creator_id = actor.user.id if actor is not None and actor.user is not None else None
    invite = await invites.create(
        session,
        code=new_code(),
        network_id=network_id,
        role=role,
        max_uses=max_uses,
        expires_at=now + timedelta(days=days),
        created_by_id=creator_id,
    )
    # The caller shows the network's name: keep it on the invite (an admin's session holds
    # no other reference to it, and a lazy load here fails outside the database's greenlet).
    invite.network = network
    await audit.record(
        session,
        "invite",
        actor_id=creator_id,
        network_id=network_id,
        invite_id=invite.id,
        role=role,
        max_uses=max_uses,
        days=days,
        via="bot" if actor is not None else "cli",
    )
    await session.commit()
    return invite


async def revoke_invite(session: AsyncSession, actor: Actor, invite_id: int, now: datetime) -> bool:
    invite = await invites.get(session, invite_id)
    if invite is None:
        raise AccessDenied(f"no invite {invite_id}")
    actor.require_coordinator(invite.network_id)
    done = await invites.revoke(session, invite_id, now)
    if done:
        await audit.record(
            session,
            "invite_revoke",
            actor_id=actor.user.id if actor.user else None,
            network_id=invite.network_id,
            invite_id=invite_id,
        )
    await session.commit()
    return done


async def decide_join(
    session: AsyncSession, actor: Actor, membership_id: int, approve: bool, now: datetime
) -> Membership | None:
    """Approve or turn down a pending join. None when it was already decided."""
    membership = await memberships.get(session, membership_id)
    if membership is None:
        return None
    actor.require_coordinator(membership.network_id)
    if membership.status != MembershipStatus.PENDING:
        return None
    actor_id = actor.user.id if actor.user else None
    if approve:
        membership.status = MembershipStatus.ACTIVE
        membership.approved_at = now
        await audit.record(
            session,
            "join_approve",
            actor_id=actor_id,
            subject_id=membership.user_id,
            network_id=membership.network_id,
        )
    else:
        await audit.record(
            session,
            "join_reject",
            actor_id=actor_id,
            subject_id=membership.user_id,
            network_id=membership.network_id,
        )
        await _drop_membership(session, membership)
    await session.commit()
    return membership


async def _drop_membership(session: AsyncSession, membership: Membership) -> bool:
    """Remove a membership; erase the person entirely when it was their last one."""
    user_id = membership.user_id
    # No longer responsible for the network's actions (the actions stay: the network's).
    await plans.remove_responsible(session, user_id, membership.network_id)
    await memberships.remove(session, membership.id)
    if await memberships.count_for_user(session, user_id) == 0:
        await users.delete_user(session, user_id)
        return True
    return False


async def leave(session: AsyncSession, actor: Actor, network_id: int) -> bool:
    """Leave a network; True when no membership is left and the person's data was erased."""
    user = actor.user
    membership = next(
        (m for m in (user.memberships if user else []) if m.network_id == network_id), None
    )
    if user is None or membership is None:
        raise AccessDenied(f"user {actor.tg_id} is not in network {network_id}")
    # The audit entry keeps the fact, not the person: the subject id is nulled on erasure.
    await audit.record(
        session, "leave", actor_id=user.id, subject_id=user.id, network_id=network_id
    )
    erased = await _drop_membership(session, membership)
    await session.commit()
    session.expunge_all()
    return erased


async def export_data(session: AsyncSession, user: User) -> dict[str, Any]:
    """Everything stored about one person, for /mydata."""
    entries = await audit.about_user(session, user.id)
    own_reports = await reports.by_author(session, user.id)
    own_answers = await events.rsvps_of_user(session, user.id)
    responsible = await plans.responsible_for(session, user.id)
    return {
        "telegram_user_id": user.tg_id,
        "display_name": user.display_name,
        "language": user.language,
        "consent_given_at": _iso(user.consent_at),
        "unreachable_since": _iso(user.unreachable_since),
        "first_seen_at": _iso(user.created_at),
        "memberships": [
            {
                "network": m.network.name,
                "network_slug": m.network.slug,
                "role": m.role,
                "status": m.status,
                "sector": m.sector,
                "joined_at": _iso(m.joined_at),
                "approved_at": _iso(m.approved_at),
            }
            for m in user.memberships
        ],
        "activity_reports": [
            {
                "reference": r.reference,
                "network_id": r.network_id,
                "date": r.activity_date.isoformat(),
                "activity_type": r.activity_type,
                "participants": r.participants,
                "age_group": r.age_group,
                "description": r.description,
                "attachment": r.attachment_kind,
                "action_id": r.action_id,
                "status": r.status,
                "created_at": _iso(r.created_at),
            }
            for r in own_reports
        ],
        "responsible_for_actions": [
            {
                "network": network_name,
                "action_id": action.id,
                "action": action.title,
                "status": action.status,
            }
            for action, network_name in responsible
        ],
        "event_answers": [
            {
                "event": event.title,
                "network_id": event.network_id,
                "starts_at": _iso(event.starts_at),
                "answer": rsvp.answer,
                "answered_at": _iso(rsvp.answered_at),
                "attended": rsvp.attended,
            }
            for event, rsvp in own_answers
        ],
        "training_feedback": [
            {
                "event": event.title,
                "network_id": event.network_id,
                "asked_at": _iso(row.asked_at),
                "reminded_at": _iso(row.reminded_at),
                "answered_at": _iso(row.answered_at),
                "usefulness": row.usefulness,
                "will_apply": row.apply_text or None,
                "was_missing": row.missing_text or None,
            }
            for event, row in await feedback.of_user(session, user.id)
        ],
        "audit_log": [
            {
                "at": _iso(e.at),
                "action": e.action,
                "network_id": e.network_id,
                "by_you": e.actor_id == user.id,
            }
            for e in entries
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def members_of(
    session: AsyncSession, network: Network
) -> tuple[list[Membership], list[Membership]]:
    """A network's active members and its pending join requests, for /members."""
    rows = await memberships.members(session, network.id)
    active = [m for m in rows if m.status == MembershipStatus.ACTIVE]
    pending = [m for m in rows if m.status == MembershipStatus.PENDING]
    return active, pending


async def coordinators_to_tell(session: AsyncSession, result: Registration) -> list[User]:
    """The coordinators told of a join: the network's, but not the person who joined."""
    return [
        coordinator
        for coordinator in await memberships.coordinators(session, result.network.id)
        if coordinator.id != result.user.id
    ]


def problem_text(problem: InviteProblem, network_name: str | None) -> str:
    name = escape(network_name or "")
    return {
        InviteProblem.NOT_FOUND: _(
            "I do not know this code. Check it with your coordinator, "
            "or open the invite link they sent you."
        ),
        InviteProblem.EXPIRED: _(
            "This invite to {network} has expired. Ask your coordinator for a new one."
        ),
        InviteProblem.USED_UP: _(
            "This invite to {network} has already been used as many times as allowed. "
            "Ask your coordinator for a new one."
        ),
        InviteProblem.REVOKED: _(
            "This invite to {network} was withdrawn. Ask your coordinator for a new one."
        ),
        InviteProblem.ALREADY_MEMBER: _("You are already a member of {network}."),
        InviteProblem.PENDING: _(
            "Your request to join {network} is waiting for the coordinator's approval."
        ),
        InviteProblem.SERVICE_ACCOUNT: _("This Telegram account cannot join a network."),
    }[problem].format(network=name)
