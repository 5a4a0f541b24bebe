"""Spreadsheet writers: CSV (UTF-8 with a BOM, so Excel reads Arabic correctly) and XLSX.

A `Sheet` is a title, translated column headers and rows of plain values (str, int,
date, naive local datetime or None).

Formula injection: text a user typed is never taken for a formula. Every string cell
(headers too) that starts with = + - @, a tab or a carriage return (or a full-width
＝ ＋ － ＠) gets a leading apostrophe, in CSV and in XLSX alike (OWASP's advice), so the
file stays harmless when opened in any spreadsheet or converted from one format to the
other. In XLSX such a cell is also typed as a string with Excel's "quote prefix" style,
so it is not evaluated even after someone edits it. Numbers stay numbers: only strings
are neutralised (`neutralise`, `protect_cell`; also used by the admins' digest XLSX).

Pseudonyms (`pseudonym`) replace member names when a file is shared outside the network.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

CSV_ENCODING = "utf-8-sig"
# A spreadsheet evaluates text starting with these; the full-width forms too, in some.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PSEUDONYM_PREFIX = "P-"
PSEUDONYM_HEX = 10
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
MAX_WIDTH = 60
SHEET_TITLE_MAX = 31  # Excel's limit
_BAD_TITLE_CHARS = str.maketrans({c: " " for c in "[]:*?/\\"})


@dataclass(frozen=True)
class Sheet:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    rtl: bool = False
    # Columns (0-based) holding long text: wrapped in XLSX.
    wrap: frozenset[int] = field(default_factory=frozenset)


def safe_csv_text(value: str) -> str:
    """Text that no spreadsheet evaluates as a formula: a leading apostrophe if needed."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def neutralise(value: Any) -> Any:
    """A cell value made safe: strings as `safe_csv_text`, anything else unchanged
    (a negative number stays a number)."""
    return safe_csv_text(value) if isinstance(value, str) else value


def protect_cell(cell: Cell) -> None:
    """Make an openpyxl cell that holds a string safe: never a formula (data type "s"),
    neutralised text, and Excel's quote prefix when the text was dangerous."""
    value = cell.value
    if not isinstance(value, str):
        return
    safe = safe_csv_text(value)
    cell.value = safe
    cell.data_type = "s"
    if safe != value:
        cell.quotePrefix = True


def pseudonym(key: bytes, member_id: int) -> str:
    """A member's pseudonym: "P-" and the first 10 hex digits of HMAC-SHA256(key, the
    member's internal user id, `users.id`). The id, not the name: two members may share a
    name, and a renamed member keeps the pseudonym; never the Telegram id. The same key
    gives the same pseudonym in every export; without the key it cannot be reversed or
    recomputed (ids are small numbers, so a plain hash would be)."""
    digest = hmac.new(key, f"prevnet-export-member:{member_id}".encode(), hashlib.sha256)
    return PSEUDONYM_PREFIX + digest.hexdigest()[:PSEUDONYM_HEX]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return safe_csv_text(value)
    return str(value)


def to_csv(sheet: Sheet) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_csv_text(h) for h in sheet.headers])
    for row in sheet.rows:
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue().encode(CSV_ENCODING)


def _display_length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    return max((len(line) for line in str(value).splitlines()), default=0)


def sheet_title(title: str) -> str:
    cleaned = " ".join(title.translate(_BAD_TITLE_CHARS).split()).strip("'")
    return cleaned[:SHEET_TITLE_MAX] or "Sheet"


def to_xlsx(sheet: Sheet) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet_title(sheet.title)
    ws.sheet_view.rightToLeft = sheet.rtl
    bold = Font(bold=True)
    for col, header in enumerate(sheet.headers, start=1):
        cell = ws.cell(row=1, column=col, value=header)
        protect_cell(cell)
        cell.font = bold
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    widths = [_display_length(h) for h in sheet.headers]
    for r, row in enumerate(sheet.rows, start=2):
        for c, value in enumerate(row, start=1):
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                protect_cell(cell)  # never a formula, whatever it starts with
            elif isinstance(value, datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(value, date):
                cell.number_format = DATE_FORMAT
            cell.alignment = wrap if (c - 1) in sheet.wrap else top
            if c <= len(widths):
                widths[c - 1] = max(widths[c - 1], _display_length(value))
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = min(MAX_WIDTH, max(8, width + 2))
    ws.freeze_panes = "A2"
    if sheet.rows:
        ws.auto_filter.ref = ws.dimensions
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
