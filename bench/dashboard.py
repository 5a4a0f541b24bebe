"""The coordinators' dashboard beside the members: the real `prevnet run` process serving
the dashboard over HTTP (WEBAPP_URL/WEBAPP_PORT) and answering members through the fake
Bot API, in the same process and on the same database pool.

    python -m bench.dashboard                                   # 10 coordinators, 200 members
    python -m bench.dashboard --coordinators 10 --members 200 --networks 6 \\
        --reports-per-member 30 --duration 30 --database sqlite|postgres

Seeds (bulk inserts) ``--networks`` networks with ``--members`` members spread over them,
``--coordinators`` coordinators (round robin over the networks) and an admin, a year of
reports (``--reports-per-member`` each), one event a week per network over the year
with answers and attendance, and four upcoming ones. Starts `prevnet run` against the
fake Bot API (answers after ``--latency``, 150 ms; 429 past ``--limit``, 30/s, as
Telegram), then:

(A) for ``--duration`` seconds the members alone: each sends /help, waits for the answer,
    waits ``--think`` seconds (random, exponential; by default chosen so that all of them
    together ask for half of ``--limit``; ``--think 0 --limit 0`` is bench/load's (b)),
    again and again;
(B) the same with the coordinators (and the admin, ``net=all``) in a closed loop walking
    the dashboard over HTTP with initData signed by the bot's token: session, overview,
    participation, events, trends of 52 weeks, the reports feed, one report.

Prints each endpoint's p50/p95/p99/max and its errors (non-2xx, timeouts); the members'
/help p50/p95/p99 in (A) and (B) and the ratios B/A; the 429s; the pool (a probe loaded
into the bot process by ``sitecustomize``, bench/_probe: capacity, the most checked out,
checkouts that found the pool full, the longest wait, timeouts); failed updates and
tracebacks in the bot's log; and the bare aiogram echo bot (bench/echo_bot.py) with the
same members' loop on a fresh fake server, as bench.load does, with the ratio (B)/echo.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert

from bench.load import Process, describe, pct, prevnet_command
from bot.sandbox.telegram import FakeBotAPI
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Membership, Network, User
from storage.models.events import Event, EventRsvp
from storage.models.reports import ActivityType, Report, ReportNudge
from tests.dashboard_helpers import sign_init_data

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "_probe"
TOKEN = "123456:DASHBOARD-BENCH"
ECHO_TOKEN = "654321:ECHO-BENCH"
FIRST_MEMBER = 4_000_000
FIRST_COORDINATOR = 4_900_000
ADMIN = 4_990_000
ZONES = ("Asia/Amman", "Asia/Beirut")
LOCALES = ("ar", "ar", "en", "fr")
SECTORS = ("teacher", "youth_worker", "religious_leader", "youth_rep", "ngo", "other")
BATCH = 2000
SCREENS = ("session", "overview", "participation", "events", "trends", "reports", "report")


# ------------------------------------------------------------------ seeding


@dataclass
class Seeded:
    networks: list[int]
    members: list[int]  # Telegram ids
    coordinators: list[tuple[int, int]]  # (Telegram id, network id)
    reports: int = 0
    events: int = 0
    rsvps: int = 0
    seconds: float = 0.0


async def _insert(session: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        await session.execute(insert(model), rows[start : start + BATCH])


async def seed(url: str, args: argparse.Namespace, now: datetime) -> Seeded:
    """Everything in one transaction of bulk INSERTs (ids given, so nothing is read back)."""
    started = time.perf_counter()
    rng = random.Random(14)
    engine = create_engine(url)
    try:
        await upgrade(engine)
        pool = create_session_pool(engine)
        year_ago = now - timedelta(days=400)
        nets = [
            {"id": i + 1, "slug": f"bench-{i + 1}", "name": f"Bench Network {i + 1}",
             "country": "JO" if i % 2 == 0 else "LB", "timezone": ZONES[i % 2],
             "locale": "ar" if i % 2 == 0 else "en", "require_approval": False,
             "created_at": year_ago}
            for i in range(args.networks)
        ]
        users: list[dict[str, Any]] = []
        memberships: list[dict[str, Any]] = []
        of_network: dict[int, list[int]] = {n["id"]: [] for n in nets}  # user ids
        members: list[int] = []
        coordinators: list[tuple[int, int]] = []

        def person(tg_id: int, name: str, language: str) -> int:
            uid = len(users) + 1
            users.append({"id": uid, "tg_id": tg_id, "language": language,
                          "display_name": name, "consent_at": year_ago,
                          "unreachable_since": None, "created_at": year_ago})
            return uid

        for i in range(args.members):
            net = nets[i % len(nets)]["id"]
            uid = person(FIRST_MEMBER + i, f"Member {i}", LOCALES[i % len(LOCALES)])
            memberships.append({"user_id": uid, "network_id": net, "role": "member",
                                "status": "active", "sector": SECTORS[i % len(SECTORS)],
                                "joined_at": year_ago, "approved_at": year_ago})
            of_network[net].append(uid)
            members.append(FIRST_MEMBER + i)
        for i in range(args.coordinators):
            net = nets[i % len(nets)]["id"]
            tg = FIRST_COORDINATOR + i
            uid = person(tg, f"Coordinator {i}", LOCALES[i % len(LOCALES)])
            memberships.append({"user_id": uid, "network_id": net, "role": "coordinator",
                                "status": "active", "sector": "ngo",
                                "joined_at": year_ago, "approved_at": year_ago})
            coordinators.append((tg, net))
        person(ADMIN, "Admin", "en")

        today = now.date()
        types = [t.value for t in ActivityType]
        reports: list[dict[str, Any]] = []
        for net, uids in of_network.items():
            for uid in uids:
                for _ in range(args.reports_per_member):
                    day = today - timedelta(days=rng.randrange(0, 365))
                    created = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
                        hours=rng.randrange(8, 20))
                    reports.append({
                        "id": len(reports) + 1, "network_id": net, "author_id": uid,
                        "author_sector": "teacher", "activity_type": rng.choice(types),
                        "activity_date": day, "participants": rng.randrange(1, 40),
                        "description": f"Activity with the youth club, week {day:%V}",
                        "status": rng.choice(("new", "reviewed", "reviewed", "flagged")),
                        "created_at": created, "notified_at": created,
                    })
        events: list[dict[str, Any]] = []
        rsvps: list[dict[str, Any]] = []
        for net, uids in of_network.items():
            for week in range(-52, 4):
                starts = now + timedelta(days=7 * week + 1, hours=rng.randrange(-4, 4))
                eid = len(events) + 1
                events.append({
                    "id": eid, "network_id": net, "uid": f"bench-{eid}@bench",
                    "kind": "meeting", "title": f"Meeting {eid}", "place": "Town hall",
                    "starts_at": starts, "ends_at": starts + timedelta(hours=2),
                    "status": "scheduled", "sequence": 0,
                    "created_at": year_ago, "updated_at": year_ago,
                })
                past = starts + timedelta(hours=2) < now
                for uid in rng.sample(uids, len(uids) // 2):
                    answer = rng.choice(("going", "going", "maybe", "no"))
                    rsvps.append({
                        "event_id": eid, "user_id": uid, "answer": answer,
                        "answered_at": starts - timedelta(days=2),
                        "attended": (answer != "no" and rng.random() < 0.7) if past else None,
                    })
        nudges = [
            {"network_id": net, "user_id": uid, "nudged_at": now - timedelta(days=3)}
            for net, uids in of_network.items() for uid in uids[::5]
        ]
        async with pool() as session:
            await _insert(session, Network, nets)
            await _insert(session, User, users)
            await _insert(session, Membership, memberships)
            await _insert(session, Report, reports)
            await _insert(session, Event, events)
            await _insert(session, EventRsvp, rsvps)
            await _insert(session, ReportNudge, nudges)
            await session.commit()
    finally:
        await engine.dispose()
    return Seeded([n["id"] for n in nets], members, coordinators, len(reports), len(events),
                  len(rsvps), time.perf_counter() - started)


# ------------------------------------------------------------------ the people


@dataclass
class Timings:
    values: dict[str, list[float]] = field(default_factory=dict)  # ms
    errors: dict[str, dict[str, int]] = field(default_factory=dict)  # screen -> why -> n

    def add(self, screen: str, ms: float) -> None:
        self.values.setdefault(screen, []).append(ms)

    def error(self, screen: str, why: str) -> None:
        counts = self.errors.setdefault(screen, {})
        counts[why] = counts.get(why, 0) + 1


async def members_loop(
    api: FakeBotAPI, uids: list[int], duration: float, think: float, seed_: int = 7
) -> tuple[list[float], int, float]:
    """Each member sends /help, waits for the answer, thinks, again, for ``duration`` s."""
    rng = random.Random(seed_)
    latencies: list[float] = []
    unanswered = 0
    start = time.monotonic()
    deadline = start + duration

    async def member(uid: int) -> None:
        nonlocal unanswered
        if think:
            await asyncio.sleep(rng.uniform(0, think))
        while time.monotonic() < deadline:
            after = api.message_count(uid)
            t0 = time.monotonic()
            api.send_message(uid, "/help")
            try:
                await api.wait_for_message(uid, None, timeout=30, after=after)
            except TimeoutError:
                unanswered += 1
                continue
            latencies.append(time.monotonic() - t0)
            if think:
                await asyncio.sleep(min(rng.expovariate(1 / think), deadline - time.monotonic()
                                        + 0.01))

    await asyncio.gather(*(member(uid) for uid in uids))
    return latencies, unanswered, time.monotonic() - start


async def coordinator_loop(
    http: aiohttp.ClientSession, base: str, tg_id: int, net: str, language: str,
    until: float, timings: Timings,
) -> int:
    """Walk the dashboard's screens again and again until ``until`` (monotonic); returns
    the walks completed. A fresh initData each walk, as each opening of the Mini App."""
    walks = 0
    rng = random.Random(tg_id)
    while time.monotonic() < until:
        user = {"id": tg_id, "first_name": f"C{tg_id}", "language_code": language}
        headers = {"Authorization": "tma " + sign_init_data(TOKEN, user)}
        report_id: int | None = None
        for screen in SCREENS:
            if time.monotonic() >= until:
                return walks
            if screen == "report":
                if report_id is None:
                    continue
                path = f"/app/api/reports/{report_id}"
            elif screen == "session":
                path = "/app/api/session"
            elif screen == "trends":
                path = f"/app/api/trends?net={net}&weeks=52"
            else:
                path = f"/app/api/{screen}?net={net}"
            t0 = time.perf_counter()
            try:
                async with http.get(base + path, headers=headers) as resp:
                    body = await resp.read()
                    status = resp.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                timings.error(screen, type(exc).__name__)
                continue
            timings.add(screen, (time.perf_counter() - t0) * 1000)
            if not 200 <= status < 300:
                timings.error(screen, str(status))
                continue
            if screen == "reports":
                found = json.loads(body).get("reports") or []
                report_id = rng.choice(found)["id"] if found else None
        walks += 1
    return walks


# ------------------------------------------------------------------ the run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def database(kind: str, tmp: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'dashboard.db'}"
        return
    from tests.pg import fresh_database

    try:
        async with fresh_database() as url:
            yield url
    except BaseException as exc:  # pytest.skip's Skipped: PostgreSQL is not reachable
        if type(exc).__name__ == "Skipped":
            raise SystemExit(f"bench.dashboard: {exc}") from None
        raise


def probe_lines(path: Path, start: float, end: float) -> dict[str, Any]:
    lines = []
    if path.exists():
        for raw in path.read_text().splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if start <= line["t"] <= end + 0.5:
                lines.append(line)
    return {
        "capacity": max((x["capacity"] for x in lines), default=0),
        "peak_in_use": max((x["in_use"] for x in lines), default=0),
        "checkouts": sum(x["gets"] for x in lines),
        "found_full": sum(x["full"] for x in lines),
        "max_wait_ms": max((x["max_wait_ms"] for x in lines), default=0.0),
        "timeouts": sum(x["timeouts"] for x in lines),
    }


def print_pool(name: str, p: dict[str, Any]) -> None:
    print(f"  pool {name}: capacity {p['capacity']}, at most {p['peak_in_use']} checked out, "
          f"{p['checkouts']} checkouts, {p['found_full']} found it full "
          f"(longest wait {p['max_wait_ms']:.0f} ms), {p['timeouts']} timeouts")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="prevnet-dashboard-"))
    limit = args.limit or None
    think = args.think
    if think is None:
        think = args.members / (limit / 2) if limit else 0.0
    result: dict[str, Any] = {"think": think, "logs": str(tmp)}
    now = datetime.now(UTC)
    print(f"bench.dashboard: {args.database}, {args.networks} networks, {args.members} members, "
          f"{args.coordinators} coordinators + 1 admin (net=all), "
          f"{args.reports_per_member} reports per member over a year; answers after "
          f"{args.latency * 1000:.0f} ms, 429 past {limit or 'no limit'}/s; members think "
          f"{think:.1f} s between taps; {args.duration:g} s per phase")
    async with database(args.database, tmp) as url:
        seeded = await seed(url, args, now)
        result["seeded"] = {"reports": seeded.reports, "events": seeded.events,
                            "rsvps": seeded.rsvps, "seconds": round(seeded.seconds, 1)}
        print(f"  seeded {seeded.reports} reports, {seeded.events} events, {seeded.rsvps} "
              f"RSVPs in {seeded.seconds:.1f} s")
        api = FakeBotAPI(token=TOKEN, max_calls=0, global_rate=limit, retry_after=1)
        await api.start()
        api.set_delay("*", args.latency)
        api.add_users(args.members, start_id=FIRST_MEMBER)
        for tg, _net in seeded.coordinators:
            api.add_user(tg, first_name=f"C{tg}")
        api.add_user(ADMIN, first_name="Admin")
        port = free_port()
        probe = tmp / "pool.jsonl"
        env = {
            **{k: v for k, v in os.environ.items()
               if not k.startswith(("BOT_", "DATABASE_", "WEBAPP_", "DATA_KEY", "ADMIN_"))},
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api.base_url,
            "DATABASE_URL": url,
            "ADMIN_IDS": str(ADMIN),
            "WEBAPP_URL": "https://dashboard.bench.example/app/",
            "WEBAPP_HOST": "127.0.0.1",
            "WEBAPP_PORT": str(port),
            "FLOOD_LIMIT": "0",  # a closed loop is someone tapping as fast as the bot answers
            "LOG_LEVEL": args.log_level,
            "REDIS_URL": "",
            "WEBHOOK_URL": "",
            "PYTHONPATH": f"{PROBE}{os.pathsep}{ROOT}",
            "PREVNET_POOL_PROBE": str(probe),
        }
        bot = Process("prevnet", [*prevnet_command(), "run"], env, tmp)
        base = f"http://127.0.0.1:{port}"
        try:
            await bot.start("Run polling")
            await asyncio.sleep(1)
            t_a = time.time()
            stats0 = api.stats()["too_many_requests"]
            print(f"(A) members alone, {args.duration:g} s")
            lat, unanswered, elapsed = await members_loop(api, seeded.members, args.duration,
                                                          think)
            alone = describe("alone", lat, unanswered, elapsed)
            alone["unanswered"] = unanswered
            alone["429"] = api.stats()["too_many_requests"] - stats0
            pool_a = probe_lines(probe, t_a, time.time())
            print(f"  429s {alone['429']}")
            print_pool("(A)", pool_a)

            print(f"(B) members with {args.coordinators} coordinators and the admin on the "
                  f"dashboard, {args.duration:g} s")
            timings = Timings()
            t_b = time.time()
            stats0 = api.stats()["too_many_requests"]
            connector = aiohttp.TCPConnector(limit=0)
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
                until = time.monotonic() + args.duration
                walkers = [
                    coordinator_loop(http, base, tg, str(net), LOCALES[i % len(LOCALES)],
                                     until, timings)
                    for i, (tg, net) in enumerate(seeded.coordinators)
                ]
                walkers.append(coordinator_loop(http, base, ADMIN, "all", "en", until, timings))
                members_task = members_loop(api, seeded.members, args.duration, think, 8)
                (lat, unanswered, elapsed), *walks = await asyncio.gather(
                    members_task, *walkers
                )
            busy = describe("dashboard", lat, unanswered, elapsed)
            busy["unanswered"] = unanswered
            busy["429"] = api.stats()["too_many_requests"] - stats0
            pool_b = probe_lines(probe, t_b, time.time())
            print(f"  429s {busy['429']}; {sum(walks)} dashboard walks")
            print_pool("(B)", pool_b)
            endpoints = report_endpoints(timings)
            print(f"  ratios B/A: p50 {busy['p50'] / alone['p50']:.2f}, "
                  f"p95 {busy['p95'] / alone['p95']:.2f}, p99 {busy['p99'] / alone['p99']:.2f}")
        finally:
            await bot.stop()
            await asyncio.sleep(0.5)  # the fake sees the bot's connections close
            await api.stop()
        log = bot.log()
        failed = log.count("error handling update")
        tracebacks = log.count("Traceback")
        dash_failed = log.count("dashboard: /app/api/")
        print(f"  bot log: {failed} failed updates, {dash_failed} dashboard failures, "
              f"{tracebacks} tracebacks")
    result.update(alone=alone, busy=busy, pool_a=pool_a, pool_b=pool_b, endpoints=endpoints,
                  walks=sum(walks), failed_updates=failed, tracebacks=tracebacks,
                  dashboard_failures=dash_failed)
    if args.echo:
        result["echo"] = await echo_yardstick(args, env, tmp, limit, think)
        e = result["echo"]
        print(f"  ratios (B)/echo: p50 {busy['p50'] / e['p50']:.2f}, "
              f"p99 {busy['p99'] / e['p99']:.2f}; (A)/echo: p99 {alone['p99'] / e['p99']:.2f}")
    return result


def report_endpoints(timings: Timings) -> dict[str, dict[str, float]]:
    print(f"  {'endpoint':<14} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}  errors")
    out: dict[str, dict[str, float]] = {}
    for screen in SCREENS:
        values = timings.values.get(screen, [])
        errors = timings.errors.get(screen, {})
        figures = {
            "requests": len(values), "p50": pct(values, 50), "p95": pct(values, 95),
            "p99": pct(values, 99), "max": max(values, default=float("nan")),
            "errors": sum(errors.values()),
        }
        out[screen] = figures
        why = ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "0"
        print(f"  {screen:<14} {len(values):8d} {figures['p50']:8.0f} {figures['p95']:8.0f} "
              f"{figures['p99']:8.0f} {figures['max']:8.0f}  {why}")
    return out


async def echo_yardstick(
    args: argparse.Namespace, env: dict[str, str], tmp: Path, limit: float | None, think: float
) -> dict[str, float]:
    """The members' loop against a bare aiogram echo bot on a fresh fake server."""
    api = FakeBotAPI(token=ECHO_TOKEN, max_calls=0, global_rate=limit, retry_after=1)
    await api.start()
    api.set_delay("*", args.latency)
    uids = api.add_users(args.members, start_id=FIRST_MEMBER)
    echo_env = {**env, "BOT_TOKEN": ECHO_TOKEN, "TELEGRAM_API_URL": api.base_url,
                "PYTHONPATH": str(ROOT)}
    echo_env.pop("PREVNET_POOL_PROBE", None)
    echo = Process("echo", [sys.executable, "-m", "bench.echo_bot"], echo_env, tmp)
    try:
        await echo.start("echo bot polling")
        await asyncio.sleep(1)
        print(f"(echo) the same members' loop, a bare aiogram bot, {args.duration:g} s")
        lat, unanswered, elapsed = await members_loop(api, uids, args.duration, think)
        figures = describe("echo", lat, unanswered, elapsed)
        figures["unanswered"] = unanswered
    finally:
        await echo.stop()
        await api.stop()
    return figures


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.dashboard",
                                description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--coordinators", type=int, default=10)
    p.add_argument("--members", type=int, default=200)
    p.add_argument("--networks", type=int, default=6)
    p.add_argument("--reports-per-member", type=int, default=30)
    p.add_argument("--duration", type=float, default=30.0, help="seconds of each phase")
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--latency", type=float, default=0.15, help="seconds per API answer")
    p.add_argument("--limit", type=float, default=30.0, help="429 past this many/s (0: none)")
    p.add_argument("--think", type=float, default=None,
                   help="members' mean seconds between taps (default: half of --limit)")
    p.add_argument("--no-echo", dest="echo", action="store_false",
                   help="skip the echo bot yardstick")
    p.add_argument("--log-level", default="INFO", help="prevnet's LOG_LEVEL")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.networks < 1 or args.members < 1 or args.coordinators < 0:
        raise SystemExit("bench.dashboard: at least one network and one member")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
