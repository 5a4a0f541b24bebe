"""Who is looking, in which language, at which networks: decided from the database on
every call (the page's ids are checked here, never trusted)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES
from bot.services.access import AccessDenied, Actor, Level
from bot.services.digests.sender import ADMIN_ZONE
from bot.text.times import network_zone
from storage.models import Network
from storage.repositories import audit, networks, users

ALL = "all"
RTL_LOCALES = frozenset({"ar"})
VIEW_LOG_GAP = 600.0  # seconds: one audit row per person, screen and network in this time


class DashboardError(Exception):
    """A request the page should not have made: 400 bad_request, 404 not_found,
    409 conflict (``message``: translated, for the person), ..."""

    def __init__(self, status: int, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Viewer:
    """A signed-in coordinator or admin."""

    actor: Actor
    locale: str

    @property
    def user_id(self) -> int | None:
        return self.actor.user.id if self.actor.user else None

    @property
    def dir(self) -> str:
        return "rtl" if self.locale in RTL_LOCALES else "ltr"


def pick_locale(stored: str | None, language_code: str | None, default: str) -> str:
    """The person's stored language, else Telegram's language_code, else the default."""
    for candidate in (stored, (language_code or "")[:2].lower() or None, default):
        if candidate in SUPPORTED_LOCALES:
            return candidate
    return "en"


async def viewer(
    session: AsyncSession,
    tg_id: int,
    language_code: str | None,
    admin_ids: frozenset[int],
    default_locale: str,
) -> Viewer:
    """The person signing in, from the database; AccessDenied unless they coordinate a
    network or are an admin."""
    user = await users.get_by_tg_id(session, tg_id)
    actor = Actor.build(tg_id, user, admin_ids)
    if actor.level < Level.COORDINATOR:
        raise AccessDenied(f"user {tg_id} may not open the dashboard")
    locale = pick_locale(user.language if user else None, language_code, default_locale)
    return Viewer(actor, locale)


async def visible_networks(session: AsyncSession, viewer: Viewer) -> list[Network]:
    """Every network for an admin; the ones they coordinate for a coordinator."""
    if viewer.actor.is_admin:
        found = list(await networks.list_all(session))
    else:
        found = list(
            await networks.list_by_ids(session, sorted(viewer.actor.coordinated_network_ids))
        )
    return sorted(found, key=lambda n: (n.name.casefold(), n.id))


@dataclass(frozen=True)
class Scope:
    """The networks one request is about: one, or all of them (admins)."""

    networks: list[Network]
    all: bool

    @property
    def ids(self) -> list[int]:
        return [n.id for n in self.networks]

    @property
    def zone(self) -> ZoneInfo:
        return network_zone(self.networks[0]) if not self.all else ZoneInfo(ADMIN_ZONE)

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def by_id(self) -> dict[int, Network]:
        return {n.id: n for n in self.networks}

    @property
    def network_id(self) -> int | None:
        return None if self.all else self.networks[0].id


async def scope(session: AsyncSession, viewer: Viewer, net: str | None) -> Scope:
    """``net``: a network id the viewer coordinates, or "all" (admins). Anything else is
    refused the same way (AccessDenied: 403), so nothing tells whether a network exists.
    Without ``net``: the first network the viewer coordinates (or "all" for an admin
    who coordinates none)."""
    actor = viewer.actor
    if net is None or net == "":
        mine = sorted(actor.coordinated_network_ids)
        if mine:
            net = str(mine[0])
        elif actor.is_admin:
            net = ALL
        else:
            raise AccessDenied("no network")
    if net == ALL:
        if not actor.is_admin:
            raise AccessDenied(f"user {actor.tg_id} may not see all networks")
        return Scope(list(await networks.list_all(session)), all=True)
    if not net.isdigit() or len(net) > 12:
        raise DashboardError(400, "bad_request")
    network_id = int(net)
    if not actor.can_coordinate(network_id):
        raise AccessDenied(f"user {actor.tg_id} does not coordinate network {network_id}")
    network = await networks.get(session, network_id)
    if network is None:
        raise AccessDenied(f"no network {network_id}")
    return Scope([network], all=False)


def network_ref(network: Network) -> dict[str, object]:
    return {"id": network.id, "name": network.name}


def local_iso(moment: datetime, network: Network | None) -> str:
    zone = network_zone(network) if network is not None else ZoneInfo(ADMIN_ZONE)
    return moment.astimezone(zone).replace(microsecond=0).isoformat()


class ViewLog:
    """Views are audit-logged ("dashboard_view"), once per person, screen and network in
    VIEW_LOG_GAP seconds (a page that reloads is not a new row each time)."""

    def __init__(self, gap: float = VIEW_LOG_GAP) -> None:
        self.gap = gap
        self._last: dict[tuple[int, str, str], float] = {}

    async def record(
        self,
        session: AsyncSession,
        viewer: Viewer,
        screen: str,
        scope: Scope,
        report: int | None = None,
    ) -> None:
        key = (viewer.actor.tg_id, screen, ALL if scope.all else str(scope.network_id))
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.gap and report is None:
            return
        if len(self._last) > 10_000:
            self._last.clear()
        self._last[key] = now
        await audit.record(
            session,
            "dashboard_view",
            actor_id=viewer.user_id,
            network_id=scope.network_id,
            screen=screen,
            networks=ALL if scope.all else None,
            report=report,
        )
        await session.commit()
