"""/members: a coordinator's list of their network's members, with pending requests."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callback_answer import CallbackAnswer
from bot.callbacks import PickNetCb
from bot.filters import MinLevel
from bot.replies import say
from bot.services import networks, registration
from bot.services.access import Actor, Level
from bot.text.labels import role_label, sector_label
from storage.models import Network, Role

router = Router(name=__name__)
router.message.filter(MinLevel(Level.COORDINATOR))
router.callback_query.filter(MinLevel(Level.COORDINATOR))


@router.message(Command("members"))
async def members(message: Message, session: AsyncSession, actor: Actor) -> None:
    options = await networks.coordinated(session, actor)
    if not options:
        await message.answer(_("There are no networks yet."))
    elif len(options) == 1:
        await _show(message, session, options[0])
    else:
        await message.answer(
            _("Which network?"), reply_markup=keyboards.pick_network("members", options)
        )


@router.callback_query(PickNetCb.filter(F.purpose == "members"))
async def picked(
    query: CallbackQuery,
    callback_data: PickNetCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    network = await networks.coordinated_network(session, actor, callback_data.network_id)
    await callback_answer.now()  # the list, then a message per pending request
    await _show(query, session, network)


async def _show(event: Message | CallbackQuery, session: AsyncSession, network: Network) -> None:
    active, pending = await registration.members_of(session, network)
    lines = [
        _("<b>{network}</b>: {n} member", "<b>{network}</b>: {n} members", len(active)).format(
            network=escape(network.name), n=len(active)
        )
    ]
    for m in active:
        badge = " ★" if m.role == Role.COORDINATOR else ""
        unreachable = " ⚠" if m.user.unreachable_since else ""
        lines.append(
            f"• {escape(m.user.display_name or '?')}{badge} — {sector_label(m.sector)}{unreachable}"
        )
    if any(m.role == Role.COORDINATOR for m in active) or any(
        m.user.unreachable_since for m in active
    ):
        lines.append("")
        lines.append(
            _("★ {coordinator} · ⚠ has blocked the bot").format(
                coordinator=role_label(Role.COORDINATOR)
            )
        )
    await say(event, "\n".join(lines))
    message = event.message if isinstance(event, CallbackQuery) else event
    for m in pending:
        if isinstance(message, Message):
            await message.answer(
                _("{name} ({sector}) is waiting for approval.").format(
                    name=escape(m.user.display_name or "?"), sector=sector_label(m.sector)
                ),
                reply_markup=keyboards.approve(m.id),
            )
