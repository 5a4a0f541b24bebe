"""Networks: creation (with validation) and which ones a person may act on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES
from bot.services.access import Actor
from storage.models import Network
from storage.repositories import audit, networks

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


class NetworkError(ValueError):
    """A network could not be created; the message says why."""


def check_timezone(name: str) -> ZoneInfo:
    if name not in available_timezones():
        raise NetworkError(f"unknown time zone {name!r} (use an IANA name such as Asia/Beirut)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - guarded above
        raise NetworkError(f"unknown time zone {name!r}") from exc


async def create_network(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    country: str,
    timezone: str,
    locale: str,
    require_approval: bool = False,
) -> Network:
    if not SLUG_RE.match(slug):
        raise NetworkError("the slug must be 2-32 lowercase letters, digits or dashes")
    name = " ".join(name.split())
    if not 1 <= len(name) <= 128:
        raise NetworkError("the name must be 1-128 characters")
    country = country.upper()
    if not COUNTRY_RE.match(country):
        raise NetworkError("the country must be a two-letter code such as LB or JO")
    check_timezone(timezone)
    if locale not in SUPPORTED_LOCALES:
        raise NetworkError(f"the locale must be one of {', '.join(SUPPORTED_LOCALES)}")
    if await networks.get_by_slug(session, slug) is not None:
        raise NetworkError(f"a network with the slug {slug!r} already exists")
    network = await networks.create(
        session,
        slug=slug,
        name=name,
        country=country,
        timezone=timezone,
        locale=locale,
        require_approval=require_approval,
    )
    await audit.record(session, "network_add", network_id=network.id, slug=slug)
    await session.commit()
    return network


async def coordinated(session: AsyncSession, actor: Actor) -> Sequence[Network]:
    """Networks the actor coordinates (every network for an admin)."""
    if actor.is_admin:
        return await networks.list_all(session)
    return await networks.list_by_ids(session, sorted(actor.coordinated_network_ids))


def joined(actor: Actor) -> list[Network]:
    """Networks the actor belongs to (active memberships only)."""
    return sorted((m.network for m in actor.memberships), key=lambda n: n.name)
