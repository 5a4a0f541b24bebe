"""The /report dialog: type, date, participants, age group, description, file, preview."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callback_answer import CallbackAnswer
from bot.callbacks import (
    PickNetCb,
    RepActionCb,
    RepAgeCb,
    RepDateCb,
    RepFormCb,
    RepNumCb,
    RepStartCb,
    RepTypeCb,
)
from bot.keyboards import plans as plans_kb
from bot.keyboards import reports as kb
from bot.replies import say
from bot.services import plans
from bot.services import reports as service
from bot.services.access import AccessDenied, Actor
from bot.services.reports import Problem, ReportError
from handlers.reports.states import EDITS, STEPS, TEXT, MenuButton, ReportForm, members
from storage.models import Network, utcnow
from storage.models.reports import (
    DESCRIPTION_MAX,
    MAX_PARTICIPANTS,
    ActivityType,
    AgeGroup,
    AttachmentKind,
    reference,
)


def _network(actor: Actor, network_id: int) -> Network:
    membership = next((m for m in actor.memberships if m.network_id == network_id), None)
    if membership is None:
        raise AccessDenied(f"user {actor.tg_id} is not a member of network {network_id}")
    return membership.network


@members.message(Command("report"))
@members.message(MenuButton())
async def report(
    message: Message, state: FSMContext, actor: Actor, i18n: I18n, session: AsyncSession
) -> None:
    await state.clear()
    await _start(message, state, actor, i18n, session, None)


@members.callback_query(RepStartCb.filter())
async def report_button(
    query: CallbackQuery, callback_data: RepStartCb, state: FSMContext, actor: Actor, i18n: I18n,
    session: AsyncSession,
) -> None:
    await state.clear()
    await _start(query, state, actor, i18n, session, callback_data.network_id or None)


async def _start(
    event: Message | CallbackQuery,
    state: FSMContext,
    actor: Actor,
    i18n: I18n,
    session: AsyncSession,
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
    data: dict[str, object] = {"network_id": chosen.id}
    choices = await plans.report_choices(session, chosen.id)
    if choices:  # the step "Which action is this part of?" is asked
        data["actions"] = choices
    await state.set_data(data)
    await say(
        event,
        _("New activity report for <b>{network}</b>.\nWhat kind of activity was it?").format(
            network=escape(chosen.name)
        ),
        reply_markup=kb.activity_types(),
    )


@members.callback_query(PickNetCb.filter(F.purpose == "report"))
async def picked_network(
    query: CallbackQuery, callback_data: PickNetCb, state: FSMContext, actor: Actor, i18n: I18n,
    session: AsyncSession,
) -> None:
    _network(actor, callback_data.network_id)
    await state.clear()
    await _start(query, state, actor, i18n, session, callback_data.network_id)


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
    elif step == ReportForm.action:
        choices = [(int(a), str(t)) for a, t in data.get("actions") or []]
        await say(
            event,
            _("Which action of the network's plan is this part of?"),
            reply_markup=plans_kb.report_actions(choices),
        )
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
    if step == ReportForm.action and not data.get("actions"):
        step = ReportForm.description  # no action under way: the step is left out
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
    await say(
        event,
        f"{head}\n\n{body}",
        reply_markup=kb.preview(editing, bool(data.get("actions"))),
    )


@members.callback_query(ReportForm.type, RepTypeCb.filter())
async def chose_type(
    query: CallbackQuery, callback_data: RepTypeCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    if callback_data.t not in ActivityType.__members__.values():
        return
    await state.update_data(type=callback_data.t)
    await _next(query, state, actor, i18n)


@members.callback_query(ReportForm.date, RepDateCb.filter(F.days_ago.in_({0, 1})))
async def chose_date(
    query: CallbackQuery, callback_data: RepDateCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    data = await state.get_data()
    network = _network(actor, int(data["network_id"]))
    day = service.days_ago(network, utcnow(), callback_data.days_ago)
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
    if callback_data.a != "none" and callback_data.a not in AgeGroup.__members__.values():
        return
    await state.update_data(age="" if callback_data.a == "none" else callback_data.a)
    await _next(query, state, actor, i18n)


@members.callback_query(ReportForm.action, RepActionCb.filter())
async def chose_action(
    query: CallbackQuery, callback_data: RepActionCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    data = await state.get_data()
    offered = {int(a) for a, _t in data.get("actions") or []}
    if callback_data.action_id and callback_data.action_id not in offered:
        return
    await state.update_data(action_id=callback_data.action_id or None)
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
    await state.update_data(back=False)
    await _preview(query, state, actor, i18n)


@members.callback_query(ReportForm.attachment, RepFormCb.filter(F.action == "remove_file"))
async def remove_file(query: CallbackQuery, state: FSMContext, actor: Actor, i18n: I18n) -> None:
    await state.update_data(file_kind=None, file_id=None, back=False)
    await _preview(query, state, actor, i18n)


@members.callback_query(ReportForm.preview, RepFormCb.filter(F.action.in_(set(EDITS))))
async def edit_field(
    query: CallbackQuery, callback_data: RepFormCb, state: FSMContext, actor: Actor, i18n: I18n
) -> None:
    await state.update_data(back=True)
    await _ask(query, state, EDITS[callback_data.action], actor, i18n)


@members.callback_query(ReportForm.preview, RepFormCb.filter(F.action == "cancel"))
async def cancel_report(query: CallbackQuery, state: FSMContext) -> None:
    data = await state.get_data()
    await state.clear()
    if data.get("edit_id"):
        await say(query, _("Nothing was changed."))
    else:
        await say(query, _("Cancelled. Nothing was stored."))


@members.callback_query(ReportForm.preview, RepFormCb.filter(F.action == "submit"))
async def submit(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    actor: Actor,
    i18n: I18n,
    session: AsyncSession,
) -> None:
    data = await state.get_data()
    now = utcnow()
    try:
        if data.get("edit_id"):
            saved = await service.update(session, actor, int(data["edit_id"]), data, now)
        else:
            saved = await service.submit(session, actor, data, now)
    except ReportError as exc:
        text = service.problem_text(exc, i18n.current_locale)
        if exc.problem in (Problem.INCOMPLETE, Problem.TOO_LATE, Problem.GONE):
            await state.clear()
            await say(query, text)
        else:  # e.g. the date went out of the window while the dialog waited
            await say(query, text, reply_markup=kb.preview(bool(data.get("edit_id")),
                                                           bool(data.get("actions"))))
        return
    await state.clear()
    await callback_answer.now()  # then the buttons go and the confirmation comes
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
