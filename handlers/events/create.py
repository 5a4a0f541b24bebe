"""/newevent: kind, title, start, length or end, place, description, preview, publish."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n, get_i18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date, format_time
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callbacks import NewEventCb, PickNetCb
from bot.delivery import DeliveryEngine
from bot.filters import MinLevel
from bot.keyboards import events as kb
from bot.replies import say
from bot.services import events, networks
from bot.services.access import Actor, Level
from bot.services.events import Card, EventError, Problem
from bot.text.labels import event_kind_label
from handlers.events.listing import _manage_markup
from handlers.events.states import NewEvent, router
from storage.models import Network, utcnow
from storage.models.events import EventKind


def _lengths_offered() -> list[tuple[int, str]]:
    return [(m, events.duration_label(m)) for m in kb.LENGTHS]


@router.message(Command("newevent"), MinLevel(Level.COORDINATOR))
async def new_event(
    message: Message, session: AsyncSession, actor: Actor, state: FSMContext
) -> None:
    options = await networks.coordinated(session, actor)
    if not options:
        await message.answer(_("There are no networks yet."))
    elif len(options) == 1:
        await _begin(message, state, options[0])
    else:
        await state.clear()
        await message.answer(
            _("Which network is the event for?"),
            reply_markup=keyboards.pick_network("newevent", options),
        )


@router.callback_query(PickNetCb.filter(F.purpose == "newevent"), MinLevel(Level.COORDINATOR))
async def new_event_network(
    query: CallbackQuery,
    callback_data: PickNetCb,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    network = await networks.coordinated_network(session, actor, callback_data.network_id)
    await _begin(query, state, network)


async def _begin(event: Message | CallbackQuery, state: FSMContext, network: Network) -> None:
    await state.set_state(NewEvent.kind)
    await state.set_data({"network_id": network.id, "tz": network.timezone})
    await say(
        event,
        _("New event for <b>{network}</b>. What kind of event is it?").format(
            network=escape(network.name)
        ),
        reply_markup=kb.kinds(),
    )


@router.callback_query(NewEvent.kind, NewEventCb.filter(F.step == "kind"))
async def chose_kind(query: CallbackQuery, callback_data: NewEventCb, state: FSMContext) -> None:
    if callback_data.value not in set(EventKind):
        return
    await state.update_data(kind=callback_data.value)
    await state.set_state(NewEvent.title)
    await say(
        query,
        _("{kind}. What is its title? (up to {n} characters)").format(
            kind=event_kind_label(callback_data.value), n=events.TITLE_MAX
        ),
    )


@router.message(NewEvent.title, F.text, ~F.text.startswith("/"))
async def typed_title(message: Message, state: FSMContext, i18n: I18n) -> None:
    try:
        title = events.clean_text(message.text or "", events.TITLE_MAX)
    except EventError as exc:
        await message.answer(events.problem_text(exc))
        return
    await state.update_data(title=title)
    await _ask_start(message, state, i18n)


async def _ask_start(message: Message, state: FSMContext, i18n: I18n) -> None:
    data = await state.get_data()
    await state.set_state(NewEvent.start)
    tz = data["tz"]
    await message.answer(
        _(
            "When does it start? Choose the day, or type the date and time as "
            "YYYY-MM-DD HH:MM, for example {example} ({zone})."
        ).format(
            example=events.example_datetime(tz), zone=events.zone_label(tz, i18n.current_locale)
        ),
        reply_markup=kb.days(ZoneInfo(tz), utcnow(), i18n.current_locale),
    )


@router.callback_query(NewEvent.start, NewEventCb.filter(F.step == "day"))
async def chose_day(
    query: CallbackQuery, callback_data: NewEventCb, state: FSMContext, i18n: I18n
) -> None:
    try:
        day = datetime.strptime(callback_data.value, "%Y-%m-%d").date()
    except ValueError:
        return
    await state.update_data(day=day.isoformat())
    await state.set_state(NewEvent.start_time)
    await say(
        query,
        _("At what time on {day}? Choose, or type it as HH:MM.").format(
            day=format_date(day, "full", locale=i18n.current_locale)
        ),
        reply_markup=kb.hours(),
    )


@router.message(NewEvent.start, F.text, ~F.text.startswith("/"))
async def typed_start(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    try:
        starts_at = events.parse_start(message.text or "", ZoneInfo(data["tz"]), utcnow())
    except EventError as exc:
        await message.answer(events.problem_text(exc, data["tz"]))
        return
    await _ask_end(message, state, starts_at)


@router.callback_query(NewEvent.start_time, NewEventCb.filter(F.step == "hour"))
async def chose_hour(query: CallbackQuery, callback_data: NewEventCb, state: FSMContext) -> None:
    value = callback_data.value
    await _start_at(query, state, f"{value[:2]}:{value[2:]}")


@router.message(NewEvent.start_time, F.text, ~F.text.startswith("/"))
async def typed_hour(message: Message, state: FSMContext) -> None:
    await _start_at(message, state, message.text or "")


async def _start_at(event: Message | CallbackQuery, state: FSMContext, text: str) -> None:
    data = await state.get_data()
    try:
        at = events.parse_time_of_day(text)
        starts_at = events.start_on_day(data.get("day", ""), at, ZoneInfo(data["tz"]), utcnow())
    except EventError as exc:
        step = "time" if exc.problem == Problem.FORMAT else ""
        await _reply(event, events.problem_text(exc, data["tz"], step=step))
        return
    await _ask_end(event, state, starts_at)


async def _reply(event: Message | CallbackQuery, text: str) -> None:
    """A new message below (keeps the buttons of the question above usable)."""
    if isinstance(event, CallbackQuery):
        if isinstance(event.message, Message):
            await event.message.answer(text)
        return
    await event.answer(text)


async def _ask_end(event: Message | CallbackQuery, state: FSMContext, starts_at: datetime) -> None:
    await state.update_data(starts_at=starts_at.isoformat())
    await state.set_state(NewEvent.end)
    await say(
        event,
        _(
            "How long will it last? Choose, or type a length (90 is 90 minutes, 2 is "
            "2 hours, 1h30) or the end time as HH:MM."
        ),
        reply_markup=kb.lengths(_lengths_offered()),
    )


@router.callback_query(NewEvent.end, NewEventCb.filter(F.step == "len"))
async def chose_length(query: CallbackQuery, callback_data: NewEventCb, state: FSMContext) -> None:
    if not callback_data.value.isdigit() or int(callback_data.value) not in kb.LENGTHS:
        return
    await _end_at(query, state, f"{int(callback_data.value)}m")


@router.message(NewEvent.end, F.text, ~F.text.startswith("/"))
async def typed_end(message: Message, state: FSMContext) -> None:
    await _end_at(message, state, message.text or "")


async def _end_at(event: Message | CallbackQuery, state: FSMContext, text: str) -> None:
    data = await state.get_data()
    starts_at = datetime.fromisoformat(data["starts_at"])
    try:
        ends_at = events.parse_end(text, starts_at, ZoneInfo(data["tz"]))
    except EventError as exc:
        await _reply(event, events.problem_text(exc, data["tz"], step="end"))
        return
    await state.update_data(ends_at=ends_at.isoformat())
    await state.set_state(NewEvent.place)
    length = _length_line(starts_at, ends_at, data["tz"])
    await say(
        event,
        length
        + "\n\n"
        + _("Where? Type the place (up to {n} characters).").format(n=events.PLACE_MAX),
    )


def _length_line(starts_at: datetime, ends_at: datetime, tz_name: str) -> str:
    """ "⏱ 1 hour 30 minutes, until 18:30": what a typed length was taken to mean."""
    minutes = int((ends_at - starts_at).total_seconds() // 60)
    locale = get_i18n().current_locale
    until = format_time(ends_at.astimezone(ZoneInfo(tz_name)), "short", locale=locale)
    return "⏱ " + _("{length}, until {time}").format(
        length=events.duration_label(minutes), time=until
    )


@router.message(NewEvent.place, F.text, ~F.text.startswith("/"))
async def typed_place(message: Message, state: FSMContext) -> None:
    try:
        place = events.clean_text(message.text or "", events.PLACE_MAX)
    except EventError as exc:
        await message.answer(events.problem_text(exc))
        return
    await state.update_data(place=place)
    await state.set_state(NewEvent.description)
    await message.answer(
        _("Add a short description (up to {n} characters), or continue without one.").format(
            n=events.DESCRIPTION_MAX
        ),
        reply_markup=kb.skip(),
    )


@router.message(NewEvent.description, F.text, ~F.text.startswith("/"))
async def typed_description(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    try:
        text = events.clean_text(message.text or "", events.DESCRIPTION_MAX, multiline=True)
    except EventError as exc:
        await message.answer(events.problem_text(exc))
        return
    await state.update_data(description=text)
    await _preview(message, state, session, actor, i18n)


@router.callback_query(NewEvent.description, NewEventCb.filter(F.step == "skip"))
async def skipped_description(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    await state.update_data(description=None)
    await _preview(query, state, session, actor, i18n)


def _draft(data: dict[str, Any]) -> events.Draft:
    return events.Draft(
        network_id=int(data["network_id"]),
        kind=data["kind"],
        title=data["title"],
        starts_at=datetime.fromisoformat(data["starts_at"]),
        ends_at=datetime.fromisoformat(data["ends_at"]),
        place=data["place"],
        description=data.get("description"),
    )


async def _preview(
    event: Message | CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    draft = _draft(data)
    card = Card(
        kind=draft.kind,
        title=draft.title,
        place=draft.place,
        description=draft.description,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        timezone=data["tz"],
    )
    offsets = await events.reminder_settings(session, actor, draft.network_id)
    count = await events.audience_size(session, actor, draft.network_id)
    note = _(
        "This is what {n} member will get, with a calendar file.",
        "This is what {n} members will get, with a calendar file.",
        count,
    ).format(n=count)
    reminders = _("Reminders: {offsets} before (change them in /settings).").format(
        offsets=events.offsets_label(offsets)
    )
    length = _length_line(draft.starts_at, draft.ends_at, data["tz"])
    await state.set_state(NewEvent.preview)
    await say(
        event,
        note
        + "\n\n"
        + events.announcement_text(card, i18n.current_locale)
        + "\n\n"
        + length
        + "\n"
        + reminders,
        reply_markup=kb.confirm(),
    )


# answered first: publishing sends the announcement and queues it for every member
@router.callback_query(
    NewEvent.preview,
    NewEventCb.filter(F.step == "confirm"),
    flags={"callback_answer": {"pre": True}},
)
async def confirmed(
    query: CallbackQuery,
    callback_data: NewEventCb,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    bot: Bot,
    i18n: I18n,
    delivery: DeliveryEngine,
) -> None:
    if callback_data.value != "1":
        await state.clear()
        await say(query, _("Discarded. No event was made."))
        return
    data = await state.get_data()
    now = utcnow()
    try:
        published = await events.create_event(
            session, bot, delivery, i18n, actor, _draft(data), chat_id=query.from_user.id, now=now
        )
    except EventError as exc:
        if exc.problem in (Problem.PAST, Problem.TOO_FAR):
            await say(query, events.problem_text(exc, data["tz"]))
            await state.set_state(NewEvent.start)
            if isinstance(query.message, Message):
                await _ask_start(query.message, state, i18n)
            return
        await state.clear()
        await say(query, events.problem_text(exc, data["tz"]))
        return
    await state.clear()
    event = published.event
    text = _(
        "📣 Announced to {n} member.", "📣 Announced to {n} members.", published.recipients
    ).format(n=published.recipients)
    text += "\n" + _("Reminders: {offsets} before.").format(
        offsets=events.offsets_label(published.offsets)
    )
    await say(query, text, reply_markup=_manage_markup(event, None, actor, now))
    mine = published.message
    if mine is not None and event.network_id in actor.member_network_ids:
        try:
            await bot.edit_message_reply_markup(
                chat_id=mine.chat.id,
                message_id=mine.message_id,
                reply_markup=kb.rsvp(event.id, None),
            )
        except TelegramAPIError:
            pass
