from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from storage.models import AuditEntry, Membership, MembershipStatus, User, utcnow
from tests.helpers import join, make_invite, make_network
from tests.people import buttons, texts


async def test_join_by_deep_link_in_english(session, person):
    network = await make_network(session)
    invite = await make_invite(session, network.id)
    p = person(101)
    out = await join(p, invite.code)
    assert (
        "Welcome to <b>Saida Network</b>! You will get meeting reminders and updates here. Send "
        "/help to see what you can do."
    ) in texts(out)
    markups = [getattr(r, "reply_markup", None) for r in out]
    keyboards = [m for m in markups if type(m).__name__ == "ReplyKeyboardMarkup"]
    assert keyboards and keyboards[0].keyboard[0][0].text == "📝 Report an activity"
    user = await session.scalar(select(User).where(User.tg_id == 101))
    assert user is not None and user.display_name == "Rana" and user.language == "en"
    m = await session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert m is not None and m.status == MembershipStatus.ACTIVE and m.sector == "teacher"
    actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "join" in actions


async def test_used_up_code_is_refused(session, person):
    network = await make_network(session)
    invite = await make_invite(session, network.id, max_uses=1)
    await join(person(101), invite.code)
    out = await person(102).send(f"/join {invite.code}")
    assert texts(out) == [
        "This invite to Saida Network has already been used as many times as allowed. Ask your "
        "coordinator for a new one."
    ]


async def test_wrong_code(person, session):
    out = await person(101).send("/start nosuchcode123")
    assert texts(out) == [
        "I do not know this code. Check it with your coordinator, or open the invite link they "
        "sent you."
    ]


async def test_expired_and_revoked(session, person):
    network = await make_network(session)
    invite = await make_invite(session, network.id)
    invite.expires_at = utcnow() - timedelta(minutes=1)
    await session.commit()
    out = await person(101).send(f"/join {invite.code}")
    assert texts(out) == [
        "This invite to Saida Network has expired. Ask your coordinator for a new one."
    ]
    other = await make_invite(session, network.id)
    other.revoked_at = utcnow()
    await session.commit()
    out = await person(101).send(f"/join {other.code}")
    assert texts(out) == [
        "This invite to Saida Network was withdrawn. Ask your coordinator for a new one."
    ]


async def test_arabic_dialog(session, person):
    network = await make_network(session, name="شبكة صيدا")
    invite = await make_invite(session, network.id)
    p = person(103, language_code="ar")
    out = await p.send(f"/start {invite.code}")
    assert ("✓ العربية", "lang:ar") in buttons(out)
    out = await join(p, invite.code, lang="ar", name="رنا <b>")
    user = await session.scalar(select(User).where(User.tg_id == 103))
    assert user is not None and user.language == "ar" and user.display_name == "رنا <b>"
    assert not any("<b>" in t and "رنا <b>" in t for t in texts(out))
    count = await session.scalar(select(func.count()).select_from(Membership))
    assert count == 1


async def test_escapes_and_limits_the_name(session, person):
    network = await make_network(session)
    invite = await make_invite(session, network.id)
    p = person(104)
    await p.send(f"/start {invite.code}")
    await p.tap("✓ English")
    out = await p.send("x" * 65)
    assert texts(out) == ["Please send a name of 1 to 64 characters, on one line."]
    out = await p.send("A <b>&")
    assert texts(out) == ["Thank you, A &lt;b&gt;&amp;. What is your field of work?"]


async def test_cancel_leaves_nothing_stored(session, person):
    network = await make_network(session)
    invite = await make_invite(session, network.id)
    p = person(105)
    await p.send(f"/start {invite.code}")
    await p.tap("Français")
    out = await p.send("/cancel")
    assert texts(out) and "Nothing was changed" in texts(out)[0]
    out = await p.send("Rana")  # no longer in the dialog
    assert not buttons(out)
    assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_declining_consent_stores_nothing(session, person):
    network = await make_network(session)
    invite = await make_invite(session, network.id)
    p = person(106)
    await p.send(f"/start {invite.code}")
    await p.tap("✓ English")
    await p.send("Rana")
    await p.tap("NGO staff")
    out = await p.tap("No, thanks")
    assert texts(out) == ["Understood. Nothing was stored. You can join later with the same link."]
    assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_dialog_survives_a_restart(session, settings, session_pool, bot, person):
    """FSM state lives in the database: a new dispatcher carries on the same dialog."""
    from bot.factory import create_dispatcher
    from tests.people import Person

    network = await make_network(session)
    invite = await make_invite(session, network.id)
    await person(107).send(f"/start {invite.code}")
    await person(107).tap("✓ English")
    restarted = Person(create_dispatcher(settings, session_pool, bot), bot, 107)
    out = await restarted.send("Rana")
    assert "sec:teacher" in [b[1] for b in buttons(out)]


async def test_approval_flow(session, person):
    network = await make_network(session, require_approval=True)
    coordinator = person(200)
    await join(coordinator, (await make_invite(session, network.id, role="coordinator")).code)
    member = person(201)
    out = await join(member, (await make_invite(session, network.id)).code)
    assert any("waiting" in t or "was sent to its coordinator" in t for t in texts(out))
    # the coordinator was told, with buttons
    notice = [r for r in out if getattr(r, "chat_id", None) == 200]
    assert notice and "asks to join" in notice[0].text
    approve = next(b for b in buttons(notice) if b[1].endswith(":1"))[1]
    m = await session.scalar(select(Membership).join(User).where(User.tg_id == 201))
    assert m is not None and m.status == MembershipStatus.PENDING
    # the pending member is not yet a member
    out = await member.send("/leave")
    assert texts(out) == [
        "Please join your network first: open your invite link or send /join CODE."
    ]
    out = await coordinator.tap("Approve")
    assert any(getattr(r, "chat_id", None) == 201 and "approved" in r.text for r in out)
    await session.refresh(m)
    assert m.status == MembershipStatus.ACTIVE
    out = await coordinator.press(approve)  # the same button again, already handled
    assert texts(out) == ["This request was already handled."]


async def test_join_twice_is_refused_politely(session, person):
    network = await make_network(session)
    p = person(108)
    await join(p, (await make_invite(session, network.id)).code)
    out = await p.send(f"/join {(await make_invite(session, network.id)).code}")
    assert texts(out) == ["You are already a member of Saida Network."]


async def test_join_without_code_explains(person):
    out = await person(109).send("/join")
    assert texts(out) == [
        "Send the code your coordinator gave you after /join, for example:\n<code>/join "
        "Ab3dE5fG7hJ9</code>"
    ]
