from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import registration
from bot.services.networks import create_network
from storage.models import AuditEntry, Membership, MembershipStatus, User, utcnow
from tests.conftest import buttons, texts


async def make_network(session: AsyncSession, slug: str = "saida", **kw: object):
    return await create_network(
        session,
        slug=slug,
        name=kw.pop("name", "Saida Network"),  # type: ignore[arg-type]
        country="LB",
        timezone="Asia/Beirut",
        locale="ar",
        **kw,  # type: ignore[arg-type]
    )


async def make_invite(session: AsyncSession, network_id: int, **kw: object):
    return await registration.make_invite(
        session,
        network_id=network_id,
        role=kw.pop("role", "member"),  # type: ignore[arg-type]
        max_uses=kw.pop("max_uses", 1),  # type: ignore[arg-type]
        days=kw.pop("days", 7),  # type: ignore[arg-type]
        now=utcnow(),
    )


async def join(p, code: str, *, lang: str = "en", name: str = "Rana", sector: str = "teacher"):
    out = await p.send(f"/start {code}")
    assert ("English", "lang:en") in buttons(out) or ("✓ English", "lang:en") in buttons(out)
    out = await p.press(f"lang:{lang}")
    out = await p.send(name)
    assert (f"sec:{sector}") in [b[1] for b in buttons(out)]
    out = await p.press(f"sec:{sector}")
    assert "consent:1" in [b[1] for b in buttons(out)]
    return await p.press("consent:1")


async def test_join_by_deep_link_in_english(session, person):
    network = await make_network(session)
    invite = await make_invite(session, network.id)
    p = person(101)
    out = await join(p, invite.code)
    assert any("Welcome to <b>Saida Network</b>" in t for t in texts(out))
    user = await session.scalar(select(User).where(User.tg_id == 101))
    assert user is not None and user.display_name == "Rana" and user.language == "en"
    m = await session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert m is not None and m.status == MembershipStatus.ACTIVE and m.sector == "teacher"
    actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "join" in actions


async def test_used_up_code_is_refused(session, person):
    network = await make_network(session)
    invite = await make_invite(session, network.id, max_uses=1)
    await join(person(101), invite.code)
    out = await person(102).send(f"/join {invite.code}")
    assert any("already been used" in t for t in texts(out))


async def test_wrong_code(person, session):
    out = await person(101).send("/start nosuchcode123")
    assert any("I do not know this code" in t for t in texts(out))


async def test_expired_and_revoked(session, person):
    network = await make_network(session)
    invite = await make_invite(session, network.id)
    invite.expires_at = utcnow() - timedelta(minutes=1)
    await session.commit()
    out = await person(101).send(f"/join {invite.code}")
    assert any("has expired" in t for t in texts(out))
    other = await make_invite(session, network.id)
    other.revoked_at = utcnow()
    await session.commit()
    out = await person(101).send(f"/join {other.code}")
    assert any("was withdrawn" in t for t in texts(out))


async def test_arabic_dialog(session, person):
    network = await make_network(session, name="شبكة صيدا")
    invite = await make_invite(session, network.id)
    p = person(103, language_code="ar")
    out = await p.send(f"/start {invite.code}")
    assert ("✓ العربية", "lang:ar") in buttons(out)
    out = await join(p, invite.code, lang="ar", name="رنا <b>")
    user = await session.scalar(select(User).where(User.tg_id == 103))
    assert user is not None and user.language == "ar" and user.display_name == "رنا <b>"
    assert not any("<b>" in t and "رنا <b>" in t for t in texts(out))
    count = await session.scalar(select(func.count()).select_from(Membership))
    assert count == 1
