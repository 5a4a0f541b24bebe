"""/digest: this week's digest on demand; coordinators' "Weekly digest" screen and "send now".

* ``/digest`` (members and up): a preview of this week's digest of one network, as the
  person would get it (a member's own answers, or the coordinators' version with its
  chart); admins may also pick "All networks" for the cross-network digest and its XLSX.
* ``DigestSetCb(network_id=…)``: the "Weekly digest" screen of a network (day and hour
  buttons), for coordinators; /settings can link to it with that callback.
* ``DigestSendCb``: "send now" with a confirmation, refused politely once this week's
  digest went out ("send anyway" for admins only).
"""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from apscheduler.schedulers.base import BaseScheduler
from babel.dates import format_datetime
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callback_answer import CallbackAnswer
from bot.callbacks import DigestSendCb, DigestSetCb, PickNetCb
from bot.config import Settings
from bot.delivery import DeliveryEngine
from bot.digest_parts import fit
from bot.filters import MinLevel
from bot.keyboards import digests as kb
from bot.replies import say
from bot.services import digests, networks
from bot.services.access import Actor, Level
from bot.services.digests import DigestSender, Outcome, SendResult
from storage.models import Network, utcnow

router = Router(name=__name__)
router.message.filter(MinLevel(Level.MEMBER))
router.callback_query.filter(MinLevel(Level.MEMBER))

def _sender(
    bot: Bot,
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    settings: Settings,
) -> DigestSender:
    return DigestSender(bot, session_pool, delivery, i18n, settings.admin_ids)


# ------------------------------------------------------------------------- preview


@router.message(Command("digest"))
async def digest_command(message: Message, session: AsyncSession, actor: Actor,
                         i18n: I18n) -> None:
    options = list(await networks.coordinated(session, actor)) if actor.is_admin else (
        networks.joined(actor)
    )
    if not options and not actor.is_admin:
        await message.answer(_("You are not in a network yet."))
        return
    if len(options) == 1 and not actor.is_admin:
        await _show(message, session, actor, i18n, options[0].id)
        return
    await message.answer(
        _("Which network's digest?"), reply_markup=kb.pick(options, actor.is_admin)
    )


# answered first: the preview draws a chart or a spreadsheet
@router.callback_query(
    PickNetCb.filter(F.purpose == kb.PURPOSE), flags={"callback_answer": {"pre": True}}
)
async def picked(query: CallbackQuery, callback_data: PickNetCb, session: AsyncSession,
                 actor: Actor, i18n: I18n) -> None:
    if isinstance(query.message, Message):
        await _show(query.message, session, actor, i18n, callback_data.network_id)


async def _show(message: Message, session: AsyncSession, actor: Actor, i18n: I18n,
                network_id: int) -> None:
    """The preview: chart or spreadsheet first, then the text (with coordinators'
    buttons)."""
    now = utcnow()
    shown = await digests.preview(session, i18n, actor, network_id, now)
    head = "👁 <i>" + _("This week's digest, as you would get it:") + "</i>"
    if shown.chart is not None:
        await message.answer_photo(BufferedInputFile(shown.chart, filename="digest.png"))
    if shown.xlsx is not None:
        await message.answer_document(BufferedInputFile(shown.xlsx, filename=shown.filename))
    markup = None
    text = head + "\n\n" + shown.text
    if network_id and actor.can_coordinate(network_id):
        network, schedule, row = await digests.schedule_of(session, actor, network_id, now)
        locale = i18n.current_locale
        text += "\n\n⚙️ " + _("Sent {when} ({zone}).").format(
            when=digests.schedule_label(schedule, locale), zone=escape(network.timezone)
        ) + " " + digests.sent_label(row, network, locale)
        markup = kb.coordinator_buttons(network_id)
    await message.answer(fit(text), reply_markup=markup)


# ------------------------------------------------------------------------ settings


async def _settings_view(event: Message | CallbackQuery, session: AsyncSession, actor: Actor,
                         i18n: I18n, network_id: int) -> None:
    now = utcnow()
    network, schedule, row = await digests.schedule_of(session, actor, network_id, now)
    locale = i18n.current_locale
    upcoming = digests.next_due(schedule, digests.zone(network), now)
    text = "\n".join(
        [
            _("⚙️ <b>Weekly digest of {network}</b>").format(network=escape(network.name)),
            _("Sent {when} ({zone}).").format(
                when=digests.schedule_label(schedule, locale), zone=escape(network.timezone)
            ),
            digests.sent_label(row, network, locale),
            _("Next one: {when}.").format(
                when=format_datetime(upcoming, "EEEE d MMMM HH:mm",
                                     tzinfo=digests.zone(network), locale=locale)
            ),
            "",
            _("Choose the day, then the hour:"),
        ]
    )
    await say(event, text, reply_markup=kb.schedule_buttons(
        network.id, schedule.weekday, schedule.hour, locale
    ))


@router.callback_query(DigestSetCb.filter(), MinLevel(Level.COORDINATOR))
async def settings_screen(
    query: CallbackQuery,
    callback_data: DigestSetCb,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    scheduler: BaseScheduler | None = None,
) -> None:
    key, value = callback_data.key, callback_data.value
    if key == "day" and 0 <= value <= 6:
        network, schedule = await digests.change_schedule(
            session, actor, callback_data.network_id, utcnow(), weekday=value
        )
        digests.replan(scheduler, network, schedule)
    elif key == "hour" and 0 <= value <= 23:
        network, schedule = await digests.change_schedule(
            session, actor, callback_data.network_id, utcnow(), hour=value
        )
        digests.replan(scheduler, network, schedule)
    elif key != "show":
        return
    await _settings_view(query, session, actor, i18n, callback_data.network_id)


# ------------------------------------------------------------------------ send now


def _refusal(result: SendResult, network: Network, locale: str) -> str:
    if result.outcome == Outcome.IN_PROGRESS:
        return _("This week's digest is being sent right now.")
    when = ""
    if result.digest is not None and result.digest.sent_at is not None:
        when = format_datetime(result.digest.sent_at, "EEEE HH:mm",
                               tzinfo=digests.zone(network), locale=locale)
    return _(
        "This week's digest of {network} already went out ({when}). "
        "It goes out once a week, so members are not told the same twice."
    ).format(network=escape(network.name), when=when)


@router.callback_query(DigestSendCb.filter(), MinLevel(Level.COORDINATOR))
async def send_now(
    query: CallbackQuery,
    callback_data: DigestSendCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    bot: Bot,
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    settings: Settings,
) -> None:
    now = utcnow()
    locale = i18n.current_locale
    step = callback_data.step
    if step == "ask":
        offer = await digests.offer_send_now(session, actor, callback_data.network_id, now)
        network = offer.network
        if offer.refusal is not None:
            markup = kb.send_again(network.id) if offer.may_force else None
            await say(query, _refusal(offer.refusal, network, locale), reply_markup=markup)
            return
        people = offer.people
        await say(
            query,
            _(
                "Send this week's digest of {network} to {n} person now? "
                "The scheduled one ({when}) will then not go out again this week.",
                "Send this week's digest of {network} to {n} people now? "
                "The scheduled one ({when}) will then not go out again this week.",
                people,
            ).format(network=escape(network.name), n=people,
                     when=digests.schedule_label(offer.schedule, locale)),
            reply_markup=kb.confirm_send(network.id),
        )
        return
    network = await networks.coordinated_network(session, actor, callback_data.network_id)
    if step not in {"go", "force"}:
        return
    await callback_answer.now()  # before the digest goes out to everyone
    result = await digests.send_now(
        _sender(bot, session_pool, delivery, i18n, settings), actor, network.id, now,
        force=step == "force",
    )
    if result.sent:
        await say(
            query,
            _(
                "The digest of {network} is on its way to {n} person.",
                "The digest of {network} is on its way to {n} people.",
                result.recipients,
            ).format(network=escape(network.name), n=result.recipients),
        )
    else:
        await say(query, _refusal(result, network, locale))
