"""/plan: a network's action plan. Members see it (and the actions they are responsible
for); coordinators and admins add actions and milestones and change statuses (editing
titles, aims, months and milestones: handlers/plan_edits.py)."""

from __future__ import annotations

from datetime import date
from html import escape

from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callbacks import (
    PickNetCb,
    PlanActCb,
    PlanFormCb,
    PlanMsDoneCb,
    PlanMsNewCb,
    PlanNewCb,
    PlanRespCb,
    PlanShowCb,
    PlanStatusCb,
)
from bot.filters import TYPED, DialogNetwork, member_and_coordinator_routers
from bot.keyboards import plans as kb
from bot.replies import say
from bot.services import plans as service
from bot.services.access import Actor
from bot.services.plans import PlanError
from bot.text.formats import fmt_date
from storage.models import utcnow
from storage.models.plans import AIM_MAX, MILESTONE_MAX, TITLE_MAX

router, members, coordinators = member_and_coordinator_routers(__name__)
TEXT = TYPED


class PlanForm(StatesGroup):
    title = State()
    aim = State()
    responsible = State()
    start = State()
    end = State()


class MilestoneForm(StatesGroup):
    text = State()
    due = State()


class PlanEdit(StatesGroup):
    """Changes to an existing action (handlers/plan_edits.py, but responsible here)."""

    responsible = State()  # an action's members responsible, changed
    title = State()
    aim = State()
    start = State()
    end = State()
    ms_text = State()  # a milestone's text
    ms_due = State()  # a milestone's due date


coordinators.message.filter(DialogNetwork(PlanForm, MilestoneForm, PlanEdit))
coordinators.callback_query.filter(DialogNetwork(PlanForm, MilestoneForm, PlanEdit))


# ------------------------------------------------------------------------ viewing


@members.message(Command("plan"))
async def plan_cmd(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    await state.clear()
    options = await service.plan_networks(session, actor)
    if not options:
        await message.answer(_("There are no networks yet."))
        return
    if len(options) == 1:
        await _show_plan(message, session, actor, i18n, options[0].id)
        return
    await message.answer(_("Which network?"), reply_markup=keyboards.pick_network("plan", options))


@members.callback_query(PickNetCb.filter(F.purpose == "plan"))
async def plan_picked(
    query: CallbackQuery, callback_data: PickNetCb, session: AsyncSession, actor: Actor,
    i18n: I18n,
) -> None:
    await _show_plan(query, session, actor, i18n, callback_data.network_id)


@members.callback_query(PlanShowCb.filter())
async def plan_shown(
    query: CallbackQuery, callback_data: PlanShowCb, session: AsyncSession, actor: Actor,
    i18n: I18n,
) -> None:
    await _show_plan(query, session, actor, i18n, callback_data.network_id)


async def _show_plan(
    event: Message | CallbackQuery, session: AsyncSession, actor: Actor, i18n: I18n,
    network_id: int,
) -> None:
    view = await service.plan(session, actor, network_id, utcnow())
    buttons = [
        (v.action.id, f"{service.texts.STATUS_MARKS.get(v.action.status, '')} {v.action.title}")
        for v in view.actions
    ]
    await say(
        event,
        service.plan_text(view, i18n.current_locale),
        reply_markup=kb.plan_menu(view.network.id, buttons, view.editable),
    )


@members.callback_query(PlanActCb.filter())
async def action_shown(
    query: CallbackQuery, callback_data: PlanActCb, session: AsyncSession, actor: Actor,
    i18n: I18n,
) -> None:
    await show_action(query, session, actor, i18n, callback_data.action_id)


async def show_action(
    event: Message | CallbackQuery, session: AsyncSession, actor: Actor, i18n: I18n,
    action_id: int, head: str = "",
) -> None:
    plan, view = await service.open_action(session, actor, action_id, utcnow())
    statuses = [(s, service.status_label(s)) for s in service.STATUSES if s != view.action.status]
    milestones = [(m.id, m.text, m.done) for m in view.milestones]
    text = service.action_text(plan, view, i18n.current_locale)
    await say(
        event,
        f"{head}\n\n{text}" if head else text,
        reply_markup=kb.action_menu(view.action.id, plan.network.id, statuses, milestones,
                                    plan.editable),
    )


# ------------------------------------------------------------------- coordinators


@coordinators.callback_query(PlanStatusCb.filter())
async def status_set(
    query: CallbackQuery, callback_data: PlanStatusCb, session: AsyncSession, actor: Actor,
    i18n: I18n,
) -> None:
    try:
        action = await service.set_status(session, actor, callback_data.action_id,
                                          callback_data.status, utcnow())
    except PlanError as exc:
        await say(query, service.problem_text(exc, i18n.current_locale))
        return
    await show_action(query, session, actor, i18n, action.id)


@coordinators.callback_query(PlanMsDoneCb.filter())
async def milestone_done(
    query: CallbackQuery, callback_data: PlanMsDoneCb, session: AsyncSession, actor: Actor,
    i18n: I18n,
) -> None:
    action = await service.toggle_milestone(session, actor, callback_data.milestone_id, utcnow())
    await show_action(query, session, actor, i18n, action.id)


@coordinators.callback_query(PlanNewCb.filter())
async def new_action(
    query: CallbackQuery, callback_data: PlanNewCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    try:
        network = await service.start_action(session, actor, callback_data.network_id)
    except PlanError as exc:
        await say(query, service.problem_text(exc, i18n.current_locale))
        return
    await state.set_state(PlanForm.title)
    await state.set_data({"network_id": network.id})
    await say(
        query,
        _("New action for <b>{network}</b>. Its title, in a few words (up to {max} "
          "characters)?").format(network=escape(network.name), max=TITLE_MAX),
    )


@coordinators.message(PlanForm.title, TEXT)
async def typed_title(message: Message, state: FSMContext, i18n: I18n) -> None:
    try:
        title = service.rules.clean_title(message.text or "")
    except PlanError as exc:
        await message.answer(service.problem_text(exc, i18n.current_locale))
        return
    await state.update_data(title=title)
    await state.set_state(PlanForm.aim)
    await message.answer(
        _("Its aim, in one short sentence (up to {max} characters)? Or tap Skip.").format(
            max=AIM_MAX
        ),
        reply_markup=kb.skip(),
    )


@coordinators.message(PlanForm.aim, TEXT)
async def typed_aim(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    try:
        aim = service.rules.clean_aim(message.text or "")
    except PlanError as exc:
        await message.answer(service.problem_text(exc, i18n.current_locale))
        return
    await state.update_data(aim=aim)
    await _ask_responsible(message, state, session, actor)


@coordinators.callback_query(PlanForm.aim, PlanFormCb.filter(F.step == "skip"))
async def skipped_aim(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    await state.update_data(aim=None)
    await _ask_responsible(query, state, session, actor)


async def _ask_responsible(
    event: Message | CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor,
    step: State | None = None,
) -> None:
    data = await state.get_data()
    people = await service.candidates(session, actor, int(data["network_id"]))
    current = await state.get_state()
    if step is not None:
        await state.set_state(step)
    elif current != PlanEdit.responsible.state:
        await state.set_state(PlanForm.responsible)
    chosen = {int(u) for u in data.get("responsible") or []}
    await say(
        event,
        _("Who is responsible for it? Tap the members, then Continue."),
        reply_markup=kb.responsible(people, chosen),
    )


@coordinators.callback_query(
    StateFilter(PlanForm.responsible, PlanEdit.responsible), PlanFormCb.filter(F.step == "resp")
)
async def toggled_responsible(
    query: CallbackQuery, callback_data: PlanFormCb, state: FSMContext, session: AsyncSession,
    actor: Actor,
) -> None:
    data = await state.get_data()
    people = await service.candidates(session, actor, int(data["network_id"]))
    chosen = {int(u) for u in data.get("responsible") or []}
    if not callback_data.value.isdigit() or int(callback_data.value) not in {p for p, _n in people}:
        return
    chosen ^= {int(callback_data.value)}
    await state.update_data(responsible=sorted(chosen))
    await _ask_responsible(query, state, session, actor)


@coordinators.callback_query(PlanRespCb.filter())
async def change_responsible(
    query: CallbackQuery, callback_data: PlanRespCb, state: FSMContext, session: AsyncSession,
    actor: Actor,
) -> None:
    action, current = await service.responsible_action(session, actor, callback_data.action_id)
    await state.clear()
    await state.set_data(
        {"network_id": action.network_id, "action_id": action.id, "responsible": current}
    )
    await _ask_responsible(query, state, session, actor, PlanEdit.responsible)


@coordinators.callback_query(PlanEdit.responsible, PlanFormCb.filter(F.step == "resp_done"))
async def responsible_changed(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    data = await state.get_data()
    chosen = [int(u) for u in data.get("responsible") or []]
    action = await service.set_responsible(session, actor, int(data["action_id"]), chosen,
                                           utcnow())
    await state.clear()
    await show_action(query, session, actor, i18n, action.id)


@coordinators.callback_query(PlanForm.responsible, PlanFormCb.filter(F.step == "resp_done"))
async def responsible_done(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    data = await state.get_data()
    network = await service.start_action(session, actor, int(data["network_id"]))
    today = service.local_today(network, utcnow())
    locale = i18n.current_locale
    choices = [(service.month_key(m), service.month_label(m, locale))
               for m in service.start_months(today)]
    await state.set_state(PlanForm.start)
    await say(query, _("In which month does it start?"), reply_markup=kb.months("start", choices))


@coordinators.callback_query(PlanForm.start, PlanFormCb.filter(F.step == "start"))
async def chose_start(
    query: CallbackQuery, callback_data: PlanFormCb, state: FSMContext, i18n: I18n
) -> None:
    await ask_last_month(query, callback_data.value, state, i18n, PlanForm.end)


async def ask_last_month(
    query: CallbackQuery, value: str, state: FSMContext, i18n: I18n, end_state: State
) -> None:
    """After the start month's button (a new action, or editing one): the last months."""
    try:
        start = service.parse_month(value)
    except PlanError:
        return
    locale = i18n.current_locale
    choices = [(service.month_key(m), service.month_label(m, locale))
               for m in service.end_months(start)]
    await state.update_data(start=service.month_key(start))
    await state.set_state(end_state)
    await say(query, _("And its last month?"), reply_markup=kb.months("end", choices))


@coordinators.callback_query(PlanForm.end, PlanFormCb.filter(F.step == "end"))
async def chose_end(
    query: CallbackQuery, callback_data: PlanFormCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    data = await state.get_data()
    try:
        action = await service.create_action(
            session, actor, {**data, "end": callback_data.value}, utcnow()
        )
    except PlanError as exc:
        await say(query, service.problem_text(exc, i18n.current_locale))
        if exc.problem != service.Problem.BAD_MONTHS:
            await state.clear()
        return
    await state.clear()
    await show_action(query, session, actor, i18n, action.id,
                       head=_("Saved. The action is planned; set it under way when it starts."))


@coordinators.callback_query(PlanMsNewCb.filter())
async def new_milestone(
    query: CallbackQuery, callback_data: PlanMsNewCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    try:
        action = await service.milestone_action(session, actor, callback_data.action_id)
    except PlanError as exc:
        await say(query, service.problem_text(exc, i18n.current_locale))
        return
    await state.set_state(MilestoneForm.text)
    await state.set_data({"network_id": action.network_id, "action_id": action.id})
    await say(
        query,
        _("A milestone of <b>{action}</b>, in a few words (up to {max} characters)?").format(
            action=escape(action.title), max=MILESTONE_MAX
        ),
    )


@coordinators.message(MilestoneForm.text, TEXT)
async def typed_milestone(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    try:
        text = service.rules.clean_milestone(message.text or "")
    except PlanError as exc:
        await message.answer(service.problem_text(exc, i18n.current_locale))
        return
    data = await state.get_data()
    plan, view = await service.open_action(session, actor, int(data["action_id"]), utcnow())
    await state.update_data(text=text)
    await state.set_state(MilestoneForm.due)
    await message.answer(
        _("When is it due? Tap a button or type the date as YYYY-MM-DD."),
        reply_markup=kb.due_dates(
            due_buttons(plan.today, view.action.end_month, i18n.current_locale)
        ),
    )


def due_buttons(today: date, end_month: date, locale: str) -> list[tuple[str, str]]:
    """(YYYY-MM-DD, label) of the due-date buttons (adding or changing a milestone)."""
    labels = {
        "1w": _("In a week"), "2w": _("In two weeks"), "1m": _("In a month"),
        "end": _("At the action's end"),
    }
    return [
        (day.isoformat(), f"{labels[key]} · {fmt_date(day, locale)}")
        for key, day in service.due_choices(today, end_month)
    ]


async def _save_milestone(
    event: Message | CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor,
    i18n: I18n, due_text: str,
) -> None:
    data = await state.get_data()
    action_id = int(data["action_id"])
    plan, _view = await service.open_action(session, actor, action_id, utcnow())
    try:
        due = service.parse_due(due_text, plan.today)
        await service.add_milestone(session, actor, action_id, str(data.get("text") or ""), due,
                                    utcnow())
    except PlanError as exc:
        await say(event, service.problem_text(exc, i18n.current_locale))
        return
    await state.clear()
    await show_action(event, session, actor, i18n, action_id, head=_("Milestone added."))


@coordinators.callback_query(MilestoneForm.due, PlanFormCb.filter(F.step == "due"))
async def chose_due(
    query: CallbackQuery, callback_data: PlanFormCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    await _save_milestone(query, state, session, actor, i18n, callback_data.value)


@coordinators.message(MilestoneForm.due, TEXT)
async def typed_due(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    await _save_milestone(message, state, session, actor, i18n, message.text or "")
