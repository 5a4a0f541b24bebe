from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from aiogram.types import MessageEntity, PhotoSize
from sqlalchemy import func, select

from storage.models import AuditEntry, Broadcast, Delivery, SendJob, User, utcnow
from tests.helpers import make_network, member_of
from tests.people import ADMIN_ID, buttons, texts


def sent_to(requests, method: str = "SendMessage") -> dict[int, list]:  # type: ignore[no-untyped-def]
    out: dict[int, list] = {}
    for r in requests:
        if type(r).__name__ == method:
            out.setdefault(r.chat_id, []).append(r)
    return out


async def network_with_people(session, person, slug="saida", **kw):  # type: ignore[no-untyped-def]
    network = await make_network(session, slug, **kw)
    coordinator = person(100)
    await member_of(session, coordinator, network, role="coordinator", name="Coord",
                    sector="youth_worker")
    members = [person(101), person(102, language_code="ar"), person(103, language_code="fr")]
    await member_of(session, members[0], network, name="A", sector="teacher")
    await member_of(session, members[1], network, name="B", lang="ar", sector="ngo")
    await member_of(session, members[2], network, name="C", lang="fr", sector="teacher")
    return network, coordinator, members


async def test_broadcast_to_everyone_with_formatting(session, person, delivery, bot):
    _network, coordinator, members = await network_with_people(session, person)
    out = await coordinator.send("/broadcast")
    assert "bcaud:all" in [b[1] for b in buttons(out)]
    await coordinator.tap("Everyone")
    text = "Meeting moved to <Thursday> & room 2"
    bold = MessageEntity(type="bold", offset=0, length=7)
    out = await coordinator.send(text, entities=[bold])
    preview = [r for r in out if getattr(r, "text", None) == text]
    assert preview and preview[0].parse_mode is None and preview[0].entities[0].type == "bold"
    assert "It will reach 4 people in Saida Network (everyone)." in texts(out)
    out = await coordinator.tap("Send now")
    assert "Sending…" in texts(out)
    await delivery.run_until_idle()
    requests = bot.take_requests()
    got = sent_to(requests)
    for p in (coordinator, *members):
        assert len(got[p.user.id]) == 1, p.user.id
        message = got[p.user.id][0]
        assert message.text == text and message.parse_mode is None
        assert message.entities[0].type == "bold"
        assert message.reply_markup.inline_keyboard[0][0].callback_data.startswith("ack:")
    labels = {p.user.id: got[p.user.id][0].reply_markup.inline_keyboard[0][0].text
              for p in members}
    assert labels[101] == "✓ Understood" and labels[103] == "✓ Compris"
    assert labels[102] not in (labels[101], labels[103])  # Arabic
    # the author's one progress message was edited to the final summary
    edits = [r for r in requests if type(r).__name__ == "EditMessageText" and r.chat_id == 100]
    assert edits and edits[-1].text.startswith("Broadcast sent.")
    assert "Delivered: 4 of 4" in edits[-1].text
    broadcast = await session.scalar(select(Broadcast))
    assert broadcast is not None and broadcast.preview == text
    assert await session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "broadcast")
    ) == 1


async def test_understood_is_counted_once_and_only_by_its_recipient(session, person, delivery, bot):
    _network, coordinator, members = await network_with_people(session, person)
    await coordinator.send("/broadcast")
    await coordinator.tap("Everyone")
    await coordinator.send("Training on Sunday")
    await coordinator.tap("Send now")
    await delivery.run_until_idle()
    got = sent_to(bot.take_requests())
    other = got[102][0].reply_markup.inline_keyboard[0][0].callback_data
    out = await members[0].press(other)  # someone else's button, forged
    assert texts(out) == ["This button is no longer valid."]
    out = await members[0].tap("✓ Understood")
    assert texts(out) == ["Thank you!"]
    await members[0].tap("✓ Understood")
    out = await coordinator.send("/broadcasts")
    assert "understood 1" in texts(out)[0] and "delivered 4/4" in texts(out)[0]
    acked = await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.acked_at.is_not(None))
    )
    assert acked == 1


async def test_sector_audience_and_photo(session, person, delivery, bot):
    _network, coordinator, _members = await network_with_people(session, person)
    await coordinator.send("/broadcast")
    await coordinator.tap("Some sectors…")
    out = await coordinator.tap("☐ Teacher")
    assert ("☑ Teacher", "bcsec:teacher") in buttons(out)
    await coordinator.tap("Continue")
    photo = [PhotoSize(file_id="small", file_unique_id="s", width=90, height=90),
             PhotoSize(file_id="big", file_unique_id="b", width=800, height=800)]
    out = await coordinator.send_media(photo=photo, caption="Workshop photos")
    assert "It will reach 2 people in Saida Network (Teacher)." in texts(out), out
    await coordinator.tap("Send now")
    await delivery.run_until_idle()
    got = sent_to(bot.take_requests(), "SendPhoto")
    assert set(got) == {101, 103}, got
    assert got[101][0].photo == "big" and got[101][0].caption == "Workshop photos"


async def test_members_cannot_broadcast_and_admin_sends_to_two_networks(session, person,
                                                                        delivery, bot):
    saida, _coordinator, members = await network_with_people(session, person)
    out = await members[0].send("/broadcast")
    assert texts(out) == ["Only coordinators can use /broadcast."]
    out = await members[0].press("bcgo:send")
    assert texts(out) == ["This button is no longer valid."]
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    await member_of(session, members[0], irbid, name="A")  # in both networks
    await member_of(session, person(201), irbid, name="D")
    admin = person(ADMIN_ID)
    out = await admin.send("/broadcast")
    assert {f"bcnet:{saida.id}", f"bcnet:{irbid.id}"} <= {b[1] for b in buttons(out)}
    await admin.tap("☐ Saida Network")
    await admin.tap("☐ Irbid Network")
    await admin.tap("Continue")
    await admin.tap("Everyone")
    out = await admin.send("To both networks")
    assert "It will reach 5 people in Irbid Network and Saida Network (everyone)." in texts(out)
    await admin.tap("Send now")
    await delivery.run_until_idle()
    got = sent_to(bot.take_requests())
    assert sorted(got) == [100, 101, 102, 103, 201] and len(got[101]) == 1, sorted(got)
    job = await session.scalar(select(SendJob))
    assert job is not None and job.total == 5 and job.network_id is None


async def test_coordinator_cannot_broadcast_to_another_network(session, person):
    await network_with_people(session, person)
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    coordinator = person(100)
    await coordinator.send("/broadcast")  # single network: goes straight to the audience
    out = await coordinator.press(f"bcnet:{irbid.id}")
    assert texts(out) == ["This button is no longer valid."]  # not in the networks step
    await coordinator.send("/cancel")
    # even in the right step, the service refuses another network's id
    await session.execute(select(User))
    out = await coordinator.press(f"net:broadcast:{irbid.id}")
    assert texts(out) == ["This button is no longer valid."]


async def test_schedule_then_cancel(session, person, delivery, bot):
    _network, coordinator, _members = await network_with_people(session, person)
    await coordinator.send("/broadcast")
    await coordinator.tap("Coordinators only")
    out = await coordinator.send("Coordinators meeting")
    assert "It will reach 1 person in Saida Network (coordinators only)." in texts(out)
    out = await coordinator.tap("Schedule…")
    assert texts(out) == ["When? Send the date and time as YYYY-MM-DD HH:MM (Asia/Beirut time)."]
    out = await coordinator.send("2020-01-01 10:00")
    assert texts(out) == ["That time has passed. Please send a time in the future."]
    out = await coordinator.send("tomorrow")
    assert texts(out) == ["Please write it as YYYY-MM-DD HH:MM, for example 2026-03-01 18:30."]
    when = (utcnow() + timedelta(days=2)).astimezone(ZoneInfo("Asia/Beirut"))
    out = await coordinator.send(when.strftime("%Y-%m-%d %H:%M"))
    assert any(t.startswith("Scheduled for") for t in texts(out))
    job = await session.scalar(select(SendJob))
    assert job is not None and job.status == "scheduled"
    assert abs((job.due_at - when).total_seconds()) < 60
    await delivery.run_until_idle()
    assert sent_to(bot.take_requests()) == {}  # not due yet
    out = await coordinator.send("/broadcasts")
    assert "scheduled for" in texts(out)[0]
    out = await coordinator.tap("Cancel scheduled #1")
    assert texts(out) == ["The scheduled broadcast was cancelled."]
    await session.refresh(job)
    assert job.status == "cancelled"
