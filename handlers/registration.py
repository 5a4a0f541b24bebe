"""Joining a network: /start CODE, /join CODE, then language, name, sector, consent."""

from __future__ import annotations

import logging
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callback_answer import CallbackAnswer
from bot.callbacks import ApproveCb, ConsentCb, LangCb, NameCb, SectorCb
from bot.commands import set_chat_menu
from bot.config import SUPPORTED_LOCALES, Settings
from bot.filters import MinLevel
from bot.i18n import pick_locale
from bot.keyboards.reports import menu_label, report_menu
from bot.replies import say, tell
from bot.services import dashboard, registration
from bot.services.access import Actor, Level
from bot.services.registration import InviteError
from handlers.notify import notify_coordinators_of_join
from storage.models import utcnow

router = Router(name=__name__)
log = logging.getLogger(__name__)


class Join(StatesGroup):
    language = State()
    name = State()
    sector = State()
    consent = State()


async def begin(
    message: Message, code: str, session: AsyncSession, state: FSMContext, actor: Actor
) -> None:
    try:
        invite = await registration.check_invite(session, code, actor.tg_id, utcnow())
    except InviteError as exc:
        await state.clear()
        name = exc.network.name if exc.network else None
        await message.answer(registration.problem_text(exc.problem, name))
        return
    suggested = pick_locale(actor.user.language if actor.user else None, message.from_user, "")
    await state.set_state(Join.language)
    await state.set_data({"code": code})
    await message.answer(
        _("Welcome! You are joining <b>{network}</b>.\nWhich language do you prefer?").format(
            network=escape(invite.network.name)
        ),
        reply_markup=keyboards.languages(suggested or None),
    )


@router.message(CommandStart(deep_link=True))
async def start_with_code(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    state: FSMContext,
    actor: Actor,
) -> None:
    await begin(message, (command.args or "").strip(), session, state, actor)


@router.message(Command("join"))
async def join(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    state: FSMContext,
    actor: Actor,
) -> None:
    code = (command.args or "").strip()
    if not code:
        await message.answer(
            _("Send the code your coordinator gave you after /join, for example:\n"
              "<code>/join Ab3dE5fG7hJ9</code>")
        )
        return
    await begin(message, code, session, state, actor)


@router.message(CommandStart())
async def start(
    message: Message, actor: Actor, bot: Bot, i18n: I18n, settings: Settings
) -> None:
    if actor.level == Level.STRANGER:
        await message.answer(
            _(
                "Hello! I am the assistant of the municipal Prevention Networks.\n"
                "To join your network, open the invite link your coordinator sent you, "
                "or send /join followed by your code."
            )
        )
    else:
        name = escape(actor.user.display_name or "") if actor.user else ""
        await message.answer(
            _("Welcome back, {name}! Send /help to see what I can do.").format(name=name)
        )
        # WEBAPP_URL: the Dashboard menu button for coordinators and admins.
        await dashboard.set_menu_button(
            bot, i18n, settings.webapp_url, actor.tg_id, actor.level, i18n.current_locale
        )


@router.callback_query(Join.language, LangCb.filter())
async def chose_language(
    query: CallbackQuery, callback_data: LangCb, state: FSMContext, i18n: I18n
) -> None:
    if callback_data.code not in SUPPORTED_LOCALES:
        return
    await state.update_data(language=callback_data.code)
    await state.set_state(Join.name)
    with i18n.use_locale(callback_data.code):
        tg_name = query.from_user.full_name
        markup = keyboards.use_telegram_name(tg_name) if registration.clean_name(tg_name) else None
        await say(
            query,
            _("What name should the other members see? Type it, or use the button."),
            reply_markup=markup,
        )


@router.callback_query(Join.name, NameCb.filter())
async def chose_telegram_name(query: CallbackQuery, state: FSMContext, i18n: I18n) -> None:
    name = registration.clean_name(query.from_user.full_name)
    data = await state.get_data()
    with i18n.use_locale(data.get("language", i18n.default_locale)):
        if name is None:
            await say(query, _("Please type the name the other members should see."))
            return
        await _ask_sector(query, state, name)


@router.message(Join.name, F.text, ~F.text.startswith("/"))
async def typed_name(message: Message, state: FSMContext, i18n: I18n) -> None:
    name = registration.clean_name(message.text or "")
    data = await state.get_data()
    with i18n.use_locale(data.get("language", i18n.default_locale)):
        if name is None:
            await message.answer(
                _("Please send a name of 1 to {max} characters, on one line.").format(
                    max=registration.NAME_MAX
                )
            )
            return
        await _ask_sector(message, state, name)


async def _ask_sector(event: Message | CallbackQuery, state: FSMContext, name: str) -> None:
    await state.update_data(name=name)
    await state.set_state(Join.sector)
    await say(
        event,
        _("Thank you, {name}. What is your field of work?").format(name=escape(name)),
        reply_markup=keyboards.sectors(),
    )


@router.callback_query(Join.sector, SectorCb.filter())
async def chose_sector(
    query: CallbackQuery, callback_data: SectorCb, state: FSMContext, i18n: I18n
) -> None:
    await state.update_data(sector=callback_data.sector.value)
    await state.set_state(Join.consent)
    data = await state.get_data()
    with i18n.use_locale(data.get("language", i18n.default_locale)):
        await say(query, privacy_notice(), reply_markup=keyboards.consent())


def privacy_notice() -> str:
    return _(
        "<b>Privacy notice</b>\n"
        "We store your Telegram id, the name you chose, your field of work, your language, "
        "what you send to the network (answers to events, activity reports, your feedback "
        "on trainings) and the actions of the network's plan you are responsible for. "
        "Only your network's coordinators and the programme staff can see them; they see "
        "feedback on trainings without your name. "
        "Reports about activities must not name young people.\n"
        "You can get a copy of your data with /mydata, and leave with /leave: "
        "your personal data is then erased.\n\n"
        "Do you agree?"
    )


# answered first: joining is several steps and messages
@router.callback_query(Join.consent, ConsentCb.filter(), flags={"callback_answer": {"pre": True}})
async def consented(
    query: CallbackQuery,
    callback_data: ConsentCb,
    state: FSMContext,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    settings: Settings,
) -> None:
    data = await state.get_data()
    language = data.get("language", i18n.default_locale)
    with i18n.use_locale(language):
        if not callback_data.ok:
            await state.clear()
            await say(
                query,
                _("Understood. Nothing was stored. You can join later with the same link."),
            )
            return
        if not {"code", "name", "sector"} <= data.keys():
            await state.clear()
            await say(query, _("This registration is incomplete. Please open your link again."))
            return
        try:
            result = await registration.register(
                session,
                tg_id=query.from_user.id,
                code=data["code"],
                language=language,
                display_name=data["name"],
                sector=data["sector"],
                now=utcnow(),
            )
        except InviteError as exc:
            await state.clear()
            name = exc.network.name if exc.network else None
            await say(query, registration.problem_text(exc.problem, name))
            return
        await state.clear()
        network = escape(result.network.name)
        if result.pending:
            text = _(
                "Thank you! Your request to join <b>{network}</b> was sent to its coordinator. "
                "I will tell you when it is approved."
            ).format(network=network)
        else:
            text = _(
                "Welcome to <b>{network}</b>! You will get meeting reminders and updates here. "
                "Send /help to see what you can do."
            ).format(network=network)
        await say(query, text)
        level = Level.COORDINATOR if result.membership.role == "coordinator" else Level.MEMBER
        if not result.pending:
            await tell(
                bot,
                query.from_user.id,
                _("Whenever you have run an activity, tap “{button}” below to report it.").format(
                    button=menu_label()
                ),
                reply_markup=report_menu(),
            )
            if query.from_user.id in settings.admin_ids:
                level = Level.ADMIN
            await set_chat_menu(
                bot, i18n, query.from_user.id, level, language, settings.webapp_url
            )
    await notify_coordinators_of_join(bot, session, i18n, result)


@router.callback_query(ApproveCb.filter(), MinLevel(Level.COORDINATOR))
async def decide(
    query: CallbackQuery,
    callback_data: ApproveCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    bot: Bot,
    i18n: I18n,
) -> None:
    membership = await registration.decide_join(
        session, actor, callback_data.membership_id, callback_data.ok, utcnow()
    )
    if membership is None:
        callback_answer.text = _("This request was already handled.")
        callback_answer.show_alert = True
        return
    await callback_answer.now()  # before the messages to both and the new menu
    name = escape(membership.user.display_name or "")
    network = escape(membership.network.name)
    if callback_data.ok:
        text = _("{name} is now a member of {network}.")
    else:
        text = _("You declined {name}'s request to join {network}.")
    await say(query, text.format(name=name, network=network))
    language = membership.user.language or i18n.default_locale
    with i18n.use_locale(language):
        if callback_data.ok:
            answer = _("Your request to join <b>{network}</b> was approved. Welcome!")
        else:
            answer = _("Your request to join <b>{network}</b> was not approved.")
        await tell(bot, membership.user.tg_id, answer.format(network=network))
        if callback_data.ok:
            # The menu button stays: the person may coordinate another network.
            await set_chat_menu(bot, i18n, membership.user.tg_id, Level.MEMBER, language)


@router.message(StateFilter(Join), ~F.text.startswith("/"))
async def dialog_other(message: Message, state: FSMContext, i18n: I18n) -> None:
    """Something unexpected inside the dialog: say what we are waiting for."""
    data = await state.get_data()
    with i18n.use_locale(data.get("language", i18n.default_locale)):
        current = await state.get_state()
        if current == Join.name.state:
            await message.answer(_("Please type your name as text."))
        else:
            await message.answer(
                _("Please use the buttons above, or send /cancel to stop.")
            )
