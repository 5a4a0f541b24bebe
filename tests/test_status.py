"""`prevnet status`: the outbox, the processes, the last digests and reminders, on SQLite
and PostgreSQL; the text and the JSON; the command itself; migration 0007 both ways."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from bot.services import status
from storage.engine import create_engine
from storage.migrate import alembic_config, upgrade
from storage.models import (
    Broadcast,
    Delivery,
    Digest,
    Event,
    EventReminder,
    Network,
    User,
    utcnow,
)
from storage.repositories import delivery as outbox
from storage.repositories import processes

Pool = async_sessionmaker[AsyncSession]


async def seed(pool: Pool, now: Any) -> dict[str, Any]:
    """Four jobs (one running with rows in every status, one scheduled, one done today, one
    done three days ago), three processes (fresh, stale, two days dead), two networks'
    digests and the admins', and reminders in every status."""
    async with pool() as session:
        saida = Network(slug="saida", name="Saida", country="LB", timezone="Asia/Beirut")
        irbid = Network(slug="irbid", name="Irbid", country="JO", timezone="Asia/Amman")
        users = [User(tg_id=5000 + i, language="en") for i in range(12)]
        session.add_all([saida, irbid, *users])
        await session.flush()

        async def job(kind: str, status_: str, created: Any, **kw: Any) -> int:
            row = await outbox.create_job(
                session, kind=kind, payload={"method": "send_message", "params": {"text": "x"}},
                due_at=kw.pop("due_at", created), total=kw.pop("total", 0), **kw,
            )
            row.status = status_
            row.created_at = created
            await session.flush()
            return row.id

        running = await job("broadcast", "running", now - timedelta(minutes=10),
                            network_id=saida.id, total=12)
        old = await job("reminder", "done", now - timedelta(days=3), network_id=irbid.id)
        scheduled = await job("event", "scheduled", now - timedelta(minutes=1),
                              due_at=now + timedelta(hours=1), network_id=irbid.id, total=1)
        recent = await job("digest", "done", now - timedelta(hours=2))
        session.add(Broadcast(job_id=running, audience={"networks": [saida.id]}, kind="text",
                              preview="Meeting moved\nto Thursday"))
        rows: list[dict[str, Any]] = []
        plan = (
            # pending: two due (7 min and 2 min ago), one waiting for a retry in 5 min
            [("pending", now - timedelta(minutes=7)), ("pending", now - timedelta(minutes=2)),
             ("pending", now + timedelta(minutes=5))]
            + [("sending", now - timedelta(minutes=9))] * 2
            + [("sent", now - timedelta(minutes=10))] * 4
            + [("blocked", now - timedelta(minutes=10))]
            + [("failed", now - timedelta(minutes=10))] * 2
        )
        for user, (state, at) in zip(users, plan, strict=True):
            rows.append({
                "job_id": running, "user_id": user.id, "chat_id": user.tg_id, "locale": "en",
                "status": state, "attempts": 0, "next_attempt_at": at,
                "claimed_by": "w:1:a" if state == "sending" else None,
                "claimed_at": now - timedelta(seconds=30) if state == "sending" else None,
            })
        rows.append({"job_id": scheduled, "user_id": users[0].id, "chat_id": users[0].tg_id,
                     "locale": "en", "status": "pending", "attempts": 0,
                     "next_attempt_at": now + timedelta(hours=1)})
        rows.append({"job_id": old, "user_id": users[0].id, "chat_id": users[0].tg_id,
                     "locale": "en", "status": "sent", "attempts": 1,
                     "next_attempt_at": now - timedelta(days=3)})
        await session.execute(insert(Delivery), rows)

        for pid, seen in ((101, now - timedelta(seconds=5)), (102, now - timedelta(minutes=2)),
                          (103, now - timedelta(days=2))):
            await processes.beat(
                session, process_id=f"host-{pid}/b/n:{pid}:abc", role="run" if pid != 102
                else "worker", host=f"host-{pid}", pid=pid,
                started_at=now - timedelta(hours=1), now=seen,
            )

        week, previous = date(2024, 12, 30), date(2024, 12, 23)
        for scope, net, wk, state, sent in (
            (f"network:{saida.id}", saida.id, previous, "sent", now - timedelta(days=7)),
            (f"network:{saida.id}", saida.id, week, "sent", now - timedelta(hours=3)),
            (f"network:{irbid.id}", irbid.id, week, "claimed", None),
            ("admin", None, week, "sent", now - timedelta(hours=2)),
        ):
            session.add(Digest(scope=scope, network_id=net, week=wk, status=state,
                               trigger="schedule", as_of=now, claimed_by="w:1:a",
                               claimed_at=now - timedelta(hours=4), sent_at=sent,
                               recipients=7, resends=0, progress={}, job_ids={}))

        event = Event(network_id=saida.id, uid="ev-1@prevnet", title="Training day",
                      place="Hall", starts_at=now + timedelta(hours=2),
                      ends_at=now + timedelta(hours=3))
        session.add(event)
        await session.flush()
        for offset, state, due, claimed, done in (
            (1440, "sent", now - timedelta(minutes=30), None, now - timedelta(minutes=30)),
            (720, "skipped", now - timedelta(hours=3), None, now - timedelta(hours=3)),
            (60, "pending", now - timedelta(minutes=1), None, None),
            (30, "pending", now + timedelta(hours=1), None, None),
            (15, "claimed", now - timedelta(seconds=40), now - timedelta(seconds=20), None),
        ):
            session.add(EventReminder(event_id=event.id, plan=0, offset_minutes=offset,
                                      due_at=due, status=state, claimed_at=claimed,
                                      done_at=done))
        await session.commit()
    return {"running": running, "old": old, "scheduled": scheduled, "recent": recent}


async def test_report_figures_are_exact(pool: Pool) -> None:
    now = utcnow()
    ids = await seed(pool, now)
    async with pool() as session:
        report = await status.collect(session, now=now)

    ob = report.outbox
    assert ob.jobs == {"running": 1, "scheduled": 1, "done": 2}
    assert (ob.pending, ob.sending, ob.due) == (4, 2, 2)
    assert ob.oldest_due == now - timedelta(minutes=7)
    assert ob.oldest_sending == now - timedelta(seconds=30)

    # Running and scheduled first, then today's; the job of three days ago is not listed.
    assert [j.id for j in report.jobs] == [ids["scheduled"], ids["running"], ids["recent"]]
    job = report.jobs[1]
    assert job.by_status == {"pending": 3, "sending": 2, "sent": 4, "blocked": 1, "failed": 2}
    assert job.oldest_pending == now - timedelta(minutes=7)
    assert (job.kind, job.status, job.network, job.total) == ("broadcast", "running", "saida", 12)
    assert job.title == "Meeting moved\nto Thursday"
    assert report.jobs[0].by_status == {"pending": 1, "sending": 0, "sent": 0, "blocked": 0,
                                        "failed": 0}
    assert report.jobs[0].oldest_pending == now + timedelta(hours=1)
    assert report.jobs[2].by_status == dict.fromkeys(status.DELIVERY_STATUSES, 0)
    assert report.jobs[2].oldest_pending is None

    assert [(p.pid, p.alive) for p in report.processes] == [(101, True), (102, False)]
    assert [p.id for p in report.alive] == ["host-101/b/n:101:abc"]
    assert [p.role for p in report.gone] == ["worker"]

    assert [(d.network, d.scope, d.week, d.status) for d in report.digests] == [
        ("irbid", report.digests[0].scope, date(2024, 12, 30), "claimed"),
        ("saida", report.digests[1].scope, date(2024, 12, 30), "sent"),
        (None, "admin", date(2024, 12, 30), "sent"),
    ]
    assert report.digests[1].sent_at == now - timedelta(hours=3)

    rem = report.reminders
    assert rem.by_status == {"pending": 2, "claimed": 1, "sent": 1, "skipped": 1}
    assert rem.due == 1
    assert rem.oldest_due == now - timedelta(minutes=1)
    assert rem.next_due == now + timedelta(hours=1)
    assert rem.oldest_claim == now - timedelta(seconds=20)
    assert rem.last_done == now - timedelta(minutes=30)
    assert [(r.offset_minutes, r.status, r.event_title, r.network)
            for r in report.reminder_runs] == [
        (1440, "sent", "Training day", "saida"), (720, "skipped", "Training day", "saida")]


async def test_text_shows_the_exact_figures(pool: Pool) -> None:
    now = utcnow()
    ids = await seed(pool, now)
    async with pool() as session:
        text = status.render(await status.collect(session, now=now, schema="0007"))
    lines = text.splitlines()
    assert lines[0] == f"prevnet status at {now:%Y-%m-%d %H:%M:%S} UTC (database schema 0007)"
    assert "  jobs: 1 running, 1 scheduled, 2 done" in lines
    assert ("  deliveries: 4 pending (2 due, the oldest due 7m ago), "
            "2 sending (the oldest claimed 30s ago)") in lines

    def row(first: str) -> list[str]:
        return next(line.split() for line in lines if line.split()[:1] == [first])

    created = now - timedelta(minutes=10)
    assert row(str(ids["running"])) == [
        str(ids["running"]), "broadcast", "running", "saida",
        f"{created:%Y-%m-%d}", f"{created:%H:%M}", "3", "2", "4", "1", "2",
        "due", "7m", "ago", "Meeting", "moved", "to", "Thursday",
    ]
    assert row(str(ids["scheduled"]))[6:14] == ["1", "0", "0", "0", "0", "due", "in", "1h"]
    header = next(line for line in lines if line.split()[:2] == ["job", "kind"])
    table = lines[lines.index(header) + 1 : lines.index("", lines.index(header))]
    assert [line.split()[0] for line in table] == [
        str(ids["scheduled"]), str(ids["running"]), str(ids["recent"])]  # not the old one
    assert header.split() == ["job", "kind", "status", "network", "created", "pending",
                              "sending", "sent", "blocked", "failed", "oldest", "pending",
                              "title"]
    # Numbers are right-aligned under their headers.
    body = next(line for line in lines if line.split()[:1] == [str(ids["running"])])
    assert body.index("3  ") + 1 == header.index("pending") + len("pending")

    assert "Processes: 1 alive, 1 gone without stopping (alive: a heartbeat within 30s)" in lines
    assert row("run")[:3] == ["run", "host-101", "101"]
    assert row("run")[5:9] == ["5s", "ago", "alive", "host-101/b/n:101:abc"]
    assert row("worker")[5:9] == ["2m", "ago", "GONE", "host-102/b/n:102:abc"]
    assert "host-103" not in text

    assert row("saida")[:4] == ["saida", "2024-12-30", "sent", "schedule"]
    assert row("irbid")[:4] == ["irbid", "2024-12-30", "claimed", "schedule"]
    assert row("admins")[:3] == ["admins", "2024-12-30", "sent"]
    assert ("  2 pending (1 due, the oldest 1m ago), 1 claimed (since 20s ago), 1 sent, "
            "1 skipped") in lines
    done = now - timedelta(minutes=30)
    assert any(line.startswith(f"  last sent or skipped: {done:%Y-%m-%d %H:%M} (30m ago); "
                               "next due: ") and line.endswith("(in 1h)") for line in lines)


async def test_json_has_the_same_figures(pool: Pool) -> None:
    now = utcnow()
    ids = await seed(pool, now)
    async with pool() as session:
        data = json.loads(json.dumps((await status.collect(session, now=now)).to_dict()))
    job = next(j for j in data["jobs"] if j["id"] == ids["running"])
    assert {k: job[k] for k in status.DELIVERY_STATUSES} == {
        "pending": 3, "sending": 2, "sent": 4, "blocked": 1, "failed": 2}
    assert job["oldest_pending_age_seconds"] == 420
    assert data["outbox"]["pending"] == 4 and data["outbox"]["due"] == 2
    assert [(p["pid"], p["alive"]) for p in data["processes"]] == [(101, True), (102, False)]
    assert data["reminders"]["pending"] == 2 and data["reminders"]["due"] == 1


async def test_an_empty_database(pool: Pool) -> None:
    async with pool() as session:
        report = await status.collect(session)
    text = status.render(report)
    assert "  jobs: none" in text
    assert "  deliveries: 0 pending, 0 sending" in text
    assert "no job running, scheduled or created in the last 24 h" in text
    assert "no heartbeat: no `prevnet run` or `prevnet worker` is running" in text
    assert "no digest yet" in text


async def test_process_rows(pool: Pool) -> None:
    now = utcnow()
    async with pool() as session:
        for name, seen in (("a", now), ("b", now - timedelta(seconds=31)),
                           ("c", now - timedelta(hours=25))):
            await processes.beat(session, process_id=name, role="run", host="h", pid=1,
                                 started_at=now - timedelta(hours=30), now=seen)
        # A second beat updates the row, keeping its start.
        await processes.beat(session, process_id="b", role="run", host="h", pid=1,
                             started_at=now, now=now - timedelta(seconds=29))
        await session.commit()
        alive = await processes.alive(session, now=now, within=timedelta(seconds=30))
        assert [p.id for p in alive] == ["b", "a"] or [p.id for p in alive] == ["a", "b"]
        assert {p.id: p.started_at for p in alive}["b"] == now - timedelta(hours=30)
        assert await processes.prune(session, now - timedelta(days=1)) == 1
        assert await processes.remove(session, "a") is True
        assert await processes.remove(session, "a") is False
        await session.commit()
        assert [p.id for p in await processes.seen_since(session, now - timedelta(days=9))] \
            == ["b"]


def test_durations() -> None:
    assert status.duration(timedelta(seconds=45)) == "45s"
    assert status.duration(timedelta(seconds=302)) == "5m 2s"
    assert status.duration(timedelta(minutes=7)) == "7m"
    assert status.duration(timedelta(hours=3, minutes=10, seconds=5)) == "3h 10m"
    assert status.duration(timedelta(days=2, hours=4)) == "2d 4h"
    now = utcnow()
    assert status.relative(now - timedelta(seconds=90), now) == "1m 30s ago"
    assert status.relative(now + timedelta(seconds=30), now) == "in 30s"
    assert status.relative(None, now) == "-"


# ------------------------------------------------------------------ the command


def _cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name in {"BOT_TOKEN", "TELEGRAM_API_URL", "ADMIN_IDS", "REDIS_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", url)


async def test_the_command_prints_them(pool: Pool, tmp_path, monkeypatch, capsys) -> None:
    engine = pool.kw["bind"]
    _cli_env(monkeypatch, tmp_path, engine.url.render_as_string(hide_password=False))
    now = utcnow()
    ids = await seed(pool, now)
    assert await asyncio.to_thread(main, ["status"]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    running = next(line for line in lines if line[:1] == [str(ids["running"])])
    assert running[:4] == [str(ids["running"]), "broadcast", "running", "saida"]
    assert running[6:11] == ["3", "2", "4", "1", "2"]
    assert running[11] == "due" and running[-4:] == ["Meeting", "moved", "to", "Thursday"]
    assert "  jobs: 1 running, 1 scheduled, 2 done" in out
    assert next(line for line in lines if line[:1] == ["run"])[1:3] == ["host-101", "101"]
    assert next(line for line in lines if line[:1] == ["worker"])[7] == "GONE"
    assert "(database schema 0007" in out or "(database schema 0008" in out  # the head

    assert await asyncio.to_thread(main, ["status", "--json", "--jobs", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [j["id"] for j in data["jobs"]] == [ids["scheduled"]]
    assert data["outbox"]["jobs"] == {"done": 2, "running": 1, "scheduled": 1}
    assert [p["id"] for p in data["processes"] if p["alive"]] == ["host-101/b/n:101:abc"]


async def test_the_command_changes_nothing(tmp_path, monkeypatch, capsys) -> None:
    db = tmp_path / "db" / "s.db"
    _cli_env(monkeypatch, tmp_path, f"sqlite+aiosqlite:///{db}")
    assert await asyncio.to_thread(main, ["status"]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not db.exists()  # not created

    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await upgrade(engine, "0006")
    await engine.dispose()
    assert await asyncio.to_thread(main, ["status"]) == 2
    assert "the database lacks migrations 0007" in (err := capsys.readouterr().err)
    assert err.endswith(": run `prevnet db upgrade`\n")  # (and those after 0007)
    assert await asyncio.to_thread(main, ["db", "upgrade"]) == 0
    assert await asyncio.to_thread(main, ["status"]) == 0
    assert "Processes: 0 alive" in capsys.readouterr().out


async def test_migration_0007_down_and_up(tmp_path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    await upgrade(engine)

    def tables(conn) -> set[str]:  # type: ignore[no-untyped-def]
        return set(inspect(conn).get_table_names())

    def downgrade(conn) -> None:  # type: ignore[no-untyped-def]
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")

    async with engine.begin() as conn:
        assert "processes" in await conn.run_sync(tables)
        await conn.run_sync(downgrade)
        assert "processes" not in await conn.run_sync(tables)
    await upgrade(engine)
    async with engine.begin() as conn:
        assert "processes" in await conn.run_sync(tables)
    await engine.dispose()
