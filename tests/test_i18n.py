from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from bot.i18n import LOCALES_DIR, compile_catalogs, create_i18n
from storage.models import User
from tests.helpers import make_network, member_of
from tests.people import buttons, texts

LOCALES = ("ar", "en", "fr")
PLACEHOLDER = re.compile(r"\{\w+\}")


def catalog(locale: str):  # type: ignore[no-untyped-def]
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogue_is_complete_and_keeps_placeholders(locale: str) -> None:
    with (LOCALES_DIR / "messages.pot").open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    cat = catalog(locale)
    ids = {m.id for m in cat if m.id}
    assert template <= ids, f"{locale} misses {template - ids}"
    for m in cat:
        if not m.id or m.id not in template:
            continue
        singular = m.id if isinstance(m.id, str) else m.id[0]
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings), f"{locale}: empty msgstr for {singular!r}"
        assert not m.fuzzy
        wanted = set(PLACEHOLDER.findall(singular)) - {"{n}"}
        for s in strings:
            assert wanted <= set(PLACEHOLDER.findall(s)), (locale, singular, s)
            for tag in ("b", "code", "i"):
                assert s.count(f"<{tag}>") == s.count(f"</{tag}>"), (locale, s)


def test_arabic_writes_digits_as_the_bot_does() -> None:
    """Numbers the code formats (fmt_number, Babel) come out 0-9 in Arabic: a translation
    that types ٤ beside them mixes two scripts of digits on one screen."""
    indic = re.compile("[\u0660-\u0669\u06f0-\u06f9]")
    for m in catalog("ar"):
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert not any(indic.search(s or "") for s in strings), (m.id, strings)


def test_catalogues_match_the_code() -> None:
    """messages.pot is what the code says (run scripts/update_catalogs.py after a change)."""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "scripts/update_catalogs.py", "--check"], cwd=root,
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_arabic_plural_forms(tmp_path: Path) -> None:
    i18n = create_i18n("en")
    assert i18n.locales["ar"].info()["plural-forms"].startswith("nplurals=6;")
    forms = {
        n: i18n.gettext("for {n} person", "for {n} people", n, locale="ar") for n in
        (0, 1, 2, 3, 10, 11, 99, 100, 101, 102, 103, 111)
    }
    assert len({forms[0], forms[1], forms[2], forms[3], forms[11], forms[100]}) == 6
    assert forms[3] == forms[10] == forms[103]  # few: n % 100 in 3..10
    assert forms[11] == forms[99] == forms[111]  # many: n % 100 in 11..99
    assert forms[100] == forms[101] == forms[102]  # other
    assert i18n.gettext("for {n} person", "for {n} people", 2, locale="fr") == "pour {n} personnes"


def test_compile_writes_mo_only_when_needed(tmp_path: Path) -> None:
    target = tmp_path / "locales"
    for locale in LOCALES:
        (target / locale / "LC_MESSAGES").mkdir(parents=True)
        po = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
        (target / locale / "LC_MESSAGES" / "messages.po").write_bytes(po.read_bytes())
    assert len(compile_catalogs(target)) == 3
    assert compile_catalogs(target) == []


async def test_language_switch_is_remembered(session, person) -> None:
    network = await make_network(session)
    p = person(60)
    await member_of(session, p, network)
    out = await p.send("/language")
    assert ("✓ English", "lang:en") in buttons(out)
    out = await p.tap("العربية")
    assert texts(out)[0] == create_i18n("en").gettext(
        "From now on I will speak {language}.", locale="ar"
    ).format(language="العربية")
    menus = [r for r in out if type(r).__name__ == "SetMyCommands"]
    assert menus and menus[0].scope.chat_id == 60  # type: ignore[union-attr]
    assert any(c.command == "leave" for c in menus[0].commands)
    user = await session.scalar(select(User).where(User.tg_id == 60))
    await session.refresh(user)
    assert user is not None and user.language == "ar"
    out = await p.send("/help")
    ar_intro = create_i18n("en").gettext("Here is what you can do:", locale="ar")
    assert texts(out)[0].startswith(ar_intro) and ar_intro != "Here is what you can do:"


async def test_stranger_gets_telegram_language(person) -> None:
    out = await person(61, language_code="fr").send("/start")
    assert texts(out)[0].startswith("Bonjour")
