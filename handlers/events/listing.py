"""RSVP buttons, /events and one event's card."""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callback_answer import CallbackAnswer
from bot.callbacks import EventCb, RsvpCb
from bot.filters import MinLevel
from bot.keyboards import events as kb
from bot.replies import say
from bot.services import events
from bot.services.access import Actor, Level
from bot.services.events import Card, EventError
from bot.text.labels import ANSWER_LABELS, event_kind_label
from handlers.events.states import EditEvent, router
from storage.models import utcnow
from storage.models.events import Event, EventKind, EventStatus


@router.callback_query(RsvpCb.filter())
async def rsvp(
    query: CallbackQuery,
    callback_data: RsvpCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    try:
        event = await events.set_rsvp(
            session, actor, callback_data.event_id, callback_data.answer, utcnow()
        )
    except EventError as exc:
        callback_answer.text = events.problem_text(exc)
        callback_answer.show_alert = True
        return
    answer = callback_data.answer
    callback_answer.text = _("Your answer: {answer}.").format(answer=ANSWER_LABELS[answer])
    await callback_answer.now()  # the answer is confirmed at once; the buttons follow
    if isinstance(query.message, Message):
        # The announcement or reminder itself, or the event's own view.
        new = (
            _manage_markup(event, answer, actor, utcnow())
            if kb.is_event_view(query.message.reply_markup)
            else kb.rsvp(event.id, answer)
        )
        try:
            await query.message.edit_reply_markup(reply_markup=new)
        except TelegramBadRequest:
            pass  # "message is not modified": the same answer again


# ------------------------------------------------------------------- /events


@router.message(Command("events"), MinLevel(Level.MEMBER))
async def list_events(message: Message, session: AsyncSession, actor: Actor, i18n: I18n) -> None:
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
        feedback=scheduled
        and actor.can_coordinate(event.network_id)
        and event.kind != EventKind.MEETING
        and event.ends_at <= now,
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
    await _show(query, session, actor, event, i18n.current_locale)
