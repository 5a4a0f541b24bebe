"""/digest through the real dispatcher: previews by role, the "Weekly digest" screen, and
"send now" (refused once sent; "send anyway" for admins only)."""

from __future__ import annotations

import pytest
from aiogram.methods import SendDocument, SendMessage, SendPhoto
from sqlalchemy import func, select

from bot.callbacks import DigestSendCb, DigestSetCb, PickNetCb
from storage.models.digests import Digest, DigestSettings
from tests.helpers import make_network
from tests.people import ADMIN_ID, buttons, texts
from tests.test_digest import NOW, add_person, saida


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("handlers.digests.utcnow", lambda: NOW)


async def test_member_sees_their_own_preview(session, person):
    w = await saida(session)
    rana = person(101)
    out = await rana.send("/digest")
    (text,) = texts(out)
    assert "This week's digest, as you would get it" in text
    assert "<b>Saida Network</b>: weekly digest" in text
    assert "your answer: Going" in text and "For coordinators" not in text
    assert not [r for r in out if isinstance(r, SendPhoto)]
    assert buttons(out) == []
    # a preview is not the digest: nothing is recorded as sent
    recorded = select(func.count()).select_from(Digest).where(Digest.network_id == w.network.id)
    assert await session.scalar(recorded) == 0


async def test_coordinator_preview_has_the_chart_and_the_buttons(session, person):
    w = await saida(session)
    out = await person(100).send("/digest")
    (photo,) = [r for r in out if isinstance(r, SendPhoto)]
    assert photo.photo.data.startswith(b"\x89PNG")
    (text,) = [r.text for r in out if isinstance(r, SendMessage)]
    assert "For coordinators" in text and "✅ Reported (1): Rana" in text
    assert "Sent every Sunday at 09:00 (Asia/Beirut)." in text
    assert "This week's digest has not gone out yet." in text
    data = [d for _label, d in buttons(out)]
    assert data == [DigestSetCb(network_id=w.network.id).pack(),
                    DigestSendCb(network_id=w.network.id).pack()]


async def test_coordinator_changes_day_and_hour(session, person):
    w = await saida(session)
    maya = person(100)
    out = await maya.press(DigestSetCb(network_id=w.network.id).pack())
    (text,) = texts(out)
    assert "Weekly digest of Saida Network" in text
    assert "Next one: Sunday 23 March 09:00" in text  # it is 09:00 on Sunday 16 now
    assert "✓ Sun" in [label for label, _d in buttons(out)]
    out = await maya.tap("Thu")
    assert "Sent every Thursday at 09:00" in texts(out)[0]
    out = await maya.tap("18:00")
    assert "Sent every Thursday at 18:00" in texts(out)[0]
    assert "Next one: Thursday 20 March 18:00" in texts(out)[0]
    row = await session.scalar(
        select(DigestSettings).where(DigestSettings.network_id == w.network.id)
        .execution_options(populate_existing=True)
    )
    assert row is not None and (row.weekday, row.hour) == (3, 18)


async def test_forged_network_is_refused(session, person):
    w = await saida(session)
    other = await make_network(session, "tripoli", name="Tripoli Network")
    await add_person(session, other, 200, "Karim", role="coordinator")
    await session.commit()
    karim = person(200)
    for data in (
        DigestSetCb(network_id=w.network.id, key="day", value=1).pack(),
        DigestSendCb(network_id=w.network.id, step="go").pack(),
        PickNetCb(purpose="digest", network_id=w.network.id).pack(),
    ):
        out = await karim.press(data)
        assert texts(out) == ["Sorry, you are not allowed to do that."], data
    assert await session.scalar(select(DigestSettings)) is None
    assert await session.scalar(select(Digest)) is None


async def test_send_now_then_refused_and_only_admins_may_force(session, person, delivery, bot):
    w = await saida(session)
    maya = person(100)
    ask = DigestSendCb(network_id=w.network.id).pack()
    out = await maya.press(ask)
    assert "to 4 people now?" in texts(out)[0]
    go = DigestSendCb(network_id=w.network.id, step="go").pack()
    assert go in [d for _label, d in buttons(out)]
    out = await maya.tap("📤 Yes, send it now")
    assert "The digest of Saida Network is on its way to 3 people." in texts(out)
    await delivery.run_until_idle()
    got = [r for r in bot.take_requests() if isinstance(r, SendMessage)]
    assert sorted(r.chat_id for r in got) == [100, 101, 102]

    out = await maya.press(ask)
    assert "already went out" in texts(out)[0]
    assert buttons(out) == []  # no "send anyway" for coordinators
    out = await maya.press(go)  # a second "go" (an old button): refused too
    assert "already went out" in texts(out)[0]
    out = await maya.press(DigestSendCb(network_id=w.network.id, step="force").pack())
    assert texts(out) == ["Sorry, you are not allowed to do that."]

    admin = person(ADMIN_ID)
    out = await admin.press(ask)
    force = DigestSendCb(network_id=w.network.id, step="force").pack()
    assert force in [d for _label, d in buttons(out)]
    out = await admin.tap("⚠️ Send it again anyway")
    assert "The digest of Saida Network is on its way to 3 people." in texts(out)
    await delivery.run_until_idle()
    again = [r for r in bot.take_requests() if isinstance(r, SendMessage)]
    assert sorted(r.chat_id for r in again) == [100, 101, 102]


async def test_admin_sees_the_cross_network_digest(session, person):
    await saida(session)
    admin = person(ADMIN_ID)
    out = await admin.send("/digest")
    data = [d for _label, d in buttons(out)]
    assert data[0] == PickNetCb(purpose="digest", network_id=0).pack()
    out = await admin.tap("🌐 All networks")
    (document,) = [r for r in out if isinstance(r, SendDocument)]
    assert document.document.filename == "digest-2025-03-10.xlsx"
    (text,) = [r.text for r in out if isinstance(r, SendMessage)]
    assert "All networks" in text and "1 network · 3 members, 1 active" in text
