"""Networks: creation (with validation, shared by `prevnet network add` and /newnetwork)
and which ones a person may act on."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES
from bot.services.access import AccessDenied, Actor
from storage.models import Network
from storage.repositories import audit, networks

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
SLUG_MAX = 32
NAME_MAX = 128


class Problem(enum.StrEnum):
    SLUG = "slug"
    SLUG_TAKEN = "slug_taken"
    NAME = "name"
    COUNTRY = "country"
    TIMEZONE = "timezone"
    LOCALE = "locale"


class NetworkError(ValueError):
    """A network could not be created; the message says why (in English, for the command
    line); `problem` and `info` let the bot say it in the person's language."""

    def __init__(self, message: str, problem: Problem, **info: Any) -> None:
        super().__init__(message)
        self.problem = problem
        self.info = info


# ------------------------------------------------------------------------ checks


def check_slug(slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise NetworkError(
            "the slug must be 2-32 lowercase letters, digits or dashes", Problem.SLUG
        )
    return slug


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= NAME_MAX or name.startswith("/"):
        raise NetworkError(f"the name must be 1-{NAME_MAX} characters", Problem.NAME)
    return name


def check_country(country: str) -> str:
    country = country.strip().upper()
    if not COUNTRY_RE.match(country):
        raise NetworkError(
            "the country must be a two-letter code such as LB or JO", Problem.COUNTRY
        )
    return country


def check_timezone(name: str) -> ZoneInfo:
    if name not in available_timezones():
        raise NetworkError(
            f"unknown time zone {name!r} (use an IANA name such as Asia/Beirut)",
            Problem.TIMEZONE, name=name,
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - guarded above
        raise NetworkError(f"unknown time zone {name!r}", Problem.TIMEZONE, name=name) from exc


def check_locale(locale: str) -> str:
    if locale not in SUPPORTED_LOCALES:
        raise NetworkError(
            f"the locale must be one of {', '.join(SUPPORTED_LOCALES)}", Problem.LOCALE
        )
    return locale


def find_timezone(typed: str) -> str:
    """A typed time zone: its IANA name in any case (``asia/beirut``), or a city
    (``Beirut``) when exactly one zone has that name."""
    value = "_".join(typed.strip().split())
    zones = available_timezones()
    if value in zones:
        return value
    folded = {z.casefold(): z for z in zones}
    if value.casefold() in folded:
        return folded[value.casefold()]
    cities = [z for z in zones if "/" in z and z.rsplit("/", 1)[1].casefold() == value.casefold()]
    if len(cities) == 1:
        return cities[0]
    check_timezone(typed.strip())  # raises, naming what was typed
    return typed.strip()  # pragma: no cover


@lru_cache(maxsize=1)
def _zone_table() -> dict[str, list[str]]:
    """Country code -> its time zones, from the tz database's zone.tab."""
    text = ""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        path = Path("/usr/share/zoneinfo/zone.tab")
        text = path.read_text("utf-8") if path.exists() else ""
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 3:
            table.setdefault(fields[0], []).append(fields[2])
    return table


def zones_of(country: str) -> list[str]:
    """The time zones of a country (the tz database's order: the main one first)."""
    return [z for z in _zone_table().get(country.upper(), []) if z in available_timezones()]


def slug_for(name: str) -> str:
    """A slug made from a name: ASCII letters and digits, words joined by dashes
    ("Saida Prevention Network" -> "saida-prevention-network"); "network" when the name
    has no Latin letters (an Arabic name)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    slug = slug[:SLUG_MAX].rstrip("-")
    return slug if len(slug) >= 2 else "network"


async def free_slug(session: AsyncSession, name: str) -> str:
    """`slug_for` the name, with -2, -3 ... when a network already has it."""
    base = slug_for(name)
    candidate, n = base, 1
    while await networks.get_by_slug(session, candidate) is not None:
        n += 1
        suffix = f"-{n}"
        candidate = base[: SLUG_MAX - len(suffix)].rstrip("-") + suffix
    return candidate


async def check_free(session: AsyncSession, slug: str) -> str:
    slug = check_slug(slug)
    if await networks.get_by_slug(session, slug) is not None:
        raise NetworkError(
            f"a network with the slug {slug!r} already exists", Problem.SLUG_TAKEN, slug=slug
        )
    return slug


COUNTRIES_OFFERED = ("LB", "JO")  # the programme's countries, offered first


async def countries_offered(session: AsyncSession) -> list[str]:
    """Country codes to offer as buttons: the programme's, then those of the networks."""
    codes = list(COUNTRIES_OFFERED)
    for network in await networks.list_all(session):
        if network.country not in codes:
            codes.append(network.country)
    return codes


# ---------------------------------------------------------------------- creating


async def create_network(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    country: str,
    timezone: str,
    locale: str,
    require_approval: bool = False,
    actor: Actor | None = None,
) -> Network:
    """Create a network (the command line, or an admin in the bot: ``actor``)."""
    if actor is not None and not actor.is_admin:
        raise AccessDenied("only admins create networks")
    check_slug(slug)
    name = check_name(name)
    country = check_country(country)
    check_timezone(timezone)
    check_locale(locale)
    slug = await check_free(session, slug)
    network = await networks.create(
        session,
        slug=slug,
        name=name,
        country=country,
        timezone=timezone,
        locale=locale,
        require_approval=require_approval,
    )
    await audit.record(
        session, "network_add", network_id=network.id, slug=slug,
        actor_id=actor.user.id if actor is not None and actor.user is not None else None,
        via="bot" if actor is not None else "cli",
    )
    await session.commit()
    return network


async def coordinated(session: AsyncSession, actor: Actor) -> Sequence[Network]:
    """Networks the actor coordinates (every network for an admin)."""
    if actor.is_admin:
        return await networks.list_all(session)
    return await networks.list_by_ids(session, sorted(actor.coordinated_network_ids))


async def coordinated_network(session: AsyncSession, actor: Actor, network_id: int) -> Network:
    """A network the actor coordinates (any network for an admin); AccessDenied otherwise,
    or when there is no such network (a forged or stale button)."""
    actor.require_coordinator(network_id)
    network = await networks.get(session, network_id)
    if network is None:
        raise AccessDenied(f"no network {network_id}")
    return network


def joined(actor: Actor) -> list[Network]:
    """Networks the actor belongs to (active memberships only)."""
    return sorted((m.network for m in actor.memberships), key=lambda n: n.name)


def problem_text(exc: NetworkError) -> str:
    if exc.problem == Problem.NAME:
        return _("Please type a name of 1 to {n} characters.").format(n=NAME_MAX)
    if exc.problem == Problem.COUNTRY:
        return _("Please type the country as a two-letter code, such as LB or JO.")
    if exc.problem == Problem.TIMEZONE:
        return _(
            "I do not know the time zone “{name}”. Please type a name such as Asia/Beirut, "
            "or choose a button."
        ).format(name=escape(str(exc.info.get("name", ""))))
    if exc.problem == Problem.SLUG_TAKEN:
        return _("Another network already has the short name {slug}. Please type another.").format(
            slug=f"<code>{escape(str(exc.info.get('slug', '')))}</code>"
        )
    if exc.problem == Problem.SLUG:
        return _(
            "The short name must be 2 to 32 lowercase letters (a-z), digits or dashes, "
            "for example saida-network."
        )
    return _("Please choose one of the languages.")
