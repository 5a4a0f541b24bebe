"""The reports repository on SQLite and PostgreSQL: lists, anonymity, claims, nudges; and
the migration both ways."""

from __future__ import annotations

from datetime import date, timedelta

from alembic import command
from sqlalchemy import delete, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from storage.engine import create_engine
from storage.migrate import alembic_config, upgrade
from storage.models import Membership, Network, User, utcnow
from storage.models.reports import Report
from storage.repositories import reports as repo


async def _world(session: AsyncSession) -> tuple[Network, Network, list[User]]:
    now = utcnow()
    saida = Network(slug="saida", name="Saida", country="LB", timezone="Asia/Beirut", locale="ar")
    irbid = Network(slug="irbid", name="Irbid", country="JO", timezone="Asia/Amman", locale="ar")
    people = [User(tg_id=100 + i, display_name=f"P{i}", language="en") for i in range(4)]
    session.add_all([saida, irbid, *people])
    await session.flush()
    joined = now - timedelta(days=40)
    for i, user in enumerate(people):
        session.add(
            Membership(
                user_id=user.id,
                network_id=saida.id,
                role="coordinator" if i == 3 else "member",
                status="pending" if i == 2 else "active",
                sector="teacher",
                joined_at=joined,
                approved_at=None if i == 2 else joined,
            )
        )
    await session.commit()
    return saida, irbid, people


def _report(network: Network, author: User | None, day: date, **kw) -> Report:  # type: ignore[no-untyped-def]
    return Report(
        network_id=network.id,
        author_id=author.id if author else None,
        author_sector="teacher",
        activity_type=kw.get("type", "workshop"),
        activity_date=day,
        participants=kw.get("participants", 5),
        description=kw.get("description", "d"),
        created_at=kw.get("created_at", utcnow()),
    )


async def test_lists_exports_and_anonymity(pool):
    async with pool() as session:
        saida, irbid, people = await _world(session)
        today = date(2026, 3, 10)
        session.add_all(
            [
                _report(
                    saida,
                    people[0],
                    today - timedelta(days=i),
                    type="mentoring" if i % 3 else "workshop",
                )
                for i in range(12)
            ]
            + [_report(irbid, people[1], today, description="irbid")]
        )
        await session.commit()
        rows, total = await repo.page(session, saida.id, offset=0, limit=5)
        assert total == 12 and len(rows) == 5
        assert [r.report.activity_date for r in rows] == [
            today - timedelta(days=i) for i in range(5)
        ]
        assert {r.author_name for r in rows} == {"P0"}
        _rows, total = await repo.page(session, saida.id, activity_type="workshop")
        assert total == 4
        _rows, total = await repo.page(session, saida.id, since=today - timedelta(days=2))
        assert total == 3
        exported = await repo.for_export(session, saida.id, today - timedelta(days=5), today)
        assert len(exported) == 6 and exported[0].report.activity_date == today - timedelta(days=5)
        assert all(r.report.network_id == saida.id for r in exported)
        # P0 leaves Saida (but stays a user): anonymous there from now on
        await session.execute(delete(Membership).where(Membership.user_id == people[0].id))
        await session.commit()
        rows, _ = await repo.page(session, saida.id)
        assert {r.author_name for r in rows} == {None}
        assert all(r.report.author_id == people[0].id for r in rows)
        # erased: the reports stay, without an author
        await session.delete(people[0])
        await session.commit()
        left = await repo.for_export(session, saida.id, None, None)
        assert len(left) == 12 and {r.report.author_id for r in left} == {None}
        assert [
            r.report.description for r in await repo.for_export(session, irbid.id, None, None)
        ] == ["irbid"]
        assert len(await repo.by_author(session, people[1].id)) == 1


async def test_notice_claims_are_taken_once(pool):
    async with pool() as session:
        saida, irbid, people = await _world(session)
        now = utcnow()
        session.add_all(
            [
                _report(saida, people[0], now.date(), created_at=now - timedelta(seconds=10)),
                _report(saida, people[1], now.date(), created_at=now - timedelta(seconds=8)),
                _report(irbid, people[1], now.date(), created_at=now - timedelta(seconds=1)),
            ]
        )
        await session.commit()
        quiet, stale = now - timedelta(seconds=3), now - timedelta(seconds=60)
        assert await repo.networks_to_notify(session, quiet_before=quiet, stale_before=stale) == [
            saida.id
        ]
        ids = await repo.claim_unnotified(session, saida.id, now)
        await session.commit()
        assert len(ids) == 2
        assert await repo.claim_unnotified(session, saida.id, now) == []
        rows = await repo.rows_by_ids(session, ids)
        assert [r.author_name for r in rows] == ["P0", "P1"]
        later = now + timedelta(seconds=5)
        assert await repo.networks_to_notify(
            session, quiet_before=later - timedelta(seconds=3), stale_before=stale
        ) == [irbid.id]


async def test_nudge_queries(pool):
    async with pool() as session:
        saida, _irbid, people = await _world(session)
        now = utcnow()
        assert not await repo.claim_nudge_run(session, saida.id, now, now)  # off: no row
        await repo.save_settings(session, saida.id, now, nudge_enabled=True, nudge_days=14)
        await session.commit()
        assert [n.id for _s, n in await repo.nudging_networks(session)] == [saida.id]
        session.add(_report(saida, people[1], now.date(), created_at=now - timedelta(days=3)))
        await session.commit()
        cutoff = now - timedelta(days=14)
        due = await repo.due_for_nudge(session, saida.id, cutoff)
        # P0 only: P1 reported, P2 is pending, P3 coordinates
        assert [t.tg_id for t in due] == [100]
        await repo.record_nudges(session, saida.id, [people[0].id], now - timedelta(days=20))
        await repo.record_nudges(session, saida.id, [people[0].id], now)  # replaces the mark
        await session.commit()
        assert await repo.due_for_nudge(session, saida.id, cutoff) == []
        assert await repo.claim_nudge_run(session, saida.id, now, now - timedelta(minutes=30))
        await session.commit()
        assert not await repo.claim_nudge_run(session, saida.id, now, now - timedelta(minutes=30))
        later = now + timedelta(hours=1)
        assert await repo.claim_nudge_run(session, saida.id, later, later - timedelta(minutes=30))


async def test_migration_down_and_up(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    engine = create_engine(url)
    await upgrade(engine)

    def tables(conn) -> set[str]:  # type: ignore[no-untyped-def]
        return set(inspect(conn).get_table_names())

    def downgrade(conn) -> None:  # type: ignore[no-untyped-def]
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")

    async with engine.begin() as conn:
        assert {"reports", "report_settings", "report_nudges"} <= await conn.run_sync(tables)
        await conn.run_sync(downgrade)
        assert not {"reports", "report_settings", "report_nudges"} & await conn.run_sync(tables)
    await upgrade(engine)
    async with engine.begin() as conn:
        assert "reports" in await conn.run_sync(tables)
    await engine.dispose()
