"""Activity reports: /report (the dialog), /myreports; for coordinators /reports, /export
and the report settings (nudges) reachable from /reports."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot import keyboards_reports as kb
from bot.callbacks import (
    PickNetCb,
    RepAgeCb,
    RepDateCb,
    RepExportCb,
    RepFormCb,
    RepListCb,
    RepMineCb,
    RepNumCb,
    RepReviewCb,
    RepSetCb,
    RepStartCb,
    RepTypeCb,
    RepTypeMenuCb,
    RepViewCb,
)
from bot.filters import MinLevel
from bot.labels import activity_label, report_status_label
from bot.replies import say, tell
from bot.services import networks
from bot.services import reports as service
from bot.services.access import AccessDenied, Actor, Level
from bot.services.reports import Problem, ReportError
from storage.models import Network, utcnow
from storage.models.reports import (
    DESCRIPTION_MAX,
    MAX_PARTICIPANTS,
    NOTE_MAX,
    ActivityType,
    AgeGroup,
    AttachmentKind,
    ReportStatus,
    reference,
)
from storage.repositories.reports import ReportRow

router = Router(name=__name__)
members = Router(name=f"{__name__}.members")
members.message.filter(MinLevel(Level.MEMBER))
members.callback_query.filter(MinLevel(Level.MEMBER))
coordinators = Router(name=f"{__name__}.coordinators")
coordinators.message.filter(MinLevel(Level.COORDINATOR))
coordinators.callback_query.filter(MinLevel(Level.COORDINATOR))
router.include_routers(members, coordinators)

TEXT = F.text & ~F.text.startswith("/")


class ReportForm(StatesGroup):
    type = State()
    date = State()
    participants = State()
    age = State()
    description = State()
    attachment = State()
    preview = State()


class ReviewNote(StatesGroup):
    note = State()


class ExportRange(StatesGroup):
    dates = State()


STEPS = (
    ReportForm.type,
    ReportForm.date,
    ReportForm.participants,
    ReportForm.age,
    ReportForm.description,
    ReportForm.attachment,
    ReportForm.preview,
)
EDITS = {
    "edit_type": ReportForm.type,
    "edit_date": ReportForm.date,
    "edit_num": ReportForm.participants,
    "edit_age": ReportForm.age,
    "edit_desc": ReportForm.description,
    "edit_file": ReportForm.attachment,
}


class MenuButton(Filter):
    """The persistent keyboard's "Report an activity", in any of our languages."""

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        if not message.text:
            return False
        for locale in i18n.available_locales:
            with i18n.use_locale(locale):
                if message.text == kb.menu_label():
                    return True
        return False


# ------------------------------------------------------------------- the dialog


def _network(actor: Actor, network_id: int) -> Network:
    membership = next((m for m in actor.memberships if m.network_id == network_id), None)
    if membership is None:
        raise AccessDenied(f"user {actor.tg_id} is not a member of network {network_id}")
    return membership.network


@members.message(Command("report"))
@members.message(MenuButton())
async def report(message: Message, state: FSMContext, actor: Actor, i18n: I18n) -> None:
    await state.clear()
    await _start(message, state, actor, i18n, None)


@members.callback_query(RepStartCb.filter())
async def report_button(
    query: CallbackQuery, callback_data: RepStartCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    await query.answer()
    await state.clear()
    await _start(query, state, actor, i18n, callback_data.network_id or None)


async def _start(
    event: Message | CallbackQuery,
    state: FSMContext,
    actor: Actor,
    i18n: I18n,
    network_id: int | None,
) -> None:
    options = service.reporting_networks(actor)
    if not options:
        await say(event, _("Reports are filed by the members of a network; you are not one."))
        return
    chosen = next((n for n in options if n.id == network_id), None)
    if chosen is None and len(options) == 1:
        chosen = options[0]
    if chosen is None:
        await say(
            event,
            _("Which network is the report for?"),
            reply_markup=keyboards.pick_network("report", options),
        )
        return
    await state.set_state(ReportForm.type)
    await state.set_data({"network_id": chosen.id})
    await say(
        event,
        _("New activity report for <b>{network}</b>.\nWhat kind of activity was it?").format(
            network=escape(chosen.name)
        ),
        reply_markup=kb.activity_types(),
    )


@members.callback_query(PickNetCb.filter(F.purpose == "report"))
async def picked_network(
    query: CallbackQuery, callback_data: PickNetCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    _network(actor, callback_data.network_id)
    await query.answer()
    await state.clear()
    await _start(query, state, actor, i18n, callback_data.network_id)


async def _ask(
    event: Message | CallbackQuery,
    state: FSMContext,
    step: State,
    actor: Actor,
    i18n: I18n,
) -> None:
    """Move the dialog to `step` and ask its question."""
    await state.set_state(step)
    data = await state.get_data()
    locale = i18n.current_locale
    if step == ReportForm.type:
        await say(event, _("What kind of activity was it?"), reply_markup=kb.activity_types())
    elif step == ReportForm.date:
        network = _network(actor, int(data["network_id"]))
        today = service.local_today(network, utcnow())
        await say(
            event,
            _("When did it take place? Tap a button or type the date as YYYY-MM-DD."),
            reply_markup=kb.dates(today, locale),
        )
    elif step == ReportForm.participants:
        await say(
            event,
            _("How many people took part? Tap a number or type it."),
            reply_markup=kb.participants(locale),
        )
    elif step == ReportForm.age:
        await say(event, _("What age were the participants?"), reply_markup=kb.age_groups())
    elif step == ReportForm.description:
        await say(
            event,
            _("Describe the activity in a few words (up to {max} characters).").format(
                max=service.fmt_number(DESCRIPTION_MAX, locale)
            ),
        )
    elif step == ReportForm.attachment:
        await say(
            event,
            _("You can add a photo or a document of the activity, or skip this step."),
            reply_markup=kb.attachment(bool(data.get("file_id"))),
        )
    else:
        await _preview(event, state, actor, i18n)


async def _next(
    event: Message | CallbackQuery, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    """After a step: the next unanswered question, or the preview when fixing one field."""
    data = await state.get_data()
    current = await state.get_state()
    if data.get("back"):
        await state.update_data(back=False)
        await _preview(event, state, actor, i18n)
        return
    index = next(i for i, s in enumerate(STEPS) if s.state == current)
    step = STEPS[index + 1]
    if step == ReportForm.attachment and data.get("file_id"):
        step = ReportForm.preview  # the photo came with the description
    await _ask(event, state, step, actor, i18n)


async def _preview(
    event: Message | CallbackQuery, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    await state.set_state(ReportForm.preview)
    data = await state.get_data()
    network = _network(actor, int(data["network_id"]))
    editing = bool(data.get("edit_id"))
    if editing:
        head = _("Your report {ref}, as it will be saved:").format(
            ref=reference(int(data["edit_id"]))
        )
    else:
        head = _("Please check your report:")
    body = service.draft_summary(data, network, i18n.current_locale)
    await say(event, f"{head}\n\n{body}", reply_markup=kb.preview(editing))


@members.callback_query(ReportForm.type, RepTypeCb.filter())
async def chose_type(
    query: CallbackQuery, callback_data: RepTypeCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    await query.answer()
    if callback_data.t not in ActivityType.__members__.values():
        return
    await state.update_data(type=callback_data.t)
    await _next(query, state, actor, i18n)


@members.callback_query(ReportForm.date, RepDateCb.filter(F.days_ago.in_({0, 1})))
async def chose_date(
    query: CallbackQuery, callback_data: RepDateCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    await query.answer()
    data = await state.get_data()
    network = _network(actor, int(data["network_id"]))
    day = service.local_today(network, utcnow()) - timedelta(days=callback_data.days_ago)
    await state.update_data(date=day.isoformat())
    await _next(query, state, actor, i18n)


@members.message(ReportForm.date, TEXT)
async def typed_date(
    message: Message, state: FSMContext, actor: Actor, i18n: I18n, session: AsyncSession
) -> None:
    data = await state.get_data()
    network = _network(actor, int(data["network_id"]))
    settings = await service.get_settings(session, network.id)
    today = service.local_today(network, utcnow())
    try:
        day = service.parse_date(message.text or "", today, settings.max_age_days)
    except ReportError as exc:
        await message.answer(service.problem_text(exc, i18n.current_locale))
        return
    await state.update_data(date=day.isoformat())
    await _next(message, state, actor, i18n)


@members.callback_query(ReportForm.participants, RepNumCb.filter())
async def chose_number(
    query: CallbackQuery, callback_data: RepNumCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    await query.answer()
    if not 0 <= callback_data.n <= MAX_PARTICIPANTS:
        return
    await state.update_data(participants=callback_data.n)
    await _next(query, state, actor, i18n)


@members.message(ReportForm.participants, TEXT)
async def typed_number(message: Message, state: FSMContext, actor: Actor, i18n: I18n) -> None:
    try:
        number = service.parse_participants(message.text or "")
    except ReportError as exc:
        await message.answer(service.problem_text(exc, i18n.current_locale))
        return
    await state.update_data(participants=number)
    await _next(message, state, actor, i18n)


@members.callback_query(ReportForm.age, RepAgeCb.filter())
async def chose_age(
    query: CallbackQuery, callback_data: RepAgeCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    await query.answer()
    if callback_data.a != "none" and callback_data.a not in AgeGroup.__members__.values():
        return
    await state.update_data(age="" if callback_data.a == "none" else callback_data.a)
    await _next(query, state, actor, i18n)


def _file_of(message: Message) -> tuple[str, str] | None:
    """(kind, Telegram file id) of a photo (its largest size) or a document."""
    if message.photo:
        return AttachmentKind.PHOTO.value, message.photo[-1].file_id
    if message.document is not None:
        return AttachmentKind.DOCUMENT.value, message.document.file_id
    return None


@members.message(ReportForm.description, TEXT)
async def typed_description(message: Message, state: FSMContext, actor: Actor, i18n: I18n) -> None:
    try:
        text = service.clean_description(message.text or "")
    except ReportError as exc:
        await message.answer(service.problem_text(exc, i18n.current_locale))
        return
    await state.update_data(description=text)
    await _next(message, state, actor, i18n)


@members.message(ReportForm.description, F.photo | F.document)
async def file_as_description(
    message: Message, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    """A photo at the description step: kept as the attachment; its caption, if any, is
    the description."""
    found = _file_of(message)
    assert found is not None
    await state.update_data(file_kind=found[0], file_id=found[1])
    if not message.caption:
        await message.answer(
            _("Thank you, the file is attached. Now describe the activity in a few words.")
        )
        return
    try:
        text = service.clean_description(message.caption)
    except ReportError as exc:
        await message.answer(service.problem_text(exc, i18n.current_locale))
        return
    await state.update_data(description=text)
    await _next(message, state, actor, i18n)


@members.message(ReportForm.attachment, F.photo | F.document)
async def got_file(message: Message, state: FSMContext, actor: Actor, i18n: I18n) -> None:
    found = _file_of(message)
    assert found is not None
    await state.update_data(file_kind=found[0], file_id=found[1], back=False)
    await _preview(message, state, actor, i18n)


@members.callback_query(ReportForm.attachment, RepFormCb.filter(F.action == "skip_file"))
async def skip_file(query: CallbackQuery, state: FSMContext, actor: Actor, i18n: I18n) -> None:
    await query.answer()
    await state.update_data(back=False)
    await _preview(query, state, actor, i18n)


@members.callback_query(ReportForm.attachment, RepFormCb.filter(F.action == "remove_file"))
async def remove_file(query: CallbackQuery, state: FSMContext, actor: Actor, i18n: I18n) -> None:
    await query.answer()
    await state.update_data(file_kind=None, file_id=None, back=False)
    await _preview(query, state, actor, i18n)


@members.callback_query(ReportForm.preview, RepFormCb.filter(F.action.in_(set(EDITS))))
async def edit_field(
    query: CallbackQuery, callback_data: RepFormCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    await query.answer()
    await state.update_data(back=True)
    await _ask(query, state, EDITS[callback_data.action], actor, i18n)


@members.callback_query(ReportForm.preview, RepFormCb.filter(F.action == "cancel"))
async def cancel_report(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    data = await state.get_data()
    await state.clear()
    if data.get("edit_id"):
        await say(query, _("Nothing was changed."))
    else:
        await say(query, _("Cancelled. Nothing was stored."))


@members.callback_query(ReportForm.preview, RepFormCb.filter(F.action == "submit"))
async def submit(
    query: CallbackQuery, state: FSMContext, actor: Actor, i18n: I18n, session: AsyncSession
) -> None:
    data = await state.get_data()
    now = utcnow()
    try:
        if data.get("edit_id"):
            saved = await service.update(session, actor, int(data["edit_id"]), data, now)
        else:
            saved = await service.submit(session, actor, data, now)
    except ReportError as exc:
        await query.answer()
        text = service.problem_text(exc, i18n.current_locale)
        if exc.problem in (Problem.INCOMPLETE, Problem.TOO_LATE, Problem.GONE):
            await state.clear()
            await say(query, text)
        else:  # e.g. the date went out of the window while the dialog waited
            await say(query, text, reply_markup=kb.preview(bool(data.get("edit_id"))))
        return
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    if data.get("edit_id"):
        text = _("Your report {ref} was updated.").format(ref=saved.reference)
    else:
        text = _(
            "Thank you! Your report is saved as <b>{ref}</b>. You can fix or withdraw it "
            "within 24 hours with /myreports."
        ).format(ref=saved.reference)
    target = query.message if isinstance(query.message, Message) else None
    if target is not None:
        await target.answer(text, reply_markup=kb.report_menu())
    else:
        await say(query, text)


@members.message(StateFilter(ReportForm), ~F.text.startswith("/"))
async def dialog_other(message: Message, state: FSMContext, i18n: I18n) -> None:
    """Something unexpected inside the dialog: say what we wait for."""
    current = await state.get_state()
    if current == ReportForm.participants.state:
        text = service.problem_text(ReportError(Problem.NOT_A_NUMBER), i18n.current_locale)
    elif current == ReportForm.date.state:
        text = _("Please tap a button or type the date as YYYY-MM-DD.")
    elif current == ReportForm.description.state:
        text = _("Please describe the activity in a few words, as text.")
    elif current == ReportForm.attachment.state:
        text = _("Please send a photo or a document, or tap Skip.")
    else:
        text = _("Please use the buttons above, or send /cancel to stop.")
    await message.answer(text)


# ------------------------------------------------------------------ own reports


@members.message(Command("myreports"))
async def my_reports(message: Message, session: AsyncSession, actor: Actor, i18n: I18n) -> None:
    rows, nets = await service.my_reports(session, actor)
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
        lines.append("• " + " · ".join(parts) + service.status_mark(r.status))
    now = utcnow()
    markup = kb.my_reports(rows, now)
    if markup is not None:
        lines += ["", _("Reports of the last 24 hours can be fixed (✏️) or withdrawn (🗑).")]
    await message.answer("\n".join(lines), reply_markup=markup)


@members.callback_query(RepMineCb.filter(F.action == "edit"))
async def edit_mine(
    query: CallbackQuery,
    callback_data: RepMineCb,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
) -> None:
    try:
        report = await service.editable(session, actor, callback_data.report_id, utcnow())
    except ReportError as exc:
        await query.answer(service.problem_text(exc, i18n.current_locale), show_alert=True)
        return
    await query.answer()
    await state.clear()
    await state.set_data(service.draft_from(report))
    await _preview_new(query, state, actor, i18n)


async def _preview_new(query: CallbackQuery, state: FSMContext, actor: Actor, i18n: I18n) -> None:
    """The preview as a new message (the list it came from stays as it was)."""
    if isinstance(query.message, Message):
        await _preview(query.message, state, actor, i18n)
    else:
        await _preview(query, state, actor, i18n)


@members.callback_query(RepMineCb.filter(F.action == "withdraw"))
async def withdraw_mine(
    query: CallbackQuery, callback_data: RepMineCb, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    try:
        report = await service.editable(session, actor, callback_data.report_id, utcnow())
    except ReportError as exc:
        await query.answer(service.problem_text(exc, i18n.current_locale), show_alert=True)
        return
    await query.answer()
    text = _("Withdraw report {ref} (“{words}”)? It will be deleted.").format(
        ref=report.reference, words=escape(service.first_words(report.description))
    )
    body = service.report_summary(report, None, i18n.current_locale)
    await say(query, f"{text}\n\n{body}", reply_markup=kb.confirm_withdraw(report.id))


@members.callback_query(RepMineCb.filter(F.action.in_({"confirm", "keep"})))
async def withdraw_decided(
    query: CallbackQuery, callback_data: RepMineCb, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    await query.answer()
    if callback_data.action == "keep":
        await say(query, _("Good, the report stays."))
        return
    try:
        ref = await service.withdraw(session, actor, callback_data.report_id, utcnow())
    except ReportError as exc:
        await say(query, service.problem_text(exc, i18n.current_locale))
        return
    await say(query, _("Report {ref} was withdrawn.").format(ref=ref))


# ---------------------------------------------------------------- coordinators


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
    await query.answer()


@coordinators.callback_query(RepListCb.filter())
async def reports_page(
    query: CallbackQuery, callback_data: RepListCb, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    await _show_list(query, session, actor, i18n, callback_data)
    await query.answer()


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
    await query.answer()
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
        service.report_summary(r, network, locale),
        "",
        _("Status: {status}").format(status=report_status_label(r.status)),
    ]
    if r.review_note:
        lines.append(_("Note: {note}").format(note=escape(r.review_note)))
    return "\n".join(lines)


@coordinators.callback_query(RepViewCb.filter())
async def view_report(
    query: CallbackQuery, callback_data: RepViewCb, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    row, network = await service.open_report(session, actor, callback_data.report_id)
    await query.answer()
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
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
) -> None:
    row, network = await service.review(
        session, actor, callback_data.report_id, ReportStatus.REVIEWED, None, utcnow()
    )
    await query.answer(_("Marked as reviewed."))
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
    await query.answer()
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


# ---------------------------------------------------------------------- export


@coordinators.message(Command("export"))
async def export_cmd(message: Message, session: AsyncSession, actor: Actor) -> None:
    network = await _pick_or_run(message, session, actor, "export")
    if network is not None:
        await _ask_period(message, network)


async def _ask_period(event: Message | CallbackQuery, network: Network) -> None:
    await say(
        event,
        _("Export the reports of <b>{network}</b> for which period?").format(
            network=escape(network.name)
        ),
        reply_markup=kb.export_periods(network.id),
    )


async def _coordinated(session: AsyncSession, actor: Actor, network_id: int) -> Network:
    actor.require_coordinator(network_id)
    network = next(
        (n for n in await networks.coordinated(session, actor) if n.id == network_id), None
    )
    if network is None:
        raise AccessDenied(f"no network {network_id}")
    return network


@coordinators.callback_query(PickNetCb.filter(F.purpose == "export"))
async def export_picked(
    query: CallbackQuery, callback_data: PickNetCb, session: AsyncSession, actor: Actor
) -> None:
    network = await _coordinated(session, actor, callback_data.network_id)
    await query.answer()
    await _ask_period(query, network)


@coordinators.callback_query(RepExportCb.filter())
async def export_period(
    query: CallbackQuery,
    callback_data: RepExportCb,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    state: FSMContext,
) -> None:
    network = await _coordinated(session, actor, callback_data.network_id)
    await query.answer()
    period = callback_data.period
    if period == "custom":
        await state.set_state(ExportRange.dates)
        await state.set_data({"network_id": network.id})
        await say(
            query,
            _("Type the first and the last day, for example:\n<code>{example}</code>").format(
                example=_example_range(network)
            ),
        )
        return
    if period not in service.PERIODS:
        await _ask_period(query, network)
        return
    settings = await service.get_settings(session, network.id)
    since, until = service.period_range(period, network, settings.weekend, utcnow())
    if isinstance(query.message, Message):
        await _send_export(query.message, session, actor, i18n, network, since, until)


def _example_range(network: Network) -> str:
    today = service.local_today(network, utcnow())
    return f"{today.replace(day=1).isoformat()} {today.isoformat()}"


_DAY_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


@coordinators.message(ExportRange.dates, TEXT)
async def export_typed_range(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    data = await state.get_data()
    network = await _coordinated(session, actor, int(data["network_id"]))
    found = _DAY_RE.findall(service.to_ascii_digits(message.text or ""))
    try:
        if len(found) != 2:
            raise ValueError(message.text)
        since, until = (date.fromisoformat(_pad(d)) for d in found)
    except ValueError:
        await message.answer(
            _("Please type two dates as YYYY-MM-DD, for example:\n<code>{example}</code>").format(
                example=_example_range(network)
            )
        )
        return
    if since > until:
        await message.answer(
            service.problem_text(ReportError(Problem.BAD_RANGE), i18n.current_locale)
        )
        return
    await state.clear()
    await _send_export(message, session, actor, i18n, network, since, until)


def _pad(day: str) -> str:
    y, m, d = day.split("-")
    return f"{y}-{int(m):02d}-{int(d):02d}"


@coordinators.message(ExportRange.dates)
async def export_range_other(message: Message) -> None:
    await message.answer(_("Please type two dates as YYYY-MM-DD, or send /cancel."))


async def _send_export(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    network: Network,
    since: date | None,
    until: date | None,
) -> None:
    locale = i18n.current_locale
    export = await service.export_reports(
        session,
        network_id=network.id,
        since=since,
        until=until,
        formats=service.EXPORT_FORMATS,
        locale=locale,
        actor=actor,
        now=utcnow(),
    )
    if since is None:
        period = kb.period_label(0, locale)
    else:
        last = until or service.local_today(network, utcnow())
        period = f"{service.fmt_date(since, locale)} – {service.fmt_date(last, locale)}"
    caption = _(
        "{network}, {period}: {n} report.", "{network}, {period}: {n} reports.", export.count
    ).format(
        network=escape(network.name), period=period, n=service.fmt_number(export.count, locale)
    )
    for fmt in service.EXPORT_FORMATS:
        await message.answer_document(
            BufferedInputFile(export.files[fmt], filename=export.filename(fmt)),
            caption=caption,
        )


# -------------------------------------------------------------------- settings


@coordinators.callback_query(RepSetCb.filter())
async def report_settings(
    query: CallbackQuery, callback_data: RepSetCb, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    network = await _coordinated(session, actor, callback_data.network_id)
    if callback_data.key == "show":
        settings = await service.get_settings(session, network.id)
        await query.answer()
    else:
        try:
            settings = await service.change_settings(
                session, actor, network.id, callback_data.key, callback_data.value, utcnow()
            )
        except ValueError:
            await query.answer()
            return
        await query.answer(_("Saved."))
    locale = i18n.current_locale
    weekend = service.day_names(service.weekend_days(network, settings.weekend), locale)
    if settings.nudge_enabled:
        state = _(
            "Reminders are <b>on</b>: members who have not reported for {n} day get a "
            "friendly reminder, between {start}:00 and {end}:00, not on {weekend}.",
            "Reminders are <b>on</b>: members who have not reported for {n} days get a "
            "friendly reminder, between {start}:00 and {end}:00, not on {weekend}.",
            settings.nudge_days,
        )
    else:
        state = _(
            "Reminders are <b>off</b>. When on, members who have not reported for {n} day "
            "get a friendly reminder, between {start}:00 and {end}:00, not on {weekend}.",
            "Reminders are <b>off</b>. When on, members who have not reported for {n} days "
            "get a friendly reminder, between {start}:00 and {end}:00, not on {weekend}.",
            settings.nudge_days,
        )
    text = "\n\n".join(
        [
            _("Report settings of <b>{network}</b>").format(network=escape(network.name)),
            state.format(
                n=service.fmt_number(settings.nudge_days, locale),
                start=service.NUDGE_HOURS[0],
                end=service.NUDGE_HOURS[1],
                weekend=weekend,
            ),
            _(
                "Members may date a report up to {n} day back.",
                "Members may date a report up to {n} days back.",
                settings.max_age_days,
            ).format(n=service.fmt_number(settings.max_age_days, locale)),
        ]
    )
    await say(query, text, reply_markup=kb.report_settings(settings, locale))
