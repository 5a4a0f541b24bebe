"""The repository and service layer on both backends: SQLite always, PostgreSQL if reachable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import registration
from bot.services.access import Actor, Level
from bot.services.networks import NetworkError, create_network
from bot.services.registration import InviteError, InviteProblem
from storage.fsm import SqlStorage
from storage.models import AuditEntry, Membership, User, utcnow
from storage.repositories import invites, memberships, updates, users


async def _network(session: AsyncSession, slug: str = "zarqa"):  # type: ignore[no-untyped-def]
    return await create_network(
        session, slug=slug, name="Zarqa", country="jo", timezone="Asia/Amman", locale="ar"
    )


async def test_network_validation(pool):
    async with pool() as session:
        network = await _network(session)
        assert network.country == "JO"
        with pytest.raises(NetworkError, match="already exists"):
            await _network(session)
        with pytest.raises(NetworkError, match="time zone"):
            await create_network(session, slug="x1", name="X", country="JO",
                                 timezone="Asia/Nowhere", locale="ar")


async def test_register_redeem_and_leave(pool):
    now = utcnow()
    async with pool() as session:
        network = await _network(session)
        invite = await registration.make_invite(
            session, network_id=network.id, role="member", max_uses=2, days=3, now=now
        )
        result = await registration.register(
            session, tg_id=5_000_000_001, code=invite.code, language="ar",
            display_name="سارة", sector="teacher", now=now,
        )
        assert not result.pending
        with pytest.raises(InviteError) as err:
            await registration.check_invite(session, invite.code, 5_000_000_001, now)
        assert err.value.problem == InviteProblem.ALREADY_MEMBER
        await registration.register(
            session, tg_id=2, code=invite.code, language="en", display_name="B",
            sector="ngo", now=now,
        )
        with pytest.raises(InviteError) as err:
            await registration.check_invite(session, invite.code, 3, now)
        assert err.value.problem == InviteProblem.USED_UP
        assert not await invites.redeem(session, invite.id, now)
        assert await memberships.count_active(session, network.id) == 2
        assert [u.tg_id for u in await memberships.coordinators(session, network.id)] == []

    async with pool() as session:
        user = await users.get_by_tg_id(session, 5_000_000_001)
        assert user is not None and user.memberships[0].network.slug == "zarqa"
        actor = Actor.build(user.tg_id, user, frozenset())
        assert actor.level == Level.MEMBER
        data = await registration.export_data(session, user)
        assert data["display_name"] == "سارة"
        assert await registration.leave(session, actor, network.id) is True

    async with pool() as session:
        assert await users.get_by_tg_id(session, 5_000_000_001) is None
        assert await session.scalar(select(func.count()).select_from(Membership)) == 1
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "leave"))
        assert entry is not None and entry.actor_id is None and entry.subject_id is None


async def test_expiry_and_revocation(pool):
    now = utcnow()
    async with pool() as session:
        network = await _network(session)
        invite = await registration.make_invite(
            session, network_id=network.id, role="member", max_uses=5, days=1, now=now
        )
        with pytest.raises(InviteError) as err:
            await registration.check_invite(session, invite.code, 1, now + timedelta(days=2))
        assert err.value.problem == InviteProblem.EXPIRED
        assert await invites.revoke(session, invite.id, now)
        assert not await invites.revoke(session, invite.id, now)
        await session.commit()
        with pytest.raises(InviteError) as err:
            await registration.check_invite(session, invite.code, 1, now)
        assert err.value.problem == InviteProblem.REVOKED


async def test_update_dedup_and_unreachable(pool):
    now = utcnow()
    async with pool() as session:
        assert await updates.claim(session, 10, now)
        await session.commit()
        assert not await updates.claim(session, 10, now)
        assert await updates.claim(session, 11, now)
        await session.commit()
        assert await updates.prune(session, now + timedelta(seconds=1)) == 2
        user = await users.get_or_create(session, 77)
        await users.mark_unreachable(session, [user.id], now)
        await session.commit()
        await session.refresh(user)
        assert user.unreachable_since is not None
        await users.clear_unreachable(session, user.id)
        await session.commit()
        await session.refresh(user)
        assert user.unreachable_since is None
        assert await session.scalar(select(func.count()).select_from(User)) == 1


async def test_sql_fsm_storage(pool):
    storage = SqlStorage(pool)
    key = StorageKey(bot_id=1, chat_id=2, user_id=2)
    assert await storage.get_state(key) is None
    await storage.set_state(key, "Join:name")
    await storage.set_data(key, {"code": "abc", "n": 1})
    assert await storage.get_state(key) == "Join:name"
    assert await storage.get_data(key) == {"code": "abc", "n": 1}
    await storage.update_data(key, {"n": 2})
    assert (await storage.get_data(key))["n"] == 2
    await storage.set_state(key, None)
    await storage.set_data(key, {})
    assert await storage.get_data(key) == {} and await storage.get_state(key) is None


async def test_sql_fsm_storage_is_not_changed_through_what_it_returned(pool):
    storage = SqlStorage(pool)
    key = StorageKey(bot_id=1, chat_id=3, user_id=3)
    await storage.set_data(key, {"networks": [1]})
    got = await storage.get_data(key)
    got["networks"].append(2)  # a handler toggling a choice
    await storage.set_data(key, got)
    assert (await SqlStorage(pool).get_data(key))["networks"] == [1, 2]  # written through
