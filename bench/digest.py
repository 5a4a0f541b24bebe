"""Digest benchmark: build every weekly digest of a large deployment, without sending.

    python -m bench.digest                      # 100 x 100, then 50 networks, then 50 members
    python -m bench.digest --networks 100 --members 100 --reports 50000 --events 2000 --single

Seeds a fresh SQLite database (networks of N members, each with one coordinator; members in
Arabic, English and French; reports over the last nine weeks, some anonymised; events over
two months with RSVPs; broadcasts), then builds, as the weekly job does, every network's
digest as of one moment: the SQL aggregates (bot.services.digests.build), every member's
and coordinator's text (the outbox payloads with their per-member overrides), one chart
per network and coordinator language (PNG), and the admins' digest with its XLSX file.
Prints the time of each part and the number of SQL statements, counted with a SQLAlchemy
``before_cursor_execute`` listener. Target: under 5 s for 100 x 100 with 50,000 reports,
and statements that grow with networks (only through the chunking of long IN lists), not
with members or reports. By default three runs show it: 100 x 100, 50 x 100, 100 x 50.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert

from bot.digest_admin import admin_row
from bot.digest_render import Renderer
from bot.i18n import create_i18n
from bot.services import digests
from storage import migrate
from storage.engine import create_engine, create_session_pool
from storage.models import (
    Broadcast,
    BroadcastNetwork,
    Membership,
    Network,
    SendJob,
    User,
)
from storage.models.events import Event, EventRsvp
from storage.models.reports import ActivityType, Report
from storage.repositories import networks as networks_repo

NOW = datetime(2025, 3, 16, 7, 0, tzinfo=UTC)  # Sunday 09:00 in Beirut
ZONES = ("Asia/Beirut", "Asia/Amman")
SECTORS = ("teacher", "youth_worker", "religious_leader", "youth_rep", "police", "ngo",
           "psychosocial", "other")
LOCALES = ("ar", "ar", "ar", "en", "en", "fr")
BATCH = 5000


@dataclass
class Figures:
    networks: int
    members: int
    reports: int
    events: int
    rsvps: int
    seed_s: float = 0.0
    sql_s: float = 0.0
    texts_s: float = 0.0
    charts_s: float = 0.0
    admin_s: float = 0.0
    statements: int = 0
    texts: int = 0
    charts: int = 0

    @property
    def total_s(self) -> float:
        return self.sql_s + self.texts_s + self.charts_s + self.admin_s


async def _insert(session: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        await session.execute(insert(model), rows[start : start + BATCH])


async def seed(pool: Any, n_networks: int, n_members: int, n_reports: int, n_events: int,
               rng: random.Random) -> int:
    """Returns the number of RSVPs made."""
    created = NOW - timedelta(days=365)
    networks: list[dict[str, Any]] = [
        {"id": i + 1, "slug": f"net-{i + 1}", "name": f"Network {i + 1}",
         "country": "LB" if i % 2 == 0 else "JO", "timezone": ZONES[i % 2],
         "locale": "ar", "require_approval": False, "created_at": created}
        for i in range(n_networks)
    ]
    users: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    members_of: dict[int, list[tuple[int, str]]] = {}
    uid = 0
    for net in networks:
        for j in range(n_members):
            uid += 1
            sector = SECTORS[(uid * 7) % len(SECTORS)]
            users.append({"id": uid, "tg_id": 10_000_000 + uid, "language": rng.choice(LOCALES),
                          "display_name": f"Member {uid}", "consent_at": created,
                          "unreachable_since": NOW if uid % 97 == 0 else None,
                          "created_at": created})
            memberships.append({"user_id": uid, "network_id": net["id"],
                                "role": "coordinator" if j == 0 else "member",
                                "status": "active", "sector": sector, "joined_at": created})
            members_of.setdefault(net["id"], []).append((uid, sector))
    types = [t.value for t in ActivityType]
    reports: list[dict[str, Any]] = []
    for _ in range(n_reports):
        net_id = rng.randrange(n_networks) + 1
        author, sector = rng.choice(members_of[net_id])
        reports.append({
            "network_id": net_id, "author_id": None if rng.random() < 0.05 else author,
            "author_sector": sector, "activity_type": rng.choice(types),
            "activity_date": (NOW - timedelta(days=rng.randrange(1, 63))).date(),
            "participants": rng.randrange(1, 60), "description": "An activity",
            "status": "new" if rng.random() < 0.1 else "reviewed", "created_at": NOW,
        })
    events: list[dict[str, Any]] = []
    rsvps: list[dict[str, Any]] = []
    for k in range(n_events):
        net_id = rng.randrange(n_networks) + 1
        starts = NOW + timedelta(hours=rng.randrange(-30 * 24, 30 * 24))
        events.append({"id": k + 1, "network_id": net_id, "uid": f"ev-{k + 1}", "kind": "meeting",
                       "title": f"Meeting {k + 1}", "place": "Town hall", "starts_at": starts,
                       "ends_at": starts + timedelta(hours=2), "status": "scheduled",
                       "sequence": 0, "created_at": created, "updated_at": created})
        for user_id, _sector in rng.sample(members_of[net_id], min(30, n_members)):
            rsvps.append({"event_id": k + 1, "user_id": user_id,
                          "answer": rng.choice(("going", "maybe", "no")), "answered_at": NOW})
    jobs: list[dict[str, Any]] = []
    broadcasts: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    for net in networks:
        for b in range(5):
            bid = len(jobs) + 1
            sent = NOW - timedelta(days=rng.randrange(0, 14), hours=b)
            jobs.append({"id": bid, "kind": "broadcast", "network_id": net["id"], "payload": {},
                         "status": "done", "due_at": sent, "total": n_members, "skipped": 0,
                         "created_at": sent})
            broadcasts.append({"id": bid, "job_id": bid, "audience": {
                "networks": [net["id"]], "roles": ["coordinator"] if b == 4 else None,
                "sectors": None}, "kind": "text", "preview": f"News number {b} of the week",
                "created_at": sent})
            targets.append({"broadcast_id": bid, "network_id": net["id"]})
    async with pool() as session:
        await _insert(session, Network, networks)
        await _insert(session, User, users)
        await _insert(session, Membership, memberships)
        await _insert(session, Report, reports)
        await _insert(session, Event, events)
        await _insert(session, EventRsvp, rsvps)
        await _insert(session, SendJob, jobs)
        await _insert(session, Broadcast, broadcasts)
        await _insert(session, BroadcastNetwork, targets)
        await session.commit()
    return len(rsvps)


async def run(n_networks: int, n_members: int, n_reports: int, n_events: int,
              seed_value: int = 6) -> Figures:
    rng = random.Random(seed_value)
    with tempfile.TemporaryDirectory(prefix="prevnet-digest-") as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
        try:
            await migrate.upgrade(engine)
            pool = create_session_pool(engine)
            started = time.perf_counter()
            rsvps = await seed(pool, n_networks, n_members, n_reports, n_events, rng)
            fig = Figures(n_networks, n_members, n_reports, n_events, rsvps)
            fig.seed_s = time.perf_counter() - started

            statements = [0]

            def count(*_args: Any) -> None:
                statements[0] += 1

            i18n = create_i18n("en")
            renderer = Renderer(i18n)
            async with pool() as session:
                event.listen(engine.sync_engine, "before_cursor_execute", count)
                t0 = time.perf_counter()
                networks = list(await networks_repo.list_all(session))
                built = await digests.build(session, networks, NOW)
                t1 = time.perf_counter()
                event.remove(engine.sync_engine, "before_cursor_execute", count)
            fig.statements = statements[0]
            fig.sql_s = t1 - t0

            t1 = time.perf_counter()
            fig.texts = digests.build_all_texts(renderer, list(built.values()), "en")
            t2 = time.perf_counter()
            fig.texts_s = t2 - t1

            for d in built.values():
                wanted = {digests.locale_of(m.language, d.network, "en")
                          for m in d.coordinators if not m.unreachable}
                for locale in sorted(wanted):
                    png = renderer.chart(d, locale)
                    assert png.startswith(b"\x89PNG")
                    fig.charts += 1
            t3 = time.perf_counter()
            fig.charts_s = t3 - t2

            rows = [admin_row(d) for d in built.values()]
            window = digests.window_for(ZoneInfo(digests.ADMIN_ZONE), NOW)
            for locale in ("ar", "en"):
                renderer.admin_text(rows, window, locale)
                renderer.admin_xlsx(rows, window, locale)
            fig.admin_s = time.perf_counter() - t3
        finally:
            await engine.dispose()
    return fig


def show(fig: Figures) -> None:
    print(
        f"{fig.networks:>4} networks x {fig.members:>3} members, {fig.reports:>6} reports, "
        f"{fig.events:>5} events, {fig.rsvps:>6} RSVPs (seeded in {fig.seed_s:.1f} s)\n"
        f"     SQL {fig.sql_s:6.3f} s in {fig.statements} statements | "
        f"texts {fig.texts_s:6.3f} s ({fig.texts} people) | "
        f"charts {fig.charts_s:6.3f} s ({fig.charts} PNGs) | "
        f"admins {fig.admin_s:6.3f} s (text + XLSX, 2 languages)\n"
        f"     total {fig.total_s:6.3f} s"
    )


async def main_async(args: argparse.Namespace) -> None:
    runs = [(args.networks, args.members)]
    if not args.single:
        runs += [(max(1, args.networks // 2), args.members), (args.networks,
                                                              max(2, args.members // 2))]
    results = []
    for networks, members in runs:
        fig = await run(networks, members, args.reports, args.events)
        show(fig)
        results.append(fig)
    if len(results) == 3:
        full, half_nets, half_members = results
        print(
            "statements: "
            f"{half_nets.networks} networks -> {half_nets.statements}, "
            f"{full.networks} networks -> {full.statements}; "
            f"{half_members.members} members -> {half_members.statements}, "
            f"{full.members} members -> {full.statements} "
            f"(reports constant at {full.reports})"
        )
        verdict = "OK" if full.total_s < 5 else "SLOW"
        print(f"target under 5 s for {full.networks} x {full.members}: "
              f"{full.total_s:.2f} s {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=100)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--reports", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--single", action="store_true", help="only the first configuration")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
