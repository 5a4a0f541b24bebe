"""/broadcast and /broadcasts for coordinators; the "understood" button for everyone."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callback_answer import CallbackAnswer
from bot.callbacks import AckCb, BcAudCb, BcCancelCb, BcNetCb, BcSecCb, BcStepCb, PickNetCb
from bot.config import Settings
from bot.delivery import DeliveryEngine
from bot.filters import DialogNetwork, MinLevel
from bot.keyboards import broadcasts as kb
from bot.replies import say
from bot.services import broadcasts, networks
from bot.services.access import Actor, Level
from bot.services.broadcasts import Content
from bot.services.events import EventError, parse_local_datetime
from bot.text.labels import join_list, sector_label
from storage.models import Network, Role, utcnow
from storage.repositories.broadcasts import Audience

router = Router(name=__name__)
# The "understood" button is for every recipient; the rest is for coordinators.
coordinators = Router(name=f"{__name__}.coordinators")
coordinators.message.filter(MinLevel(Level.COORDINATOR))
coordinators.callback_query.filter(MinLevel(Level.COORDINATOR))
router.include_router(coordinators)

MAX_AHEAD = timedelta(days=60)


class Bc(StatesGroup):
    networks = State()
    audience = State()
    sectors = State()
    content = State()
    confirm = State()
    schedule = State()


# Each step checks the networks chosen so far (bot/filters.py).
coordinators.message.filter(DialogNetwork(Bc))
coordinators.callback_query.filter(DialogNetwork(Bc))


@router.callback_query(AckCb.filter())
async def understood(
    query: CallbackQuery,
    callback_data: AckCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
) -> None:
    ok = await broadcasts.acknowledge(session, callback_data.delivery_id, query.from_user.id)
    if not ok:
        callback_answer.text = _("This button is no longer valid.")
        callback_answer.show_alert = True
        return
    callback_answer.text = _("Thank you!")
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        await query.message.edit_reply_markup(reply_markup=None)


@coordinators.message(Command("broadcast"))
async def start(message: Message, session: AsyncSession, actor: Actor, state: FSMContext) -> None:
    await state.clear()
    options = await networks.coordinated(session, actor)
    if not options:
        await message.answer(_("There are no networks yet."))
    elif len(options) == 1:
        await _ask_audience(message, state, [options[0].id])
    elif actor.is_admin:
        await state.set_state(Bc.networks)
        await state.set_data({"networks": []})
        await message.answer(
            _("Which networks should get it? Tap to choose, then Continue."),
            reply_markup=kb.networks(options, []),
        )
    else:
        await state.set_state(Bc.networks)
        await message.answer(
            _("Which network is it for?"),
            reply_markup=keyboards.pick_network("broadcast", options),
        )


@coordinators.callback_query(Bc.networks, PickNetCb.filter(F.purpose == "broadcast"))
async def picked_network(
    query: CallbackQuery, callback_data: PickNetCb, actor: Actor, state: FSMContext
) -> None:
    actor.require_coordinator(callback_data.network_id)
    await _ask_audience(query, state, [callback_data.network_id])


@coordinators.callback_query(Bc.networks, BcNetCb.filter())
async def toggled_network(
    query: CallbackQuery,
    callback_data: BcNetCb,
    actor: Actor,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    actor.require_coordinator(callback_data.network_id)
    chosen: list[int] = (await state.get_data()).get("networks", [])
    if callback_data.network_id in chosen:
        chosen.remove(callback_data.network_id)
    else:
        chosen.append(callback_data.network_id)
    await state.update_data(networks=chosen)
    if isinstance(query.message, Message):
        options = await networks.coordinated(session, actor)
        await query.message.edit_reply_markup(reply_markup=kb.networks(options, chosen))


@coordinators.callback_query(Bc.networks, BcStepCb.filter(F.action == "networks_done"))
async def networks_done(
    query: CallbackQuery, callback_answer: CallbackAnswer, state: FSMContext
) -> None:
    chosen: list[int] = (await state.get_data()).get("networks", [])
    if not chosen:
        callback_answer.text = _("Choose at least one network.")
        callback_answer.show_alert = True
        return
    await _ask_audience(query, state, chosen)


async def _ask_audience(
    event: Message | CallbackQuery, state: FSMContext, network_ids: list[int]
) -> None:
    await state.set_state(Bc.audience)
    await state.set_data({"networks": network_ids})
    await say(event, _("Who should get it?"), reply_markup=kb.audience())


@coordinators.callback_query(Bc.audience, BcAudCb.filter())
async def chose_audience(query: CallbackQuery, callback_data: BcAudCb, state: FSMContext) -> None:
    if callback_data.audience == "sectors":
        await state.set_state(Bc.sectors)
        await state.update_data(sectors=[])
        await say(query, _("Which sectors? Tap to choose, then Continue."),
                  reply_markup=kb.sectors([]))
        return
    roles = [Role.COORDINATOR.value] if callback_data.audience == "coordinators" else None
    await state.update_data(roles=roles, sectors=None)
    await _ask_content(query, state)


@coordinators.callback_query(Bc.sectors, BcSecCb.filter())
async def toggled_sector(query: CallbackQuery, callback_data: BcSecCb, state: FSMContext) -> None:
    chosen: list[str] = (await state.get_data()).get("sectors") or []
    sector = callback_data.sector.value
    chosen = [s for s in chosen if s != sector] if sector in chosen else [*chosen, sector]
    await state.update_data(sectors=chosen)
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=kb.sectors(chosen))


@coordinators.callback_query(Bc.sectors, BcStepCb.filter(F.action == "sectors_done"))
async def sectors_done(
    query: CallbackQuery, callback_answer: CallbackAnswer, state: FSMContext
) -> None:
    if not (await state.get_data()).get("sectors"):
        callback_answer.text = _("Choose at least one sector.")
        callback_answer.show_alert = True
        return
    await state.update_data(roles=None)
    await _ask_content(query, state)


async def _ask_content(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(Bc.content)
    await say(
        query,
        _(
            "Now send the message: text (bold, links and other formatting are kept), "
            "or a photo or a document with a caption. /cancel to stop."
        ),
    )


def _audience(data: dict[str, object]) -> Audience:
    roles = data.get("roles")
    sectors = data.get("sectors")
    return Audience(
        network_ids=tuple(data["networks"]),  # type: ignore[arg-type]
        roles=tuple(roles) if roles else None,  # type: ignore[arg-type]
        sectors=tuple(sectors) if sectors else None,  # type: ignore[arg-type]
    )


@coordinators.message(Bc.content, ~F.text.startswith("/"))
async def got_content(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    bot: Bot,
) -> None:
    content = broadcasts.content_from_message(message)
    if content is None:
        await message.answer(_("I can send text, a photo or a document. Please send one of them."))
        return
    data = await state.get_data()
    audience = _audience(data)
    people, unreachable = await broadcasts.audience_size(session, actor, audience)
    if people == 0:
        await message.answer(
            _("Nobody in this audience yet. Send /broadcast to choose another one.")
        )
        await state.clear()
        return
    await state.update_data(content=content.as_json())
    await state.set_state(Bc.confirm)
    await message.answer(_("Preview: this is what they will get."))
    await broadcasts.show(bot, message.chat.id, content)
    await message.answer(
        await _summary(session, actor, audience, people, unreachable), reply_markup=kb.confirm()
    )


async def _summary(
    session: AsyncSession, actor: Actor, audience: Audience, people: int, unreachable: int
) -> str:
    names = join_list(
        escape(n.name) for n in await networks.coordinated(session, actor)
        if n.id in audience.network_ids
    )
    if audience.roles:
        who = _("coordinators only")
    elif audience.sectors:
        who = join_list(sector_label(s) for s in audience.sectors)
    else:
        who = _("everyone")
    text = _(
        "It will reach {n} person in {networks} ({who}).",
        "It will reach {n} people in {networks} ({who}).",
        people,
    ).format(n=people, networks=names, who=who)
    if unreachable:
        text += "\n" + _(
            "{n} of them has blocked the bot and will be skipped.",
            "{n} of them have blocked the bot and will be skipped.",
            unreachable,
        ).format(n=unreachable)
    return text


@coordinators.callback_query(StateFilter(Bc), BcStepCb.filter(F.action == "cancel"))
async def cancelled(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await say(query, _("Cancelled. Nothing was sent."))


# answered first: the progress message and the queueing of every recipient follow
@coordinators.callback_query(
    Bc.confirm, BcStepCb.filter(F.action == "send"), flags={"callback_answer": {"pre": True}}
)
async def send_now(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    delivery: DeliveryEngine,
    i18n: I18n,
    settings: Settings,
) -> None:
    await _send(query, state, session, actor, delivery, i18n, settings, due_at=None)


@coordinators.callback_query(Bc.confirm, BcStepCb.filter(F.action == "schedule"))
async def ask_time(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    network = await _first_network(session, actor, await state.get_data())
    await state.set_state(Bc.schedule)
    await say(
        query,
        _("When? Send the date and time as YYYY-MM-DD HH:MM ({timezone} time).").format(
            timezone=escape(network.timezone)
        ),
    )


async def _first_network(session: AsyncSession, actor: Actor, data: dict[str, object]) -> Network:
    wanted: int = data["networks"][0]  # type: ignore[index]
    return await networks.coordinated_network(session, actor, wanted)


@coordinators.message(Bc.schedule, F.text, ~F.text.startswith("/"))
async def got_time(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    delivery: DeliveryEngine,
    i18n: I18n,
    settings: Settings,
) -> None:
    network = await _first_network(session, actor, await state.get_data())
    now = utcnow()
    tz = ZoneInfo(network.timezone)
    try:
        due_at = parse_local_datetime((message.text or "").strip(), tz)
    except EventError:
        await message.answer(
            _("Please write it as YYYY-MM-DD HH:MM, for example 2026-03-01 18:30.")
        )
        return
    if due_at <= now + timedelta(minutes=1):
        await message.answer(_("That time has passed. Please send a time in the future."))
        return
    if due_at - now > MAX_AHEAD:
        await message.answer(_("Please choose a time within the next 60 days."))
        return
    await _send(message, state, session, actor, delivery, i18n, settings, due_at=due_at, tz=tz)


async def _send(
    event: Message | CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    delivery: DeliveryEngine,
    i18n: I18n,
    settings: Settings,
    *,
    due_at: datetime | None,
    tz: ZoneInfo | None = None,
) -> None:
    data = await state.get_data()
    if "content" not in data:
        await state.clear()
        await say(event, _("This broadcast is incomplete. Please start again with /broadcast."))
        return
    content = Content.from_json(data["content"])  # type: ignore[arg-type]
    if due_at is None:
        note = _("Sending…")
    else:
        when = format_datetime(due_at.astimezone(tz), "medium", locale=i18n.current_locale)
        note = _("Scheduled for {when}. I will report here when it goes out.").format(when=when)
    chat_id = event.from_user.id if event.from_user else 0  # a private chat: the user's id
    progress_message = await event.bot.send_message(chat_id, note)  # type: ignore[union-attr]
    await state.clear()
    await broadcasts.send(
        session,
        delivery,
        i18n,
        actor,
        audience=_audience(data),
        content=content,
        due_at=due_at,
        progress=(chat_id, progress_message.message_id),
        default_locale=settings.default_locale,
    )
    if isinstance(event, CallbackQuery) and isinstance(event.message, Message):
        await event.message.edit_reply_markup(reply_markup=None)


@coordinators.message(StateFilter(Bc), ~F.text.startswith("/"))
async def dialog_other(message: Message) -> None:
    await message.answer(_("Please use the buttons above, or send /cancel to stop."))


@coordinators.message(Command("broadcasts"))
async def history(message: Message, session: AsyncSession, actor: Actor, i18n: I18n) -> None:
    items = await broadcasts.recent(session, actor)
    if not items:
        await message.answer(_("No broadcasts yet. Send one with /broadcast."))
        return
    lines = [_("<b>Recent broadcasts</b>")]
    scheduled: list[int] = []
    for broadcast, totals in items:
        when = format_datetime(broadcast.created_at, "short", locale=i18n.current_locale)
        head = f"{when} — {escape(broadcast.preview or '…')}"
        if broadcast.job.status == "scheduled":
            scheduled.append(broadcast.id)
            due = format_datetime(broadcast.job.due_at, "short", locale=i18n.current_locale)
            lines.append(
                _("#{n} {head}\n   scheduled for {due} (UTC), to {total} people").format(
                    n=len(scheduled), head=head, due=due, total=broadcast.job.total
                )
            )
            continue
        if broadcast.job.status == "cancelled":
            lines.append(_("{head}\n   cancelled").format(head=head))
            continue
        lines.append(
            _(
                "{head}\n   delivered {delivered}/{total} · understood {understood} · "
                "blocked {blocked} · failed {failed}"
            ).format(
                head=head,
                delivered=totals.delivered,
                total=broadcast.job.total + broadcast.job.skipped,
                understood=totals.understood,
                blocked=totals.blocked + broadcast.job.skipped,
                failed=totals.failed,
            )
        )
    markup: InlineKeyboardMarkup | None = kb.cancel_scheduled(scheduled)
    await message.answer("\n".join(lines), reply_markup=markup)


@coordinators.callback_query(BcCancelCb.filter())
async def cancel_scheduled(
    query: CallbackQuery,
    callback_data: BcCancelCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    delivery: DeliveryEngine,
) -> None:
    done = await broadcasts.cancel(session, delivery, actor, callback_data.broadcast_id)
    callback_answer.text = (
        _("The scheduled broadcast was cancelled.") if done
        else _("Too late: it has already been sent.")
    )
    callback_answer.show_alert = True
