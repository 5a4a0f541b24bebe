"""/newnetwork: admins create a network from the bot (name, country, time zone, language,
approval of joins, slug), with the same checks as `prevnet network add`, then invite its
first coordinator."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel import Locale
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import NewNetCb
from bot.filters import TYPED, MinLevel
from bot.keyboards import networks as kb
from bot.replies import say
from bot.services import networks as service
from bot.services.access import Actor, Level
from bot.services.networks import NetworkError
from bot.text.labels import LANGUAGE_NAMES

router = Router(name=__name__)
router.message.filter(MinLevel(Level.ADMIN))
router.callback_query.filter(MinLevel(Level.ADMIN))

TEXT = TYPED


class NewNetwork(StatesGroup):
    name = State()
    country = State()
    timezone = State()
    language = State()
    approval = State()
    preview = State()
    slug = State()


def country_name(code: str, locale: str) -> str:
    return str(Locale.parse(locale).territories.get(code, code))


# ------------------------------------------------------------------------ dialog


@router.message(Command("newnetwork"))
async def new_network(message: Message, state: FSMContext) -> None:
    await state.clear()
    await state.set_state(NewNetwork.name)
    await message.answer(
        _("A new network. What is its name? For example: Saida Prevention Network.")
    )


@router.message(NewNetwork.name, TEXT)
async def typed_name(
    message: Message, state: FSMContext, session: AsyncSession, i18n: I18n
) -> None:
    try:
        name = service.check_name(message.text or "")
    except NetworkError as exc:
        await message.answer(service.problem_text(exc))
        return
    await state.update_data(name=name)
    await state.set_state(NewNetwork.country)
    locale = i18n.current_locale
    codes = await service.countries_offered(session)
    await message.answer(
        _("In which country? Choose, or type its two-letter code (such as LB or JO)."),
        reply_markup=kb.countries((c, country_name(c, locale)) for c in codes),
    )


@router.callback_query(NewNetwork.country, NewNetCb.filter(F.step == "country"))
async def chose_country(query: CallbackQuery, callback_data: NewNetCb, state: FSMContext) -> None:
    await _country(query, state, callback_data.value)


@router.message(NewNetwork.country, TEXT)
async def typed_country(message: Message, state: FSMContext) -> None:
    await _country(message, state, message.text or "")


async def _country(event: Message | CallbackQuery, state: FSMContext, typed: str) -> None:
    try:
        country = service.check_country(typed)
    except NetworkError as exc:
        await say(event, service.problem_text(exc))
        return
    await state.update_data(country=country)
    await state.set_state(NewNetwork.timezone)
    zones = service.zones_of(country)
    if zones:
        await say(
            event,
            _("Its time zone? Choose, or type it (such as Asia/Beirut)."),
            reply_markup=kb.zones(zones),
        )
    else:
        await say(event, _("Its time zone? Type it, such as Asia/Beirut."))


@router.callback_query(NewNetwork.timezone, NewNetCb.filter(F.step == "tz"))
async def chose_zone(query: CallbackQuery, callback_data: NewNetCb, state: FSMContext) -> None:
    await _zone(query, state, callback_data.value)


@router.message(NewNetwork.timezone, TEXT)
async def typed_zone(message: Message, state: FSMContext) -> None:
    await _zone(message, state, message.text or "")


async def _zone(event: Message | CallbackQuery, state: FSMContext, typed: str) -> None:
    try:
        zone = service.find_timezone(typed)
    except NetworkError as exc:
        await say(event, service.problem_text(exc))
        return
    await state.update_data(tz=zone)
    await state.set_state(NewNetwork.language)
    await say(
        event,
        _("Which language will the network use (for its digest, calendar files and new "
          "members)? Each member may still choose their own."),
        reply_markup=kb.languages(),
    )


@router.callback_query(NewNetwork.language, NewNetCb.filter(F.step == "lang"))
async def chose_language(query: CallbackQuery, callback_data: NewNetCb, state: FSMContext) -> None:
    try:
        locale = service.check_locale(callback_data.value)
    except NetworkError as exc:
        await say(query, service.problem_text(exc))
        return
    await state.update_data(locale=locale)
    await state.set_state(NewNetwork.approval)
    await say(query, _("Must a coordinator approve each person who joins?"),
              reply_markup=kb.approval())


@router.callback_query(NewNetwork.approval, NewNetCb.filter(F.step == "approval"))
async def chose_approval(
    query: CallbackQuery,
    callback_data: NewNetCb,
    state: FSMContext,
    session: AsyncSession,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    slug = await service.free_slug(session, data["name"])
    await state.update_data(approval=callback_data.value == "1", slug=slug)
    await _preview(query, state, i18n)


async def _preview(event: Message | CallbackQuery, state: FSMContext, i18n: I18n) -> None:
    data = await state.get_data()
    locale = i18n.current_locale
    await state.set_state(NewNetwork.preview)
    joins = (
        _("a coordinator approves each join") if data["approval"]
        else _("an invite is enough")
    )
    text = _(
        "<b>New network</b>, please check:\n\n"
        "Name: <b>{name}</b>\n"
        "Short name: <code>{slug}</code>\n"
        "Country: {country}\n"
        "Time zone: {zone}\n"
        "Language: {language}\n"
        "Joining: {joins}"
    ).format(
        name=escape(data["name"]),
        slug=escape(data["slug"]),
        country=escape(f"{country_name(data['country'], locale)} ({data['country']})"),
        zone=escape(data["tz"]),
        language=LANGUAGE_NAMES.get(data["locale"], data["locale"]),
        joins=joins,
    )
    await say(event, text, reply_markup=kb.preview())


@router.callback_query(NewNetwork.preview, NewNetCb.filter(F.step == "slug"))
async def change_slug(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(NewNetwork.slug)
    await say(
        query,
        _("Type the short name: 2 to 32 lowercase letters (a-z), digits or dashes. It is "
          "used on the command line, such as prevnet invite --network saida."),
    )


@router.message(NewNetwork.slug, TEXT)
async def typed_slug(
    message: Message, state: FSMContext, session: AsyncSession, i18n: I18n
) -> None:
    try:
        slug = await service.check_free(session, message.text or "")
    except NetworkError as exc:
        await message.answer(service.problem_text(exc))
        return
    await state.update_data(slug=slug)
    await _preview(message, state, i18n)


@router.callback_query(NewNetwork.preview, NewNetCb.filter(F.step == "go"))
async def create(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    data = await state.get_data()
    try:
        network = await service.create_network(
            session,
            slug=data["slug"],
            name=data["name"],
            country=data["country"],
            timezone=data["tz"],
            locale=data["locale"],
            require_approval=bool(data["approval"]),
            actor=actor,
        )
    except NetworkError as exc:
        await session.rollback()
        await state.set_state(NewNetwork.slug)
        await say(query, service.problem_text(exc))
        return
    await state.clear()
    await say(
        query,
        _("The network <b>{name}</b> is created (short name <code>{slug}</code>). "
          "Invite its first coordinator now, or later with /invite.").format(
            name=escape(network.name), slug=escape(network.slug)
        ),
        reply_markup=kb.first_invite(network.id),
    )


@router.callback_query(StateFilter(NewNetwork), NewNetCb.filter(F.step == "cancel"))
async def cancel(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await say(query, _("Cancelled. Nothing was changed."))


@router.message(StateFilter(NewNetwork), ~F.text.startswith("/"))
async def other_input(message: Message) -> None:
    await message.answer(_("Please use the buttons above, or send /cancel to stop."))
