"""Spreadsheet writers: CSV (UTF-8 with a BOM, so Excel reads Arabic correctly) and XLSX.

A `Sheet` is a title, translated column headers and rows of plain values (str, int,
date, naive local datetime or None). Text a user typed is never taken for a formula:
XLSX cells are written as strings, and CSV text that a spreadsheet would evaluate
(starting with = + - @ or a tab) gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

CSV_ENCODING = "utf-8-sig"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
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
    """Text that no spreadsheet evaluates as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


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
        cell.data_type = "s"
        cell.font = bold
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    widths = [_display_length(h) for h in sheet.headers]
    for r, row in enumerate(sheet.rows, start=2):
        for c, value in enumerate(row, start=1):
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever it starts with
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
