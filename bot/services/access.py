"""Who may do what: the one place where roles are decided (docs/commands.md)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from storage.models import Membership, MembershipStatus, Role, User

# Telegram's own accounts, seen as the sender in groups and channels: 777000 (Telegram:
# service notices, a channel's posts in its linked group), 1087968824 (GroupAnonymousBot:
# an anonymous group admin), 136817688 (Channel_Bot: a message sent as a channel). They
# are never a person: never an admin, never a member, whatever ADMIN_IDS or the database
# say, and registration refuses them (bot/services/registration.py).
SERVICE_ACCOUNTS: frozenset[int] = frozenset({777000, 1087968824, 136817688})


def is_service_account(tg_id: int) -> bool:
    return tg_id in SERVICE_ACCOUNTS


class Level(enum.IntEnum):
    STRANGER = 0
    MEMBER = 1
    COORDINATOR = 2
    ADMIN = 3


class AccessDenied(Exception):
    """Raised by services when the actor may not touch what they asked for."""


@dataclass(frozen=True)
class Actor:
    """The person behind an update, with the networks they belong to."""

    tg_id: int
    user: User | None
    is_admin: bool = False
    memberships: tuple[Membership, ...] = field(default_factory=tuple)

    @classmethod
    def build(cls, tg_id: int, user: User | None, admin_ids: frozenset[int]) -> Actor:
        if is_service_account(tg_id):
            return cls(tg_id=tg_id, user=user)  # no role at all (SERVICE_ACCOUNTS)
        active = tuple(
            m for m in (user.memberships if user else []) if m.status == MembershipStatus.ACTIVE
        )
        return cls(tg_id=tg_id, user=user, is_admin=tg_id in admin_ids, memberships=active)

    @property
    def level(self) -> Level:
        if self.is_admin:
            return Level.ADMIN
        if any(m.role == Role.COORDINATOR for m in self.memberships):
            return Level.COORDINATOR
        if self.memberships:
            return Level.MEMBER
        return Level.STRANGER

    @property
    def member_network_ids(self) -> frozenset[int]:
        return frozenset(m.network_id for m in self.memberships)

    @property
    def coordinated_network_ids(self) -> frozenset[int]:
        return frozenset(m.network_id for m in self.memberships if m.role == Role.COORDINATOR)

    def can_see(self, network_id: int) -> bool:
        return self.is_admin or network_id in self.member_network_ids

    def can_coordinate(self, network_id: int) -> bool:
        return self.is_admin or network_id in self.coordinated_network_ids

    def require_member(self, network_id: int) -> None:
        if not self.can_see(network_id):
            raise AccessDenied(f"user {self.tg_id} is not in network {network_id}")

    def require_coordinator(self, network_id: int) -> None:
        if not self.can_coordinate(network_id):
            raise AccessDenied(f"user {self.tg_id} does not coordinate network {network_id}")

    def require_dialog(self, data: Mapping[str, Any], *, member: bool = False) -> None:
        """A dialog about a network ("network_id" in its data, or "networks" for a
        broadcast) goes on, step by step, only for those who may still act there: its
        coordinators and admins, or with `member` (filing a report) its active members.
        The dialog began with the right, but a role can change mid-dialog and the data
        is only what the dialog stored: it is never taken as a right."""
        ids = list(data.get("networks") or [])
        if data.get("network_id") is not None:
            ids.append(data["network_id"])
        for value in ids:
            network_id = int(value)
            if member and network_id not in self.member_network_ids:
                raise AccessDenied(f"user {self.tg_id} is not a member of network {network_id}")
            if not member:
                self.require_coordinator(network_id)
