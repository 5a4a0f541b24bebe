"""/export: period, named or pseudonymised (a button, when EXPORT_PSEUDONYM_KEY is set)."""

from __future__ import annotations

from datetime import date
from html import escape

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callback_answer import CallbackAnswer
from bot.callbacks import (
    PickNetCb,
    RepExportCb,
    RepExportPseudoCb,
)
from bot.config import Settings
from bot.keyboards import reports as kb
from bot.replies import say
from bot.services import networks
from bot.services import reports as service
from bot.services.access import Actor
from bot.services.reports import ReportError
from handlers.reports.review import _pick_or_run
from handlers.reports.states import TEXT, ExportRange, coordinators
from storage.models import Network, utcnow


@coordinators.message(Command("export"))
async def export_cmd(
    message: Message, session: AsyncSession, actor: Actor, settings: Settings
) -> None:
    network = await _pick_or_run(message, session, actor, "export")
    if network is not None:
        await _ask_period(message, network, settings)


async def _ask_period(
    event: Message | CallbackQuery, network: Network, settings: Settings, pseudo: bool = False
) -> None:
    text = _("Export the reports of <b>{network}</b> for which period?").format(
        network=escape(network.name)
    )
    if pseudo:
        text += "\n\n🔒 " + _("The files will show pseudonyms instead of the authors' names.")
    offer = settings.pseudonym_key() is not None
    await say(event, text, reply_markup=kb.export_periods(network.id, pseudo, offer))


@coordinators.callback_query(PickNetCb.filter(F.purpose == "export"))
async def export_picked(
    query: CallbackQuery,
    callback_data: PickNetCb,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
) -> None:
    network = await networks.coordinated_network(session, actor, callback_data.network_id)
    await _ask_period(query, network, settings)


@coordinators.callback_query(RepExportCb.filter())
@coordinators.callback_query(RepExportPseudoCb.filter())
async def export_period(
    query: CallbackQuery,
    callback_data: RepExportCb | RepExportPseudoCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    state: FSMContext,
    settings: Settings,
) -> None:
    network = await networks.coordinated_network(session, actor, callback_data.network_id)
    await callback_answer.now()  # before the files are built
    period = callback_data.period
    pseudo = isinstance(callback_data, RepExportPseudoCb)
    if period == "custom":
        await state.set_state(ExportRange.dates)
        await state.set_data({"network_id": network.id, "pseudo": pseudo})
        await say(
            query,
            _("Type the first and the last day, for example:\n<code>{example}</code>").format(
                example=_example_range(network)
            ),
        )
        return
    if period not in service.PERIODS:
        await _ask_period(query, network, settings, pseudo)
        return
    weekend = (await service.get_settings(session, network.id)).weekend
    since, until = service.period_range(period, network, weekend, utcnow())
    if isinstance(query.message, Message):
        await _send_export(
            query.message, session, actor, i18n, network, (since, until), pseudo, settings
        )


def _example_range(network: Network) -> str:
    today = service.local_today(network, utcnow())
    return f"{today.replace(day=1).isoformat()} {today.isoformat()}"


@coordinators.message(ExportRange.dates, TEXT)
async def export_typed_range(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    data = await state.get_data()
    network = await networks.coordinated_network(session, actor, int(data["network_id"]))
    try:
        since, until = service.parse_range(message.text or "")
    except ReportError as exc:
        await message.answer(service.problem_text(exc, i18n.current_locale))
        return
    except ValueError:
        await message.answer(
            _("Please type two dates as YYYY-MM-DD, for example:\n<code>{example}</code>").format(
                example=_example_range(network)
            )
        )
        return
    await state.clear()
    pseudo = bool(data.get("pseudo"))
    await _send_export(message, session, actor, i18n, network, (since, until), pseudo, settings)


@coordinators.message(ExportRange.dates)
async def export_range_other(message: Message) -> None:
    await message.answer(_("Please type two dates as YYYY-MM-DD, or send /cancel."))


async def _send_export(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    network: Network,
    period_range: tuple[date | None, date | None],
    pseudo: bool,
    settings: Settings,
) -> None:
    """``pseudo``: pseudonyms instead of names; refused (never names instead) if
    EXPORT_PSEUDONYM_KEY is unset, e.g. removed since the button was shown."""
    key = settings.pseudonym_key() if pseudo else None
    if pseudo and key is None:
        await message.answer(_("Pseudonymised exports are not set up on this bot."))
        return
    locale = i18n.current_locale
    since, until = period_range
    export = await service.export_reports(
        session,
        network_id=network.id,
        since=since,
        until=until,
        formats=service.EXPORT_FORMATS,
        locale=locale,
        actor=actor,
        now=utcnow(),
        pseudonym_key=key,
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
    if export.pseudonymised:
        caption += "\n🔒 " + _("Authors pseudonymised; descriptions may still name people.")
    for fmt in service.EXPORT_FORMATS:
        await message.answer_document(
            BufferedInputFile(export.files[fmt], filename=export.filename(fmt)),
            caption=caption,
        )
