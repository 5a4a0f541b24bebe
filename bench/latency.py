"""How long a member's tap or message takes inside the bot, with many members at once.

    .venv/bin/python -m bench.latency [--members 200] [--rounds 5]

Seeds one network with N members on a fresh SQLite file (the embedded default), then has
all of them act, several rounds of: /help, /language, a tap on a language button, /mydata.
Each action is fed through the real dispatcher (all middlewares: de-duplication, database
session, roles, i18n) with a Bot whose session answers instantly, so the figure is the
bot's own time, not Telegram's. Two workloads, each printing p50 / p95 / p99 / max:

- paced: every member is active at the same time, each acting every `--think` seconds on
  average (random, exponential), as people tapping on phones do;
- burst: every member sends at the very same instant, round after round (a worst case:
  the last in the queue waits for all the others).

Target (PRODUCT.md §5): p99 under 100 ms with 200 members acting at once.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from bot.app import tune_gc
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.services import registration
from bot.services.networks import create_network
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import utcnow
from tests.conftest import Person
from tests.mocked_bot import MockedBot


async def seed(pool, members: int) -> None:  # type: ignore[no-untyped-def]
    async with pool() as session:
        network = await create_network(session, slug="bench", name="Bench Network",
                                       country="LB", timezone="Asia/Beirut", locale="ar")
        invite = await registration.make_invite(session, network_id=network.id, role="member",
                                                max_uses=members, days=1, now=utcnow())
        for i in range(members):
            await registration.register(
                session, tg_id=10_000 + i, code=invite.code, language=("ar", "en", "fr")[i % 3],
                display_name=f"Member {i}", sector="teacher", now=utcnow(),
            )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--think", type=float, default=3.0,
                        help="paced mode: mean seconds between one member's actions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'latency.db'}"
        settings = Settings(_env_file=None, bot_token="42:BENCH", database_url=url)  # type: ignore[call-arg]
        engine = create_engine(url)
        await upgrade(engine)
        pool = create_session_pool(engine)
        await seed(pool, args.members)
        bot = MockedBot()
        dp = create_dispatcher(settings, pool, bot)
        people = [Person(dp, bot, 10_000 + i) for i in range(args.members)]
        tune_gc()  # as `prevnet run` does once it is up
        actions = (
            ("/help", lambda p: p.send("/help")),
            ("/language", lambda p: p.send("/language")),
            ("tap language", lambda p: p.press("lang:ar")),
            ("/mydata", lambda p: p.send("/mydata")),
        )
        rng = random.Random(7)

        async def paced(person: Person, timings: dict[str, list[float]]) -> None:
            for _round in range(args.rounds):
                for name, factory in actions:
                    await asyncio.sleep(rng.expovariate(1 / args.think))
                    start = time.perf_counter()
                    await factory(person)
                    timings.setdefault(name, []).append((time.perf_counter() - start) * 1000)

        async def burst(timings: dict[str, list[float]]) -> None:
            async def one(person: Person, name: str, factory) -> None:  # type: ignore[no-untyped-def]
                start = time.perf_counter()
                await factory(person)
                timings.setdefault(name, []).append((time.perf_counter() - start) * 1000)

            for _round in range(args.rounds):
                for name, factory in actions:
                    await asyncio.gather(*(one(p, name, factory) for p in people))

        for mode in ("paced", "burst"):
            timings: dict[str, list[float]] = {}
            wall = time.perf_counter()
            if mode == "paced":
                await asyncio.gather(*(paced(p, timings) for p in people))
            else:
                await burst(timings)
            wall = time.perf_counter() - wall
            report(mode, args, timings, wall)
        await engine.dispose()


def report(mode: str, args: argparse.Namespace, timings: dict[str, list[float]],
           wall: float) -> None:
    total = sum(len(v) for v in timings.values())
    how = f"each acting every ~{args.think:g} s" if mode == "paced" else "all at the same instant"
    print(f"\n{mode}: {args.members} members {how}, {total} updates in {wall:.1f} s "
          f"({total / wall:.0f} updates/s)")
    print(f"{'action':<14} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    everything: list[float] = []
    for name, values in timings.items():
        everything += values
        print(f"{name:<14} {statistics.median(values):8.1f} {pct(values, 95):8.1f} "
              f"{pct(values, 99):8.1f} {max(values):8.1f}")
    print(f"{'all':<14} {statistics.median(everything):8.1f} {pct(everything, 95):8.1f} "
          f"{pct(everything, 99):8.1f} {max(everything):8.1f}")


if __name__ == "__main__":
    asyncio.run(main())
