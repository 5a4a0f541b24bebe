"""Data set-up shared by the handler tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import registration
from bot.services.networks import create_network
from storage.models import Network, utcnow
from tests.people import Person, buttons

# The language buttons show each language in itself; the consent button is in the chosen one.
LANGUAGE_NAMES = {"ar": "العربية", "en": "English", "fr": "Français"}
I_AGREE = {"ar": "أوافق", "en": "I agree", "fr": "J'accepte"}


async def make_network(session: AsyncSession, slug: str = "saida", **kw: Any) -> Network:
    return await create_network(
        session,
        slug=slug,
        name=kw.pop("name", f"{slug.title()} Network"),
        country=kw.pop("country", "LB"),
        timezone=kw.pop("timezone", "Asia/Beirut"),
        locale=kw.pop("locale", "ar"),
        **kw,
    )


async def make_invite(session: AsyncSession, network_id: int, **kw: Any):  # type: ignore[no-untyped-def]
    return await registration.make_invite(
        session,
        network_id=network_id,
        role=kw.pop("role", "member"),
        max_uses=kw.pop("max_uses", 1),
        days=kw.pop("days", 7),
        now=utcnow(),
    )


async def join(
    p: Person, code: str, *, lang: str = "en", name: str = "Rana", sector: str = "teacher"
) -> list[Any]:
    """Walk the whole registration dialog; returns the requests of the last step."""
    await p.send(f"/start {code}")
    await p.tap(LANGUAGE_NAMES[lang], contains=True)  # "✓ English" when pre-selected
    out = await p.send(name)
    assert f"sec:{sector}" in [b[1] for b in buttons(out)], out
    out = await p.press(f"sec:{sector}")
    assert "consent:1" in [b[1] for b in buttons(out)], out
    return await p.tap(I_AGREE[lang])


async def member_of(
    session: AsyncSession, p: Person, network: Network, role: str = "member", **kw: Any
) -> None:
    invite = await make_invite(session, network.id, role=role)
    await join(p, invite.code, **kw)
