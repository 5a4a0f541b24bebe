"""Groups and channels (handlers/groups.py): the bot leaves unless an admin added it, and
nothing said there starts a dialog; Telegram's service accounts get no role."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from aiogram.methods import LeaveChat
from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberRestricted,
    ChatMemberUpdated,
    Message,
    Update,
)
from aiogram.types import User as TgUser
from sqlalchemy import func, select

from bot.factory import create_dispatcher
from bot.services import registration
from bot.services.access import Actor, Level
from bot.services.registration import InviteError, InviteProblem
from storage.models import Invite, Membership, User, utcnow
from tests.helpers import make_invite, make_network, member_of
from tests.mocked_bot import BOT_ID
from tests.people import Person, _update_ids, texts

ANONYMOUS_ADMIN, TELEGRAM = 1087968824, 777000
BOT = TgUser(id=BOT_ID, is_bot=True, first_name="Prevnet")


def rights(model: type) -> dict[str, bool]:
    """Every required yes/no right of a ChatMember type, all off."""
    return {name: False for name, f in model.model_fields.items()  # type: ignore[attr-defined]
            if f.is_required() and f.annotation is bool}


def added(chat: Chat, by: TgUser, status: str = "member") -> Update:
    """The bot's own membership of `chat` changes from left to `status`, done by `by`."""
    new = {
        "member": ChatMemberMember(user=BOT),
        "administrator": ChatMemberAdministrator(user=BOT, **rights(ChatMemberAdministrator)),
        "left": ChatMemberLeft(user=BOT),
        "restricted": ChatMemberRestricted(
            user=BOT, until_date=0, **{**rights(ChatMemberRestricted), "is_member": True}
        ),
    }[status]
    old = ChatMemberLeft(user=BOT) if status != "left" else ChatMemberMember(user=BOT)
    return Update(update_id=next(_update_ids), my_chat_member=ChatMemberUpdated(
        chat=chat, from_user=by, date=0, old_chat_member=old, new_chat_member=new,
    ))


def person(tg_id: int) -> TgUser:
    return TgUser(id=tg_id, is_bot=False, first_name="P")


GROUP = Chat(id=-500, type="group", title="G")
SUPERGROUP = Chat(id=-1001, type="supergroup", title="S")
CHANNEL = Chat(id=-1002, type="channel", title="C")


@pytest.mark.parametrize(("chat", "status"), [
    (GROUP, "member"), (SUPERGROUP, "administrator"), (CHANNEL, "administrator"),
    (SUPERGROUP, "restricted"),
])
async def test_a_stranger_adding_the_bot_makes_it_leave(dp, bot, caplog, chat, status):  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO, logger="bot.services.chats"):
        await dp.feed_update(bot, added(chat, person(555), status))
    requests = bot.take_requests()
    assert [(type(r), r.chat_id) for r in requests] == [(LeaveChat, chat.id)]
    assert [r.getMessage() for r in caplog.records if r.name == "bot.services.chats"] == [
        f"added to {chat.type} {chat.id} by user 555, not an admin: leaving"
    ]


async def test_an_admin_adding_the_bot_makes_it_stay(dp, bot, caplog, settings):  # type: ignore[no-untyped-def]
    admin = next(iter(settings.admin_ids))
    with caplog.at_level(logging.INFO, logger="bot.services.chats"):
        for chat in (GROUP, CHANNEL):
            await dp.feed_update(bot, added(chat, person(admin), "administrator"))
    assert bot.take_requests() == []
    assert [r.getMessage() for r in caplog.records if r.name == "bot.services.chats"] == [
        f"added to group -500 by admin {admin}: staying",
        f"added to channel -1002 by admin {admin}: staying",
    ]
    # removed again (or after leaving): nothing to do, nothing logged
    caplog.clear()
    await dp.feed_update(bot, added(GROUP, person(555), "left"))
    assert bot.take_requests() == [] and caplog.records == []


async def test_an_anonymous_admin_is_no_admin_even_in_admin_ids(session_pool, bot, settings):  # type: ignore[no-untyped-def]
    admin_ids = frozenset({*settings.admin_ids, ANONYMOUS_ADMIN, TELEGRAM})
    dp = create_dispatcher(settings.model_copy(update={"admin_ids": admin_ids}), session_pool, bot)
    await dp.feed_update(bot, added(SUPERGROUP, person(ANONYMOUS_ADMIN), "administrator"))
    assert [type(r) for r in bot.take_requests()] == [LeaveChat]
    for tg_id in (ANONYMOUS_ADMIN, TELEGRAM, 136817688):
        actor = Actor.build(tg_id, None, admin_ids)
        assert (actor.is_admin, actor.level) == (False, Level.STRANGER)


async def test_messages_and_presses_in_a_group_start_nothing(session, person, bot, dp):  # type: ignore[no-untyped-def]
    network = await make_network(session)
    invite = await make_invite(session, network.id)
    member = person(61)
    await member_of(session, member, network)
    await session.execute(User.__table__.update().where(User.tg_id == 61).values(
        unreachable_since=datetime(2026, 1, 1, tzinfo=UTC)))
    await session.commit()
    stranger = person(62)
    stranger.chat = member.chat = SUPERGROUP
    for p in (stranger, member):
        for text in (f"/start {invite.code}", f"/join {invite.code}", "/help", "/newevent",
                     "/frobnicate", "hello"):
            assert await p.send(text) == [], text
        message = Message(message_id=5, date=datetime.now(UTC), chat=SUPERGROUP, from_user=BOT,
                          text="…")
        query = CallbackQuery(id="q1", from_user=p.user, chat_instance="ci", message=message,
                              data="lang:en")
        await dp.feed_update(bot, Update(update_id=next(_update_ids), callback_query=query))
        assert bot.take_requests() == []
    assert await session.scalar(select(func.count()).select_from(Membership)) == 1
    assert await session.scalar(select(Invite.uses).where(Invite.id == invite.id)) == 0
    assert await session.scalar(select(func.count()).select_from(User).where(User.tg_id == 62)) == 0
    unreachable = await session.scalar(select(User.unreachable_since).where(User.tg_id == 61))
    assert unreachable is not None  # a word in a group is not a sign they unblocked the bot


async def test_service_accounts_never_join(session, person):  # type: ignore[no-untyped-def]
    network = await make_network(session)
    invite = await make_invite(session, network.id, max_uses=5)
    for tg_id, command, lang, refusal in (
        (ANONYMOUS_ADMIN, "/start", "en", "This Telegram account cannot join a network."),
        (TELEGRAM, "/join", "ar", "لا يمكن لحساب تيليغرام هذا الانضمام إلى أي شبكة."),
    ):
        out = await person(tg_id, language_code=lang).send(f"{command} {invite.code}")
        assert texts(out) == [refusal]
        with pytest.raises(InviteError) as info:  # the service refuses, whatever the path
            await registration.register(
                session, tg_id=tg_id, code=invite.code, language="en", display_name="X",
                sector="teacher", now=utcnow(),
            )
        assert info.value.problem == InviteProblem.SERVICE_ACCOUNT
    assert await session.scalar(select(func.count()).select_from(Membership)) == 0
    assert await session.scalar(select(func.count()).select_from(User)) == 0
    assert await session.scalar(select(Invite.uses).where(Invite.id == invite.id)) == 0


async def test_a_flood_in_a_group_is_dropped_silently_and_spares_the_private_chat(
    session_pool, bot, settings
):  # type: ignore[no-untyped-def]
    dp = create_dispatcher(settings.model_copy(update={"flood_limit": 3}), session_pool, bot)
    p = Person(dp, bot, 63)
    private, p.chat = p.chat, GROUP
    for n in range(6):  # three over the limit: no notice to anyone
        assert await p.send(f"spam {n}") == []
    p.chat = private
    for _ in range(3):  # her own budget is whole
        out = await p.send("/help")
        assert texts(out)[0].startswith("To join your Prevention Network"), out
    out = await p.send("/help")
    assert texts(out) == [
        "You are sending messages faster than I can read them. Please wait a few seconds, "
        "then send your message again."
    ]
