"""/help, /cancel and /language: open to everyone."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callbacks import LangCb
from bot.commands import commands_for, set_chat_menu
from bot.config import Settings
from bot.replies import say
from bot.services import profile
from bot.services.access import Actor, Level
from bot.text.labels import LANGUAGE_NAMES

router = Router(name=__name__)


@router.message(Command("help"))
async def help_(message: Message, actor: Actor) -> None:
    lines = [f"/{name} — {desc}" for name, desc in commands_for(actor.level)]
    if actor.level == Level.STRANGER:
        intro = _("To join your Prevention Network, open your invite link or send /join CODE.")
    else:
        intro = _("Here is what you can do:")
    await message.answer(intro + "\n\n" + "\n".join(lines))


@router.message(Command("language"))
async def language(message: Message, i18n: I18n) -> None:
    await message.answer(
        _("Choose your language:"), reply_markup=keyboards.languages(i18n.current_locale)
    )


# answered first: the new language's command menu is set too
@router.callback_query(LangCb.filter(), flags={"callback_answer": {"pre": True}})
async def set_language(
    query: CallbackQuery,
    callback_data: LangCb,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    bot: Bot,
    settings: Settings,
) -> None:
    code = callback_data.code
    if code not in LANGUAGE_NAMES:
        return
    await profile.set_language(session, actor, code)
    with i18n.use_locale(code):
        await say(query, _("From now on I will speak {language}.").format(
            language=LANGUAGE_NAMES[code]
        ))
        await set_chat_menu(bot, i18n, actor.tg_id, actor.level, code, settings.webapp_url)


@router.my_chat_member()
async def blocked_or_unblocked(
    event: ChatMemberUpdated, session: AsyncSession, actor: Actor
) -> None:
    """Telegram tells us when a person blocks (kicked) or unblocks (member) the bot."""
    if event.chat.type != "private":
        return
    status = event.new_chat_member.status
    if status in {"kicked", "left"}:
        await profile.set_reachable(session, actor, reachable=False)
    elif status == "member":
        await profile.set_reachable(session, actor, reachable=True)
