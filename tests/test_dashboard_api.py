"""The dashboard's HTTP side against a seeded world (tests/dashboard_helpers.py): sign-in,
rights, the figures, review, nudge, export, and the headers of the page and its files."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from storage.models import AuditEntry
from storage.models.plans import PlanAction
from storage.models.reports import Report
from tests.dashboard_helpers import (
    ADMIN,
    IRBID_COORDINATOR,
    LINA,
    NOUR,
    RANA,
    SAIDA_COORDINATOR,
    SAMI,
    STRANGER,
    TOKEN,
    Running,
    running_dashboard,
    sign_init_data,
    tampered,
    tg_user,
)

API = "/app/api/"


@pytest.fixture
async def dash(tmp_path: Path) -> AsyncIterator[Running]:
    async with running_dashboard(tmp_path) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    dash: Running,
    path: str,
    who: int | None = None,
    *,
    init_data: str | None = None,
    json: dict[str, Any] | None = None,
    **params: str,
) -> tuple[int, Any, str]:
    headers = {}
    if init_data is None and who is not None:
        init_data = dash.init_data(who)
    if init_data is not None:
        headers["Authorization"] = "tma " + init_data
    method = "POST" if json is not None else "GET"
    async with http.request(
        method, dash.base_url + API + path, headers=headers, params=params, json=json
    ) as response:
        text = await response.text()
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body, text


def assert_nothing_of(text: str, dash: Running, network: str = "Irbid") -> None:
    """An error body names no network, person or report."""
    for leak in (network, "Saida", dash.world.saida_secret, "Rana", "Nour", "Football"):
        assert leak not in text, text


async def test_a_coordinator_signs_in_and_sees_the_known_figures(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    w = dash.world
    status, body, _ = await call(http, dash, "session", IRBID_COORDINATOR)
    assert status == 200
    assert body == {
        "user": {"name": "Hana", "locale": "ar", "dir": "rtl"},
        "role": "coordinator",
        "networks": [{"id": w.irbid, "name": "Irbid Network", "timezone": "Asia/Amman"}],
        "can_all": False,
    }
    status, body, _ = await call(http, dash, "overview", IRBID_COORDINATOR, net=str(w.irbid))
    assert status == 200
    assert body["network"] == {"id": w.irbid, "name": "Irbid Network"}
    assert {k: body[k] for k in w.this_week} == w.this_week
    assert body["previous"] == w.last_week
    assert body["week"]["end"] == w.irbid_today.isoformat()
    assert [e["title"] for e in body["upcoming"]] == ["First aid training"]
    assert body["upcoming"][0]["going"] == 1 and body["upcoming"][0]["maybe"] == 1
    assert body["upcoming"][0]["kind_label"] == "تدريب"  # in Hana's language

    status, body, _ = await call(http, dash, "participation", IRBID_COORDINATOR)
    assert status == 200
    people = {p["name"]: p for p in body["members"]}
    assert sorted(people) == ["Hana", "Lina", "Omar", "Rana", "Sami"]
    assert {n for n, p in people.items() if p["silent"]} == {"Lina", "Sami"}
    assert people["Rana"]["reports"] == 3  # R1, R2, R7 in the last four weeks
    assert people["Rana"]["rsvp"] == {"going": 1, "maybe": 0, "not_going": 0, "no_answer": 0}
    assert people["Rana"]["attended"] == 1
    assert people["Omar"]["attended"] == 0

    status, body, _ = await call(http, dash, "events", IRBID_COORDINATOR)
    assert status == 200
    past = {e["title"]: e for e in body["past"]}["Youth forum"]
    assert (past["going"], past["maybe"], past["not_going"]) == (2, 1, 1)
    assert (past["attended"], past["no_shows"]) == (1, 1)
    upcoming = {e["title"]: e for e in body["upcoming"]}["First aid training"]
    assert upcoming["attended"] is None and upcoming["no_shows"] is None
    assert "Saida meeting" not in {e["title"] for e in body["upcoming"]}

    status, body, _ = await call(http, dash, "trends", IRBID_COORDINATOR, weeks="8")
    assert status == 200
    assert len(body["weeks"]) == 8
    assert [wk["activities"] for wk in body["weeks"][-2:]] == [3, 4]
    assert [wk["participants"] for wk in body["weeks"][-2:]] == [25, 50]
    assert body["weeks"][-1]["by_type"] == {"workshop": 1, "awareness": 1, "dialogue": 1,
                                            "training": 1}
    assert sum(wk["activities"] for wk in body["weeks"]) == 7
    status, _, _ = await call(http, dash, "trends", IRBID_COORDINATOR, weeks="9")
    assert status == 400

    status, body, text = await call(http, dash, "reports", IRBID_COORDINATOR)
    assert status == 200
    assert [r["id"] for r in body["reports"]][:1] == [w.reports["R1"]]
    assert body["reports"][0]["snippet"] == "Football and talk with the youth club"
    assert len(body["reports"]) == 7 and body["next"] is None
    assert w.saida_secret not in text
    status, body, _ = await call(http, dash, "reports", IRBID_COORDINATOR, limit="3")
    assert len(body["reports"]) == 3 and body["next"] == body["reports"][-1]["id"]
    status, more, _ = await call(
        http, dash, "reports", IRBID_COORDINATOR, limit="3", before=str(body["next"])
    )
    assert not {r["id"] for r in more["reports"]} & {r["id"] for r in body["reports"]}
    status, body, _ = await call(
        http, dash, "reports", IRBID_COORDINATOR, type="workshop",
        member=str(w.membership[RANA]),
    )
    assert [r["id"] for r in body["reports"]] == [w.reports["R1"]]


async def test_a_tampered_expired_or_future_sign_in_is_401(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    good = dash.init_data(IRBID_COORDINATOR)
    now = int(time.time())
    max_age = dash.settings.webapp_max_age
    refused = {
        "missing": None,
        "tampered": tampered(good),
        "hash cut": good.rsplit("&hash=", 1)[0],
        "other token": sign_init_data("654321:OTHER", tg_user(IRBID_COORDINATOR)),
        "expired": dash.init_data(IRBID_COORDINATOR, auth_date=now - max_age - 60),
        "future": dash.init_data(IRBID_COORDINATOR, auth_date=now + 3600),
        "garbage": "%%%",
    }
    for name, init_data in refused.items():
        headers = {} if init_data is None else {"Authorization": "tma " + init_data}
        async with http.get(dash.base_url + API + "overview", headers=headers) as r:
            text = await r.text()
            assert r.status == 401, name
            assert (await r.json())["error"] == "unauthorized", name
            assert_nothing_of(text, dash)
    # A minute of clock skew is allowed; a day old is still fine.
    for auth_date in (now + 30, now - max_age + 60):
        status, _, _ = await call(
            http, dash, "session", init_data=dash.init_data(IRBID_COORDINATOR, auth_date=auth_date)
        )
        assert status == 200
    # The scheme is "tma".
    async with http.get(
        dash.base_url + API + "session", headers={"Authorization": "Bearer " + good}
    ) as r:
        assert r.status == 401


async def test_members_strangers_and_other_networks_get_403_with_nothing_of_it(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    w = dash.world
    for who in (RANA, NOUR, STRANGER):
        status, body, text = await call(http, dash, "overview", who, net=str(w.irbid))
        assert status == 403 and body["error"] == "forbidden"
        assert_nothing_of(text, dash)
        status, _, _ = await call(http, dash, "session", who)
        assert status == 403
    karim = SAIDA_COORDINATOR
    for path, params in (
        ("overview", {"net": str(w.irbid)}),
        ("participation", {"net": str(w.irbid)}),
        ("events", {"net": str(w.irbid)}),
        ("trends", {"net": str(w.irbid)}),
        ("reports", {"net": str(w.irbid)}),
        ("reports", {"net": "all"}),
        ("reports", {"net": str(w.saida), "member": str(w.membership[RANA])}),
        (f"reports/{w.reports['R1']}", {}),
        ("overview", {"net": "999"}),  # no such network: the same answer
    ):
        status, body, text = await call(http, dash, path, karim, **params)
        assert status == 403, (path, params)
        assert_nothing_of(text, dash)
    for path, payload in (
        (f"reports/{w.reports['R1']}/review", {"status": "reviewed"}),
        ("nudge", {"member": w.membership[SAMI]}),
        ("export", {"format": "csv", "net": w.irbid}),
    ):
        status, _, text = await call(http, dash, path, karim, json=payload)
        assert status == 403, path
        assert_nothing_of(text, dash)
    async with dash.session_pool() as session:
        report = await session.get(Report, w.reports["R1"])
        assert report is not None and report.status == "new"
    # Karim's own network answers, without Irbid's.
    status, body, text = await call(http, dash, "reports", karim)
    assert status == 200 and [r["id"] for r in body["reports"]] == [w.reports["S1"]]
    assert "Irbid" not in text and "Rana" not in text
    assert dash.documents(karim) == []


async def test_an_admin_sees_every_network_and_all_of_them(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    w = dash.world
    status, body, _ = await call(http, dash, "session", ADMIN)
    assert status == 200 and body["role"] == "admin" and body["can_all"] is True
    assert [n["name"] for n in body["networks"]] == ["Irbid Network", "Saida Network"]
    status, body, _ = await call(http, dash, "overview", ADMIN, net="all")
    assert status == 200 and body["network"] is None
    assert body["activities"] == 5 and body["participants"] == 57  # Irbid's 4 + Saida's 1
    assert body["members"] == 5 and body["reporters"] == 3
    status, body, _ = await call(http, dash, "reports", ADMIN, net="all")
    assert {r["network"]["name"] for r in body["reports"]} == {"Irbid Network", "Saida Network"}
    status, body, _ = await call(http, dash, "overview", ADMIN, net=str(w.saida))
    assert body["activities"] == 1
    status, _, _ = await call(http, dash, "overview", IRBID_COORDINATOR, net="all")
    assert status == 403


async def test_failed_sign_ins_are_limited_per_address(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    bad = tampered(dash.init_data(IRBID_COORDINATOR))
    limit = dash.dashboard.sign_ins.limit
    for _ in range(limit):
        status, _, _ = await call(http, dash, "session", init_data=bad)
        assert status == 401
    async with http.get(
        dash.base_url + API + "session", headers=dash.headers(IRBID_COORDINATOR)
    ) as r:
        assert r.status == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert (await r.json())["error"] == "too_many"
    # Another client address (behind the local proxy) is not held back.
    headers = {**dash.headers(IRBID_COORDINATOR), "X-Forwarded-For": "203.0.113.9"}
    async with http.get(dash.base_url + API + "session", headers=headers) as r:
        assert r.status == 200


async def test_review_and_flag_follow_the_bots_rules(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    w = dash.world
    r1 = w.reports["R1"]
    status, body, _ = await call(http, dash, f"reports/{r1}", IRBID_COORDINATOR)
    assert status == 200 and body["can_review"] is True
    labels = [f["label"] for f in body["report"]["fields"]]
    assert "الوصف" in labels  # "Description", in Hana's Arabic
    status, body, _ = await call(
        http, dash, f"reports/{r1}/review", IRBID_COORDINATOR, json={"status": "reviewed"}
    )
    assert status == 200
    assert body["report"]["status"] == "reviewed" and body["report"]["reviewed_by"] == "Hana"
    # A flag needs a note, as in the bot: a 409 with the bot's reason.
    status, body, _ = await call(
        http, dash, f"reports/{r1}/review", SAIDA_COORDINATOR, json={"status": "flagged"}
    )
    assert status == 403
    status, body, _ = await call(
        http, dash, f"reports/{r1}/review", ADMIN, json={"status": "flagged", "note": "  "}
    )
    assert status == 409 and body["message"] == "Please write a few words."
    status, body, _ = await call(
        http, dash, f"reports/{r1}/review", IRBID_COORDINATOR,
        json={"status": "flagged", "note": "How many girls came?"},
    )
    assert status == 200
    assert body["report"]["status"] == "flagged"
    assert body["report"]["review_note"] == "How many girls came?"
    told = [m["text"] for m in dash.api.messages(RANA)]
    assert any("How many girls came?" in t and "R-" in t for t in told), told
    status, _, _ = await call(
        http, dash, f"reports/{r1}/review", IRBID_COORDINATOR, json={"status": "new"}
    )
    assert status == 400
    status, _, _ = await call(
        http, dash, "reports/99999/review", IRBID_COORDINATOR, json={"status": "reviewed"}
    )
    assert status == 403
    async with dash.session_pool() as session:
        report = await session.get(Report, r1)
        assert report is not None and report.status == "flagged"
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions.count("report_review") == 2 and "dashboard_view" in actions


async def test_a_silent_member_is_nudged_once_a_day(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    w = dash.world
    sami = w.membership[SAMI]
    status, body, _ = await call(http, dash, "nudge", IRBID_COORDINATOR, json={"member": sami})
    assert status == 200 and body == {"ok": True}
    await dash.flush()
    texts = [m["text"] for m in dash.api.messages(SAMI)]
    assert len(texts) == 1 and "Irbid Network" in texts[0]
    status, body, _ = await call(http, dash, "nudge", IRBID_COORDINATOR, json={"member": sami})
    assert status == 409 and body["error"] == "already_nudged"
    status, body, _ = await call(http, dash, "participation", IRBID_COORDINATOR)
    nudged = {p["name"]: p["nudged_today"] for p in body["members"]}
    assert nudged["Sami"] is True and nudged["Lina"] is False
    status, body, _ = await call(
        http, dash, "nudge", IRBID_COORDINATOR, json={"member": w.membership[RANA]}
    )
    assert status == 409 and body["error"] == "not_silent"
    for bad in ({"member": "x"}, {}, {"member": True}):
        status, _, _ = await call(http, dash, "nudge", IRBID_COORDINATOR, json=bad)
        assert status == 400
    status, _, _ = await call(
        http, dash, "nudge", IRBID_COORDINATOR, json={"member": w.membership[NOUR]}
    )
    assert status == 403
    status, _, _ = await call(
        http, dash, "nudge", ADMIN, json={"member": w.membership[LINA]}
    )
    assert status == 200
    await dash.flush()
    assert len(dash.api.messages(LINA)) == 1
    assert len(dash.api.messages(SAMI)) == 1  # still once


async def test_the_export_is_sent_to_the_chat_as_a_document(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    w = dash.world
    status, body, _ = await call(
        http, dash, "export", IRBID_COORDINATOR, json={"format": "xlsx", "net": w.irbid}
    )
    assert status == 200 and body == {"ok": True, "count": 7}
    status, body, _ = await call(
        http, dash, "export", IRBID_COORDINATOR,
        json={"format": "csv", "net": w.irbid, "type": "workshop"},
    )
    assert body == {"ok": True, "count": 2}
    files = dash.documents(IRBID_COORDINATOR)
    assert [f["document"]["file_name"].rsplit(".", 1)[1] for f in files] == ["xlsx", "csv"]
    assert "Irbid Network" in files[1]["caption"]
    csv = dash.api.file_content(files[1]["document"]["file_id"]).decode("utf-8-sig")
    assert "Football and talk with the youth club" in csv and w.saida_secret not in csv
    status, _, _ = await call(
        http, dash, "export", IRBID_COORDINATOR, json={"format": "pdf", "net": w.irbid}
    )
    assert status == 400
    status, body, _ = await call(http, dash, "export", ADMIN, json={"format": "csv", "net": "all"})
    assert body["count"] == 8
    async with dash.session_pool() as session:
        exports = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "export"))
        )
    assert len(exports) == 3 and all(e.details["via"] == "dashboard" for e in exports)


async def test_strings_come_translated_without_sign_in(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    async with http.get(dash.base_url + API + "strings", params={"lang": "ar"}) as r:
        body = await r.json()
    assert body["locale"] == "ar" and body["dir"] == "rtl"
    assert body["strings"]["app_title"] == "لوحة المتابعة"
    async with http.get(dash.base_url + API + "strings", params={"lang": "xx"}) as r:
        body = await r.json()
    assert body["locale"] == "en" and body["dir"] == "ltr"
    async with http.get(dash.base_url + API + "nothing-here") as r:
        assert r.status == 404 and (await r.json())["error"] == "not_found"


CSP_PARTS = (
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
    "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org",
)


def check_safety_headers(headers: Any) -> None:
    csp = headers["Content-Security-Policy"]
    for part in CSP_PARTS:
        assert part in csp, csp
    assert "unsafe" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "X-Frame-Options" not in headers


async def test_the_page_and_its_files_have_the_right_headers(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text(
        '<link rel="stylesheet" href="{{asset:app.css}}"><script src="{{asset:app.js}}">'
        "</script>",
        encoding="utf-8",
    )
    (static / "app.js").write_text("console.log('one');", encoding="utf-8")
    (static / "app.css").write_text("body{}", encoding="utf-8")
    async with running_dashboard(tmp_path, static_dir=static) as dash:
        async with http.get(dash.base_url + "/app", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/app/"
            check_safety_headers(r.headers)
        async with http.get(dash.app_url) as r:
            html = await r.text()
            assert r.status == 200 and r.headers["Cache-Control"] == "no-cache"
            assert r.content_type == "text/html"
            check_safety_headers(r.headers)
        assert "{{" not in html
        digest = hashlib.sha256(b"console.log('one');").hexdigest()[:12]
        js = f"/app/assets/app.{digest}.js"
        assert js in html
        async with http.get(dash.base_url + js) as r:
            assert r.status == 200 and await r.text() == "console.log('one');"
            assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert r.content_type == "text/javascript"
            check_safety_headers(r.headers)
        css = re.search(r'href="(/app/assets/app\.[0-9a-f]{12}\.css)"', html)
        assert css is not None
        async with http.get(dash.base_url + css.group(1)) as r:
            assert r.status == 200 and r.content_type == "text/css"
        for unknown in ("/app/assets/app.js", "/app/assets/app.000000000000.js",
                        "/app/assets/../auth.py", "/app/nothing"):
            async with http.get(dash.base_url + unknown) as r:
                assert r.status == 404, unknown
                check_safety_headers(r.headers)
        async with http.get(dash.base_url + API + "session") as r:
            assert r.status == 401
            check_safety_headers(r.headers)
            assert r.headers["Cache-Control"] == "no-store"


async def test_the_shipped_page_names_only_files_that_exist(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    async with http.get(dash.app_url) as r:
        html = await r.text()
        assert r.status == 200
    assert "{{asset:" not in html and TOKEN not in html
    urls = re.findall(r'(?:src|href)="(/app/assets/[^"]+)"', html)
    assert urls, html
    for url in urls:
        async with http.get(dash.base_url + url) as r:
            assert r.status == 200, url


def test_the_limiter_forgets_failures_after_its_window() -> None:
    from bot.dashboard.auth import FailedSignIns

    limiter = FailedSignIns(limit=3, window=60)
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after("a", t) is None
        limiter.failed("a", t)
    assert limiter.retry_after("a", 30.0) == 30  # until the first failure is a minute old
    assert limiter.retry_after("b", 30.0) is None  # per address
    assert limiter.retry_after("a", 60.5) is None  # the first one aged out
    limiter.failed("a", 61.0)
    assert limiter.retry_after("a", 61.0) == 9


def test_only_a_local_proxy_may_name_the_client() -> None:
    from aiohttp.test_utils import make_mocked_request

    from bot.dashboard.api import client_address

    def address(peer: str, forwarded: str | None) -> str:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        request = make_mocked_request("GET", "/app/api/session", headers=headers)
        return client_address(request.clone(remote=peer))

    assert address("127.0.0.1", "198.51.100.7, 203.0.113.9") == "203.0.113.9"
    assert address("203.0.113.50", "198.51.100.7") == "203.0.113.50"  # not from a proxy
    assert address("::1", None) == "::1"


async def test_bad_filters_are_400(dash: Running, http: aiohttp.ClientSession) -> None:
    for params in ({"type": "poetry"}, {"since": "2026-13-01"}, {"status": "lost"},
                   {"since": "2026-03-02", "until": "2026-03-01"}, {"limit": "-1"},
                   {"member": "x"}, {"net": "irbid"}):
        status, body, _ = await call(http, dash, "reports", IRBID_COORDINATOR, **params)
        assert status == 400 and body["error"] == "bad_request", params
    for payload in ({"format": "csv", "since": 3.5}, {"format": "csv", "type": 3},
                    {"format": "csv", "status": ["new"]}):
        status, _, _ = await call(http, dash, "export", IRBID_COORDINATOR, json=payload)
        assert status == 400, payload
    async with http.post(dash.base_url + API + "nudge", data=b"{not json",
                         headers=dash.headers(IRBID_COORDINATOR)) as r:
        assert r.status == 400


async def test_a_report_shows_the_action_of_the_plan_it_serves(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    """Issue 16: the dashboard shows the action a report is part of, as the bot does."""
    w = dash.world
    r1 = w.reports["R1"]
    status, body, _ = await call(http, dash, f"reports/{r1}", IRBID_COORDINATOR)
    assert status == 200 and body["report"]["action"] is None
    async with dash.session_pool() as session, session.begin():
        month = w.irbid_today.replace(day=1)
        action = PlanAction(network_id=w.irbid, title="Youth sports league",
                            start_month=month, end_month=month, status="under_way")
        session.add(action)
        await session.flush()
        report = await session.get(Report, r1)
        assert report is not None
        report.action_id = action.id
    status, body, _ = await call(http, dash, f"reports/{r1}", IRBID_COORDINATOR)
    assert status == 200 and body["report"]["action"] == "Youth sports league"
    fields = {f["label"]: f["value"] for f in body["report"]["fields"]}
    assert "Youth sports league" in fields.values()


async def test_two_nudges_at_the_same_instant_send_one_message(
    dash: Running, http: aiohttp.ClientSession
) -> None:
    """Two coordinators (or a double tap) nudging the same member at once: one goes out,
    the other is told "already nudged"; the claim is in the database, not a read-then-write."""
    w = dash.world
    sami = w.membership[SAMI]
    results = await asyncio.gather(*(
        call(http, dash, "nudge", who, json={"member": sami})
        for who in (IRBID_COORDINATOR, ADMIN, IRBID_COORDINATOR)
    ))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200, 409, 409], results
    await dash.flush()
    assert len(dash.api.messages(SAMI)) == 1
