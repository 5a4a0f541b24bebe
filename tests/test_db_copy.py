"""`prevnet db copy`: a SQLite database filled through the services, copied to PostgreSQL
(where reachable: tests/pg.py) and to another SQLite file; every table row by row, new
rows after the copy, refusals, --replace and the command line."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import JSON, Integer, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from bot.delivery import DeliveryEngine
from bot.heartbeat import Heartbeat
from bot.i18n import create_i18n
from bot.services import broadcasts, digests, events, feedback, plans, registration, reports
from bot.services.broadcasts import Content
from storage.copy import CopyRefused, copy_database, masked, summary, tables
from storage.engine import create_engine, create_session_pool
from storage.fsm import SqlStorage
from storage.migrate import upgrade
from storage.models import Network, utcnow
from storage.repositories import networks as networks_repo
from storage.repositories import reports as reports_repo
from storage.repositories import retention as retention_repo
from storage.repositories import updates, users
from storage.repositories.broadcasts import Audience
from tests.helpers import make_invite, make_network
from tests.mocked_bot import MockedBot
from tests.pg import fresh_database
from tests.test_digest import NOW as DIGEST_NOW
from tests.test_digest import make_sender, saida
from tests.test_events_reminders import (
    COORDINATOR,
    GOING,
    MAYBE,
    NOW,
    actor,
    add_people,
    answer,
    new_event,
)

NEWCOMER = 105


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        yield create_session_pool(engine)
    finally:
        await engine.dispose()


async def fill(url: str) -> None:
    """Every table gets rows, written the way the bot writes them."""
    bot = MockedBot()
    i18n = create_i18n("en")
    async with opened(url) as pool:
        outbox = DeliveryEngine(bot, pool, rate=1000, per_chat_interval=0)
        try:
            async with pool() as session:
                network = await make_network(session, "saida", require_approval=False)
                await add_people(session, network)
                invite = await make_invite(session, network.id, max_uses=3)
                await registration.register(
                    session, tg_id=NEWCOMER, code=invite.code, language="ar",
                    display_name="ريم «Reem»", sector="ngo", now=NOW,
                )
                coordinator = await actor(session, COORDINATOR)
                await events.set_reminder_offsets(session, coordinator, network.id, [1440, 90],
                                                  NOW)
                event = await new_event(session, bot, outbox, i18n, network, "2026-03-25 17:00")
                await answer(session, event, GOING, "going")
                await answer(session, event, MAYBE, "maybe")
                await reports.change_settings(session, coordinator, network.id, "nudge", 1, NOW)
                member = await actor(session, GOING)
                await reports.submit(session, member, {
                    "network_id": network.id, "type": "workshop", "date": "2026-03-19",
                    "participants": 12, "description": "Two hours on first aid\nwith the scouts",
                }, NOW)
                assert member.user is not None
                month = f"{NOW:%Y-%m}"
                action = await plans.create_action(session, coordinator, {
                    "network_id": network.id, "title": "Ligue sportive «شباب»", "aim": "Sport",
                    "start": month, "end": month, "responsible": [member.user.id],
                }, NOW)
                await plans.set_status(session, coordinator, action.id, "under_way", NOW)
                await plans.add_milestone(session, coordinator, action.id, "Terrain réservé",
                                          NOW.date() + timedelta(days=3), NOW)
                await reports.submit(session, member, {
                    "network_id": network.id, "type": "culture", "date": "2026-03-19",
                    "participants": 30, "description": "Match", "action_id": action.id,
                }, NOW)
                await reports_repo.record_nudges(session, network.id, [member.user.id], NOW)
                await session.commit()
                # The training ends: those who said "going" are asked; one answers.
                asked = await feedback.ask_due(pool, outbox, i18n, now=event.ends_at)
                assert asked.asked == {event.id: 1}
                await feedback.rate(session, member, event.id, 4, event.ends_at)
                await feedback.answer_step(session, member, event.id, "apply",
                                           "Role plays «with» parents")
                with i18n.context(), i18n.use_locale("en"):
                    await broadcasts.send(
                        session, outbox, i18n, coordinator,
                        audience=Audience((network.id,), roles=("member",)),
                        content=Content("text", "send_message", {"text": "Meeting moved"}),
                        due_at=None, progress=None, default_locale="en",
                    )
                await digests.change_schedule(session, coordinator, network.id, NOW,
                                              weekday=6, hour=9)
                await updates.claim(session, 10**11 + 7, NOW)  # a BIGINT update id
                assert await retention_repo.claim_day(session, NOW.date(), "host-1-abc", NOW)
                await retention_repo.finish_day(session, NOW.date(), {"audit_entries": 2}, NOW)
                await session.commit()
                tyre = await saida(session, "tyre", tg_base=200)  # more of every kind, by hand
            await outbox.run_until_idle()
            sender = make_sender(bot, pool)
            result = await digests.send_network_digest(sender, tyre.network.id,
                                                       now=DIGEST_NOW, trigger="schedule")
            assert result.sent
            await sender.delivery.run_until_idle()
            await sender.delivery.stop()
            fsm = SqlStorage(pool)
            key = StorageKey(bot_id=42, chat_id=GOING, user_id=GOING)
            await fsm.set_state(key, "ReportForm:date")
            await fsm.set_data(key, {"network_id": network.id, "words": ["كلمة", None, 1.5]})
            assert await Heartbeat(pool, role="run", process_id="host-1-abc").beat()
        finally:
            await outbox.stop()


Dump = dict[str, list[tuple[Any, ...]]]


async def dump(url: str) -> Dump:
    """Every row of every table in primary-key order; a JSON column as its value and
    whether it is SQL NULL (JSON null is not)."""
    engine = create_engine(url)
    out: Dump = {}
    try:
        async with engine.connect() as conn:
            for table in tables():
                columns: list[Any] = []
                for column in table.columns:
                    columns.append(column)
                    if isinstance(column.type, JSON):
                        columns.append(column.is_(None))
                query = select(*columns).order_by(*table.primary_key.columns)
                out[table.name] = [tuple(row) for row in (await conn.execute(query)).all()]
    finally:
        await engine.dispose()
    return out


async def assert_new_rows_fit(url: str, source: Dump) -> None:
    """After the copy the bot adds rows as before: ids go on from the copied ones."""
    async with opened(url) as pool, pool() as session:
        network = await make_network(session, "newone")
        assert network.id == max(row[0] for row in source["networks"]) + 1
        invite = await make_invite(session, network.id)
        await registration.register(session, tg_id=999, code=invite.code, language="en",
                                    display_name="Nadia", sector="teacher", now=utcnow())
        user = await users.get_by_tg_id(session, 999)
        assert user is not None
        assert user.id == max(row[0] for row in source["users"]) + 1
        await session.commit()


async def assert_sequences_reset(url: str, source: Dump) -> None:
    """Every serial column's next value is past the copied rows (PostgreSQL)."""
    engine = create_engine(url)
    checked = 0
    try:
        async with engine.connect() as conn:
            for table in tables():
                for index, column in enumerate(table.columns):
                    if not isinstance(column.type, Integer):
                        continue
                    seq = await conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                            {"t": table.name, "c": column.name})
                    if seq is None:
                        continue
                    last, called = (await conn.execute(
                        text(f"SELECT last_value, is_called FROM {seq}"))).one()
                    upcoming = last + 1 if called else last
                    position = _position(table.name, index)
                    top = max((row[position] for row in source[table.name]), default=0)
                    assert upcoming == top + 1, (table.name, column.name, upcoming, top)
                    checked += 1
    finally:
        await engine.dispose()
    assert checked >= 10  # networks, users, events, deliveries, ...


def _position(table_name: str, column_index: int) -> int:
    """A column's place in a dumped row (JSON columns are followed by their NULL flag)."""
    table = next(t for t in tables() if t.name == table_name)
    extra = sum(1 for c in list(table.columns)[:column_index] if isinstance(c.type, JSON))
    return column_index + extra


@pytest.fixture
async def source(tmp_path: Path) -> tuple[str, Dump]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"
    await fill(url)
    rows = await dump(url)
    empty = [name for name, content in rows.items() if not content]
    assert not empty, f"fill() left tables empty: {empty}"
    return url, rows


def _counts(rows: Dump) -> dict[str, int]:
    return {name: len(content) for name, content in rows.items()}


@pytest.mark.postgres
async def test_sqlite_to_postgresql_row_by_row_then_new_rows_fit(source):
    url, rows = source
    async with fresh_database() as target:
        copied = await copy_database(url, target, batch=3)  # several batches per table
        assert {c.table: c.rows for c in copied} == _counts(rows)
        assert [c.table for c in copied] == [t.name for t in tables()]  # parents first
        assert await dump(target) == rows
        await assert_sequences_reset(target, rows)
        await assert_new_rows_fit(target, rows)


@pytest.mark.postgres
async def test_postgresql_target_with_rows_is_refused_and_replace_empties_it(source):
    url, rows = source
    async with fresh_database() as target:
        await copy_database(url, target)
        async with opened(url) as pool, pool() as session:  # the source moves on
            await make_network(session, "later")
        with pytest.raises(CopyRefused, match=r"already holds rows \(.*\); add --replace"):
            await copy_database(url, target)
        assert await dump(target) == rows  # untouched
        copied = await copy_database(url, target, replace=True)
        after = await dump(url)
        assert await dump(target) == after
        assert sum(c.rows for c in copied) == sum(_counts(after).values())
        await assert_sequences_reset(target, after)


async def test_sqlite_to_sqlite_row_by_row_refusals_and_replace(source, tmp_path):
    url, rows = source
    target = f"sqlite+aiosqlite:///{tmp_path / 'copy' / 'target.db'}"
    copied = await copy_database(url, target, batch=4)
    assert {c.table: c.rows for c in copied} == _counts(rows)
    assert await dump(target) == rows
    with pytest.raises(CopyRefused, match="already holds rows"):
        await copy_database(url, target)
    await copy_database(url, target, replace=True)
    assert await dump(target) == rows
    await assert_new_rows_fit(target, rows)
    with pytest.raises(CopyRefused, match="is the source database itself"):
        await copy_database(url, url.replace("source.db", "./source.db"))


async def test_nothing_is_written_when_a_table_cannot_be_copied(source, tmp_path, monkeypatch):
    url, _rows = source
    target = f"sqlite+aiosqlite:///{tmp_path / 'target.db'}"
    import storage.copy as copy_module

    real = copy_module._copy_table

    async def failing(src, dst, table, batch, secrets):  # type: ignore[no-untyped-def]
        if table.name == "deliveries":
            await dst.execute(text("INSERT INTO networks (id) VALUES (NULL)"))  # NOT NULL
        return await real(src, dst, table, batch, secrets)

    monkeypatch.setattr(copy_module, "_copy_table", failing)
    with pytest.raises(CopyRefused, match="rolled back"):
        await copy_database(url, target)
    assert all(not content for content in (await dump(target)).values())


async def test_a_missing_or_empty_source_is_refused(tmp_path):
    missing = f"sqlite+aiosqlite:///{tmp_path / 'nowhere.db'}"
    target = f"sqlite+aiosqlite:///{tmp_path / 'target.db'}"
    with pytest.raises(CopyRefused, match=r"nowhere\.db does not exist: DATABASE_URL"):
        await copy_database(missing, target)
    assert not (tmp_path / "nowhere.db").exists()
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    async with opened(empty):
        pass
    with pytest.raises(CopyRefused, match="holds no rows"):
        await copy_database(empty, target)


async def test_refusals_name_the_problem_without_the_password(source):
    url, _rows = source
    with pytest.raises(CopyRefused, match=r"postgresql\+asyncpg://") as info:
        await copy_database(url, "postgresql://prevnet:s3cret@127.0.0.1/prevnet")
    assert "s3cret" not in str(info.value)
    with pytest.raises(CopyRefused, match="in-memory"):
        await copy_database(url, "sqlite+aiosqlite://")
    with pytest.raises(CopyRefused, match="not a database URL"):
        await copy_database(url, "not a url")
    # Nothing listens on port 1; the password is not in what is shown.
    with pytest.raises(CopyRefused, match=r"cannot connect to the target") as info:
        await copy_database(url, "postgresql+asyncpg://prevnet:s3cret@127.0.0.1:1/prevnet")
    assert "s3cret" not in str(info.value) and "prevnet:***@127.0.0.1:1" in str(info.value)
    assert masked("postgresql+asyncpg://u:p%40ss@h/d") == "postgresql+asyncpg://u:***@h/d"


def test_summary_lists_every_table_and_the_total():
    from storage.copy import TableCopy

    text_ = summary([TableCopy("networks", 2), TableCopy("deliveries", 12_345)],
                    "postgresql+asyncpg://u:secret@db/prevnet")
    lines = text_.splitlines()
    assert lines[0].split() == ["table", "rows"]
    assert lines[2].split() == ["networks", "2"] and lines[3].split() == ["deliveries", "12,345"]
    assert lines[5].split() == ["total", "12,347"]
    assert "secret" not in text_ and "u:***@db/prevnet" in text_


# ------------------------------------------------------------------ the command line


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source) -> str:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in list(os.environ):
        if name in {"BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "ADMIN_IDS", "REDIS_URL"}:
            monkeypatch.delenv(name)
    url, _rows = source
    monkeypatch.setenv("DATABASE_URL", url)
    return url


async def run(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_cli_copies_prints_the_counts_and_refuses_a_second_time(cli_env, source, tmp_path,
                                                                      capsys):
    _url, rows = source
    target = f"sqlite+aiosqlite:///{tmp_path / 'cli-target.db'}"
    assert await run("db", "copy", "--to", target) == 0
    out = capsys.readouterr().out
    for name, count in _counts(rows).items():
        assert any(line.split() == [name, f"{count:,}"] for line in out.splitlines()), name
    total = sum(_counts(rows).values())
    assert ["total", f"{total:,}"] in [line.split() for line in out.splitlines()]
    assert await dump(target) == rows

    assert await run("db", "copy", "--to", target) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already holds rows" in err and "--replace" in err
    assert await run("db", "copy", "--to", target, "--replace") == 0
    capsys.readouterr()

    assert await run("db", "copy", "--to",
                     "postgresql+asyncpg://prevnet:s3cret@127.0.0.1:1/prevnet") == 2
    captured = capsys.readouterr()
    assert "s3cret" not in captured.out + captured.err
    assert captured.err.startswith("prevnet: cannot connect to the target")


def test_cli_help_says_to_stop_the_bot(capsys):
    with pytest.raises(SystemExit) as info:
        main(["db", "copy", "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "usage: prevnet db copy" in out and "--to URL" in out and "--replace" in out
    assert "with the bot stopped" in out


async def test_copy_keeps_unicode_and_big_ids(source, tmp_path):
    url, _rows = source
    target = f"sqlite+aiosqlite:///{tmp_path / 'unicode.db'}"
    await copy_database(url, target)
    async with opened(target) as pool, pool() as session:
        user = await users.get_by_tg_id(session, NEWCOMER)
        assert user is not None and user.display_name == "ريم «Reem»"
        assert await session.scalar(select(func.count()).select_from(Network)) == 2
        assert (await networks_repo.get_by_slug(session, "saida")) is not None
        update_ids = (await session.execute(text("SELECT update_id FROM processed_updates")))
        assert 10**11 + 7 in {row[0] for row in update_ids}
