"""/plan, editing: an action's title, aim and months; a milestone's text and due date, or
its removal (after a confirmation). Coordinators of the action's network and admins;
each typed step leaves the action unchanged on /cancel."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import PlanEditCb, PlanFormCb, PlanMsEditCb
from bot.filters import DialogNetwork, MinLevel
from bot.keyboards import plans as kb
from bot.replies import say
from bot.services import plans as service
from bot.services.access import Actor, Level
from bot.services.plans import PlanError, edits
from bot.text.formats import fmt_date, fmt_number
from handlers.plans import TEXT, PlanEdit, ask_last_month, due_buttons, show_action
from storage.models import utcnow
from storage.models.plans import AIM_MAX, MILESTONE_MAX, TITLE_MAX

router = Router(name=__name__)
router.message.filter(MinLevel(Level.COORDINATOR), DialogNetwork(PlanEdit))
router.callback_query.filter(MinLevel(Level.COORDINATOR), DialogNetwork(PlanEdit))

KEEP = "/cancel"


def _done(changed: bool) -> str:
    return _("Changed.") if changed else _("Nothing changed.")


async def _refused(
    event: Message | CallbackQuery, state: FSMContext, exc: PlanError, i18n: I18n
) -> None:
    """A problem with what was typed or tapped: say it; the step stays for another try,
    unless the milestone is gone."""
    if exc.problem in (service.Problem.MILESTONE_GONE, service.Problem.INCOMPLETE):
        await state.clear()
    await say(event, service.problem_text(exc, i18n.current_locale))


# --------------------------------------------------------------------- the action


@router.callback_query(PlanEditCb.filter(F.what == "menu"))
async def edit_menu(
    query: CallbackQuery, callback_data: PlanEditCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    action = await edits.action_to_edit(session, actor, callback_data.action_id)
    await state.clear()
    _plan, view = await service.open_action(session, actor, action.id, utcnow())
    lines = [_("What do you want to change in <b>{action}</b>?").format(
        action=escape(action.title))]
    if view.milestones:
        lines.append(_("Or tap a milestone to change its text or due date, or to remove it."))
    await say(query, "\n".join(lines),
              reply_markup=kb.edit_menu(action.id, [(m.id, m.text, m.done)
                                                    for m in view.milestones]))


@router.callback_query(PlanEditCb.filter(F.what == "title"))
async def edit_title(
    query: CallbackQuery, callback_data: PlanEditCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    action = await edits.action_to_edit(session, actor, callback_data.action_id)
    await state.clear()
    await state.set_state(PlanEdit.title)
    await state.set_data({"network_id": action.network_id, "action_id": action.id})
    await say(query, _(
        "The title now: <b>{title}</b>\nSend the new title (up to {max} characters), or "
        "{cancel} to keep it."
    ).format(title=escape(action.title), max=fmt_number(TITLE_MAX, i18n.current_locale),
             cancel=KEEP))


@router.message(PlanEdit.title, TEXT)
async def typed_title(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    data = await state.get_data()
    try:
        changed = await edits.set_title(session, actor, int(data["action_id"]),
                                        message.text or "", utcnow())
    except PlanError as exc:
        await _refused(message, state, exc, i18n)
        return
    await state.clear()
    await show_action(message, session, actor, i18n, int(data["action_id"]), head=_done(changed))


@router.callback_query(PlanEditCb.filter(F.what == "aim"))
async def edit_aim(
    query: CallbackQuery, callback_data: PlanEditCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    action = await edits.action_to_edit(session, actor, callback_data.action_id)
    await state.clear()
    await state.set_state(PlanEdit.aim)
    await state.set_data({"network_id": action.network_id, "action_id": action.id})
    if action.aim:
        text = _(
            "The aim now: {aim}\nSend the new aim, in one short sentence (up to {max} "
            "characters), tap “Clear the aim” to leave it without one, or {cancel} to keep it."
        ).format(aim=escape(action.aim), max=fmt_number(AIM_MAX, i18n.current_locale), cancel=KEEP)
        await say(query, text, reply_markup=kb.clear_aim())
        return
    await say(query, _(
        "This action has no aim yet. Send one, in one short sentence (up to {max} "
        "characters), or {cancel} to leave it without one."
    ).format(max=fmt_number(AIM_MAX, i18n.current_locale), cancel=KEEP))


@router.message(PlanEdit.aim, TEXT)
async def typed_aim(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    data = await state.get_data()
    try:
        changed = await edits.set_aim(session, actor, int(data["action_id"]), message.text or "",
                                      utcnow())
    except PlanError as exc:
        await _refused(message, state, exc, i18n)
        return
    await state.clear()
    await show_action(message, session, actor, i18n, int(data["action_id"]), head=_done(changed))


@router.callback_query(PlanEdit.aim, PlanFormCb.filter(F.step == "aim_clear"))
async def cleared_aim(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    data = await state.get_data()
    changed = await edits.set_aim(session, actor, int(data["action_id"]), None, utcnow())
    await state.clear()
    await show_action(query, session, actor, i18n, int(data["action_id"]), head=_done(changed))


@router.callback_query(PlanEditCb.filter(F.what == "months"))
async def edit_months(
    query: CallbackQuery, callback_data: PlanEditCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    action = await edits.action_to_edit(session, actor, callback_data.action_id)
    locale = i18n.current_locale
    today = await edits.network_today(session, action, utcnow())
    choices = [(service.month_key(m), service.month_label(m, locale))
               for m in service.edit_start_months(today, action.start_month)]
    await state.clear()
    await state.set_state(PlanEdit.start)
    await state.set_data({"network_id": action.network_id, "action_id": action.id})
    await say(
        query,
        _("<b>{action}</b> runs {months} now.").format(
            action=escape(action.title),
            months=service.months_text(action.start_month, action.end_month, locale),
        ) + "\n" + _("In which month does it start?") + " "
        + _("({cancel} keeps it as it is.)").format(cancel=KEEP),
        reply_markup=kb.months("start", choices),
    )


@router.callback_query(PlanEdit.start, PlanFormCb.filter(F.step == "start"))
async def chose_start(
    query: CallbackQuery, callback_data: PlanFormCb, state: FSMContext, i18n: I18n
) -> None:
    await ask_last_month(query, callback_data.value, state, i18n, PlanEdit.end)


@router.callback_query(PlanEdit.end, PlanFormCb.filter(F.step == "end"))
async def chose_end(
    query: CallbackQuery, callback_data: PlanFormCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    data = await state.get_data()
    try:
        changed = await edits.set_months(session, actor, int(data["action_id"]),
                                         str(data.get("start") or ""), callback_data.value,
                                         utcnow())
    except PlanError as exc:
        await _refused(query, state, exc, i18n)
        return
    await state.clear()
    await show_action(query, session, actor, i18n, int(data["action_id"]), head=_done(changed))


# ------------------------------------------------------------------- a milestone


async def _milestone_line(
    session: AsyncSession, actor: Actor, milestone_id: int, i18n: I18n
) -> tuple[int, str]:
    milestone, action = await edits.milestone_to_edit(session, actor, milestone_id)
    date = fmt_date(milestone.due_date, i18n.current_locale)
    mark = "☑️" if milestone.done else "⬜"
    return action.id, (f"<b>{escape(action.title)}</b>\n{mark} {escape(milestone.text)} · "
                       f"{date}")


@router.callback_query(PlanMsEditCb.filter(F.what == "menu"))
async def milestone_menu(
    query: CallbackQuery, callback_data: PlanMsEditCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    try:
        action_id, line = await _milestone_line(session, actor, callback_data.milestone_id, i18n)
    except PlanError as exc:
        await _refused(query, state, exc, i18n)
        return
    await state.clear()
    await say(query, line + "\n\n" + _("What do you want to change in this milestone?"),
              reply_markup=kb.milestone_menu(callback_data.milestone_id, action_id))


@router.callback_query(PlanMsEditCb.filter(F.what == "text"))
async def edit_milestone_text(
    query: CallbackQuery, callback_data: PlanMsEditCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    try:
        milestone, action = await edits.milestone_to_edit(session, actor,
                                                          callback_data.milestone_id)
    except PlanError as exc:
        await _refused(query, state, exc, i18n)
        return
    await state.clear()
    await state.set_state(PlanEdit.ms_text)
    await state.set_data({"network_id": action.network_id, "action_id": action.id,
                          "milestone_id": milestone.id})
    await say(query, _(
        "The milestone now: {text}\nSend its new text, in a few words (up to {max} "
        "characters), or {cancel} to keep it."
    ).format(text=escape(milestone.text), max=fmt_number(MILESTONE_MAX, i18n.current_locale),
             cancel=KEEP))


@router.message(PlanEdit.ms_text, TEXT)
async def typed_milestone_text(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    data = await state.get_data()
    try:
        action, changed = await edits.set_milestone_text(
            session, actor, int(data["milestone_id"]), message.text or "", utcnow()
        )
    except PlanError as exc:
        await _refused(message, state, exc, i18n)
        return
    await state.clear()
    await show_action(message, session, actor, i18n, action.id, head=_done(changed))


@router.callback_query(PlanMsEditCb.filter(F.what == "due"))
async def edit_milestone_due(
    query: CallbackQuery, callback_data: PlanMsEditCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    try:
        milestone, action = await edits.milestone_to_edit(session, actor,
                                                          callback_data.milestone_id)
    except PlanError as exc:
        await _refused(query, state, exc, i18n)
        return
    plan, view = await service.open_action(session, actor, action.id, utcnow())
    await state.clear()
    await state.set_state(PlanEdit.ms_due)
    await state.set_data({"network_id": action.network_id, "action_id": action.id,
                          "milestone_id": milestone.id})
    locale = i18n.current_locale
    await say(
        query,
        _("{milestone}: due on {date} now.").format(
            milestone=escape(milestone.text), date=fmt_date(milestone.due_date, locale)
        ) + "\n" + _("When is it due? Tap a button or type the date as YYYY-MM-DD.")
        + " " + _("({cancel} keeps it as it is.)").format(cancel=KEEP),
        reply_markup=kb.due_dates(due_buttons(plan.today, view.action.end_month, locale)),
    )


async def _save_due(
    event: Message | CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor,
    i18n: I18n, due_text: str,
) -> None:
    data = await state.get_data()
    try:
        action, changed = await edits.set_milestone_due(
            session, actor, int(data["milestone_id"]), due_text, utcnow()
        )
    except PlanError as exc:
        await _refused(event, state, exc, i18n)
        return
    await state.clear()
    await show_action(event, session, actor, i18n, action.id, head=_done(changed))


@router.callback_query(PlanEdit.ms_due, PlanFormCb.filter(F.step == "due"))
async def chose_due(
    query: CallbackQuery, callback_data: PlanFormCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    await _save_due(query, state, session, actor, i18n, callback_data.value)


@router.message(PlanEdit.ms_due, TEXT)
async def typed_due(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, i18n: I18n
) -> None:
    await _save_due(message, state, session, actor, i18n, message.text or "")


@router.callback_query(PlanMsEditCb.filter(F.what == "remove"))
async def remove_asked(
    query: CallbackQuery, callback_data: PlanMsEditCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    try:
        _action_id, line = await _milestone_line(session, actor, callback_data.milestone_id, i18n)
    except PlanError as exc:
        await _refused(query, state, exc, i18n)
        return
    await state.clear()
    await say(query, line + "\n\n" + _("Remove this milestone? This cannot be undone."),
              reply_markup=kb.remove_confirm(callback_data.milestone_id))


@router.callback_query(PlanMsEditCb.filter(F.what == "remove_ok"))
async def removed(
    query: CallbackQuery, callback_data: PlanMsEditCb, state: FSMContext, session: AsyncSession,
    actor: Actor, i18n: I18n,
) -> None:
    try:
        action = await edits.remove_milestone(session, actor, callback_data.milestone_id,
                                              utcnow())
    except PlanError as exc:
        await _refused(query, state, exc, i18n)
        return
    await state.clear()
    await show_action(query, session, actor, i18n, action.id, head=_("Milestone removed."))


@router.message(StateFilter(PlanEdit.start, PlanEdit.end), TEXT)
async def typed_month(message: Message) -> None:
    await message.answer(_("Please tap a month above, or send /cancel to keep the months."))
