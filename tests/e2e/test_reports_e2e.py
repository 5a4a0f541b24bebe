"""On the real process: a member files a report with a photo in Arabic; the coordinator is
notified, opens it, reviews it and exports the reports. (The CLI export is tested in
tests/test_export.py without a process per call.)"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from openpyxl import load_workbook

from tests.e2e.conftest import User, button_data
from tests.e2e.test_registration_e2e import register

DESCRIPTION = "ورشة توعية مع شباب الحي & <أهالي>"


def _has(data: str):  # type: ignore[no-untyped-def]
    return lambda m: data in button_data(m)


async def test_report_with_photo_notice_and_export(prevnet, fake_api):
    await prevnet.make_network("saida", name="شبكة صيدا")
    coordinator_code = await prevnet.invite("saida", role="coordinator", uses=1)
    await prevnet.start()

    lina = User(fake_api, 7101, first_name="Lina")
    await register(lina, coordinator_code, "en", "Lina")
    # the member's invite is made in the bot (quicker than another CLI run)
    uses = await lina.say("/invite", _has("inv:1:member:1"))
    made = await lina.tap(uses, "inv:1:member:1", "Link:")
    member_code = re.search(r"start=([A-Za-z0-9_-]+)", made["text"])[1]  # type: ignore[index]
    sara = User(fake_api, 7102, language_code="ar", first_name="Sara")
    await register(sara, member_code, "ar", "سارة", sector="youth_worker")

    # the member's dialog: taps, one text, a photo, submit
    step = await sara.say("/report", _has("rt:workshop"))
    step = await sara.tap(step, "rt:workshop", _has("rd:0"))
    step = await sara.tap(step, "rd:0", _has("rn:20"))
    step = await sara.tap(step, "rn:20", _has("ra:youth"))
    step = await sara.tap(step, "ra:youth", lambda m: not button_data(m))
    attach = await sara.say(DESCRIPTION, _has("rf:skip_file"))
    after = sara.seen
    fake_api.send_photo(sara.id, caption=None)
    preview = await sara.wait(_has("rf:submit"), after=after)
    assert attach["message_id"] != preview["message_id"]
    assert DESCRIPTION in preview["text"]  # escaped in HTML, shown as typed
    done = await sara.tap(preview, "rf:submit", lambda m: "R-1" in (m.get("text") or ""))
    keyboard = (done.get("reply_markup") or {}).get("keyboard")
    assert keyboard and keyboard[0][0]["text"].startswith("📝")

    # the coordinator is told (batched by the notifier job) and opens the report
    notice = await lina.wait(
        lambda m: "New activity report R-1" in (m.get("text") or ""), timeout=30
    )
    assert "سارة" in notice["text"] and "rv:1" in button_data(notice)
    after = lina.seen
    fake_api.press_button(lina.id, notice["message_id"], "rv:1")
    photo = await lina.wait(lambda m: m.get("photo") is not None, after=after)
    assert photo.get("caption") == "R-1"
    view = await lina.wait(_has("rr:1:ok"), after=after)
    assert DESCRIPTION in view["text"] and "Status: new" in view["text"]
    reviewed = await lina.tap(view, "rr:1:ok", "Status: reviewed")
    assert "rr:1:ok" not in button_data(reviewed)

    # /export: a CSV and an XLSX with the Arabic text intact
    periods = await lina.say("/export", _has("rx:1:all"))
    after = lina.seen
    fake_api.press_button(lina.id, periods["message_id"], "rx:1:all")

    def document(ext: str):  # type: ignore[no-untyped-def]
        return lambda m: (m.get("document") or {}).get("file_name", "").endswith(ext)

    csv_doc = await lina.wait(document(".csv"), after=after)
    xlsx_doc = await lina.wait(document(".xlsx"), after=after)
    rows = _csv(fake_api.file_content(csv_doc["document"]["file_id"]))
    assert len(rows) == 2 and rows[1][0] == "R-1" and rows[1][6] == DESCRIPTION
    assert rows[1][2] == "شبكة صيدا" and rows[1][8] == "سارة" and rows[1][9] == "reviewed"
    sheet = _xlsx(fake_api.file_content(xlsx_doc["document"]["file_id"]))
    assert len(sheet) == 2 and sheet[1][6] == DESCRIPTION


def _csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _xlsx(content: bytes) -> list[tuple[Any, ...]]:
    ws = load_workbook(io.BytesIO(content)).active
    assert ws is not None
    return list(ws.iter_rows(values_only=True))
