"""Coordinators: /reports, filters, review and flag."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callback_answer import CallbackAnswer
from bot.callbacks import (
    PickNetCb,
    RepListCb,
    RepReviewCb,
    RepTypeMenuCb,
    RepViewCb,
)
from bot.keyboards import reports as kb
from bot.replies import say, tell
from bot.services import networks
from bot.services import reports as service
from bot.services.access import Actor
from bot.services.reports import ReportError
from bot.text.labels import activity_label, report_status_label
from handlers.reports.states import TEXT, ReviewNote, coordinators
from storage.models import Network, utcnow
from storage.models.reports import (
    NOTE_MAX,
    AttachmentKind,
    ReportStatus,
)
from storage.repositories.reports import ReportRow


async def _pick_or_run(
    message: Message, session: AsyncSession, actor: Actor, purpose: str
) -> Network | None:
    options = await networks.coordinated(session, actor)
    if not options:
        await message.answer(_("There are no networks yet."))
        return None
    if len(options) == 1:
        return options[0]
    await message.answer(_("Which network?"), reply_markup=keyboards.pick_network(purpose, options))
    return None


@coordinators.message(Command("reports"))
async def reports_cmd(message: Message, session: AsyncSession, actor: Actor, i18n: I18n) -> None:
    network = await _pick_or_run(message, session, actor, "reports")
    if network is not None:
        await _show_list(message, session, actor, i18n, RepListCb(network_id=network.id))


@coordinators.callback_query(PickNetCb.filter(F.purpose == "reports"))
async def reports_picked(
    query: CallbackQuery, callback_data: PickNetCb, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    await _show_list(query, session, actor, i18n, RepListCb(network_id=callback_data.network_id))


@coordinators.callback_query(RepListCb.filter())
async def reports_page(
    query: CallbackQuery, callback_data: RepListCb, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    await _show_list(query, session, actor, i18n, callback_data)


async def _show_list(
    event: Message | CallbackQuery, session: AsyncSession, actor: Actor, i18n: I18n, cb: RepListCb
) -> None:
    locale = i18n.current_locale
    page = await service.list_reports(
        session,
        actor,
        cb.network_id,
        page=cb.page,
        activity_type=cb.t,
        days=cb.days,
        now=utcnow(),
    )
    filters = [kb.period_label(page.days, locale)]
    if page.activity_type:
        filters.insert(0, escape(activity_label(page.activity_type)))
    lines = [
        _(
            "<b>{network}</b>: {n} report ({filters})",
            "<b>{network}</b>: {n} reports ({filters})",
            page.total,
        ).format(
            network=escape(page.network.name),
            n=service.fmt_number(page.total, locale),
            filters=" · ".join(filters),
        )
    ]
    if page.pages > 1:
        lines.append(
            _("Page {page} of {pages}").format(
                page=service.fmt_number(page.page + 1, locale),
                pages=service.fmt_number(page.pages, locale),
            )
        )
    lines.append("")
    if not page.rows:
        lines.append(_("No reports yet."))
    lines += ["• " + service.list_line(row, locale) for row in page.rows]
    lines += ["", _("✓ reviewed · ⚑ flagged. Tap a reference to open the report.")]
    await say(event, "\n".join(lines), reply_markup=kb.report_list(page, locale))


@coordinators.callback_query(RepTypeMenuCb.filter())
async def type_menu(query: CallbackQuery, callback_data: RepTypeMenuCb, actor: Actor) -> None:
    actor.require_coordinator(callback_data.network_id)
    await say(
        query,
        _("Show which type of activity?"),
        reply_markup=kb.type_menu(callback_data.network_id, callback_data.days),
    )


def _view_text(row: ReportRow, network: Network, locale: str) -> str:
    r = row.report
    lines = [
        _("Report <b>{ref}</b> by {author}").format(
            ref=r.reference, author=service.author_text(row)
        ),
        service.report_summary(r, network, locale, row.action_title),
        "",
        _("Status: {status}").format(status=report_status_label(r.status)),
    ]
    if r.review_note:
        lines.append(_("Note: {note}").format(note=escape(r.review_note)))
    return "\n".join(lines)


@coordinators.callback_query(RepViewCb.filter())
async def view_report(
    query: CallbackQuery,
    callback_data: RepViewCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
) -> None:
    row, network = await service.open_report(session, actor, callback_data.report_id)
    await callback_answer.now()  # before its file and its text
    message = query.message
    if not isinstance(message, Message):
        await say(query, _view_text(row, network, i18n.current_locale))
        return
    r = row.report
    if r.attachment_file_id and r.attachment_kind == AttachmentKind.PHOTO:
        await message.answer_photo(r.attachment_file_id, caption=r.reference)
    elif r.attachment_file_id:
        await message.answer_document(r.attachment_file_id, caption=r.reference)
    await message.answer(_view_text(row, network, i18n.current_locale), reply_markup=kb.review(r))


@coordinators.callback_query(RepReviewCb.filter(F.action == "ok"))
async def mark_reviewed(
    query: CallbackQuery,
    callback_data: RepReviewCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
) -> None:
    row, network = await service.review(
        session, actor, callback_data.report_id, ReportStatus.REVIEWED, None, utcnow()
    )
    callback_answer.text = _("Marked as reviewed.")
    await callback_answer.now()  # the toast first, as the report is shown again
    text = _view_text(row, network, i18n.current_locale)
    await say(query, text, reply_markup=kb.review(row.report))


@coordinators.callback_query(RepReviewCb.filter(F.action == "flag"))
async def flag_report(
    query: CallbackQuery,
    callback_data: RepReviewCb,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    row, _net = await service.open_report(session, actor, callback_data.report_id)
    await state.set_state(ReviewNote.note)
    await state.set_data({"report_id": row.report.id})
    await say(
        query,
        _(
            "Write a short note about report {ref} for the author (up to {max} characters), "
            "or send /cancel."
        ).format(ref=row.report.reference, max=NOTE_MAX),
    )


@coordinators.message(ReviewNote.note, TEXT)
async def flag_note(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    bot: Bot,
) -> None:
    data = await state.get_data()
    try:
        row, network = await service.review(
            session,
            actor,
            int(data["report_id"]),
            ReportStatus.FLAGGED,
            message.text or "",
            utcnow(),
        )
    except ReportError as exc:
        await message.answer(service.problem_text(exc, i18n.current_locale))
        return
    await state.clear()
    await message.answer(
        _view_text(row, network, i18n.current_locale), reply_markup=kb.review(row.report)
    )
    if row.author_tg_id is not None and row.author_tg_id != actor.tg_id:
        with i18n.use_locale(row.author_language or network.locale or i18n.default_locale):
            await tell(
                bot,
                row.author_tg_id,
                _("Your coordinator has a question about your report {ref}:\n{note}").format(
                    ref=row.report.reference, note=escape(row.report.review_note or "")
                ),
            )


@coordinators.message(ReviewNote.note)
async def flag_note_other(message: Message) -> None:
    await message.answer(_("Please write the note as text, or send /cancel."))
