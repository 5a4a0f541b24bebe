"""Coordinators: who answered, attendance, change and cancel."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callback_answer import CallbackAnswer
from bot.callbacks import AttendCb, EventCb
from bot.delivery import DeliveryEngine
from bot.keyboards import events as kb
from bot.replies import say
from bot.services import events
from bot.services.access import Actor
from bot.services.events import EventError, Problem
from bot.text.labels import ANSWER_ICONS, answer_label, join_list
from handlers.events.states import EditEvent, router
from storage.models import utcnow
from storage.models.events import Answer, EventStatus
from storage.repositories.events import Person


def _names(people: list[Person]) -> str:
    if not people:
        return "—"
    return join_list(escape(p.display_name or "#" + str(p.user_id)) for p in people)


@router.callback_query(EventCb.filter(F.action == "who"))
async def who(
    query: CallbackQuery, callback_data: EventCb, session: AsyncSession, actor: Actor
) -> None:
    result = await events.responses(session, actor, callback_data.event_id)
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
    text = _("Who came to <b>{title}</b>? Tap a name to mark or unmark it. Marked: {n}.").format(
        title=escape(event.title), n=result.attended
    )
    await say(query, text, reply_markup=kb.attendance(event.id, people))


@router.callback_query(EventCb.filter(F.action == "attend"))
async def attendance(
    query: CallbackQuery,
    callback_data: EventCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    try:
        await _attendance_view(query, session, actor, callback_data.event_id)
    except EventError as exc:
        callback_answer.text = events.problem_text(exc)
        callback_answer.show_alert = True


@router.callback_query(AttendCb.filter())
async def mark_attendance(
    query: CallbackQuery,
    callback_data: AttendCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    try:
        came = await events.toggle_attendance(
            session, actor, callback_data.event_id, callback_data.user_id, utcnow()
        )
        await _attendance_view(query, session, actor, callback_data.event_id)
    except EventError as exc:
        callback_answer.text = events.problem_text(exc)
        callback_answer.show_alert = True
        return
    callback_answer.text = _("Marked as present.") if came else _("Mark removed.")


# --------------------------------------------------- coordinators: change, cancel


@router.callback_query(EventCb.filter(F.action == "edit"))
async def edit_menu(
    query: CallbackQuery, callback_data: EventCb, session: AsyncSession, actor: Actor
) -> None:
    event = await events.event_for_coordinator(session, actor, callback_data.event_id)
    await say(
        query,
        _(
            "What do you want to change in <b>{title}</b>? Those who answered “going” or "
            "“maybe” will be told."
        ).format(title=escape(event.title)),
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
    tz = event.network.timezone
    await state.set_data({"event_id": event.id, "tz": tz})
    if callback_data.action == "time":
        await state.set_state(EditEvent.start)
        length = int((event.ends_at - event.starts_at).total_seconds() // 60)
        text = _(
            "Send the new start as YYYY-MM-DD HH:MM ({zone}), for example {example}. "
            "It will still last {length}."
        ).format(
            zone=events.zone_label(tz, i18n.current_locale),
            example=events.example_datetime(tz),
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
            session,
            bot,
            delivery,
            i18n,
            actor,
            int(data["event_id"]),
            chat_id=message.chat.id,
            now=now,
            starts_at=starts_at,
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
            session,
            bot,
            delivery,
            i18n,
            actor,
            int(data["event_id"]),
            chat_id=message.chat.id,
            now=utcnow(),
            place=message.text or "",
        )
    except EventError as exc:
        await _edit_refused(message, state, exc, data["tz"])
        return
    await state.clear()
    await message.answer(_changed_text(changed))


async def _edit_refused(message: Message, state: FSMContext, exc: EventError, tz: str) -> None:
    if exc.problem in (Problem.CANCELLED, Problem.STARTED, Problem.CHANGED):
        await state.clear()  # asking again would not help
    await message.answer(events.problem_text(exc, tz))


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
    callback_answer: CallbackAnswer,
    bot: Bot,
    i18n: I18n,
    delivery: DeliveryEngine,
) -> None:
    try:
        changed = await events.cancel_event(
            session,
            bot,
            delivery,
            i18n,
            actor,
            callback_data.event_id,
            chat_id=query.from_user.id,
            now=utcnow(),
        )
    except EventError as exc:
        callback_answer.text = events.problem_text(exc)
        callback_answer.show_alert = True
        return
    await say(
        query,
        _(
            "The event is cancelled. {n} person who answered “going” or “maybe” is being told.",
            "The event is cancelled. {n} people who answered “going” or “maybe” are being told.",
            changed.told,
        ).format(n=changed.told),
    )
