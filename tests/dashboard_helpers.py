"""The dashboard's test world: Telegram's initData signed like Telegram signs it, a seeded
database with known figures, and the real dashboard aiohttp app on a free 127.0.0.1 port
with the fake Bot API behind its bot (what the bot sent is in ``server.api``).

For async tests: ``async with running_dashboard(tmp_path) as dash: ...``.
For sync tests (Playwright): the ``dashboard_server`` fixture, or
``with DashboardThread(tmp_path) as dash: ...``, runs the same in a background thread with
its own event loop; ``dash.call(coro_fn)`` runs a coroutine there.

Everything is dated relative to the real clock (the server checks auth_date against it),
in the networks' own time zones.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import dbguard
from bot.config import Settings
from bot.dashboard import Dashboard, create_app
from bot.delivery import DeliveryEngine
from bot.factory import create_bot
from bot.i18n import create_i18n
from bot.sandbox.telegram import FakeBotAPI
from bot.services.networks import create_network
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Network
from storage.repositories import events as events_repo
from storage.repositories import memberships, users
from storage.repositories import reports as reports_repo

T = TypeVar("T")
TOKEN = "123456:TEST-TOKEN"  # the fake Bot API's
WEBAPP_URL = "https://dash.example.org/app/"

# People (Telegram ids). Irbid: a coordinator and four members; Saida: its own.
ADMIN = 7000
IRBID_COORDINATOR = 2001  # Hana, Arabic
RANA, OMAR, SAMI, LINA = 2002, 2003, 2004, 2005  # members of Irbid
SAIDA_COORDINATOR = 3001  # Karim
NOUR = 3002  # member of Saida
STRANGER = 9001  # never talked to the bot
PEOPLE = {
    ADMIN: ("Admin Adel", "en"),
    IRBID_COORDINATOR: ("Hana", "ar"),
    RANA: ("Rana", "en"),
    OMAR: ("Omar", "fr"),
    SAMI: ("Sami", "ar"),
    LINA: ("Lina", "ar"),
    SAIDA_COORDINATOR: ("Karim", "en"),
    NOUR: ("Nour", "en"),
}


def sign_init_data(
    token: str, user: dict[str, Any], auth_date: int | None = None, **fields: Any
) -> str:
    """initData as Telegram makes it: the fields url-encoded, ``user`` as JSON, and
    ``hash`` = HMAC-SHA256(key=HMAC-SHA256(key="WebAppData", msg=token), msg=the
    data-check string: "key=value" lines of every other field, sorted by key)."""
    values: dict[str, str] = {
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":"), ensure_ascii=False),
    }
    for key, value in fields.items():
        values[key] = value if isinstance(value, str) else json.dumps(value)
    check = "\n".join(f"{k}={values[k]}" for k in sorted(values))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    values["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(values)


def tg_user(tg_id: int, language_code: str | None = None, **extra: Any) -> dict[str, Any]:
    name, language = PEOPLE.get(tg_id, ("Stranger", "en"))
    user: dict[str, Any] = {"id": tg_id, "first_name": name, **extra}
    user["language_code"] = language_code or language
    return user


def tampered(init_data: str) -> str:
    """The same initData with the user's id changed and the old hash kept."""
    return init_data.replace("%22id%22%3A", "%22id%22%3A9", 1)


@dataclass
class World:
    """What seed_world stored, with the figures the dashboard must show."""

    irbid: int  # network ids
    saida: int
    irbid_today: date  # "today" in Irbid's time zone when seeded
    membership: dict[int, int] = field(default_factory=dict)  # tg id -> membership id
    reports: dict[str, int] = field(default_factory=dict)  # name -> report id
    events: dict[str, int] = field(default_factory=dict)  # name -> event id
    # Irbid this week (the digest's seven days ending today) and the week before.
    this_week: dict[str, Any] = field(
        default_factory=lambda: {
            "activities": 4, "participants": 50, "reporters": 2, "members": 4, "rate": 0.5,
        }
    )
    last_week: dict[str, Any] = field(
        default_factory=lambda: {
            "activities": 3, "participants": 25, "reporters": 3, "rate": 0.75,
        }
    )
    silent: tuple[int, ...] = (SAMI, LINA)  # Irbid members with no report this week
    # Saida's, that nobody outside Saida may see.
    saida_secret: str = "Saida confidential football report"


async def seed_world(pool: async_sessionmaker[AsyncSession], now: datetime | None = None) -> World:
    """Irbid (Asia/Amman, Arabic) with Hana coordinating Rana, Omar, Sami and Lina; Saida
    (Asia/Beirut) with Karim coordinating Nour; the admin (ADMIN) has a users row.

    Irbid's reports (R1-R4 this week, R5-R7 the week before):
      R1 Rana workshop 20 (yesterday, new) · R2 Rana awareness 15 (2 days ago, reviewed)
      R3 Omar dialogue 10 (3 days ago, new) · R4 Hana training 5 (2 days ago, new)
      R5 Sami workshop 12 (8 days ago) · R6 Lina culture 8 (9 days ago)
      R7 Rana mentoring 5 (10 days ago)
    Saida: S1 Nour workshop 7 (yesterday) with the description World.saida_secret.
    Events: "Youth forum" (Irbid, 4 days ago; Rana going + came, Omar going + did not
    come, Sami maybe, Lina not going: going 2, maybe 1, not going 1, attended 1, no-shows
    1); "First aid training" (Irbid, in 3 days; Rana going, Omar maybe; not marked);
    "Saida meeting" (Saida, in 2 days)."""
    now = now or datetime.now(UTC)
    joined = now - timedelta(days=60)
    async with pool() as session:
        irbid = await create_network(
            session, slug="irbid", name="Irbid Network", country="JO",
            timezone="Asia/Amman", locale="ar",
        )
        saida = await create_network(
            session, slug="saida", name="Saida Network", country="LB",
            timezone="Asia/Beirut", locale="en",
        )
        today = now.astimezone(ZoneInfo("Asia/Amman")).date()
        world = World(irbid=irbid.id, saida=saida.id, irbid_today=today)
        people = {}
        for tg_id, (name, language) in PEOPLE.items():
            user = await users.get_or_create(session, tg_id)
            user.display_name, user.language, user.consent_at = name, language, joined
            people[tg_id] = user
        await session.flush()
        roles = [
            (IRBID_COORDINATOR, irbid, "coordinator"),
            (RANA, irbid, "member"), (OMAR, irbid, "member"),
            (SAMI, irbid, "member"), (LINA, irbid, "member"),
            (SAIDA_COORDINATOR, saida, "coordinator"), (NOUR, saida, "member"),
        ]
        for tg_id, network, role in roles:
            m = await memberships.add(
                session, user=people[tg_id], network_id=network.id, role=role,
                status="active", sector="teacher", invite_id=None, now=joined,
            )
            world.membership[tg_id] = m.id

        async def report(
            name: str, network: Network, tg_id: int, kind: str, n: int, days_ago: int,
            status: str = "new", description: str | None = None,
        ) -> None:
            r = await reports_repo.create(
                session, network_id=network.id, author_id=people[tg_id].id,
                author_sector="teacher", activity_type=kind,
                activity_date=today - timedelta(days=days_ago), participants=n,
                description=description or f"{name}: {kind} with {n} people",
                status=status, created_at=now - timedelta(days=days_ago),
                notified_at=now,
            )
            world.reports[name] = r.id

        await report("R7", irbid, RANA, "mentoring", 5, 10)
        await report("R6", irbid, LINA, "culture", 8, 9)
        await report("R5", irbid, SAMI, "workshop", 12, 8)
        await report("R3", irbid, OMAR, "dialogue", 10, 3)
        await report("R4", irbid, IRBID_COORDINATOR, "training", 5, 2)
        await report("R2", irbid, RANA, "awareness", 15, 2, status="reviewed")
        await report("R1", irbid, RANA, "workshop", 20, 1,
                     description="Football and talk with the youth club")
        await report("S1", saida, NOUR, "workshop", 7, 1, description=world.saida_secret)

        async def event(
            name: str, network: Network, kind: str, starts: datetime, place: str
        ) -> int:
            e = await events_repo.create(
                session, network_id=network.id, uid=f"{name.replace(' ', '-')}@test",
                kind=kind, title=name, place=place, starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                created_by_id=people[IRBID_COORDINATOR].id,
            )
            world.events[name] = e.id
            return e.id

        amman = ZoneInfo("Asia/Amman")
        forum_day = today - timedelta(days=4)
        forum = await event(
            "Youth forum", irbid, "meeting",
            datetime.combine(forum_day, dtime(10), tzinfo=amman).astimezone(UTC), "Town hall",
        )
        training = await event(
            "First aid training", irbid, "training", now + timedelta(days=3), "Red Crescent",
        )
        await event("Saida meeting", saida, "meeting", now + timedelta(days=2), "Saida port")
        answered = now - timedelta(days=6)
        for tg_id, answer in ((RANA, "going"), (OMAR, "going"), (SAMI, "maybe"), (LINA, "no")):
            await events_repo.set_answer(session, forum, people[tg_id].id, answer, answered)
        await events_repo.set_attended(session, forum, people[RANA].id, True)
        await events_repo.set_attended(session, forum, people[OMAR].id, False)
        for tg_id, answer in ((RANA, "going"), (OMAR, "maybe")):
            await events_repo.set_answer(session, training, people[tg_id].id, answer, answered)
        await session.commit()
    return world


@dataclass
class Running:
    """A dashboard serving a seeded world (see running_dashboard)."""

    base_url: str  # http://127.0.0.1:PORT
    api: FakeBotAPI  # the fake Bot API: what the bot sent (api.messages(chat_id), ...)
    world: World
    settings: Settings
    session_pool: async_sessionmaker[AsyncSession]
    dashboard: Dashboard
    delivery: DeliveryEngine
    bot: Bot

    @property
    def app_url(self) -> str:
        return self.base_url + "/app/"

    def init_data(self, tg_id: int, language_code: str | None = None, **fields: Any) -> str:
        """Valid initData for this person (``auth_date=...`` to date it)."""
        auth_date = fields.pop("auth_date", None)
        return sign_init_data(TOKEN, tg_user(tg_id, language_code), auth_date, **fields)

    def headers(self, tg_id: int, language_code: str | None = None) -> dict[str, str]:
        return {"Authorization": "tma " + self.init_data(tg_id, language_code)}

    def documents(self, chat_id: int) -> list[dict[str, Any]]:
        """The files the bot sent to this chat (each: document, caption, ...)."""
        return [m for m in self.api.messages(chat_id) if m.get("document")]

    async def flush(self) -> None:
        """Let the outbox send what is queued (nudges)."""
        await self.delivery.run_until_idle()


def test_settings(tmp_path: Path, api_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'dashboard.db'}",
        "telegram_api_url": api_url,
        "admin_ids": frozenset({ADMIN}),
        "default_locale": "en",
        "webapp_url": WEBAPP_URL,
        "flood_limit": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_dashboard(
    tmp_path: Path, *, static_dir: Path | None = None, **settings: Any
) -> AsyncIterator[Running]:
    """The fake Bot API (with every seeded person as a user), a migrated SQLite database
    with seed_world, and the real dashboard app (bot.dashboard.create_app) listening on
    a free 127.0.0.1 port, in the running event loop."""
    async with FakeBotAPI(token=TOKEN) as api:
        for tg_id, (name, language) in PEOPLE.items():
            api.add_user(tg_id, first_name=name, language_code=language)
        config = test_settings(tmp_path, api.base_url, **settings)
        engine = create_engine(config.database_url)
        await upgrade(engine)
        pool = create_session_pool(engine)
        world = await seed_world(pool)
        bot = create_bot(config)
        dbguard.install(bot)  # as in `prevnet run`: no connection held across a request
        delivery = DeliveryEngine(bot, pool, rate=1000, per_chat_interval=0)
        options: dict[str, Any] = {}
        if static_dir is not None:
            options["static_dir"] = static_dir
        dashboard = Dashboard(
            settings=config, session_pool=pool, bot=bot,
            i18n=create_i18n(config.default_locale), delivery=delivery, **options,
        )
        runner = web.AppRunner(create_app(dashboard), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield Running(
                f"http://127.0.0.1:{port}", api, world, config, pool, dashboard, delivery, bot
            )
        finally:
            await runner.cleanup()
            await delivery.stop()
            await bot.session.close()
            await engine.dispose()


class DashboardThread:
    """running_dashboard in a background thread with its own event loop, for sync tests
    (Playwright's sync API). ``with DashboardThread(tmp_path) as dash:`` gives the
    `Running` (``dash.app_url``, ``dash.init_data(tg_id)``, ``dash.world``, ``dash.api``);
    ``dash_thread.call(fn)`` runs ``await fn(running)`` in the server's loop."""

    def __init__(self, tmp_path: Path, **options: Any) -> None:
        self.tmp_path = tmp_path
        self.options = options
        self.loop = asyncio.new_event_loop()
        self._ready: Future[Running] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="dashboard", daemon=True)
        self.running: Running | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with running_dashboard(self.tmp_path, **self.options) as running:
                self._ready.set_result(running)
                await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def start(self) -> Running:
        self._thread.start()
        self.running = self._ready.result(timeout=60)
        return self.running

    def call(self, fn: Callable[[Running], Awaitable[T]], timeout: float = 30) -> T:
        assert self.running is not None
        running = self.running

        async def run() -> T:
            return await fn(running)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=30)

    def __enter__(self) -> Running:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def dashboard_thread(tmp_path: Path) -> Iterator[DashboardThread]:
    """A sync fixture: the DashboardThread, started (``.running`` is the `Running`)."""
    thread = DashboardThread(tmp_path)
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def dashboard_server(dashboard_thread: DashboardThread) -> Running:
    """A sync fixture: the `Running` dashboard (app_url, init_data, world, api)."""
    assert dashboard_thread.running is not None
    return dashboard_thread.running
