"""Exports of activity reports: CSV read back with the csv module, XLSX with openpyxl, only
one network's rows, audit-logged; in the bot (/export) and on the command line."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiogram.methods import SendDocument
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main
from bot.export import Sheet, to_csv, to_xlsx
from bot.i18n import create_i18n
from bot.services import reports as service
from bot.services.access import AccessDenied, Actor
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import AuditEntry, Network, User, utcnow
from storage.models.reports import Report
from storage.repositories import users
from tests.helpers import make_network, member_of
from tests.people import buttons, texts

ARABIC = "ورشة توعية حول المخدرات مع ٢٥ شاباً"


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def read_xlsx(content: bytes) -> list[tuple[object, ...]]:
    ws = load_workbook(io.BytesIO(content)).active
    assert ws is not None
    return list(ws.iter_rows(values_only=True))


def test_writers_keep_arabic_and_never_make_formulas():
    sheet = Sheet(
        title="Reports: [Saida]",
        headers=["Ref", "Date", "Text", "N", "At"],
        rows=[
            ["R-1", date(2026, 3, 1), ARABIC, 25, datetime(2026, 3, 1, 18, 30)],
            ["R-2", date(2026, 3, 2), '=HYPERLINK("http://x")', 0, None],
            ["R-3", date(2026, 3, 3), 'line one\nline, "two"', 10_000, None],
        ],
        rtl=True,
        wrap=frozenset({2}),
    )
    rows = read_csv(to_csv(sheet))
    assert rows[0] == ["Ref", "Date", "Text", "N", "At"]
    assert rows[1] == ["R-1", "2026-03-01", ARABIC, "25", "2026-03-01 18:30"]
    assert rows[2][2] == '\'=HYPERLINK("http://x")'  # not a formula in Excel
    assert rows[3][2] == 'line one\nline, "two"'
    wb = load_workbook(io.BytesIO(to_xlsx(sheet)))
    ws = wb.active
    assert ws.title == "Reports Saida" and ws.sheet_view.rightToLeft
    values = list(ws.iter_rows(values_only=True))
    assert values[1][:4] == ("R-1", datetime(2026, 3, 1), ARABIC, 25)
    assert values[1][4] == datetime(2026, 3, 1, 18, 30)
    assert ws["C3"].value == "'=HYPERLINK(\"http://x\")" and ws["C3"].data_type == "s"
    assert ws.freeze_panes == "A2"


async def add_reports(session, network: Network, author: User | None, n: int, **kw) -> None:  # type: ignore[no-untyped-def]
    today = service.local_today(network, utcnow())
    for i in range(n):
        session.add(
            Report(
                network_id=network.id,
                author_id=author.id if author else None,
                author_sector=kw.get("sector", "teacher"),
                activity_type=kw.get("type", "awareness"),
                activity_date=today - timedelta(days=i),
                participants=10 + i,
                age_group="youth",
                description=kw.get("description", ARABIC),
                status=kw.get("status", "new"),
            )
        )
    await session.commit()


async def test_export_service_one_network_only_and_audited(session, person):
    saida = await make_network(session, "saida", name="شبكة صيدا")
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    member, coordinator = person(2), person(3)
    await member_of(session, member, saida, name="رنا", lang="ar")
    await member_of(session, coordinator, saida, role="coordinator")
    author = await session.scalar(select(User).where(User.tg_id == 2))
    await add_reports(session, saida, author, 5, status="reviewed")
    await add_reports(session, irbid, None, 7, description="Irbid only")
    actor = Actor.build(3, await users.get_by_tg_id(session, 3), frozenset())
    i18n = create_i18n("en")
    today = service.local_today(saida, utcnow())
    with i18n.context(), i18n.use_locale("en"):
        export = await service.export_reports(
            session,
            network_id=saida.id,
            since=today - timedelta(days=3),
            until=today,
            formats=("csv", "xlsx"),
            locale="en",
            actor=actor,
            now=utcnow(),
        )
    assert export.count == 4
    rows = read_csv(export.files["csv"])
    assert rows[0] == [
        "Reference",
        "Date",
        "Network",
        "Activity type",
        "Participants",
        "Age group",
        "Description",
        "Sector of the author",
        "Author",
        "Status",
        "Created at",
        "Action",
    ]
    assert len(rows) == 5
    assert {r[2] for r in rows[1:]} == {"شبكة صيدا"}
    assert all(r[6] == ARABIC and r[8] == "رنا" for r in rows[1:])
    assert rows[1][3:6] == ["Awareness session", "13", "Young people (18–29)"]
    assert rows[1][7] == "Teacher" and rows[1][9] == "reviewed"
    assert [r[1] for r in rows[1:]] == sorted(r[1] for r in rows[1:])  # oldest first
    sheet = read_xlsx(export.files["xlsx"])
    assert len(sheet) == 5 and all(r[6] == ARABIC for r in sheet[1:])
    assert "Irbid only" not in export.files["csv"].decode("utf-8-sig")
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
    assert entry is not None and entry.network_id == saida.id and entry.details["rows"] == 4
    assert entry.details["via"] == "bot" and entry.actor_id is not None
    # another network's export is refused, and not logged
    with pytest.raises(AccessDenied, match="does not coordinate"):
        await service.export_reports(
            session,
            network_id=irbid.id,
            since=None,
            until=None,
            formats=("csv",),
            locale="en",
            actor=actor,
            now=utcnow(),
        )
    with pytest.raises(service.ReportError):
        await service.export_reports(
            session,
            network_id=saida.id,
            since=today,
            until=today - timedelta(days=1),
            formats=("csv",),
            locale="en",
            actor=actor,
            now=utcnow(),
        )


async def test_export_in_the_bot_in_arabic(session, person):
    saida = await make_network(session, "saida")
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    coordinator = person(3, language_code="ar")
    await member_of(session, coordinator, saida, role="coordinator", lang="ar")
    await add_reports(session, saida, None, 3)
    await add_reports(session, irbid, None, 2, description="Irbid only")
    out = await coordinator.send("/export")
    periods = [b[1] for b in buttons(out)]
    assert f"rx:{saida.id}:week" in periods and f"rx:{saida.id}:custom" in periods
    out = await coordinator.tap("كل الفترات")
    docs = [r for r in out if isinstance(r, SendDocument)]
    assert [d.document.filename for d in docs] == [
        "reports-saida-start-now.csv",
        "reports-saida-start-now.xlsx",
    ]
    csv_rows = read_csv(docs[0].document.data)
    assert len(csv_rows) == 4 and all(r[6] == ARABIC for r in csv_rows[1:])
    assert csv_rows[1][8] == ""  # anonymous author
    xlsx = load_workbook(io.BytesIO(docs[1].document.data)).active
    assert xlsx.sheet_view.rightToLeft  # an Arabic-speaking coordinator's sheet reads RTL
    assert xlsx.max_row == 4
    # typed dates
    out = await coordinator.tap("تواريخ أخرى…")
    today = service.local_today(saida, utcnow())
    out = await coordinator.send("yesterday")
    assert "YYYY-MM-DD" in texts(out)[0]
    out = await coordinator.send(f"{today.isoformat()} {(today - timedelta(days=5)).isoformat()}")
    assert texts(out) == [  # the coordinator reads Arabic
        create_i18n("en").gettext("The first date must not be after the second one.", locale="ar")
    ]
    assert texts(out) != ["The first date must not be after the second one."]
    out = await coordinator.send(f"{(today - timedelta(days=1)).isoformat()} {today.isoformat()}")
    docs = [r for r in out if isinstance(r, SendDocument)]
    assert len(docs) == 2 and len(read_csv(docs[0].document.data)) == 3
    assert docs[0].caption.endswith(": تقريران.")  # Arabic dual: "two reports"
    audits = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "export"))).all()
    assert len(audits) == 2 and {a.network_id for a in audits} == {saida.id}


# --------------------------------------------------------------------------------- CLI


async def _cli_data(url: str) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    async with create_session_pool(engine)() as session:
        saida = await make_network(session, "saida", name="شبكة صيدا")
        irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
        await add_reports(session, saida, None, 6)
        await add_reports(session, irbid, None, 2, description="Irbid only")
    await engine.dispose()


def test_cli_export(tmp_path: Path, monkeypatch, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    asyncio.run(_cli_data(url))
    out_xlsx = tmp_path / "saida.xlsx"
    assert (
        main(
            [
                "export",
                "reports",
                "--network",
                "saida",
                "--format",
                "xlsx",
                "--output",
                str(out_xlsx),
            ]
        )
        == 0
    )
    assert "wrote 6 reports of saida" in capsys.readouterr().out
    sheet = read_xlsx(out_xlsx.read_bytes())
    assert len(sheet) == 7  # the header and Saida's six, not Irbid's
    assert {r[2] for r in sheet[1:]} == {"شبكة صيدا"} and all(r[6] == ARABIC for r in sheet[1:])
    oldest = sheet[1][1]
    assert isinstance(oldest, datetime)
    out_csv = tmp_path / "saida.csv"
    since = (oldest + timedelta(days=3)).date().isoformat()
    assert (
        main(
            [
                "export",
                "reports",
                "--network",
                "saida",
                "--since",
                since,
                "--format",
                "csv",
                "--output",
                str(out_csv),
                "--locale",
                "en",
            ]
        )
        == 0
    )
    rows = read_csv(out_csv.read_bytes())
    assert len(rows) == 4 and rows[0][0] == "Reference"
    assert "Irbid only" not in out_csv.read_text(encoding="utf-8-sig")
    # mistakes: clear message, exit status 2
    capsys.readouterr()
    assert (
        main(
            [
                "export",
                "reports",
                "--network",
                "nowhere",
                "--format",
                "csv",
                "--output",
                str(out_csv),
            ]
        )
        == 2
    )
    assert "unknown network 'nowhere'" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                "reports",
                "--network",
                "saida",
                "--format",
                "csv",
                "--output",
                str(tmp_path / "missing" / "x.csv"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                "reports",
                "--network",
                "saida",
                "--format",
                "csv",
                "--since",
                "2026-03-05",
                "--until",
                "2026-03-01",
                "--output",
                str(out_csv),
            ]
        )
        == 2
    )
    assert "--since must not be after --until" in capsys.readouterr().err
    for bad in (["--since", "March"], ["--format", "pdf"]):
        args = [
            "export",
            "reports",
            "--network",
            "saida",
            "--format",
            "csv",
            "--output",
            str(out_csv),
            *bad,
        ]
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'March' is not a date as YYYY-MM-DD" in err and "invalid choice: 'pdf'" in err

    # audit-logged, via the command line
    async def audits() -> list[dict[str, object]]:
        engine = create_engine(url)
        async with create_session_pool(engine)() as session:
            rows = (
                await session.scalars(select(AuditEntry).where(AuditEntry.action == "export"))
            ).all()
            details = [dict(r.details) for r in rows]
        await engine.dispose()
        return details

    logged = asyncio.run(audits())
    assert [(d["via"], d["rows"], d["formats"]) for d in logged] == [
        ("cli", 6, ["xlsx"]),
        ("cli", 3, ["csv"]),
    ]
