"""Extract the strings from the code and merge them into locales/*/LC_MESSAGES/messages.po.

    python scripts/update_catalogs.py          # extract + update; English is filled in
    python scripts/update_catalogs.py --check  # exit 1 if any catalogue is behind the code

The .mo files are not committed: the bot compiles them at start (bot.i18n.compile_catalogs).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
KEYWORDS = ["_:1,1t", "_:1,2", "__:1,1t", "__:1,2", "N_"]
# Babel's own table maps n%100 in 0..2 to "many" for Arabic, against CLDR (many is 11..99,
# and 100, 101, 102 are "other"); we write the CLDR rule ourselves.
ARABIC_PLURAL_EXPR = (
    "(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5)"
)


def extract(target: Path) -> None:
    args = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
            "--no-location", "--sort-output", "--omit-header", "-o", str(target)]
    for k in KEYWORDS:
        args += ["-k", k]
    subprocess.run([*args, "."], cwd=ROOT, check=True, capture_output=True)


def update(locale: str) -> list[str]:
    """Merge the template into one catalogue; returns msgids still untranslated."""
    with POT.open("rb") as f:
        template = read_po(f)
    po_path = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    if po_path.exists():
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=locale)
    else:
        from babel.messages.catalog import Catalog

        po_path.parent.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(locale=locale, project="prevnet")
    catalog.update(template, no_fuzzy_matching=True)
    catalog.project = "prevnet"
    catalog.fuzzy = False
    if locale == "ar":
        catalog._num_plurals = 6  # type: ignore[attr-defined]
        catalog._plural_expr = ARABIC_PLURAL_EXPR  # type: ignore[attr-defined]
    missing = []
    for message in catalog:
        if not message.id:
            continue
        if locale == "en":
            message.string = message.id  # type: ignore[assignment]
        values = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(values):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    with po_path.open("wb") as f:
        write_po(f, catalog, omit_header=False, sort_output=True, ignore_obsolete=True,
                 include_previous=False, no_location=True, width=100)
    return missing


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="only check; change nothing")
    parser.add_argument("locales", nargs="*", default=["ar", "en", "fr"])
    args = parser.parse_args()
    if args.check:
        tmp = POT.with_suffix(".check.pot")
        extract(tmp)
        same = tmp.read_text() == POT.read_text()
        tmp.unlink()
        print("messages.pot is current" if same else "messages.pot is behind the code")
        return 0 if same else 1
    extract(POT)
    status = 0
    for locale in args.locales:
        missing = update(locale)
        print(f"{locale}: {len(missing)} untranslated")
        for msgid in missing:
            print(f"  - {msgid!r}")
        status |= bool(missing) and locale != "en"
    return 0


if __name__ == "__main__":
    sys.exit(main())
