from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.services import registration
from storage.models import AuditEntry, Invite, Membership, User
from tests.helpers import make_invite, make_network, member_of
from tests.people import ADMIN_ID, buttons, texts


def help_commands(out) -> set[str]:  # type: ignore[no-untyped-def]
    return {w.strip() for t in texts(out) for w in t.split() if w.startswith("/")}


async def test_help_depends_on_role(session, person):
    network = await make_network(session)
    stranger, member, coordinator = person(1), person(2), person(3)
    await member_of(session, member, network)
    await member_of(session, coordinator, network, role="coordinator")
    assert "/invite" not in help_commands(await stranger.send("/help"))
    assert "/mydata" not in help_commands(await stranger.send("/help"))
    seen = help_commands(await member.send("/help"))
    assert {"/mydata", "/leave"} <= seen and "/invite" not in seen
    assert {"/invite", "/members"} <= help_commands(await coordinator.send("/help"))


async def test_member_cannot_use_coordinator_commands(session, person):
    network = await make_network(session)
    member = person(2)
    await member_of(session, member, network)
    for command in ("/invite", "/members"):
        out = await member.send(command)
        assert texts(out) == [f"Only coordinators can use {command}."]
    # a forged invite button does not reach the handler either
    out = await member.press(f"inv:{network.id}:member:50")
    assert texts(out) == ["This button is no longer valid."]
    assert await session.scalar(select(func.count()).select_from(Invite)) == 1


async def test_stranger_is_told_to_join(person):
    out = await person(5).send("/leave")
    assert texts(out) == [
        "Please join your network first: open your invite link or send /join CODE."
    ]
    out = await person(5).send("hello")
    assert texts(out) == [
        "Please join your network first: open your invite link or send /join CODE."
    ]


async def test_coordinator_cannot_touch_another_network(session, person):
    saida = await make_network(session, "saida")
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman",
                               require_approval=True)
    coordinator = person(10)
    await member_of(session, coordinator, saida, role="coordinator")
    stranger = person(11)
    await stranger.send(f"/start {(await make_invite(session, irbid.id)).code}")
    await stranger.tap("✓ English")
    await stranger.send("Omar")
    await stranger.tap("Community police")
    await stranger.tap("I agree")
    pending = await session.scalar(select(Membership).where(Membership.network_id == irbid.id))
    assert pending is not None and pending.status == "pending"
    out = await coordinator.press(f"appr:{pending.id}:1")
    assert texts(out) == ["Sorry, you are not allowed to do that."]
    await session.refresh(pending)
    assert pending.status == "pending"
    out = await coordinator.press(f"net:invite:{irbid.id}")
    assert texts(out) == ["Sorry, you are not allowed to do that."]
    # a coordinator may not make coordinator invites
    out = await coordinator.press(f"inv:{saida.id}:coordinator:5")
    assert texts(out) == ["Sorry, you are not allowed to do that."]


async def test_invite_in_the_bot_and_revoke(session, person):
    network = await make_network(session)
    coordinator = person(10)
    await member_of(session, coordinator, network, role="coordinator")
    out = await coordinator.send("/invite")
    choices = [b[1] for b in buttons(out)]
    assert choices == [f"inv:{network.id}:member:{n}" for n in (1, 5, 20, 50)]
    out = await coordinator.tap("for 5 people")
    invite = await session.scalar(select(Invite).order_by(Invite.id.desc()))
    assert invite is not None and invite.max_uses == 5
    assert any(f"https://t.me/prevnet_test_bot?start={invite.code}" in t for t in texts(out))
    assert any("for 5 people" in t for t in texts(out))
    out = await coordinator.tap("Revoke this invite")
    assert "The invite was revoked." in texts(out)
    await session.refresh(invite)
    assert invite.revoked_at is not None
    actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions.count("invite") >= 2 and "invite_revoke" in actions


async def test_admin_picks_network_and_role(session, person):
    await make_network(session, "saida")
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    admin = person(ADMIN_ID)
    out = await admin.send("/invite")
    assert f"net:invite:{irbid.id}" in [b[1] for b in buttons(out)]
    out = await admin.tap("Irbid Network")
    assert f"inv:{irbid.id}:coordinator:0" in [b[1] for b in buttons(out)]


async def test_mydata_sends_everything(session, person, bot):
    network = await make_network(session)
    p = person(20)
    await member_of(session, p, network, name="Lina")
    out = await p.send("/mydata")
    docs = [r for r in out if type(r).__name__ == "SendDocument"]
    assert len(docs) == 1
    data = json.loads(docs[0].document.data)  # type: ignore[union-attr]
    assert data["display_name"] == "Lina" and data["telegram_user_id"] == 20
    assert data["memberships"][0]["network_slug"] == "saida"
    assert [e["action"] for e in data["audit_log"]] == ["join"]


async def test_leave_erases_personal_data(session, person):
    network = await make_network(session)
    p = person(21)
    await member_of(session, p, network, name="Lina")
    out = await p.send("/leave")
    assert f"leave:{network.id}:1" in [b[1] for b in buttons(out)]
    out = await p.tap("Yes, leave and erase")
    assert texts(out) == ["You left Saida Network. Your personal data has been erased. Goodbye!"]
    assert await session.scalar(select(func.count()).select_from(User)) == 0
    leave = await session.scalar(select(AuditEntry).where(AuditEntry.action == "leave"))
    assert leave is not None and leave.subject_id is None and leave.network_id == network.id
    out = await p.send("/mydata")
    assert texts(out) == ["I store nothing about you."]


async def test_leave_one_of_two_networks_keeps_the_person(session, person):
    saida = await make_network(session, "saida")
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    p = person(22)
    await member_of(session, p, saida)
    await member_of(session, p, irbid)
    out = await p.send("/leave")
    assert {f"net:leave:{saida.id}", f"net:leave:{irbid.id}"} <= {b[1] for b in buttons(out)}
    await p.tap("Irbid Network")
    out = await p.tap("Yes, leave and erase")
    assert texts(out) == ["You left Irbid Network. You are still a member of your other networks."]
    user = await session.scalar(select(User).where(User.tg_id == 22))
    assert user is not None and user.display_name == "Rana"


STRANGER_HELP = (
    "To join your Prevention Network, open your invite link or send /join CODE.\n\n"
    "/start — Start or open an invite\n/join — Join a network with a code\n"
    "/help — What I can do for you\n/language — Change the language\n"
    "/cancel — Stop what we are doing"
)


async def test_duplicate_update_is_handled_once(person):
    p = person(30)
    first = await p.send("/help", update_id=777_000)
    again = await p.send("/help", update_id=777_000)
    assert texts(first) == [STRANGER_HELP] and again == []


async def test_handler_error_gets_an_apology_and_the_bot_goes_on(person, monkeypatch):
    async def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database on fire")

    monkeypatch.setattr(registration, "check_invite", boom)
    p = person(31)
    out = await p.send("/join abcdefgh")
    assert texts(out) == ["Sorry, something went wrong on my side. Please try again."]
    monkeypatch.undo()
    out = await p.send("/help")
    assert texts(out) == [STRANGER_HELP]


async def test_members_list_escapes_names(session, person):
    network = await make_network(session)
    coordinator = person(40)
    await member_of(session, coordinator, network, role="coordinator", name="Coord")
    await member_of(session, person(41), network, name="<i>Sami</i>")
    out = await coordinator.send("/members")
    text = texts(out)[0]
    assert "&lt;i&gt;Sami&lt;/i&gt;" in text and "2 members" in text


async def test_unknown_command_and_stale_button(person):
    out = await person(50).send("/frobnicate")
    assert texts(out) == ["I do not know this command. Send /help to see what I can do."]
    out = await person(50).press("garbage:data")
    assert texts(out) == ["This button is no longer valid."]


async def test_blocking_the_bot_marks_the_member_unreachable(session, person):
    from aiogram.types import ChatMemberBanned, ChatMemberMember, ChatMemberUpdated, Update
    from aiogram.types import User as TgUser

    from tests.people import _update_ids

    network = await make_network(session)
    p = person(70)
    await member_of(session, p, network)
    bot_user = TgUser(id=42, is_bot=True, first_name="Prevnet")

    def change(old, new):  # type: ignore[no-untyped-def]
        return Update(update_id=next(_update_ids), my_chat_member=ChatMemberUpdated(
            chat=p.chat, from_user=p.user, date=0, old_chat_member=old, new_chat_member=new,
        ))

    member = ChatMemberMember(user=bot_user)
    kicked = ChatMemberBanned(user=bot_user, until_date=0)
    await p.feed(change(member, kicked))
    user = await session.scalar(select(User).where(User.tg_id == 70))
    await session.refresh(user)
    assert user is not None and user.unreachable_since is not None
    await p.feed(change(kicked, member))
    await session.refresh(user)
    assert user.unreachable_since is None
    await p.feed(change(member, kicked))
    await p.send("/help")  # writing again means they unblocked
    await session.refresh(user)
    assert user.unreachable_since is None


async def test_a_reply_to_someone_who_just_blocked_the_bot_marks_them(session, person, bot):
    network = await make_network(session)
    p = person(71)
    await member_of(session, p, network)
    bot.session.add_error(403, "Forbidden: bot was blocked by the user")
    out = await p.send("/help")
    assert len(out) == 1  # the failed reply; no apology is attempted
    user = await session.scalar(select(User).where(User.tg_id == 71))
    await session.refresh(user)
    assert user is not None and user.unreachable_since is not None


async def test_admins_read_the_audit_log_and_others_cannot(session, person):
    network = await make_network(session, name="Saida <Net>")
    coordinator = person(80)
    await member_of(session, coordinator, network, role="coordinator", name="Maya")
    out = await coordinator.send("/audit")
    assert texts(out) == ["Only the programme staff (admins) can use /audit."]
    out = await person(ADMIN_ID).send("/audit")
    text = texts(out)[0]
    lines = text.splitlines()
    assert lines[0] == "<b>Audit log</b>, newest first (UTC):"
    assert "joined · Saida &lt;Net&gt; · by Maya" in lines[1]  # newest first
    assert any("network created · Saida &lt;Net&gt;" in line for line in lines)
    assert "/audit" in " ".join(texts(await person(ADMIN_ID).send("/help")))
    assert "/audit" not in " ".join(texts(await coordinator.send("/help")))
