"""Retention (bot/services/retention.py): rows older than each RETAIN_* limit go, younger
ones stay, 0 keeps all; the dry run changes nothing and counts what the real run then
purges; one audit entry per run and one daily run per UTC day across processes; the job,
the command and the settings' minimums. On SQLite and (marked postgres) PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import JSON, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from bot.config import RETENTION_MINIMUMS, Settings
from bot.context import AppContext
from bot.i18n import create_i18n
from bot.scheduler import create_scheduler
from bot.services import retention
from bot.services.reports.texts import report_summary
from bot.worker import JOB_SETUPS
from storage import crypto
from storage.copy import tables
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import (
    AuditEntry,
    Broadcast,
    Delivery,
    Event,
    EventFeedback,
    JobStatus,
    Network,
    ProcessedUpdate,
    Report,
    RetentionRun,
    SendJob,
    User,
    utcnow,
)
from tests.mocked_bot import MockedBot

Pool = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
AGES = (1, 10, 40, 400)  # days
# At the least each setting may be: 7, 30, 7, 30 and 2 days.
LEAST = {name: RETENTION_MINIMUMS[name] for name in RETENTION_MINIMUMS}
# What goes at LEAST from the rows of seed().
EXPECTED = {
    "attachments": 3,  # the reports 10, 40 and 400 days old
    "report_texts": 2,  # 40 and 400
    "feedback_texts": 2,  # asked 40 and 400 days ago
    "deliveries": 9,  # 2 + 2 + 2 of the done jobs, 1 of the cancelled, 2 of the broadcast's
    "send_jobs": 4,  # the done jobs 10, 40, 400 days old and the cancelled one
    "audit_entries": 2,  # 40 and 400
    "update_ids": 3,  # 10, 40 and 400
}


def make_settings(**days: int) -> Settings:
    return Settings(_env_file=None, **(LEAST | days))  # type: ignore[call-arg, arg-type]


def ago(days: int, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days)


async def seed(pool: Pool, now: datetime = NOW) -> dict[str, int]:
    """Reports, send jobs with deliveries, audit entries and update ids of each age."""

    def ago(days: int) -> datetime:
        return now - timedelta(days=days)

    async with pool() as session:
        network = Network(slug="saida", name="Saida", country="LB", timezone="Asia/Beirut",
                          locale="ar", created_at=ago(500))
        people = [User(tg_id=100 + n, display_name=f"P{n}") for n in range(2)]
        session.add_all([network, *people])
        await session.flush()

        def job(status: str, finished: int | None, created: int) -> SendJob:
            return SendJob(kind="broadcast", payload={"method": "send_message", "text": "hi"},
                           status=status, due_at=ago(created), created_at=ago(created),
                           finished_at=ago(finished) if finished is not None else None)

        jobs = {f"done{a}": job(JobStatus.DONE, a, a) for a in AGES}
        jobs["cancelled"] = job(JobStatus.CANCELLED, 40, 41)
        jobs["running"] = job(JobStatus.RUNNING, None, 400)  # never finished: kept
        jobs["broadcast"] = job(JobStatus.DONE, 400, 400)
        session.add_all(jobs.values())
        await session.flush()
        for name, j in jobs.items():
            for p in people[: 1 if name == "cancelled" else 2]:
                session.add(Delivery(job_id=j.id, user_id=p.id, chat_id=p.tg_id, status="sent"))
        session.add(Broadcast(job_id=jobs["broadcast"].id, audience={"networks": [network.id]},
                              kind="text", preview="hi", created_at=ago(400)))
        for a in AGES:
            session.add(Report(
                network_id=network.id, author_id=people[0].id, author_sector="ngo",
                activity_type="workshop", activity_date=ago(a).date(), participants=a,
                description=f"Text {a}", attachment_kind="photo", attachment_file_id=f"F{a}",
                review_note=f"Note {a}", created_at=ago(a),
            ))
            session.add(AuditEntry(action="join", actor_id=people[0].id, at=ago(a),
                                   details={"name": "P0"}))
            session.add(ProcessedUpdate(update_id=a, received_at=ago(a)))
        training = Event(network_id=network.id, uid="ev-1", kind="training", title="T",
                         place="P", starts_at=ago(401), ends_at=ago(401))
        session.add(training)
        await session.flush()
        for a in AGES:  # anonymous (a member who left), as the unique key allows
            session.add(EventFeedback(event_id=training.id, user_id=None, asked_at=ago(a),
                                      usefulness=4, apply_text=f"Apply {a}",
                                      missing_text=f"Missing {a}"))
        await session.commit()
        return {name: j.id for name, j in jobs.items()}


Dump = dict[str, list[tuple[Any, ...]]]


async def dump(pool: Pool) -> Dump:
    out: Dump = {}
    async with pool() as session:
        for table in tables():
            columns = [c for c in table.columns if not isinstance(c.type, JSON)]
            query = select(*columns).order_by(*table.primary_key.columns)
            out[table.name] = [tuple(r) for r in (await session.execute(query)).all()]
    return out


async def test_old_rows_go_young_rows_stay_and_the_dry_run_changes_nothing(pool: Pool) -> None:
    jobs = await seed(pool)
    settings = make_settings()
    before = await dump(pool)
    async with pool() as session:
        planned = await retention.preview(session, settings, NOW)
    assert planned.counts() == EXPECTED
    assert await dump(pool) == before  # the dry run changed nothing
    assert {line.kind: line.cutoff for line in planned.lines} == {
        "attachments": ago(7), "report_texts": ago(30), "feedback_texts": ago(30),
        "deliveries": ago(7),
        "send_jobs": ago(7), "audit_entries": ago(30), "update_ids": ago(2),
    }

    done = await retention.purge(pool, settings, NOW, trigger="cli", batch=2)  # many batches
    assert done.counts() == EXPECTED == planned.counts()

    async with pool() as session:
        reports = (await session.scalars(select(Report).order_by(Report.participants))).all()
        assert [(r.participants, r.attachment_file_id, r.attachment_kind) for r in reports] == [
            (1, "F1", "photo"), (10, None, None), (40, None, None), (400, None, None)]
        assert [(r.description, r.review_note) for r in reports] == [
            ("Text 1", "Note 1"), ("Text 10", "Note 10"), ("", None), ("", None)]
        answers = (await session.scalars(select(EventFeedback).order_by(EventFeedback.id))).all()
        assert [(f.apply_text, f.missing_text, f.usefulness) for f in answers] == [
            ("Apply 1", "Missing 1", 4), ("Apply 10", "Missing 10", 4), (None, None, 4),
            (None, None, 4)]
        left = (await session.execute(
            select(Delivery.job_id).order_by(Delivery.job_id, Delivery.id))).scalars().all()
        assert left == [jobs["done1"]] * 2 + [jobs["running"]] * 2
        assert sorted((await session.scalars(select(SendJob.id))).all()) == sorted(
            [jobs["done1"], jobs["running"], jobs["broadcast"]])
        assert len((await session.scalars(select(Broadcast))).all()) == 1
        assert (await session.scalars(select(ProcessedUpdate.update_id))).all() == [1]
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
        assert [e.at for e in entries[:2]] == [ago(1), ago(10)]
        entry = entries[-1]
        assert len(entries) == 3 and entry.action == retention.AUDIT_ACTION
        assert (entry.actor_id, entry.subject_id, entry.network_id) == (None, None, None)
        assert entry.details == {
            "trigger": "cli", "counts": EXPECTED,
            "days": {"attachments": 7, "report_texts": 30, "feedback_texts": 30,
                     "deliveries": 7, "send_jobs": 7,
                     "audit_entries": 30, "update_ids": 2},
        }

    again = await retention.purge(pool, settings, NOW, trigger="cli")
    assert again.total == 0  # idempotent: what went is no longer due


async def test_zero_keeps_everything(session_pool: Pool) -> None:
    await seed(session_pool)
    forever = make_settings(**{name: 0 for name in RETENTION_MINIMUMS})
    before = await dump(session_pool)
    async with session_pool() as session:
        planned = await retention.preview(session, forever, NOW)
    assert planned.total == 0 and all(line.cutoff is None for line in planned.lines)
    done = await retention.purge(session_pool, forever, NOW, trigger="cli")
    assert done.counts() == dict.fromkeys(EXPECTED, 0)
    after = await dump(session_pool)
    assert len(after.pop("audit_log")) == len(before.pop("audit_log")) + 1  # the run's entry
    assert after == before

    # One kind kept forever, the others purged.
    some = make_settings(retain_audit_days=0)
    done = await retention.purge(session_pool, some, NOW, trigger="cli")
    assert done.counts() == EXPECTED | {"audit_entries": 0}


async def test_the_day_is_purged_once_across_processes(pool: Pool) -> None:
    await seed(pool)
    settings = make_settings()
    first, second = await asyncio.gather(
        retention.run_daily(pool, settings, NOW, "host/a:1:aaa"),
        retention.run_daily(pool, settings, NOW + timedelta(minutes=1), "host/b:2:bbb"),
    )
    outcomes = [o for o in (first, second) if o is not None]
    assert len(outcomes) == 1 and outcomes[0].counts() == EXPECTED
    assert await retention.run_daily(pool, settings, NOW + timedelta(hours=5), "c") is None
    async with pool() as session:
        entries = (await session.scalars(
            select(AuditEntry).where(AuditEntry.action == retention.AUDIT_ACTION))).all()
        assert [(e.details["trigger"], e.details["counts"]) for e in entries] == [
            ("schedule", EXPECTED)]
        run = await session.get(RetentionRun, NOW.date())
        assert run is not None and run.finished_at is not None and run.counts == EXPECTED
        assert run.claimed_by in {"host/a:1:aaa", "host/b:2:bbb"}
    later = await retention.run_daily(pool, settings, NOW + timedelta(days=1, hours=1), "c")
    assert later is not None  # another day: it runs, and the 1-day-old update id goes
    assert later.counts() == dict.fromkeys(EXPECTED, 0) | {"update_ids": 1}


def _cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith("RETAIN_") or name in {"BOT_TOKEN", "ADMIN_IDS", "REDIS_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", url)
    for name, days in LEAST.items():
        monkeypatch.setenv(name.upper(), str(days))


def _counts(out: str, verb: str) -> dict[str, int]:
    found = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) > 2 and words[0] in EXPECTED and f"{words[2]} {words[3]}" == verb:
            found[words[0]] = int(words[1])
    return found


async def test_the_command_dry_run_then_purge(tmp_path, monkeypatch, capsys) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    pool = create_session_pool(engine)
    await seed(pool, utcnow())  # the command purges as of the real clock
    _cli_env(monkeypatch, tmp_path, url)
    monkeypatch.setenv("RETAIN_REPORT_TEXT_DAYS", "0")
    before = await dump(pool)
    try:
        assert await asyncio.to_thread(main, ["purge", "--dry-run"]) == 0
        dry = capsys.readouterr().out
        assert await dump(pool) == before
        assert dry.startswith("dry run: nothing is changed")
        assert "  report_texts   kept forever (0 days)" in dry
        assert "  attachments    3 would go: older than 7 days, before " in dry
        would = _counts(dry, "would go:")
        assert "  feedback_texts kept forever (0 days)" in dry  # as long as reports' texts
        texts = ("report_texts", "feedback_texts")
        assert would == {k: n for k, n in EXPECTED.items() if k not in texts}

        assert await asyncio.to_thread(main, ["purge"]) == 0
        real = capsys.readouterr().out
        assert real.startswith("purged (now ")
        assert _counts(real, "went: older") == would
        assert f"  total          {sum(would.values())} went" in real
        async with pool() as session:
            assert (await session.scalars(select(Report.description))).all() == [
                f"Text {a}" for a in AGES]  # kept forever
            entries = (await session.scalars(
                select(AuditEntry).where(AuditEntry.action == retention.AUDIT_ACTION))).all()
            assert [e.details["counts"] for e in entries] == [
                would | {"report_texts": 0, "feedback_texts": 0}]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("name", sorted(RETENTION_MINIMUMS))
def test_each_setting_is_zero_or_at_least_its_minimum(name: str) -> None:
    least = RETENTION_MINIMUMS[name]
    assert getattr(make_settings(**{name: 0}), name) == 0
    assert getattr(make_settings(**{name: least}), name) == least
    with pytest.raises(ValidationError, match=f"must be 0 \\(keep forever\\) or at least {least}"):
        make_settings(**{name: least - 1})
    with pytest.raises(ValidationError):
        make_settings(**{name: -1})


def test_the_minimums_and_defaults_are_documented() -> None:
    assert RETENTION_MINIMUMS == {
        "retain_attachment_days": 7, "retain_report_text_days": 30, "retain_delivery_days": 7,
        "retain_audit_days": 30, "retain_update_ids_days": 2,
    }
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    example = (root / ".env.example").read_text()
    for name, least in RETENTION_MINIMUMS.items():
        default = getattr(defaults, name)
        assert f"| `{name.upper()}` | {default} | {least} |" in readme
        assert f"\n{name.upper()}={default}\n" in example


def test_a_too_short_setting_stops_the_command(tmp_path, monkeypatch, capsys) -> None:
    _cli_env(monkeypatch, tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("RETAIN_UPDATE_IDS_DAYS", "1")
    assert main(["purge", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "RETAIN_UPDATE_IDS_DAYS: Value error, must be 0 (keep forever) or at least 2" in err
    assert not (tmp_path / "x.db").exists()


async def test_the_daily_job_is_registered(settings: Settings, session_pool: Pool) -> None:
    assert retention.setup_jobs in JOB_SETUPS
    scheduler = create_scheduler()
    ctx = AppContext(bot=MockedBot(), session_pool=session_pool, settings=settings,
                     i18n=create_i18n("en"), scheduler=scheduler, delivery=None)  # type: ignore[arg-type]
    retention.setup_jobs(ctx)
    job = scheduler.get_job(retention.JOB_ID)
    assert job is not None
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"], str(job.trigger.timezone)) == ("3", "30", "UTC")
    assert retention.first_run(datetime(2026, 11, 20, 3, 29, tzinfo=UTC)) is None
    late = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)
    assert retention.first_run(late) == late + timedelta(minutes=5)


def test_a_removed_text_is_shown_as_removed() -> None:
    i18n = create_i18n("en")
    report = Report(activity_type="workshop", activity_date=date(2026, 1, 5), participants=3,
                    description="", attachment_kind=None)
    with i18n.context(), i18n.use_locale("en"):
        text = report_summary(report, None, "en")
    assert text.splitlines()[-1] == "📝 (text removed after the retention period)"


@pytest.mark.parametrize(("days", "left"), [(0, [8, 400]), (7, [])])
async def test_the_worker_forgets_update_ids_as_the_setting_says(
    settings: Settings, session_pool: Pool, days: int, left: list[int]
) -> None:
    from bot.worker import Worker, create_context

    async with session_pool() as session:
        for age in (8, 400):
            session.add(ProcessedUpdate(update_id=age, received_at=utcnow() - timedelta(days=age)))
        await session.commit()
    kept = settings.model_copy(update={"retain_update_ids_days": days})
    worker = Worker(create_context(kept, session_pool, MockedBot(), create_i18n("en")), ())
    await worker.start()
    await worker.stop()
    async with session_pool() as session:
        ids = (await session.scalars(select(ProcessedUpdate.update_id).order_by("update_id")))
        assert ids.all() == left


async def test_with_data_key_a_purged_text_stays_purged(session_pool: Pool) -> None:
    """Under DATA_KEY the removed-text marker is still "" in the database, so the next day's
    purge finds nothing to do (a ciphertext of "" would never equal it)."""
    crypto.use_keys(crypto.parse_key(crypto.generate_key()))
    try:
        await seed(session_pool)
        settings = make_settings()
        done = await retention.purge(session_pool, settings, NOW, trigger="cli")
        assert done.counts() == EXPECTED
        async with session_pool() as session:
            raw = (await session.execute(text(
                "SELECT participants, description FROM reports ORDER BY participants"))).all()
        assert [(n, d) for n, d in raw if n >= 40] == [(40, ""), (400, "")]
        assert all(crypto.stored_key_id(d) is not None for n, d in raw if n < 40)
        again = await retention.purge(session_pool, settings, NOW, trigger="cli")
        assert again.total == 0
    finally:
        crypto.use_keys(None)
