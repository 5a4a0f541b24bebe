"""The world the fuzz test (tests/test_fuzz.py) drives: two networks, A and B, each with a
coordinator, a member, an event, a report, an invite and a broadcast; an admin and a
stranger; hostile display names. Everything of network X carries the marker ``QZ<X>``
(its name, its people's names, its event, its report), so a message that reveals it to
someone with no right to X is found by a substring check.

The database is a SQLite file: `World.reset()` puts back the copy taken when the world was
built, so each hypothesis example starts from the same state without migrating again.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiogram import Dispatcher
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.callbacks import ApproveCb
from bot.delivery import DeliveryEngine
from bot.i18n import create_i18n
from bot.services.reports.notices import notify_new_reports
from storage.models import Broadcast, Delivery, Invite, Membership, User, utcnow
from storage.models.events import Event
from storage.models.reports import Report
from storage.repositories import delivery as delivery_repo
from tests.events_dialog import dialog_until_preview, local
from tests.fuzz_check import CheckedBot
from tests.helpers import I_AGREE, LANGUAGE_NAMES, make_invite, make_network, member_of
from tests.people import ADMIN_ID, Person
from tests.reports_helpers import file_report

# Who the fuzz test plays, with the networks they belong to at the start.
A_MEMBER, A_COORD, B_MEMBER, B_COORD, STRANGER, B_PENDING = 101, 102, 201, 202, 301, 203
NAMES = {
    ADMIN_ID: "&amp; Admin",
    A_MEMBER: "Sami <3 QZA",
    A_COORD: "<b>x</b> QZA",
    B_MEMBER: "\u202eNour\u200b & QZB",
    B_COORD: "Zaid <i> QZB",
    STRANGER: "Sami <3",
    B_PENDING: "Pending QZB \u0000",
}
# The names they type when they join (the bot refuses control and format characters).
SHOWN = {
    A_MEMBER: "Sami <3 QZA",
    A_COORD: "<b>x</b> QZA",
    B_MEMBER: "نور & QZB",
    B_COORD: "Zaid <i> QZB",
    B_PENDING: "Pending &lt; QZB",
}
PLAYERS = (ADMIN_ID, A_MEMBER, A_COORD, B_MEMBER, B_COORD, STRANGER)
MARKERS = {"A": "qza", "B": "qzb"}
LATER = timedelta(days=1)  # reports are notified once quiet: a day later, all are


class Errors(logging.Handler):
    """Every log record at ERROR or above (the dispatcher's `crashed` handler, a failed
    apology, a delivery loop that died)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Ids:
    """Ids of each network's objects, for forged callback data."""

    networks: dict[str, int] = field(default_factory=dict)
    ints: list[int] = field(default_factory=list)  # every id of both networks, and edges


@dataclass(repr=False)
class World:
    dp: Dispatcher
    bot: CheckedBot
    engine: AsyncEngine
    pool: async_sessionmaker[AsyncSession]
    db: Path
    snapshot: sqlite3.Connection  # an in-memory copy of the database as built
    people: dict[int, Person]
    codes: dict[str, str]  # "CODE" / "BCODE": many-use invites to A / B, for strangers
    ids: Ids
    errors: Errors
    outbox: DeliveryEngine
    tags: dict[int, str] = field(default_factory=dict)  # network id -> "A" / "B"
    # Who was given an invite code in this example: the code shows them its network.
    granted: dict[int, set[str]] = field(default_factory=dict)
    _live: sqlite3.Connection | None = None
    built_with: list[Any] = field(default_factory=list)  # violations while it was built

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("World(...)")  # hypothesis prints the example's arguments

    async def reset(self) -> None:
        """Back to the world as it was built: database, dialog states, shown buttons.

        SQLite's backup API copies the snapshot over the live database through a
        connection of its own; the pool's connections are idle, and see the new pages."""
        if self._live is None:
            self._live = sqlite3.connect(self.db)
        self.snapshot.backup(self._live)
        self.dp.storage._cache.clear()  # type: ignore[attr-defined]
        self.bot.session.keyboards.clear()
        self.bot.session.violations.clear()
        self.bot.take_requests()
        self.errors.records.clear()
        self.granted.clear()

    async def rights(self) -> dict[int, set[str]]:
        """The networks (by tag) each player may see: their memberships; admins all."""
        out: dict[int, set[str]] = {tg: set() for tg in NAMES}
        async with self.pool() as session:
            rows = await session.execute(
                select(User.tg_id, Membership.network_id).join(
                    Membership, Membership.user_id == User.id
                )
            )
            for tg_id, network_id in rows:
                out.setdefault(tg_id, set()).add(self.tags.get(network_id, "?"))
        for tg_id, tags in self.granted.items():
            out.setdefault(tg_id, set()).update(tags)
        out[ADMIN_ID] = set(MARKERS)
        return out

    def grant(self, tg_id: int, code: str) -> None:
        if code in self.codes:
            self.granted.setdefault(tg_id, set()).add("A" if code == "CODE" else "B")

    async def flush(self) -> list[tuple[int | None, TelegramMethod[Any]]]:
        """Run the outbox until nothing is due; the requests it made, by recipient."""
        async with self.pool() as session:
            due = await delivery_repo.has_due_work(session, utcnow())
        if due:
            await self.outbox.run_until_idle(timeout=30)
        return [(getattr(r, "chat_id", None), r) for r in self.bot.take_requests()]

    async def notices(self) -> list[tuple[int | None, TelegramMethod[Any]]]:
        """The coordinators' notices of new reports (a scheduled job), sent now."""
        i18n = self.dp["i18n"]
        await notify_new_reports(self.pool, self.outbox, i18n, utcnow() + LATER)
        return await self.flush()


def recipients(actor: int, out: list[TelegramMethod[Any]]) -> list[tuple[int | None, Any]]:
    """(chat the request reaches, request): a button's answer reaches who pressed it."""
    return [
        (actor if isinstance(r, AnswerCallbackQuery) else getattr(r, "chat_id", None), r)
        for r in out
    ]


async def _seed(session: AsyncSession, p: dict[int, Person], tag: str, coord: int,
                member: int) -> None:
    """An event, a report and a broadcast in the coordinator's network."""
    await dialog_until_preview(p[coord], start=local(3, 17), title=f"Plan QZ{tag} <&>")
    await p[coord].tap("📣 Announce")
    await file_report(p[member], description=f"Note QZ{tag} <i>&")
    await p[coord].send("/broadcast")
    await p[coord].tap("Everyone")
    await p[coord].send(f"News QZ{tag} <b>&")
    await p[coord].tap("Send now")


async def build(
    dp: Dispatcher, bot: CheckedBot, engine: AsyncEngine,
    pool: async_sessionmaker[AsyncSession], db: Path,
) -> World:
    outbox = DeliveryEngine(bot, pool, rate=1000, per_chat_interval=0)
    dp["delivery"] = outbox
    people = {tg: Person(dp, bot, tg, first_name=name) for tg, name in NAMES.items()}
    async with pool() as session:
        a = await make_network(session, "alpha", name="Alpha & <QZA>", locale="en")
        b = await make_network(session, "bravo", name="Bravo &amp; <QZB>", locale="fr",
                               require_approval=True)
        await member_of(session, people[A_COORD], a, role="coordinator", name=SHOWN[A_COORD])
        await member_of(session, people[A_MEMBER], a, name=SHOWN[A_MEMBER])
        await member_of(session, people[B_COORD], b, role="coordinator", name=SHOWN[B_COORD])
        invite = await make_invite(session, b.id)
        await session.commit()
        await people[B_MEMBER].send(f"/start {invite.code}")
        # B asks for approval: the member joins, then the coordinator approves
        await _join_pending(people[B_MEMBER])
        pending_id = await session.scalar(
            select(Membership.id).where(Membership.status == "pending")
        )
        await people[B_COORD].press(ApproveCb(membership_id=pending_id or 0, ok=True).pack())
        pending = await make_invite(session, b.id)
        await session.commit()
        await people[B_PENDING].send(f"/start {pending.code}")
        await _join_pending(people[B_PENDING])
        await _seed(session, people, "A", A_COORD, A_MEMBER)
        await _seed(session, people, "B", B_COORD, B_MEMBER)
        await outbox.run_until_idle()
        await notify_new_reports(pool, outbox, create_i18n("en"), utcnow() + LATER)
        await outbox.run_until_idle()
        await make_invite(session, b.id, max_uses=5)  # one to revoke
        codes = {
            "CODE": (await make_invite(session, a.id, max_uses=1000)).code,
            "BCODE": (await make_invite(session, b.id, max_uses=1000)).code,
        }
        await session.commit()
        ids = Ids(networks={"A": a.id, "B": b.id})
        found: set[int] = {0, 1, -1, 2**31, 2**63 - 1, 10**18}
        for model in (Event, Report, Membership, Invite, User, Delivery, Broadcast):
            found.update(await session.scalars(select(model.id)))  # type: ignore[attr-defined]
        found.update(NAMES)
        ids.ints = sorted(found)
        tags = {a.id: "A", b.id: "B"}
    built_with = list(bot.session.violations)
    bot.take_requests()
    await engine.dispose()
    snapshot = sqlite3.connect(":memory:")
    with sqlite3.connect(db) as disk:
        disk.backup(snapshot)
    errors = Errors()
    world = World(dp, bot, engine, pool, db, snapshot, people, codes, ids, errors, outbox,
                  tags)
    world.built_with = built_with
    await world.reset()
    return world


async def _join_pending(p: Person) -> None:
    await p.tap(LANGUAGE_NAMES["en"], contains=True)
    await p.send(SHOWN[p.user.id])
    await p.press("sec:teacher")
    await p.tap(I_AGREE["en"])
