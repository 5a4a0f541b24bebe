"""Events: /newevent (coordinators), /events, RSVP buttons, answers, attendance, change and
cancel; and the reminder part of /settings (see the section at the end)."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date, format_time, get_timezone_location
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot import keyboards_events as kb
from bot.callbacks import AttendCb, EventCb, NewEventCb, OffsetCb, PickNetCb, RsvpCb
from bot.delivery import DeliveryEngine
from bot.filters import MinLevel
from bot.labels import ANSWER_ICONS, ANSWER_LABELS, answer_label, event_kind_label, join_list
from bot.replies import say
from bot.services import events, networks
from bot.services.access import Actor, Level
from bot.services.events import Card, EventError, Problem
from storage.models import Network, utcnow
from storage.models.events import Answer, Event, EventKind, EventStatus
from storage.repositories.events import Person

router = Router(name=__name__)

EXAMPLE_HOUR = 17


class NewEvent(StatesGroup):
    kind = State()
    title = State()
    start = State()
    start_time = State()
    end = State()
    place = State()
    description = State()
    preview = State()


class EditEvent(StatesGroup):
    start = State()
    place = State()


# ------------------------------------------------------------------------- texts


def zone_label(tz_name: str, locale: str) -> str:
    return str(get_timezone_location(ZoneInfo(tz_name), locale=locale))


def example_datetime(tz_name: str) -> str:
    tomorrow = (utcnow().astimezone(ZoneInfo(tz_name)) + timedelta(days=1)).date()
    return f"{tomorrow.isoformat()} {EXAMPLE_HOUR}:00"


def problem_text(exc: EventError, tz_name: str | None = None, *, step: str = "") -> str:
    """What to tell the person about a refused value or action."""
    problem = exc.problem
    if problem == Problem.FORMAT:
        if step == "time":
            return _("Please type the time as HH:MM, for example 17:00.")
        if step == "end":
            return _(
                "Please type the end time as HH:MM, a length such as 90 (minutes), "
                "2 (hours), 1h30 or 1.5h, or the end date and time as YYYY-MM-DD HH:MM."
            )
        return _(
            "Please type the date and time as YYYY-MM-DD HH:MM, for example {example}."
        ).format(example=example_datetime(tz_name or "UTC"))
    if problem == Problem.NONEXISTENT:
        wall = exc.details.get("wall")
        return _(
            "{time} does not exist in {zone}: the clocks change that night. "
            "Please choose another time."
        ).format(
            time=wall.strftime("%Y-%m-%d %H:%M") if isinstance(wall, datetime) else "",
            zone=zone_label(tz_name or "UTC", _locale()),
        )
    simple = {
        Problem.PAST: _("This time has already passed. Please choose a time in the future."),
        Problem.TOO_FAR: _("Please choose a date within the next year."),
        Problem.END_BEFORE_START: _("The end must be after the start. Please try again."),
        Problem.TOO_LONG: _("An event can last at most 7 days. Please try again."),
        Problem.TEXT_EMPTY: _("Please type it as ordinary text, on one line."),
        Problem.OFFSETS: _(
            "Please send up to {n} times between 1 minute and 14 days, such as "
            "<code>1d 3h 30m</code>, or <code>none</code> for no reminders."
        ).format(n=events.MAX_OFFSETS),
        Problem.CANCELLED: _("This event was cancelled."),
        Problem.STARTED: _("This event has already started; it can no longer be changed."),
        Problem.OVER: _("This event is over."),
        Problem.NOT_STARTED: _("Attendance can be marked once the event has started."),
        Problem.CHANGED: _("Someone else changed this event meanwhile. Please open it again."),
    }
    if problem == Problem.TEXT_TOO_LONG:
        return _(
            "That is {length} characters; please keep it to {limit}."
        ).format(length=exc.details.get("length", 0), limit=exc.details.get("limit", 0))
    return simple.get(problem, _("Please try again."))


def _locale() -> str:
    from aiogram.utils.i18n import get_i18n

    return get_i18n().current_locale


def lengths_offered() -> list[tuple[int, str]]:
    return [(m, events.duration_label(m)) for m in kb.LENGTHS]


# ------------------------------------------------------------------ /newevent


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
    network = await events.network_for(session, actor, callback_data.network_id)
    await query.answer()
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
    await query.answer()
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
        await message.answer(problem_text(exc))
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
        ).format(example=example_datetime(tz), zone=zone_label(tz, i18n.current_locale)),
        reply_markup=kb.days(ZoneInfo(tz), utcnow(), i18n.current_locale),
    )


@router.callback_query(NewEvent.start, NewEventCb.filter(F.step == "day"))
async def chose_day(
    query: CallbackQuery, callback_data: NewEventCb, state: FSMContext, i18n: I18n
) -> None:
    await query.answer()
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
        await message.answer(problem_text(exc, data["tz"]))
        return
    await _ask_end(message, state, starts_at)


@router.callback_query(NewEvent.start_time, NewEventCb.filter(F.step == "hour"))
async def chose_hour(query: CallbackQuery, callback_data: NewEventCb, state: FSMContext) -> None:
    await query.answer()
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
        await _reply(event, problem_text(exc, data["tz"], step=step))
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
        reply_markup=kb.lengths(lengths_offered()),
    )


@router.callback_query(NewEvent.end, NewEventCb.filter(F.step == "len"))
async def chose_length(query: CallbackQuery, callback_data: NewEventCb, state: FSMContext) -> None:
    await query.answer()
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
        await _reply(event, problem_text(exc, data["tz"], step="end"))
        return
    await state.update_data(ends_at=ends_at.isoformat())
    await state.set_state(NewEvent.place)
    length = _length_line(starts_at, ends_at, data["tz"])
    await say(event, length + "\n\n" + _("Where? Type the place (up to {n} characters).").format(
        n=events.PLACE_MAX
    ))


def _length_line(starts_at: datetime, ends_at: datetime, tz_name: str) -> str:
    """"⏱ 1 hour 30 minutes, until 18:30": what a typed length was taken to mean."""
    minutes = int((ends_at - starts_at).total_seconds() // 60)
    until = format_time(ends_at.astimezone(ZoneInfo(tz_name)), "short", locale=_locale())
    return "⏱ " + _("{length}, until {time}").format(
        length=events.duration_label(minutes), time=until
    )


@router.message(NewEvent.place, F.text, ~F.text.startswith("/"))
async def typed_place(message: Message, state: FSMContext) -> None:
    try:
        place = events.clean_text(message.text or "", events.PLACE_MAX)
    except EventError as exc:
        await message.answer(problem_text(exc))
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
        await message.answer(problem_text(exc))
        return
    await state.update_data(description=text)
    await _preview(message, state, session, actor, i18n)


@router.callback_query(NewEvent.description, NewEventCb.filter(F.step == "skip"))
async def skipped_description(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    await query.answer()
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
        note + "\n\n" + events.announcement_text(card, i18n.current_locale) + "\n\n"
        + length + "\n" + reminders,
        reply_markup=kb.confirm(),
    )


@router.callback_query(NewEvent.preview, NewEventCb.filter(F.step == "confirm"))
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
    await query.answer()
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
            await say(query, problem_text(exc, data["tz"]))
            await state.set_state(NewEvent.start)
            if isinstance(query.message, Message):
                await _ask_start(query.message, state, i18n)
            return
        await state.clear()
        await say(query, problem_text(exc, data["tz"]))
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


# --------------------------------------------------------------------- RSVP


@router.callback_query(RsvpCb.filter())
async def rsvp(
    query: CallbackQuery,
    callback_data: RsvpCb,
    session: AsyncSession,
    actor: Actor,
) -> None:
    try:
        event = await events.set_rsvp(
            session, actor, callback_data.event_id, callback_data.answer, utcnow()
        )
    except EventError as exc:
        await query.answer(problem_text(exc), show_alert=True)
        return
    answer = callback_data.answer
    await query.answer(_("Your answer: {answer}.").format(answer=ANSWER_LABELS[answer]))
    if isinstance(query.message, Message):
        markup = query.message.reply_markup
        # The announcement or reminder itself (3 RSVP buttons), or the event's own view.
        new = (
            _manage_markup(event, answer, actor, utcnow())
            if markup is not None and len(_flat(markup)) > len(Answer)
            else kb.rsvp(event.id, answer)
        )
        try:
            await query.message.edit_reply_markup(reply_markup=new)
        except TelegramBadRequest:
            pass  # "message is not modified": the same answer again


def _flat(markup: InlineKeyboardMarkup) -> list[Any]:
    return [b for row in markup.inline_keyboard for b in row]


# ------------------------------------------------------------------- /events


@router.message(Command("events"), MinLevel(Level.MEMBER))
async def list_events(
    message: Message, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    now = utcnow()
    listing = await events.list_events(session, actor, now)
    if not listing.upcoming and not listing.to_mark:
        await message.answer(_("No events are planned at the moment."))
        return
    locale = i18n.current_locale
    lines: list[str] = []
    if listing.upcoming:
        lines.append(_("<b>Coming events</b>"))
        for n, event in enumerate(listing.upcoming, 1):
            lines.append("")
            lines.append(
                "{n}. <b>{title}</b> ({kind})\n🕔 {when}\n📍 {place}\n{answer}".format(
                    n=n,
                    title=escape(event.title),
                    kind=event_kind_label(event.kind),
                    when=events.when_text(
                        event.starts_at, event.ends_at, event.network.timezone, locale
                    ),
                    place=escape(event.place),
                    answer=events.answer_line(listing.answers.get(event.id)),
                )
            )
    if listing.to_mark:
        lines.append("")
        lines.append(_("<b>Recent events</b>: mark who came."))
        for event in listing.to_mark:
            lines.append("• " + escape(event.title))
    upcoming = [(e.id, f"{n}. {e.title}") for n, e in enumerate(listing.upcoming, 1)]
    to_mark = [(e.id, e.title) for e in listing.to_mark]
    text = "\n".join(lines)
    if len(text) > events.TEXT_MAX:
        text = text[: events.TEXT_MAX - 1] + "…"
    await message.answer(text, reply_markup=kb.listing(upcoming, to_mark))


def _manage_markup(
    event: Event, answer: str | None, actor: Actor, now: datetime
) -> InlineKeyboardMarkup | None:
    scheduled = event.status == EventStatus.SCHEDULED
    return kb.event_actions(
        event.id,
        answer,
        can_answer=scheduled and event.ends_at > now and actor.user is not None,
        can_manage=scheduled and actor.can_coordinate(event.network_id),
        started=event.starts_at <= now,
    )


async def _show(
    event_obj: CallbackQuery, session: AsyncSession, actor: Actor, event: Event, locale: str
) -> None:
    now = utcnow()
    answer = await events.my_answer(session, actor, event.id)
    header = _("❌ <b>Cancelled</b>") if event.status == EventStatus.CANCELLED else ""
    text = events.card_text(
        Card.of(event), locale, header=header, footer=events.answer_line(answer)
    )
    await say(event_obj, text, reply_markup=_manage_markup(event, answer, actor, now))


@router.callback_query(EventCb.filter(F.action == "show"))
async def show(
    query: CallbackQuery,
    callback_data: EventCb,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    state: FSMContext,
) -> None:
    event = await events.event_for_member(session, actor, callback_data.event_id)
    if await state.get_state() in (EditEvent.start.state, EditEvent.place.state):
        await state.clear()
    await query.answer()
    await _show(query, session, actor, event, i18n.current_locale)


# ------------------------------------------------------- coordinators: answers


def _names(people: list[Person]) -> str:
    if not people:
        return "—"
    return join_list(escape(p.display_name or "#" + str(p.user_id)) for p in people)


@router.callback_query(EventCb.filter(F.action == "who"))
async def who(
    query: CallbackQuery, callback_data: EventCb, session: AsyncSession, actor: Actor
) -> None:
    result = await events.responses(session, actor, callback_data.event_id)
    await query.answer()
    event = result.event
    lines = [_("<b>{title}</b>: answers").format(title=escape(event.title)), ""]
    for answer in Answer:
        people = result.by_answer[answer.value]
        lines.append(
            f"{ANSWER_ICONS[answer]} {answer_label(answer)} ({len(people)}): {_names(people)}"
        )
    lines.append(
        _("No answer yet ({n}): {names}").format(
            n=len(result.by_answer["none"]), names=_names(result.by_answer["none"])
        )
    )
    if event.starts_at <= utcnow():
        lines.append("")
        lines.append(_("Came: {n}").format(n=result.attended))
    text = "\n".join(lines)
    if len(text) > events.TEXT_MAX:
        text = text[: events.TEXT_MAX - 1] + "…"
    await say(query, text, reply_markup=kb.back(event.id))


# ---------------------------------------------------- coordinators: attendance


async def _attendance_view(
    query: CallbackQuery, session: AsyncSession, actor: Actor, event_id: int
) -> None:
    result = await events.responses(session, actor, event_id)
    event = result.event
    if event.status == EventStatus.CANCELLED:
        raise EventError(Problem.CANCELLED)
    if event.starts_at > utcnow():
        raise EventError(Problem.NOT_STARTED)
    # Those who said they would come first, then the others.
    order = [Answer.GOING.value, Answer.MAYBE.value, "none", Answer.NO.value]
    people = [p for key in order for p in result.by_answer[key]]
    text = _(
        "Who came to <b>{title}</b>? Tap a name to mark or unmark it. Marked: {n}."
    ).format(title=escape(event.title), n=result.attended)
    await say(query, text, reply_markup=kb.attendance(event.id, people))


@router.callback_query(EventCb.filter(F.action == "attend"))
async def attendance(
    query: CallbackQuery, callback_data: EventCb, session: AsyncSession, actor: Actor
) -> None:
    try:
        await _attendance_view(query, session, actor, callback_data.event_id)
    except EventError as exc:
        await query.answer(problem_text(exc), show_alert=True)
        return
    await query.answer()


@router.callback_query(AttendCb.filter())
async def mark_attendance(
    query: CallbackQuery, callback_data: AttendCb, session: AsyncSession, actor: Actor
) -> None:
    try:
        came = await events.toggle_attendance(
            session, actor, callback_data.event_id, callback_data.user_id, utcnow()
        )
        await _attendance_view(query, session, actor, callback_data.event_id)
    except EventError as exc:
        await query.answer(problem_text(exc), show_alert=True)
        return
    await query.answer(_("Marked as present.") if came else _("Mark removed."))


# --------------------------------------------------- coordinators: change, cancel


@router.callback_query(EventCb.filter(F.action == "edit"))
async def edit_menu(
    query: CallbackQuery, callback_data: EventCb, session: AsyncSession, actor: Actor
) -> None:
    event = await events.event_for_coordinator(session, actor, callback_data.event_id)
    await query.answer()
    await say(
        query,
        _("What do you want to change in <b>{title}</b>? Those who answered “going” or "
          "“maybe” will be told.").format(title=escape(event.title)),
        reply_markup=kb.edit_menu(event.id),
    )


@router.callback_query(EventCb.filter(F.action.in_({"time", "place"})))
async def edit_field(
    query: CallbackQuery,
    callback_data: EventCb,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    event = await events.event_for_coordinator(session, actor, callback_data.event_id)
    await query.answer()
    tz = event.network.timezone
    await state.set_data({"event_id": event.id, "tz": tz})
    if callback_data.action == "time":
        await state.set_state(EditEvent.start)
        length = int((event.ends_at - event.starts_at).total_seconds() // 60)
        text = _(
            "Send the new start as YYYY-MM-DD HH:MM ({zone}), for example {example}. "
            "It will still last {length}."
        ).format(
            zone=zone_label(tz, i18n.current_locale),
            example=example_datetime(tz),
            length=events.duration_label(length),
        )
    else:
        await state.set_state(EditEvent.place)
        text = _("Send the new place (up to {n} characters).").format(n=events.PLACE_MAX)
    await say(query, text, reply_markup=kb.back(event.id))


@router.message(EditEvent.start, F.text, ~F.text.startswith("/"))
async def typed_new_start(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    bot: Bot,
    i18n: I18n,
    delivery: DeliveryEngine,
) -> None:
    data = await state.get_data()
    now = utcnow()
    try:
        starts_at = events.parse_start(message.text or "", ZoneInfo(data["tz"]), now)
        changed = await events.update_event(
            session, bot, delivery, i18n, actor, int(data["event_id"]),
            chat_id=message.chat.id, now=now, starts_at=starts_at,
        )
    except EventError as exc:
        await _edit_refused(message, state, exc, data["tz"])
        return
    await state.clear()
    await message.answer(_changed_text(changed))


@router.message(EditEvent.place, F.text, ~F.text.startswith("/"))
async def typed_new_place(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    bot: Bot,
    i18n: I18n,
    delivery: DeliveryEngine,
) -> None:
    data = await state.get_data()
    try:
        changed = await events.update_event(
            session, bot, delivery, i18n, actor, int(data["event_id"]),
            chat_id=message.chat.id, now=utcnow(), place=message.text or "",
        )
    except EventError as exc:
        await _edit_refused(message, state, exc, data["tz"])
        return
    await state.clear()
    await message.answer(_changed_text(changed))


async def _edit_refused(message: Message, state: FSMContext, exc: EventError, tz: str) -> None:
    if exc.problem in (Problem.CANCELLED, Problem.STARTED, Problem.CHANGED):
        await state.clear()  # asking again would not help
    await message.answer(problem_text(exc, tz))


def _changed_text(changed: events.Changed) -> str:
    if not changed.changed:
        return _("Nothing changed.")
    return _(
        "Changed. {n} person who answered “going” or “maybe” is being told.",
        "Changed. {n} people who answered “going” or “maybe” are being told.",
        changed.told,
    ).format(n=changed.told)


@router.callback_query(EventCb.filter(F.action == "cancel"))
async def cancel_ask(
    query: CallbackQuery, callback_data: EventCb, session: AsyncSession, actor: Actor
) -> None:
    event = await events.event_for_coordinator(session, actor, callback_data.event_id)
    await query.answer()
    await say(
        query,
        _("Cancel <b>{title}</b>? Those who answered “going” or “maybe” will be told.").format(
            title=escape(event.title)
        ),
        reply_markup=kb.cancel_confirm(event.id),
    )


@router.callback_query(EventCb.filter(F.action == "cancel_ok"))
async def cancel_confirmed(
    query: CallbackQuery,
    callback_data: EventCb,
    session: AsyncSession,
    actor: Actor,
    bot: Bot,
    i18n: I18n,
    delivery: DeliveryEngine,
) -> None:
    try:
        changed = await events.cancel_event(
            session, bot, delivery, i18n, actor, callback_data.event_id,
            chat_id=query.from_user.id, now=utcnow(),
        )
    except EventError as exc:
        await query.answer(problem_text(exc), show_alert=True)
        return
    await query.answer()
    await say(
        query,
        _(
            "The event is cancelled. {n} person who answered “going” or “maybe” is being told.",
            "The event is cancelled. {n} people who answered “going” or “maybe” are being told.",
            changed.told,
        ).format(n=changed.told),
    )


# ===================================================================== /settings
# Network settings for coordinators. For now only the event reminder offsets; the digest
# issue extends this section (weekday and hour of the weekly digest).


class NetworkSettings(StatesGroup):
    offsets = State()


def _offset_labels(current: list[int]) -> dict[int, str]:
    return {m: events.duration_label(m) for m in set(kb.OFFSET_PRESETS) | set(current)}


async def _settings_view(
    event: Message | CallbackQuery, session: AsyncSession, actor: Actor, network: Network
) -> None:
    current = await events.reminder_settings(session, actor, network.id)
    text = _(
        "<b>Settings of {network}</b>\n\n"
        "Event reminders: {offsets} before the start.\n"
        "Tap a time to switch it on or off, or type your own."
    ).format(network=escape(network.name), offsets=events.offsets_label(current))
    markup = kb.offsets(network.id, current, _offset_labels(current))
    await say(event, text, reply_markup=markup)


@router.message(Command("settings"), MinLevel(Level.COORDINATOR))
async def settings_command(
    message: Message, session: AsyncSession, actor: Actor, state: FSMContext
) -> None:
    options = await networks.coordinated(session, actor)
    if not options:
        await message.answer(_("There are no networks yet."))
    elif len(options) == 1:
        await _settings_view(message, session, actor, options[0])
    else:
        await message.answer(
            _("Which network?"), reply_markup=keyboards.pick_network("settings", options)
        )


@router.callback_query(PickNetCb.filter(F.purpose == "settings"), MinLevel(Level.COORDINATOR))
async def settings_network(
    query: CallbackQuery, callback_data: PickNetCb, session: AsyncSession, actor: Actor
) -> None:
    network = await events.network_for(session, actor, callback_data.network_id)
    await query.answer()
    await _settings_view(query, session, actor, network)


@router.callback_query(OffsetCb.filter(F.minutes > 0), MinLevel(Level.COORDINATOR))
async def toggle_offset(
    query: CallbackQuery, callback_data: OffsetCb, session: AsyncSession, actor: Actor
) -> None:
    network = await events.network_for(session, actor, callback_data.network_id)
    current = await events.reminder_settings(session, actor, network.id)
    wanted = set(current) ^ {callback_data.minutes}
    try:
        await events.set_reminder_offsets(session, actor, network.id, sorted(wanted), utcnow())
    except EventError as exc:
        await query.answer(problem_text(exc), show_alert=True)
        return
    await query.answer()
    await _settings_view(query, session, actor, network)


@router.callback_query(OffsetCb.filter(F.minutes == 0), MinLevel(Level.COORDINATOR))
async def ask_offsets(
    query: CallbackQuery,
    callback_data: OffsetCb,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    network = await events.network_for(session, actor, callback_data.network_id)
    await query.answer()
    await state.set_state(NetworkSettings.offsets)
    await state.set_data({"network_id": network.id})
    await say(
        query,
        _(
            "Send the reminder times before each event, such as <code>1d 3h 30m</code> "
            "(d = days, h = hours, m = minutes; at most {n}), or <code>none</code>."
        ).format(n=events.MAX_OFFSETS),
    )


@router.message(NetworkSettings.offsets, F.text, ~F.text.startswith("/"))
async def typed_offsets(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    data = await state.get_data()
    network = await events.network_for(session, actor, int(data["network_id"]))
    try:
        offsets = events.parse_offsets(message.text or "")
        await events.set_reminder_offsets(session, actor, network.id, offsets, utcnow())
    except EventError as exc:
        await message.answer(problem_text(exc))
        return
    await state.clear()
    await _settings_view(message, session, actor, network)


# ====================================================================== dialogs


@router.message(StateFilter(NewEvent, EditEvent, NetworkSettings), ~F.text.startswith("/"))
async def dialog_other(message: Message) -> None:
    """Anything unexpected inside these dialogs: say what we are waiting for."""
    await message.answer(
        _("Please answer with text or the buttons above, or send /cancel to stop.")
    )
