"""Safe exports: formula injection neutralised in every CSV and XLSX (reports, the admins'
digest), no Telegram id or username in a file, and pseudonymised report exports (keyed
HMAC) in the bot (a button) and on the command line (--pseudonymise)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import SendDocument
from aiogram.types import User as TgUser
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main
from bot.config import Settings
from bot.digest_admin import AdminRow
from bot.digest_render import Renderer
from bot.export import Sheet, pseudonym, to_csv, to_xlsx
from bot.i18n import create_i18n
from bot.services import digests
from bot.services import reports as service
from bot.services.access import Actor
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import AuditEntry, Network, User, utcnow
from storage.models.reports import Report
from storage.repositories import users
from tests.helpers import make_network, member_of
from tests.people import ADMIN_ID, Person, buttons, texts

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
# the six leading characters OWASP names, and the full-width forms some spreadsheets read
DANGEROUS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tcmd", "\rcmd", "＝1+1", "＋1", "－1", "＠A"]
SAFE = ["ok", "a=b", " =1", "R-1", "1-2", ""]
PSEUDONYM = re.compile(r"^P-[0-9a-f]{10}$")
# the world's Telegram ids and usernames: none may appear in any export
TG = {"rana": (987_650_001, "rana_tg"), "rana2": (987_650_002, "rana_two"),
      "odd": (987_650_003, "odd_tg"), "coord": (987_650_009, "coord_tg")}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:  # conftest's, with a pseudonym key
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token="42:TEST",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'test.db'}",
        admin_ids=frozenset({ADMIN_ID}),
        default_locale="en",
        flood_limit=0,
        export_pseudonym_key=KEY.decode(),
    )


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def xlsx_cells(content: bytes) -> list[list[Any]]:
    """Every cell of the first sheet, read back; fails if any is a formula."""
    ws = load_workbook(io.BytesIO(content)).active
    assert ws is not None
    rows = [list(row) for row in ws.iter_rows()]
    assert [c.coordinate for row in rows for c in row if c.data_type == "f"] == []
    with zipfile.ZipFile(io.BytesIO(content)) as z:  # no <f> element in the file either
        assert all(b"<f>" not in z.read(n) for n in z.namelist() if n.startswith("xl/work"))
    return rows


def test_writers_neutralise_each_leading_character_and_keep_numbers():
    sheet = Sheet(
        title="t",
        headers=["=Header", "N"],
        rows=[[text, n] for text, n in zip(DANGEROUS + SAFE, range(-8, 8), strict=False)]
        + [["x", -5], ["y", 3.5], ["z", None]],
    )
    rows = read_csv(to_csv(sheet))
    assert rows[0] == ["'=Header", "N"]
    assert [r[0] for r in rows[1:17]] == ["'" + t for t in DANGEROUS] + SAFE
    assert [r[1] for r in rows[1:]] == [str(n) for n in range(-8, 8)] + ["-5", "3.5", ""]
    cells = xlsx_cells(to_xlsx(sheet))
    assert [c.value for c in cells[0]] == ["'=Header", "N"]
    # XML reads a carriage return back as a line feed; the apostrophe is there either way
    assert [r[0].value for r in cells[1:11]] == ["'" + t.replace("\r", "\n") for t in DANGEROUS]
    assert all(r[0].quotePrefix and r[0].data_type == "s" for r in cells[1:11])
    assert [r[0].value for r in cells[11:16]] == SAFE[:5]  # "" is an empty cell: None
    assert not any(r[0].quotePrefix for r in cells[11:17])
    numbers = [r[1].value for r in cells[1:]]
    assert numbers == [*range(-8, 8), -5, 3.5, None]  # numbers, negative ones too
    assert {r[1].data_type for r in cells[1:-1]} == {"n"}


def test_pseudonyms_are_keyed_stable_and_the_documented_hmac():
    expected = hmac.new(KEY, b"prevnet-export-member:7", hashlib.sha256).hexdigest()[:10]
    assert pseudonym(KEY, 7) == "P-" + expected == pseudonym(KEY, 7)
    assert PSEUDONYM.match(pseudonym(KEY, 7))
    assert pseudonym(OTHER_KEY, 7) != pseudonym(KEY, 7)
    assert len({pseudonym(KEY, i) for i in range(1, 1001)}) == 1000
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings(_env_file=None, export_pseudonym_key="short")  # type: ignore[call-arg]
    assert Settings(_env_file=None, export_pseudonym_key="").pseudonym_key() is None  # type: ignore[call-arg]


async def _world(session, person) -> tuple[Network, dict[str, User]]:  # type: ignore[no-untyped-def]
    """Saida with three authors (two named Rana), each report's description dangerous,
    and every person with a Telegram username."""
    saida = await make_network(session, "saida", name="=Saida")
    people = {}
    for key, name in (("rana", "Rana"), ("rana2", "Rana"), ("odd", "=HYPERLINK(\"x\")")):
        p: Person = person(TG[key][0])
        p.user = TgUser(id=TG[key][0], is_bot=False, first_name="T", username=TG[key][1])
        await member_of(session, p, saida, name=name)
        people[key] = await users.get_by_tg_id(session, TG[key][0])
    coord: Person = person(TG["coord"][0], language_code="ar")
    coord.user = TgUser(id=TG["coord"][0], is_bot=False, first_name="C", username="coord_tg",
                        language_code="ar")
    await member_of(session, coord, saida, role="coordinator", lang="ar")
    today = service.local_today(saida, utcnow())
    for i, text in enumerate(DANGEROUS):
        author = people[("rana", "rana2", "odd")[i % 3]]
        session.add(Report(
            network_id=saida.id, author_id=author.id, author_sector="teacher",
            activity_type="awareness", activity_date=today - timedelta(days=i),
            participants=i, age_group="youth", description=text, status="new",
        ))
    await session.commit()
    return saida, people


def assert_no_telegram(cells: list[str]) -> None:
    joined = "\n".join(cells)
    for tg_id, username in TG.values():
        assert str(tg_id) not in joined and username not in joined


async def _export(session, saida: Network, coord: User, key: bytes | None):  # type: ignore[no-untyped-def]
    actor = Actor.build(coord.tg_id, coord, frozenset())
    with create_i18n("en").context():
        return await service.export_reports(
            session, network_id=saida.id, since=None, until=None, formats=("csv", "xlsx"),
            locale="en", actor=actor, now=utcnow(), pseudonym_key=key,
        )


async def test_report_export_neutralised_no_telegram_and_pseudonymised(session, person):
    saida, people = await _world(session, person)
    coord = await users.get_by_tg_id(session, TG["coord"][0])
    named = await _export(session, saida, coord, None)
    rows = read_csv(named.files["csv"])
    assert rows[0][8] == "Author" and len(rows) == 1 + len(DANGEROUS)
    # oldest first: the reports were dated back from today in DANGEROUS order
    assert [r[6] for r in rows[1:]] == ["'" + t for t in reversed(DANGEROUS)]
    assert {r[2] for r in rows[1:]} == {"'=Saida"}
    assert {r[8] for r in rows[1:]} == {"Rana", "'=HYPERLINK(\"x\")"}
    assert [r[4] for r in rows[1:]] == [str(i) for i in reversed(range(len(DANGEROUS)))]
    cells = xlsx_cells(named.files["xlsx"])
    assert [r[6].value for r in cells[1:]] == [
        "'" + t.replace("\r", "\n") for t in reversed(DANGEROUS)
    ]
    assert [r[4].value for r in cells[1:]] == list(reversed(range(len(DANGEROUS))))
    assert_no_telegram([c for r in rows for c in r])
    assert_no_telegram([str(c.value) for r in cells for c in r])

    pseudo = await _export(session, saida, coord, KEY)
    assert pseudo.filename("csv") == "reports-saida-start-now-pseudonymised.csv"
    prow = read_csv(pseudo.files["csv"])
    assert prow[0][8] == "Author (pseudonym)"
    by_ref = {r[0]: r[8] for r in prow[1:]}
    assert all(PSEUDONYM.match(p) for p in by_ref.values())
    expected = {k: pseudonym(KEY, u.id) for k, u in people.items()}
    assert set(by_ref.values()) == set(expected.values())  # the two Ranas differ: 3 values
    assert {r[0]: r[8] for r in rows[1:]}.keys() == by_ref.keys()
    text = pseudo.files["csv"].decode("utf-8-sig")
    assert "Rana" not in text and "HYPERLINK" not in text
    assert_no_telegram([c for r in prow for c in r])
    assert [r[8].value for r in xlsx_cells(pseudo.files["xlsx"])[1:]] == [r[8] for r in prow[1:]]
    # stable across exports with the same key, different with another
    again = read_csv((await _export(session, saida, coord, KEY)).files["csv"])
    assert [r[8] for r in again] == [r[8] for r in prow]
    other = read_csv((await _export(session, saida, coord, OTHER_KEY)).files["csv"])
    assert set(r[8] for r in other[1:]).isdisjoint(by_ref.values())
    query = select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id)
    audits = (await session.scalars(query)).all()
    assert [a.details["pseudonymised"] for a in audits] == [False, True, True, True]


async def test_admin_digest_xlsx_neutralised(session):
    net = await make_network(session, "evil", name='=HYPERLINK("http://x","y")')
    row = AdminRow(network=net, members=4, active=1, activities=-2, participants=0,
                   events_held=0, broadcasts=0, to_review=0, blocked=0)
    window = digests.window_for(digests.zone(net), utcnow())
    cells = xlsx_cells(Renderer(create_i18n("en")).admin_xlsx([row], window, "en"))
    assert [c.value for c in cells[1][:5]] == ["\'=HYPERLINK(\"http://x\",\"y\")", "LB", 4, 1, -2]
    assert cells[1][0].quotePrefix and cells[1][4].data_type == "n"
    assert cells[1][8].value == 0.25 and cells[0][0].value == "Network"


async def test_export_button_in_arabic(session, person, settings):
    saida, people = await _world(session, person)
    coord: Person = person(TG["coord"][0], language_code="ar")
    out = await coord.send("/export")
    assert ("🔒 إخفاء أسماء مقدّمي التقارير", f"rxp:{saida.id}:") in buttons(out)
    out = await coord.tap("🔒 إخفاء أسماء مقدّمي التقارير")
    assert "🔒 ستُظهر الملفات أسماء مستعارة بدلاً من أسماء مقدّمي التقارير." in texts(out)[0]
    assert ("كل الفترات", f"rxp:{saida.id}:all") in buttons(out)
    out = await coord.tap("كل الفترات")
    docs = [r for r in out if isinstance(r, SendDocument)]
    assert [d.document.filename for d in docs] == [
        "reports-saida-start-now-pseudonymised.csv",
        "reports-saida-start-now-pseudonymised.xlsx",
    ]
    assert docs[0].caption.endswith(
        "🔒 أسماء مقدّمي التقارير مستبدلة بأسماء مستعارة؛ قد تذكر الأوصاف أسماء أشخاص."
    )
    rows = read_csv(docs[0].document.data)
    assert rows[0][8] == "مقدّم التقرير (اسم مستعار)"
    assert {r[8] for r in rows[1:]} == {pseudonym(KEY, u.id) for u in people.values()}
    assert_no_telegram([c for r in rows for c in r])
    assert_no_telegram([str(c.value) for r in xlsx_cells(docs[1].document.data) for c in r])
    # back to names: the periods are plain again
    await coord.send("/export")
    await coord.tap("🔒 إخفاء أسماء مقدّمي التقارير")
    out = await coord.tap("👤 إظهار أسماء مقدّمي التقارير")
    assert ("كل الفترات", f"rx:{saida.id}:all") in buttons(out)
    out = await coord.tap("كل الفترات")
    doc = next(r for r in out if isinstance(r, SendDocument))
    names = {r[8] for r in read_csv(doc.document.data)[1:]}
    assert names == {"Rana", "'=HYPERLINK(\"x\")"}
    # typed dates keep the choice
    await coord.send("/export")
    await coord.tap("🔒 إخفاء أسماء مقدّمي التقارير")
    await coord.tap("تواريخ أخرى…")
    today = service.local_today(saida, utcnow())
    out = await coord.send(f"{(today - timedelta(days=1)).isoformat()} {today.isoformat()}")
    docs = [r for r in out if isinstance(r, SendDocument)]
    assert len(read_csv(docs[0].document.data)) == 3
    assert docs[0].document.filename.endswith("-pseudonymised.csv")
    # without a key: no button, and a stale pseudonymised button is refused, never named
    settings.export_pseudonym_key = None
    out = await coord.send("/export")
    assert not [b for b in buttons(out) if b[1].startswith("rxp:")]
    out = await coord.press(f"rxp:{saida.id}:all")
    assert not [r for r in out if isinstance(r, SendDocument)]
    assert texts(out) == ["التصدير بأسماء مستعارة غير مُفعَّل في هذا البوت."]


# --------------------------------------------------------------------------------- CLI


async def _cli_world(url: str) -> int:
    engine = create_engine(url)
    await upgrade(engine)
    async with create_session_pool(engine)() as session:
        saida = await make_network(session, "saida")
        user = User(tg_id=987_650_001, display_name="Rana")
        session.add(user)
        await session.flush()
        from storage.models import Membership

        session.add(Membership(user_id=user.id, network_id=saida.id))
        session.add(Report(
            network_id=saida.id, author_id=user.id, author_sector="teacher",
            activity_type="awareness", activity_date=date.today(), participants=-3,
            age_group="youth", description="=1+1", status="new",
        ))
        await session.commit()
        user_id = user.id
    await engine.dispose()
    return user_id


def test_cli_pseudonymise(tmp_path: Path, monkeypatch, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("EXPORT_PSEUDONYM_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    user_id = asyncio.run(_cli_world(url))
    out = tmp_path / "s.csv"
    args = ["export", "reports", "--network", "saida", "--format", "csv", "--output", str(out),
            "--locale", "en", "--pseudonymise"]
    assert main(args) == 2
    assert "--pseudonymise needs EXPORT_PSEUDONYM_KEY" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.setenv("EXPORT_PSEUDONYM_KEY", "too short")
    assert main(args) == 2
    assert "EXPORT_PSEUDONYM_KEY must be at least 16 characters" in capsys.readouterr().err
    monkeypatch.setenv("EXPORT_PSEUDONYM_KEY", KEY.decode())
    assert main(args) == 0
    rows = read_csv(out.read_bytes())
    assert rows[0][8] == "Author (pseudonym)"
    assert rows[1][8] == pseudonym(KEY, user_id) and rows[1][6] == "'=1+1" and rows[1][4] == "-3"
    assert_no_telegram([c for r in rows for c in r])
    assert main(args[:-1]) == 0  # without the flag: the name
    assert read_csv(out.read_bytes())[1][8] == "Rana"
    xlsx = tmp_path / "s.xlsx"
    assert main(["export", "reports", "--network", "saida", "--format", "xlsx",
                 "--output", str(xlsx), "--pseudonymise"]) == 0
    cells = xlsx_cells(xlsx.read_bytes())
    assert cells[1][8].value == pseudonym(KEY, user_id) and cells[1][4].value == -3
