"""`prevnet backup FILE` and `prevnet restore FILE` (storage/backup.py, bot/cli_backup.py):
a backup taken while a writer goes on is one consistent snapshot and restores to the same
rows; restore is refused while a bot process is alive; FILE is not overwritten without
--force; after /leave neither a new backup nor the live file holds a byte of the name;
PostgreSQL through pg_dump and pg_restore where they and the server are there."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from bot.cli import main
from bot.heartbeat import ALIVE_AFTER, Heartbeat
from bot.roles import single_process
from storage import backup as backup_module
from storage.backup import BackupRefused, backup_sqlite, verify_sqlite
from storage.copy import tables
from storage.engine import create_engine, create_session_pool
from storage.migrate import pending_revisions, upgrade
from storage.models import Process, utcnow
from tests.helpers import make_network, member_of
from tests.people import texts
from tests.pg import fresh_database
from tests.test_db_copy import Dump, dump, fill, opened

HEAD = pending_revisions(None)[0]  # the newest migration
WRITER_BASE = 10**12  # the writer's update ids (fill() writes one of 10**11 + 7)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Runs `prevnet ...` with DATABASE_URL=url; returns (exit status, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in ("BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "ADMIN_IDS", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)

    async def run(url: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("DATABASE_URL", url)
        return await asyncio.to_thread(_main, list(args))

    return run


def _main(argv: list[str]) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def without_processes(rows: Dump) -> Dump:
    return {name: content for name, content in rows.items() if name != "processes"}


async def test_backup_while_writing_then_restore_into_a_fresh_path(tmp_path, cli):
    live = tmp_path / "live.db"
    url = sqlite_url(live)
    await fill(url)
    rows = await dump(url)
    assert all(rows.values()), "fill() left a table empty"
    first_written = asyncio.Event()
    backup_done = asyncio.Event()
    written: list[int] = []

    async def writer() -> None:  # the bot goes on writing, one commit per row
        engine = create_engine(url)
        try:
            while True:
                async with engine.begin() as conn:
                    uid = WRITER_BASE + len(written)
                    await conn.execute(text("INSERT INTO processed_updates (update_id, "
                                            "received_at) VALUES (:u, '2026-03-01 10:00:00')"),
                                       {"u": uid})
                written.append(uid)
                first_written.set()
                if backup_done.is_set():
                    return  # this last row came after the backup
                await asyncio.sleep(0)
        finally:
            await engine.dispose()

    task = asyncio.create_task(writer())
    await first_written.wait()
    out = tmp_path / "backups" / "prevnet.db"
    out.parent.mkdir()
    code, stdout, stderr = await cli(url, "backup", str(out))
    backup_done.set()
    await task
    assert (code, stderr) == (0, "")
    n_tables = len(rows)
    assert f"{n_tables} tables" in stdout.splitlines()[0]
    assert "integrity checked" in stdout and "personal data" in stdout
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert sorted(os.listdir(out.parent)) == ["prevnet.db"]  # no temporary file left
    info = verify_sqlite(out)  # integrity_check "ok", a known revision
    assert info.revision == HEAD

    fresh = tmp_path / "elsewhere" / "restored.db"
    code, stdout, stderr = await cli(sqlite_url(fresh), "restore", str(out))
    assert (code, stderr) == (0, "")
    assert stdout.startswith(f"restored {out} into {fresh}: ") and f"{n_tables} tables" in stdout
    got = await dump(sqlite_url(fresh))
    # One snapshot: the writer's rows up to some point, none after; the rest as filled.
    theirs = [r for r in got["processed_updates"] if r[0] >= WRITER_BASE]
    assert [r[0] for r in theirs] == written[: len(theirs)]
    assert 1 <= len(theirs) < len(written)
    got["processed_updates"] = [r for r in got["processed_updates"] if r[0] < WRITER_BASE]
    assert without_processes(got) == without_processes(rows)
    assert got["processes"] == []  # no process runs on a database just restored
    assert f"{info.rows:,} rows" in stdout


async def test_restore_is_refused_while_a_bot_process_is_alive(tmp_path, cli):
    target = tmp_path / "live.db"
    async with opened(sqlite_url(target)) as pool, pool() as session:
        await make_network(session, "keepme")
        await session.commit()
    source = tmp_path / "other.db"
    async with opened(sqlite_url(source)) as pool, pool() as session:
        await make_network(session, "other")
        await session.commit()
    backup = tmp_path / "other.backup"
    backup_sqlite(source, backup)

    engine = create_engine(sqlite_url(target))
    pool = create_session_pool(engine)
    heartbeat = Heartbeat(pool, role="run", process_id="host-1-alive")
    try:
        assert await heartbeat.beat()
        code, stdout, stderr = await cli(sqlite_url(target), "restore", str(backup))
        assert code == 2 and stdout == ""
        assert len(stderr.splitlines()) == 1
        assert stderr.startswith("prevnet: a bot process is alive on this database (prevnet "
                                 f"run, pid {os.getpid()} on ")
        assert "stop the bot before restoring" in stderr
        # A process that died a minute ago is not alive any more.
        async with pool() as session:
            await session.execute(update(Process).values(
                last_seen=utcnow() - ALIVE_AFTER - timedelta(seconds=30)))
            await session.commit()
    finally:
        await engine.dispose()
    assert (await dump(sqlite_url(target)))["networks"][0][1] == "keepme"

    with single_process(sqlite_url(target)):  # a running `prevnet run` holds this lock
        code, _out, stderr = await cli(sqlite_url(target), "restore", str(backup))
    assert code == 2 and stderr == (f"prevnet: the bot is running on {target.resolve()} (it "
                                    "holds the lock beside it): stop it before restoring\n")
    assert [r[1] for r in (await dump(sqlite_url(target)))["networks"]] == ["keepme"]

    code, stdout, stderr = await cli(sqlite_url(target), "restore", str(backup))
    assert (code, stderr) == (0, "")
    assert [r[1] for r in (await dump(sqlite_url(target)))["networks"]] == ["other"]


async def test_overwrite_and_bad_files_are_refused(tmp_path, cli):
    url = sqlite_url(tmp_path / "live.db")
    async with opened(url) as pool, pool() as session:
        await make_network(session, "saida")
        await session.commit()
    out = tmp_path / "b.db"
    out.write_bytes(b"an older backup")
    code, stdout, stderr = await cli(url, "backup", str(out))
    assert (code, stdout) == (2, "")
    assert stderr == (f"prevnet: {out} already exists: give another name, or add --force "
                      "to overwrite it\n")
    assert out.read_bytes() == b"an older backup"
    code, stdout, _ = await cli(url, "backup", str(out), "--force")
    assert code == 0 and verify_sqlite(out).tables == len(tables())
    assert sorted(os.listdir(tmp_path)) == ["b.db", "live.db"]  # no temporary file left

    code, _, stderr = await cli(url, "backup", str(tmp_path / "no" / "b.db"))
    assert code == 2 and "the folder" in stderr and "does not exist" in stderr

    fresh = sqlite_url(tmp_path / "fresh.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all, just text")
    code, _, stderr = await cli(fresh, "restore", str(junk))
    assert (code, stderr) == (2, f"prevnet: {junk} is not an SQLite database\n")
    damaged = tmp_path / "damaged.db"
    data = bytearray(out.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4096] = b"\xff" * 4096  # a page in the middle
    damaged.write_bytes(bytes(data))
    code, _, stderr = await cli(fresh, "restore", str(damaged))
    assert code == 2 and stderr.startswith(f"prevnet: {damaged} ")
    assert "damaged" in stderr or "cannot be read" in stderr
    future = tmp_path / "future.db"
    shutil.copyfile(out, future)
    with sqlite3.connect(future) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_future'")
    code, _, stderr = await cli(fresh, "restore", str(future))
    assert code == 2 and "schema revision '0099_future'" in stderr
    assert not (tmp_path / "fresh.db").exists()  # nothing was put in place
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []
    code, _, stderr = await cli(fresh, "restore", str(tmp_path / "missing.db"))
    assert code == 2 and "there is no backup at" in stderr


ZAYNAB = "Zaynab-Unique-7731"
ARABIC = "زينب-فريدة-٧٧٣١"


def encodings(name: str) -> list[bytes]:
    return [name.encode("utf-8"), name.encode("utf-16-le"), name.encode("utf-16-be")]


def holds(path: Path, name: str) -> bool:
    data = path.read_bytes() if path.exists() else b""
    return any(form in data for form in encodings(name))


async def test_after_leave_no_byte_of_the_name_in_a_new_backup_nor_the_live_file(
    settings, session, person, tmp_path
):
    network = await make_network(session)
    zaynab, arabic, stays = person(31), person(32), person(33)
    await member_of(session, zaynab, network, name=ZAYNAB)
    await member_of(session, arabic, network, name=ARABIC)
    await member_of(session, stays, network, name="Rana")
    live = settings.sqlite_path()
    assert live is not None
    before = tmp_path / "before.db"
    backup_sqlite(live, before)
    assert holds(before, ZAYNAB) and holds(before, ARABIC)  # the check can see them

    for p in (zaynab, arabic):
        await p.send("/leave")
        out = await p.tap("Yes, leave and erase")
        assert texts(out) == ["You left Saida Network. Your personal data has been erased. "
                              "Goodbye!"]
    after = tmp_path / "after.db"
    backup_sqlite(live, after)
    assert not holds(after, ZAYNAB) and not holds(after, ARABIC)
    assert holds(after, "Rana")

    await session.close()
    with sqlite3.connect(live) as conn:  # what the bot's next checkpoint does
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    for path in (live, Path(f"{live}-wal")):
        assert not holds(path, ZAYNAB) and not holds(path, ARABIC), path


async def test_pg_dump_missing_and_the_password_kept_off_the_command_line(tmp_path, monkeypatch):
    args, env = backup_module._pg_args(
        backup_module.make_url("postgresql+asyncpg://prevnet:s3cret@db.local:5433/prevnet"))
    assert args == ["--no-password", "--host", "db.local", "--port", "5433",
                    "--username", "prevnet"]
    assert env["PGPASSWORD"] == "s3cret"
    monkeypatch.setattr(backup_module.shutil, "which", lambda _name: None)
    with pytest.raises(BackupRefused, match=r"^pg_dump is not installed \(it comes with the "
                                            r"PostgreSQL client"):
        backup_module.backup_postgres("postgresql+asyncpg://u@h/d", tmp_path / "x.dump")
    assert os.listdir(tmp_path) == []


@pytest.mark.postgres
async def test_postgresql_backup_and_restore_into_a_fresh_database(tmp_path, cli):
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not installed")
    async with fresh_database() as source:
        await fill(source)
        rows = await dump(source)
        out = tmp_path / "prevnet.dump"
        code, stdout, stderr = await cli(source, "backup", str(out))
        assert (code, stderr) == (0, ""), stdout
        assert out.read_bytes()[:5] == b"PGDMP" and f"{len(rows)} tables" in stdout
        async with fresh_database() as target:
            code, stdout, stderr = await cli(target, "restore", str(out))
            assert (code, stderr) == (0, ""), stdout
            got = await dump(target)
            assert without_processes(got) == without_processes(rows)
            assert got["processes"] == []
            # The source is busy: its heartbeat was just written.
            async with opened(source) as pool:
                assert await Heartbeat(pool, role="worker", process_id="h-2-x").beat()
            code, _, stderr = await cli(source, "restore", str(out))
            assert code == 2 and "a bot process is alive on this database" in stderr
            sqlite_backup = tmp_path / "s.db"
            shutil.copyfile(Path(__file__).with_name("__init__.py"), sqlite_backup)
            code, _, stderr = await cli(target, "restore", str(sqlite_backup))
            assert code == 2 and "is not a pg_dump file in the custom format" in stderr


async def test_an_older_backup_is_migrated_after_the_restore(tmp_path, cli):
    old = tmp_path / "old.db"
    engine = create_engine(sqlite_url(old))
    try:
        await upgrade(engine, "0006")  # before the heartbeats' table (0007)
        async with create_session_pool(engine)() as session:
            await make_network(session, "saida")
            await session.commit()
    finally:
        await engine.dispose()
    backup = tmp_path / "old.backup"
    assert backup_sqlite(old, backup).revision == "0006"
    # Restored over the old database itself, which has no heartbeats table yet.
    code, stdout, stderr = await cli(sqlite_url(old), "restore", str(backup))
    assert (code, stderr) == (0, "")
    assert stdout.rstrip().endswith(f"schema {HEAD}, migrated from 0006 to {HEAD}")
    got = await dump(sqlite_url(old))
    assert [r[1] for r in got["networks"]] == ["saida"] and got["processes"] == []
