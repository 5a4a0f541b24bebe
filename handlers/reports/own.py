"""/myreports: fixing or withdrawing one's own reports."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callback_answer import CallbackAnswer
from bot.callbacks import (
    RepMineCb,
)
from bot.keyboards import reports as kb
from bot.replies import say
from bot.services import plans
from bot.services import reports as service
from bot.services.access import Actor
from bot.services.reports import ReportError
from bot.text.labels import activity_label
from handlers.reports.filing import _preview
from handlers.reports.states import members
from storage.models import utcnow


@members.message(Command("myreports"))
async def my_reports(message: Message, session: AsyncSession, actor: Actor, i18n: I18n) -> None:
    rows, nets = await service.my_reports(session, actor)
    titles = await service.action_titles(session, rows)
    if not rows:
        await message.answer(_("You have not filed any report yet. Send /report to start."))
        return
    locale = i18n.current_locale
    lines = [_("Your recent reports:")]
    for r in rows:
        network = nets.get(r.network_id)
        parts = [
            f"<b>{r.reference}</b>",
            service.fmt_date(r.activity_date, locale),
            escape(activity_label(r.activity_type)),
            service.participants_text(r.participants, locale),
        ]
        if len(nets) > 1 and network is not None:
            parts.append(escape(network.name))
        words = service.first_words(r.description)
        if words:
            parts.append(_("“{words}”").format(words=escape(words)))
        if r.action_id in titles:
            parts.append("🎯 " + escape(titles[r.action_id]))
        lines.append("• " + " · ".join(parts) + service.status_mark(r.status))
    now = utcnow()
    markup = kb.my_reports([r for r in rows if service.can_edit(r, now)])
    if markup is not None:
        lines += ["", _("Reports of the last 24 hours can be fixed (✏️) or withdrawn (🗑).")]
    await message.answer("\n".join(lines), reply_markup=markup)


@members.callback_query(RepMineCb.filter(F.action == "edit"))
async def edit_mine(
    query: CallbackQuery,
    callback_data: RepMineCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
) -> None:
    try:
        report = await service.editable(session, actor, callback_data.report_id, utcnow())
    except ReportError as exc:
        callback_answer.text = service.problem_text(exc, i18n.current_locale)
        callback_answer.show_alert = True
        return
    await state.clear()
    draft = service.draft_from(report)
    choices = await plans.report_choices(session, report.network_id, report.action_id)
    if choices:
        draft["actions"] = choices
    await state.set_data(draft)
    await _preview_new(query, state, actor, i18n)


async def _preview_new(query: CallbackQuery, state: FSMContext, actor: Actor, i18n: I18n) -> None:
    """The preview as a new message (the list it came from stays as it was)."""
    if isinstance(query.message, Message):
        await _preview(query.message, state, actor, i18n)
    else:
        await _preview(query, state, actor, i18n)


@members.callback_query(RepMineCb.filter(F.action == "withdraw"))
async def withdraw_mine(
    query: CallbackQuery,
    callback_data: RepMineCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
) -> None:
    try:
        report = await service.editable(session, actor, callback_data.report_id, utcnow())
    except ReportError as exc:
        callback_answer.text = service.problem_text(exc, i18n.current_locale)
        callback_answer.show_alert = True
        return
    text = _("Withdraw report {ref} (“{words}”)? It will be deleted.").format(
        ref=report.reference, words=escape(service.first_words(report.description))
    )
    titles = await service.action_titles(session, [report])
    body = service.report_summary(report, None, i18n.current_locale,
                                  titles.get(report.action_id or 0))
    await say(query, f"{text}\n\n{body}", reply_markup=kb.confirm_withdraw(report.id))


@members.callback_query(RepMineCb.filter(F.action.in_({"confirm", "keep"})))
async def withdraw_decided(
    query: CallbackQuery, callback_data: RepMineCb, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    if callback_data.action == "keep":
        await say(query, _("Good, the report stays."))
        return
    try:
        ref = await service.withdraw(session, actor, callback_data.report_id, utcnow())
    except ReportError as exc:
        await say(query, service.problem_text(exc, i18n.current_locale))
        return
    await say(query, _("Report {ref} was withdrawn.").format(ref=ref))
