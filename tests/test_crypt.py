"""Encryption at rest (storage/crypto.py): with DATA_KEY, names, descriptions, notes,
attachment file ids, the action plans' texts and training feedback's texts are
ciphertext in the SQLite file and in SELECTs, read back as before; tampering is an error;
without a key nothing changes; keys are checked."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from bot.config import Settings
from bot.services import plans
from bot.services.access import Actor
from storage import crypto
from storage.copy import copy_database
from storage.engine import create_engine, create_session_pool
from storage.models import Event, User, utcnow
from storage.models.reports import Report
from storage.repositories import feedback as feedback_repo
from storage.repositories import users
from tests.helpers import make_network, member_of
from tests.people import texts
from tests.reports_helpers import file_report

NAME = "ريم الحسن"
DESCRIPTION = "ورشة حوار مع الشباب في الحي"
NOTE = "Secret note: how many girls?"
FILE_ID = "AgACAgQAAxkBAAIBsecretfileid"
PLAN_TITLE = "دوري كرة القدم للشباب"
PLAN_AIM = "Keep forty boys of Bab al-Tabbaneh busy"
MILESTONE = "Permission from the municipality"
PLAIN = (NAME, DESCRIPTION, NOTE, FILE_ID, "Omar Haddad", PLAN_TITLE, PLAN_AIM, MILESTONE)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    value = crypto.generate_key()
    monkeypatch.setenv("DATA_KEY", value)
    crypto.use_keys(crypto.parse_key(value))
    yield value
    crypto.use_keys(None)


async def _fill(session, person) -> int:  # type: ignore[no-untyped-def]
    """Through the bot: a member with an Arabic name files a report, the coordinator
    flags it with a note; the report gets an attachment file id. The report's id."""
    network = await make_network(session)
    member, coordinator = person(2), person(3)
    await member_of(session, member, network, name=NAME, sector="youth_worker")
    await member_of(session, coordinator, network, role="coordinator", name="Omar Haddad")
    await file_report(member, DESCRIPTION)
    report = await session.scalar(select(Report))
    await session.execute(update(Report).values(attachment_kind="photo",
                                                attachment_file_id=FILE_ID))
    await session.commit()
    out = await coordinator.send("/reports")
    assert f"{NAME} (Youth worker)" in texts(out)[0]
    await coordinator.tap("R-1")
    await coordinator.tap("⚑ Flag with a note")
    out = await coordinator.send(NOTE)
    assert "Status: flagged" in texts(out)[0] and NOTE.replace("?", "") in texts(out)[0]
    # The coordinator's plan: an action (title, aim) with a milestone.
    actor = Actor.build(3, await users.get_by_tg_id(session, 3), frozenset())
    month = f"{utcnow():%Y-%m}"
    action = await plans.create_action(session, actor, {
        "network_id": network.id, "title": PLAN_TITLE, "aim": PLAN_AIM, "start": month,
        "end": month}, utcnow())
    await plans.add_milestone(session, actor, action.id, MILESTONE,
                              utcnow().date() + timedelta(days=5), utcnow())
    out = await coordinator.send("/plan")
    assert PLAN_TITLE in texts(out)[0]
    return int(report.id)


def _raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _checkpoint(path: Path) -> bytes:
    """The database file's bytes once the WAL is written back into it (and emptied)."""
    _raw(path, "PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    return path.read_bytes()


RAW = ("SELECT u.display_name, r.description, r.review_note, r.attachment_file_id "
       "FROM reports r JOIN users u ON u.id = r.author_id")


async def test_ciphertext_in_the_file_and_in_selects_plaintext_in_the_bot(
    key, settings, session, person
):
    report_id = await _fill(session, person)
    path = settings.sqlite_path()
    assert path is not None
    # the bot reads what was written
    report = await report_service_get(session, report_id)
    assert (report.description, report.review_note, report.attachment_file_id) == (
        DESCRIPTION, NOTE, FILE_ID)
    names = set((await session.scalars(select(User.display_name))).all())
    assert names == {NAME, "Omar Haddad"}
    await session.close()
    # the file and the SELECTs hold none of it
    kid = crypto.key_id(crypto.parse_key(key))
    (row,) = _raw(path, RAW)
    assert all(isinstance(v, str) and v.startswith(f"enc:1:{kid}:") for v in row), row
    (plan_row,) = _raw(path, "SELECT a.title, a.aim, m.text FROM plan_actions a "
                             "JOIN plan_milestones m ON m.action_id = a.id")
    assert all(isinstance(v, str) and v.startswith(f"enc:1:{kid}:") for v in plan_row)
    data = _checkpoint(path)
    for plain in PLAIN:
        assert plain.encode() not in data, plain
    assert b"enc:1:" + kid.encode() in data
    if shutil.which("sqlite3"):  # the sqlite3 shell, where installed
        dump = (await asyncio.to_thread(
            subprocess.run, ["sqlite3", str(path), ".dump"], capture_output=True, text=True,
            check=True, timeout=30)).stdout
        assert "CREATE TABLE users" in dump
        for plain in PLAIN:
            assert plain not in dump, plain


APPLY = "لعب الأدوار مع أهالي ريم"
MISSING = "More time for Omar's questions"


async def test_training_feedback_texts_are_ciphertext_in_the_file(key, settings, session, person):
    network = await make_network(session)
    member = person(2)
    await member_of(session, member, network, name=NAME, sector="youth_worker")
    user = await session.scalar(select(User))
    event = Event(network_id=network.id, uid="ev-1", kind="training", title="T", place="P",
                  starts_at=utcnow(), ends_at=utcnow())
    session.add(event)
    await session.flush()
    await feedback_repo.add_asked(session, event.id, [user.id], utcnow())
    await session.commit()
    await member.press(f"fbr:{event.id}:4")
    await member.send(APPLY)
    assert texts(await member.send(MISSING))[-1].startswith("Thank you!")
    row = await feedback_repo.get_own(session, event.id, user.id)
    assert row is not None and (row.apply_text, row.missing_text) == (APPLY, MISSING)
    await session.close()
    path = settings.sqlite_path()
    assert path is not None
    kid = crypto.key_id(crypto.parse_key(key))
    (stored,) = _raw(path, "SELECT apply_text, missing_text FROM event_feedback")
    assert all(isinstance(v, str) and v.startswith(f"enc:1:{kid}:") for v in stored), stored
    data = _checkpoint(path)
    assert APPLY.encode() not in data and MISSING.encode() not in data


async def report_service_get(session, report_id: int) -> Report:  # type: ignore[no-untyped-def]
    report = await session.get(Report, report_id, populate_existing=True)
    assert report is not None
    return report


async def test_altered_ciphertext_missing_key_and_moved_values_are_clear_errors(
    key, settings, session, person
):
    report_id = await _fill(session, person)
    await session.close()
    path = settings.sqlite_path()
    assert path is not None
    (stored,) = _raw(path, f"SELECT description FROM reports WHERE id = {report_id}")[0]
    body = stored[len("enc:1:12345678:"):]
    flipped = stored[: -len(body)] + ("B" if body[5] != "B" else "C") + body[6:]
    conn = sqlite3.connect(path)
    conn.execute("UPDATE reports SET description = ? WHERE id = ?", (flipped, report_id))
    # a display name's ciphertext moved into a review note does not decrypt either
    conn.execute("UPDATE reports SET review_note = (SELECT display_name FROM users LIMIT 1)")
    conn.commit()
    conn.close()
    engine = create_engine(settings.database_url)
    try:
        async with create_session_pool(engine)() as s:
            with pytest.raises(crypto.CryptoError, match=r"^reports.description: a stored value "
                               r"fails its authentication check \(altered"):
                await s.scalar(select(Report.description))
            with pytest.raises(crypto.CryptoError, match=r"^reports.review_note: a stored"):
                await s.scalar(select(Report.review_note))
            ring = crypto.keyring()  # a cut ciphertext (bad base64 length) as well
            for cut in (flipped[:-1], flipped[:-3]):
                with pytest.raises(crypto.CryptoError, match="authentication check"):
                    ring.decrypt(cut, "reports.description")
            crypto.use_keys(None)
            with pytest.raises(crypto.CryptoError, match=r"^users.display_name is encrypted "
                               r"\(key [0-9a-f]{8}\) but DATA_KEY is not set$"):
                await s.scalar(select(User.display_name))
            crypto.use_keys(crypto.parse_key(crypto.generate_key()))
            with pytest.raises(crypto.CryptoError, match="under another key"):
                await s.scalar(select(User.display_name))
    finally:
        await engine.dispose()


async def test_without_a_key_values_are_stored_as_they_are(settings, session, person):
    await _fill(session, person)
    await session.close()
    path = settings.sqlite_path()
    assert path is not None
    assert _raw(path, RAW) == [(NAME, DESCRIPTION, NOTE, FILE_ID)]


def test_keys_are_checked_at_start(tmp_path: Path, monkeypatch, capsys):
    from bot.cli import main

    good = crypto.generate_key()
    assert len(crypto.parse_key(good)) == 32 and crypto.parse_key(good.rstrip("=")) == \
        crypto.parse_key(good)
    assert crypto.key_id(crypto.parse_key(good)) != crypto.key_id(crypto.parse_key(
        crypto.generate_key()))
    for bad, why in [("not base64!", "urlsafe base64 of 32 random bytes"),
                     ("c2hvcnQ=", "not 5")]:
        with pytest.raises(crypto.BadKey, match=why):
            crypto.parse_key(bad)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    monkeypatch.setenv("DATA_KEY", "c2hvcnQ=")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert err == ("prevnet: bad settings: DATA_KEY: Value error, must be urlsafe base64 of 32 "
                   "random bytes, not 5 (make one with `prevnet rotate-key --generate`)\n")
    assert Settings(_env_file=None, data_key="  ").data_key is None  # type: ignore[call-arg]
    monkeypatch.delenv("DATA_KEY")
    assert main(["rotate-key", "--generate"]) == 0
    made = capsys.readouterr().out.strip()
    assert len(crypto.parse_key(made)) == 32


async def test_copy_keeps_the_ciphertext_and_reads_with_the_same_key(
    key, settings, session, person, tmp_path
):
    await _fill(session, person)
    await session.close()
    source = settings.sqlite_path()
    assert source is not None
    target = tmp_path / "copy.db"
    await copy_database(settings.database_url, f"sqlite+aiosqlite:///{target}")
    for sql in (RAW, "SELECT key, data FROM fsm_states ORDER BY key",
                "SELECT id, payload FROM send_jobs ORDER BY id"):
        assert _raw(target, sql) == _raw(source, sql)  # byte for byte: not re-encrypted
    engine = create_engine(f"sqlite+aiosqlite:///{target}")
    try:
        async with create_session_pool(engine)() as s:
            report = await s.scalar(select(Report))
            assert report is not None and (report.description, report.review_note) == (
                DESCRIPTION, NOTE)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_copy_to_postgresql_keeps_the_ciphertext(key, settings, session, person):
    from tests.pg import fresh_database

    await _fill(session, person)
    await session.close()
    source = settings.sqlite_path()
    assert source is not None
    async with fresh_database() as url:
        await copy_database(settings.database_url, url)
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                raw = (await conn.execute(text(RAW))).all()
            assert [tuple(r) for r in raw] == _raw(source, RAW)
            async with create_session_pool(engine)() as s:
                report = await s.scalar(select(Report))
                assert report is not None and report.description == DESCRIPTION
                assert set((await s.scalars(select(User.display_name))).all()) == {
                    NAME, "Omar Haddad"}
        finally:
            await engine.dispose()
