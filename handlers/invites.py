"""/invite: coordinators and admins make invite codes and links in the bot."""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.markdown import html_decoration as hd
from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callback_answer import CallbackAnswer
from bot.callbacks import InviteCb, PickNetCb, RevokeCb
from bot.filters import MinLevel
from bot.replies import say
from bot.services import networks, registration
from bot.services.access import Actor, Level
from bot.text.labels import role_label
from storage.models import Invite, Role, utcnow

router = Router(name=__name__)
router.message.filter(MinLevel(Level.COORDINATOR))
router.callback_query.filter(MinLevel(Level.COORDINATOR))

INVITE_DAYS = 14


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


@router.message(Command("invite"))
async def invite(message: Message, session: AsyncSession, actor: Actor) -> None:
    options = await networks.coordinated(session, actor)
    if not options:
        await message.answer(_("There are no networks yet."))
        return
    if len(options) == 1:
        text, markup = _role_or_uses(actor, options[0].id)
        await message.answer(text, reply_markup=markup)
        return
    await message.answer(
        _("Which network is the invite for?"),
        reply_markup=keyboards.pick_network("invite", options),
    )


def _role_or_uses(actor: Actor, network_id: int) -> tuple[str, InlineKeyboardMarkup]:
    if actor.is_admin:
        return _("Invite as member or as coordinator?"), keyboards.invite_roles(network_id)
    return (
        _("How many people may use this invite?"),
        keyboards.invite_uses(network_id, Role.MEMBER),
    )


@router.callback_query(PickNetCb.filter(F.purpose == "invite"))
async def picked_network(query: CallbackQuery, callback_data: PickNetCb, actor: Actor) -> None:
    actor.require_coordinator(callback_data.network_id)
    text, markup = _role_or_uses(actor, callback_data.network_id)
    await say(query, text, reply_markup=markup)


@router.callback_query(InviteCb.filter(F.uses == 0))
async def picked_role(query: CallbackQuery, callback_data: InviteCb, actor: Actor) -> None:
    actor.require_coordinator(callback_data.network_id)
    await say(
        query,
        _("How many people may use this invite?"),
        reply_markup=keyboards.invite_uses(callback_data.network_id, callback_data.role),
    )


@router.callback_query(InviteCb.filter(F.uses > 0))
async def create(
    query: CallbackQuery,
    callback_data: InviteCb,
    session: AsyncSession,
    actor: Actor,
    bot: Bot,
    i18n: I18n,
) -> None:
    if callback_data.uses not in keyboards.INVITE_USE_CHOICES:
        return
    made = await registration.make_invite(
        session,
        network_id=callback_data.network_id,
        role=callback_data.role,
        max_uses=callback_data.uses,
        days=INVITE_DAYS,
        now=utcnow(),
        actor=actor,
    )
    me = await bot.me()
    text = invite_text(made, me.username or "", i18n.current_locale)
    await say(query, text, reply_markup=keyboards.revoke(made.id))


def invite_text(made: Invite, bot_username: str, locale: str) -> str:
    return _(
        "Invite to <b>{network}</b> as {role}, {uses}, valid until {expires}.\n\n"
        "Link: {link}\nCode: <code>{code}</code>\n\n"
        "Forward the link to the person, or give them the code for /join."
    ).format(
        network=escape(made.network.name),
        role=role_label(made.role),
        uses=_("for {n} person", "for {n} people", made.max_uses).format(n=made.max_uses),
        expires=_date(made.expires_at, locale),
        link=hd.quote(deep_link(bot_username, made.code)),
        code=made.code,
    )


def _date(value: datetime, locale: str) -> str:
    return format_date(value.date(), format="medium", locale=locale)


@router.callback_query(RevokeCb.filter())
async def revoke(
    query: CallbackQuery,
    callback_data: RevokeCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    done = await registration.revoke_invite(session, actor, callback_data.invite_id, utcnow())
    callback_answer.text = (
        _("The invite was revoked.") if done else _("This invite was already revoked.")
    )
    callback_answer.show_alert = True
    if done and isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
