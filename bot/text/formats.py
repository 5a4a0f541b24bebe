"""Numbers, dates, snippets and lengths, formatted the same way everywhere; typed digits
in any script read as 0-9."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal


def fmt_number(n: int, locale: str) -> str:
    """A whole number in the locale's digits and grouping ("1,250"; Babel's CLDR data
    gives Arabic 0-9 too, and the dashboard page writes the same)."""
    return format_decimal(n, locale=locale)


RTL_LANGUAGES = frozenset({"ar"})
FSI, PDI = "\u2068", "\u2069"  # first-strong isolate ... pop directional isolate


def fmt_date(day: date, locale: str, form: str = "medium") -> str:
    """The day in the locale's words. In Arabic it is an isolate: Babel's "02/12/2026"
    (with right-to-left marks) stays whole beside a Latin "R-13" or in a line that starts
    with Latin words, where it was shown as "02 · R-13/2026/12"."""
    text = format_date(day, format=form, locale=locale)
    if locale.split("_")[0] in RTL_LANGUAGES:
        return f"{FSI}{text}{PDI}"
    return text


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def fit_lines(text: str, limit: int = 4096) -> str:
    """Whole lines of ``text`` within ``limit`` (UTF-16, as Telegram counts), then "…": an
    HTML text whose tags and entities close on each line stays valid HTML."""
    if utf16_len(text) <= limit:
        return text
    lines = text.split("\n")
    while lines and utf16_len("\n".join(lines)) + 2 > limit:
        lines.pop()
    return "\n".join(lines) + "\n…"


def first_words(text: str | None, limit: int = 40) -> str:
    """The start of a text on one line, cut at a word ("Football with the…");
    plain text (escape it for HTML)."""
    words = " ".join((text or "").split())
    if len(words) <= limit:
        return words
    cut = words[: limit + 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut.strip() else words[:limit]
    return head.rstrip(" ,.;:-–—،") + "…"


# Arabic-Indic and Persian digits are decimal digits; their decimal separator and comma.
_NUMBER_MARKS = str.maketrans({"\u066b": ".", "\u066c": "", "\u060c": ","})


def to_ascii_digits(text: str) -> str:
    """Arabic-Indic and other decimal digits as 0-9 (٢٠ -> 20, ١٫٥ -> 1.5, "،" -> ",")."""
    return "".join(str(int(ch)) if ch.isdecimal() else ch for ch in text.translate(_NUMBER_MARKS))
