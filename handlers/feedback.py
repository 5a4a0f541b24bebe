"""Training feedback: a member's three answers; /feedback and one event's answers for
coordinators, and their export."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callback_answer import CallbackAnswer
from bot.callbacks import FbExportCb, FbRateCb, FbSkipCb, FbViewCb
from bot.filters import TYPED, member_and_coordinator_routers
from bot.keyboards import feedback as kb
from bot.replies import say
from bot.services import feedback
from bot.services.access import Actor
from bot.services.feedback import FeedbackError
from bot.text.formats import fmt_number
from storage.models import utcnow

router, members, coordinators = member_and_coordinator_routers(__name__)
TEXT = TYPED


class FeedbackForm(StatesGroup):
    """The two optional questions; the data holds the event's id (checked at each step)."""

    apply = State()
    missing = State()


STATE_OF = {"apply": FeedbackForm.apply, "missing": FeedbackForm.missing}
FEEDBACK_STATES = {s.state for s in STATE_OF.values()}


def _refuse(callback_answer: CallbackAnswer, exc: FeedbackError) -> None:
    callback_answer.text = feedback.problem_text(exc)
    callback_answer.show_alert = True


async def _ask_step(
    event: Message | CallbackQuery, state: FSMContext, event_id: int, step: str | None
) -> None:
    if step is None:
        # A Skip pressed on an older question must not end a dialog started since (/report).
        if await state.get_state() in FEEDBACK_STATES:
            await state.clear()
        await say(event, feedback.done_text())
        return
    await state.set_state(STATE_OF[step])
    await state.set_data({"event_id": event_id})
    await say(event, feedback.step_question(step), reply_markup=kb.skip(event_id, step))


@members.callback_query(FbRateCb.filter())
async def rate(
    query: CallbackQuery,
    callback_data: FbRateCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    try:
        event = await feedback.rate(
            session, actor, callback_data.event_id, callback_data.n, utcnow()
        )
    except FeedbackError as exc:
        _refuse(callback_answer, exc)
        return
    callback_answer.text = _("Thank you!")
    await callback_answer.now()
    # The question itself now shows the answer (its buttons go); the next one follows.
    await say(query, feedback.rated_text(event, callback_data.n, i18n.current_locale))
    if isinstance(query.message, Message):
        await _ask_step(query.message, state, event.id, "apply")


@members.callback_query(FbSkipCb.filter())
async def skip(
    query: CallbackQuery,
    callback_data: FbSkipCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    try:
        step = await feedback.answer_step(
            session, actor, callback_data.event_id, callback_data.step, None
        )
    except FeedbackError as exc:
        _refuse(callback_answer, exc)
        return
    current = await state.get_state()
    if step is not None and current is not None and current not in FEEDBACK_STATES \
            and isinstance(query.message, Message):
        # Another dialog was under way: the next question comes below, where it is seen,
        # not in place of the old question further up.
        await _ask_step(query.message, state, callback_data.event_id, step)
        return
    await _ask_step(query, state, callback_data.event_id, step)


@members.message(FeedbackForm.apply, TEXT)
@members.message(FeedbackForm.missing, TEXT)
async def typed_answer(
    message: Message, session: AsyncSession, actor: Actor, state: FSMContext, raw_state: str
) -> None:
    data = await state.get_data()
    event_id = int(data.get("event_id") or 0)
    step = "apply" if raw_state == FeedbackForm.apply.state else "missing"
    try:
        following = await feedback.answer_step(session, actor, event_id, step, message.text or "")
    except FeedbackError as exc:  # the dialog stays (a refusal changes nothing); /cancel
        await message.answer(feedback.problem_text(exc))
        return
    await _ask_step(message, state, event_id, following)


NOT_A_COMMAND = F.func(lambda m: not (m.text or "").startswith("/"))


@members.message(FeedbackForm.apply, NOT_A_COMMAND)
@members.message(FeedbackForm.missing, NOT_A_COMMAND)
async def other_answer(message: Message) -> None:
    await message.answer(_("Please type a short answer, or tap “Skip”."))


# ------------------------------------------------------------------ coordinators


@coordinators.message(Command("feedback"))
async def overview(message: Message, session: AsyncSession, actor: Actor, i18n: I18n) -> None:
    result = await feedback.overview(session, actor, utcnow())
    locale = i18n.current_locale
    buttons = [(e.event_id, f"{fmt_number(n, locale)}. {e.title}")
               for n, e in enumerate(result.recent, 1)]
    await message.answer(
        feedback.overview_text(result, locale),
        reply_markup=kb.overview(buttons, can_export=bool(result.months)),
    )


@coordinators.callback_query(FbViewCb.filter())
async def event_view(
    query: CallbackQuery,
    callback_data: FbViewCb,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
) -> None:
    event, s = await feedback.event_results(session, actor, callback_data.event_id)
    text = feedback.results_text(
        event, s.asked, s.answered, s.average, s.counts, s.apply, s.missing,
        i18n.current_locale, now=utcnow(),
    )
    await say(query, text, reply_markup=kb.event_results(event.id, can_export=bool(s.asked)))


@coordinators.callback_query(FbExportCb.filter())
async def export(
    query: CallbackQuery,
    callback_data: FbExportCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
) -> None:
    result = await feedback.export_feedback(
        session, actor, callback_data.event_id, i18n.current_locale, utcnow()
    )
    await callback_answer.now()
    if not isinstance(query.message, Message):
        return
    caption = _(
        "Training feedback: {n} person asked. No names in the file.",
        "Training feedback: {n} people asked. No names in the file.",
        result.count,
    ).format(n=fmt_number(result.count, i18n.current_locale))
    for fmt in feedback.EXPORT_FORMATS:
        await query.message.answer_document(
            BufferedInputFile(result.files[fmt], filename=f"{result.name}.{fmt}"),
            caption=caption,
        )
