"""`prevnet rotate-key` (bot/cli_crypt.py, storage/rekey.py): plaintext rows written before
DATA_KEY still read and are encrypted by it; a new key re-encrypts everything (the old
key reads nothing after); re-runs and resumed runs skip what is done; a live bot process
refuses it. Also: long names fit on PostgreSQL (migration 0009), and lists by name
are sorted in Python."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from bot.cli import main
from bot.roles import single_process
from storage import crypto
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import (
    Event,
    EventFeedback,
    FsmRecord,
    Membership,
    Network,
    Process,
    SendJob,
    User,
    utcnow,
)
from storage.models.plans import PlanAction, PlanMilestone
from storage.models.reports import Report
from storage.rekey import _rekey_column, encrypted_columns, key_problem, rekey
from storage.repositories import events as events_repo

NAMES = ["ريم", "Omar", "Léa"]
PAYLOAD = {"method": "send_message", "text": "Not reported yet: ريم, Omar"}
FEEDBACK = ("لعب الأدوار مع ريم", "More time")  # what they will apply, what was missing


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in ("BOT_TOKEN", "DATA_KEY", "NEW_DATA_KEY", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    crypto.use_keys(None)  # main() installs DATA_KEY for the process


async def _legacy(url: str) -> None:
    """A database written without DATA_KEY."""
    engine = create_engine(url)
    await upgrade(engine)
    async with create_session_pool(engine)() as s:
        net = Network(slug="saida", name="Saida", country="LB", timezone="Asia/Beirut")
        s.add(net)
        users = [User(tg_id=100 + i, display_name=n) for i, n in enumerate(NAMES)]
        s.add_all(users)
        await s.flush()
        s.add(Report(network_id=net.id, author_id=users[0].id, author_sector="ngo",
                     activity_type="other", activity_date=utcnow().date(), participants=3,
                     description="وصف النشاط", review_note="note", attachment_file_id="FILE"))
        s.add(FsmRecord(key="k", state="s", data={"name": "ريم"}))
        s.add(SendJob(kind="digest", payload=PAYLOAD))
        month = utcnow().date().replace(day=1)
        action = PlanAction(network_id=net.id, title="دوري", aim="aim", start_month=month,
                            end_month=month, status="planned")
        s.add(action)
        await s.flush()
        s.add(PlanMilestone(action_id=action.id, text="pitch", due_date=month))
        event = Event(network_id=net.id, uid="ev-1", kind="training", title="T", place="P",
                      starts_at=utcnow(), ends_at=utcnow())
        s.add(event)
        await s.flush()
        s.add(EventFeedback(event_id=event.id, user_id=users[1].id, asked_at=utcnow(),
                            usefulness=5, apply_text=FEEDBACK[0], missing_text=FEEDBACK[1]))
        await s.commit()
    await engine.dispose()


async def _read(url: str) -> tuple[Any, ...]:
    engine = create_engine(url)
    try:
        async with create_session_pool(engine)() as s:
            names = list((await s.scalars(select(User.display_name).order_by(User.id))).all())
            r = await s.scalar(select(Report))
            assert r is not None
            fsm = await s.scalar(select(FsmRecord.data))
            payload = await s.scalar(select(SendJob.payload))
            a = await s.scalar(select(PlanAction))
            m = await s.scalar(select(PlanMilestone.text))
            f = await s.scalar(select(EventFeedback))
            assert a is not None and f is not None
            return (names, (r.description, r.review_note, r.attachment_file_id), fsm, payload,
                    (a.title, a.aim, m), (f.apply_text, f.missing_text))
    finally:
        await engine.dispose()


EXPECTED = (NAMES, ("وصف النشاط", "note", "FILE"), {"name": "ريم"}, PAYLOAD,
            ("دوري", "aim", "pitch"), FEEDBACK)


async def _problem(url: str, ring: crypto.Keyring) -> str | None:
    engine = create_engine(url)
    try:
        return await key_problem(engine, ring)
    finally:
        await engine.dispose()


def _stored(url: str) -> list[object]:
    """Every stored value of every encrypted column, as the file holds it."""
    conn = sqlite3.connect(url.split("///", 1)[1])
    try:
        out: list[object] = []
        for table, column in encrypted_columns():
            rows = conn.execute(f"SELECT {column.name} FROM {table.name} "
                                f"WHERE {column.name} IS NOT NULL ORDER BY 1").fetchall()
            is_json = isinstance(column.type, crypto.EncryptedJSON)
            out += [json.loads(v) if is_json else v for (v,) in rows]
        return out
    finally:
        conn.close()


def _kids(url: str) -> set[str | None]:
    return {crypto.stored_key_id(v) if isinstance(v, str) else None for v in _stored(url)}


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def _counts(out: list[str]) -> dict[str, tuple[int, int, int]]:
    """{column: (re-encrypted, of which plaintext, already under the new key)}."""
    found = {}
    for line in out[:-1]:
        column, rest = line.split(": ", 1)
        numbers = [int(w.strip("(")) for w in rest.split() if w.strip("(").isdigit()]
        found[column] = (numbers[0], numbers[1], numbers[2])
    return found


COLUMNS = ["send_jobs.payload", "fsm_states.data", "users.display_name", "deliveries.params",
           "reports.description", "reports.attachment_file_id", "reports.review_note",
           "plan_actions.title", "plan_actions.aim", "plan_milestones.text",
           "event_feedback.apply_text", "event_feedback.missing_text"]


def test_rotate_key_encrypts_plaintext_then_moves_to_a_new_key(env, tmp_path, monkeypatch,
                                                               capsys):
    asyncio.run(_legacy(env))
    assert asyncio.run(_problem(env, crypto.Keyring())) is None  # plaintext: fine
    plain = _stored(env)
    assert "ريم" in plain and PAYLOAD in plain and _kids(env) == {None}  # as before
    old = crypto.generate_key()
    monkeypatch.setenv("DATA_KEY", old)
    crypto.use_keys(crypto.parse_key(old))
    assert asyncio.run(_read(env)) == EXPECTED  # plaintext rows read with a key set

    assert main(["rotate-key", "--batch", "2"]) == 0  # DATA_KEY only: encrypt plaintext
    out = _lines(capsys)
    assert out[0] == "fsm_states.data: 1 re-encrypted (1 were plaintext), 0 already under " \
                     "the new key"
    assert _counts(out) == {c: (3, 3, 0) if c == "users.display_name" else (0, 0, 0)
                            if c == "deliveries.params" else (1, 1, 0) for c in COLUMNS}
    assert out[-1] == "done: every value is encrypted under DATA_KEY"
    old_id = crypto.key_id(crypto.parse_key(old))
    assert _kids(env) == {old_id} and len(_stored(env)) == 13
    assert asyncio.run(_read(env)) == EXPECTED

    assert main(["rotate-key"]) == 0  # again: nothing left to do
    assert _counts(_lines(capsys)) == {c: (0, 0, 3) if c == "users.display_name" else (0, 0, 0)
                                       if c == "deliveries.params" else (0, 0, 1)
                                       for c in COLUMNS}

    new = crypto.generate_key()
    key_file = tmp_path / "new.key"
    key_file.write_text(new + "\n")
    before = _stored(env)
    assert main(["rotate-key", "--new-key-file", str(key_file), "--batch", "2"]) == 0
    out = _lines(capsys)
    assert _counts(out) == {c: (3, 0, 0) if c == "users.display_name" else (0, 0, 0)
                            if c == "deliveries.params" else (1, 0, 0) for c in COLUMNS}
    assert out[-1].startswith("done: set DATA_KEY to the new key")
    new_id = crypto.key_id(crypto.parse_key(new))
    assert _kids(env) == {new_id} and not set(map(str, before)) & set(map(str, _stored(env)))
    crypto.use_keys(crypto.parse_key(old))  # the old key reads nothing any more
    with pytest.raises(crypto.CryptoError, match="under another key"):
        asyncio.run(_read(env))
    # and `prevnet run` / `worker` refuse to start with it, or with no key (bot/app.py)
    assert asyncio.run(_problem(env, crypto.Keyring(crypto.parse_key(old)))) == (
        f"DATA_KEY does not read the database: fsm_states.data holds values under key "
        f"{new_id} (the wrong key, or a `prevnet rotate-key` not finished)")
    assert asyncio.run(_problem(env, crypto.Keyring())) == (
        f"the database holds encrypted values (fsm_states.data, key {new_id}) but "
        "DATA_KEY is not set")
    assert asyncio.run(_problem(env, crypto.Keyring(crypto.parse_key(new)))) is None
    crypto.use_keys(crypto.parse_key(new))
    assert asyncio.run(_read(env)) == EXPECTED
    capsys.readouterr()
    monkeypatch.delenv("DATA_KEY")  # a command reading them without the key: one line
    assert main(["export", "reports", "--network", "saida", "--format", "csv",
                 "--output", str(tmp_path / "out.csv")]) == 2
    assert capsys.readouterr().err == (f"prevnet: reports.description is encrypted (key "
                                       f"{new_id}) but DATA_KEY is not set\n")


def test_a_cut_off_rotation_is_finished_by_running_it_again(env, monkeypatch, capsys):
    asyncio.run(_legacy(env))
    old, new = crypto.generate_key(), crypto.generate_key()
    monkeypatch.setenv("DATA_KEY", old)
    assert main(["rotate-key"]) == 0
    ring = crypto.Keyring(crypto.parse_key(new), [crypto.parse_key(old)])

    async def halfway() -> None:  # the names were done when the process died
        engine = create_engine(env)
        users = next((t, c) for t, c in encrypted_columns() if c.name == "display_name")
        await _rekey_column(engine, ring, *users, batch=2)
        await engine.dispose()

    asyncio.run(halfway())
    capsys.readouterr()
    monkeypatch.setenv("NEW_DATA_KEY", new)
    assert main(["rotate-key"]) == 0
    assert _counts(_lines(capsys)) == {
        c: (0, 0, 3) if c == "users.display_name" else (0, 0, 0) if c == "deliveries.params"
        else (1, 0, 0) for c in COLUMNS}
    assert _kids(env) == {crypto.key_id(crypto.parse_key(new))}
    crypto.use_keys(crypto.parse_key(new))
    assert asyncio.run(_read(env)) == EXPECTED


def test_refused_while_a_bot_is_alive_and_with_a_bad_key(env, monkeypatch, capsys):
    asyncio.run(_legacy(env))

    async def beat() -> None:
        engine = create_engine(env)
        async with create_session_pool(engine)() as s:
            s.add(Process(id="host/boot/ns:77:abcd", role="run", host="host", pid=77))
            await s.commit()
        await engine.dispose()

    asyncio.run(beat())
    monkeypatch.setenv("DATA_KEY", crypto.generate_key())
    assert main(["rotate-key"]) == 2
    assert capsys.readouterr().err == ("prevnet: 1 bot process(es) alive (run "
                                       "host/boot/ns:77:abcd): stop them first, then rotate "
                                       "the key\n")
    assert _kids(env) == {None}  # nothing touched
    with single_process(env):  # a bot on this SQLite file (no heartbeat yet)
        assert main(["rotate-key"]) == 2
    assert "another prevnet process (pid" in capsys.readouterr().err
    monkeypatch.setenv("NEW_DATA_KEY", "short")
    assert main(["rotate-key"]) == 2
    assert capsys.readouterr().err.startswith(
        "prevnet: the new key (NEW_DATA_KEY) must be urlsafe base64 of 32 random bytes")
    monkeypatch.delenv("NEW_DATA_KEY")
    monkeypatch.delenv("DATA_KEY")
    assert main(["rotate-key"]) == 2
    assert capsys.readouterr().err.startswith("prevnet: no key: set DATA_KEY")
    assert os.environ.get("DATA_KEY") is None and _kids(env) == {None}


async def test_long_names_fit_and_lists_are_sorted_by_name(pool):
    """64 Arabic letters are ~400 characters of ciphertext: TEXT on PostgreSQL (0008).
    The rotation works on each backend (JSON columns included)."""
    old = crypto.parse_key(crypto.generate_key())
    crypto.use_keys(old)
    try:
        long_name = "ع" * 64
        async with pool() as s:
            net = Network(slug="saida", name="Saida", country="LB", timezone="Asia/Beirut")
            s.add(net)
            users = [User(tg_id=1, display_name="Zaid"), User(tg_id=2, display_name=long_name),
                     User(tg_id=3, display_name="Adel"), User(tg_id=4, display_name=None)]
            s.add_all(users)
            await s.flush()
            s.add_all([Membership(user_id=u.id, network_id=net.id) for u in users])
            s.add(Report(network_id=net.id, author_sector="ngo", activity_type="other",
                         activity_date=utcnow().date(), participants=3, description="d",
                         attachment_file_id="F" * 255))
            await s.commit()
        async with pool() as s:
            people = await events_repo.people(s, 0, net.id)
            assert [p.display_name for p in people] == [None, "Adel", "Zaid", long_name]
            assert await s.scalar(select(Report.attachment_file_id)) == "F" * 255
            s.add(SendJob(kind="digest", payload=PAYLOAD))
            await s.commit()
        new = crypto.parse_key(crypto.generate_key())
        done = await rekey(pool.kw["bind"], crypto.Keyring(new, [old]), batch=3)
        assert {d.column: d.changed for d in done}["users.display_name"] == 4 - 1  # (a None)
        crypto.use_keys(new)
        async with pool() as s:
            assert [p.display_name for p in await events_repo.people(s, 0, net.id)] == [
                None, "Adel", "Zaid", long_name]
            assert await s.scalar(select(SendJob.payload)) == PAYLOAD
        assert await key_problem(pool.kw["bind"], crypto.Keyring(new)) is None
        problem = await key_problem(pool.kw["bind"], crypto.Keyring(old))
        assert problem is not None and problem.startswith(
            "DATA_KEY does not read the database: users.display_name holds values under key "
            f"{crypto.key_id(new)} ")
        async with pool() as s:  # the JSON columns are checked too (their text, cast)
            await s.execute(update(User).values(display_name=None))
            await s.execute(delete(Report))
            await s.commit()
        problem = await key_problem(pool.kw["bind"], crypto.Keyring(old))
        assert problem is not None and problem.startswith(
            "DATA_KEY does not read the database: send_jobs.payload holds values under key ")
    finally:
        crypto.use_keys(None)
