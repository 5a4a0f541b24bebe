"""The coordinators' chart is a valid PNG (in every language); the admins' XLSX opens."""

from __future__ import annotations

import io

import openpyxl
import pytest

from bot import charts
from bot.digest_admin import admin_row
from bot.digest_render import Renderer
from bot.i18n import create_i18n
from bot.services import digests
from tests.test_digest import NOW, build_one, saida


@pytest.mark.parametrize("locale", ["en", "ar", "fr"])
async def test_chart_is_a_png_of_eight_weekly_bars(session, locale):
    w = await saida(session)
    d = await build_one(session, w.network)
    weeks = d.weekly()
    assert len(weeks) == 8
    assert weeks[-1] == (digests.window_for(digests.zone(w.network), NOW).start, 3)
    assert weeks[1][1] == 1 and weeks[6][1] == 2  # 1 February; 8 and 9 March
    assert sum(n for _first, n in weeks) == 6

    png = Renderer(create_i18n("en")).chart(d, locale)
    assert png.startswith(charts.PNG_SIGNATURE)
    assert charts.png_size(png) == (600, 300)
    assert 3_000 < len(png) < 200_000
    assert png.endswith(b"IEND\xaeB`\x82")  # complete


def test_png_size_refuses_what_is_not_a_png():
    with pytest.raises(ValueError):
        charts.png_size(b"GIF89a" + b"\0" * 30)


def test_arabic_is_shaped_when_matplotlib_cannot():
    text = "شبكة صيدا"
    assert charts.shape(text, native=True) == text
    shaped = charts.shape(text, native=False)
    # Joined presentation forms, in visual (right-to-left) order.
    assert all("\ufb50" <= ch <= "\ufeff" or ch == " " for ch in shaped)
    assert shaped != text and charts.shape("Saida", native=False) == "Saida"


async def test_admin_spreadsheet_opens_with_openpyxl(session):
    w = await saida(session)
    d = await build_one(session, w.network)
    window = digests.window_for(digests.zone(w.network), NOW)
    data = Renderer(create_i18n("en")).admin_xlsx([admin_row(d)], window, "ar")
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet.sheet_view.rightToLeft  # Arabic reads from the right
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and len(rows[0]) == 15
    assert rows[1][:8] == (w.network.name, "LB", 3, 1, 3, 35, 0, 2)
    assert rows[1][8] == pytest.approx(1 / 3)
    assert rows[1][9:11] == (4, 1)  # reports to review, blocked the bot
    assert rows[1][11:] == (0, 0, 0, 0)  # actions by status: no plan
