"""Batched notices of new reports to coordinators, and nudges to members."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callbacks import RepListCb, RepStartCb, RepViewCb
from bot.config import SUPPORTED_LOCALES
from bot.delivery import DeliveryEngine, Recipient
from bot.services.reports.rules import (
    NOTICE_BUTTONS,
    NOTICE_KIND,
    NOTICE_LINES,
    NOTIFY_MAX_WAIT,
    NOTIFY_QUIET,
    NUDGE_KIND,
    NUDGE_RUN_GAP,
)
from bot.services.reports.settings import in_nudge_window
from bot.services.reports.texts import author_text, fmt_number, list_line, report_summary
from storage.models import Network
from storage.repositories import memberships, networks
from storage.repositories import reports as repo
from storage.repositories.reports import ReportRow

log = logging.getLogger(__name__)


def _network_locales(recipient_locales: set[str], default: str) -> list[str]:
    return sorted({loc if loc in SUPPORTED_LOCALES else default for loc in recipient_locales})


def notice_payload(
    i18n: I18n, network: Network, rows: Sequence[ReportRow], locales: Sequence[str]
) -> dict[str, Any]:
    """One message to the coordinators about new reports, rendered once per locale."""
    variants: dict[str, dict[str, Any]] = {}
    labels: dict[str, dict[str, str]] = {}
    for locale in locales:
        with i18n.context(), i18n.use_locale(locale):
            if len(rows) == 1:
                row = rows[0]
                text = (
                    _("New activity report {ref} from {author}:").format(
                        ref=row.report.reference, author=author_text(row)
                    )
                    + "\n\n"
                    + report_summary(row.report, network, locale, row.action_title)
                )
                if len(text) > 1200:
                    text = text[:1200].rsplit(" ", 1)[0] + " …"
            else:
                lines = [
                    _(
                        "{n} new activity report in <b>{network}</b>:",
                        "{n} new activity reports in <b>{network}</b>:",
                        len(rows),
                    ).format(n=fmt_number(len(rows), locale), network=escape(network.name))
                ]
                lines += ["• " + list_line(r, locale) for r in rows[:NOTICE_LINES]]
                if len(rows) > NOTICE_LINES:
                    more = len(rows) - NOTICE_LINES
                    lines.append(_("… and {n} more.").format(n=fmt_number(more, locale)))
                text = "\n".join(lines)
            variants[locale] = {"text": text}
            labels[locale] = {"open": _("Open"), "all": _("All reports")}
    buttons: list[list[dict[str, Any]]] = []
    row_buttons: list[dict[str, Any]] = []
    for r in rows[:NOTICE_BUTTONS]:
        texts = {loc: f"{labels[loc]['open']} {r.report.reference}" for loc in locales}
        row_buttons.append(
            {"text": texts, "callback_data": RepViewCb(report_id=r.report.id).pack()}
        )
        if len(row_buttons) == 2:
            buttons.append(row_buttons)
            row_buttons = []
    if row_buttons:
        buttons.append(row_buttons)
    if len(rows) > 1:
        buttons.append(
            [
                {
                    "text": {loc: labels[loc]["all"] for loc in locales},
                    "callback_data": RepListCb(network_id=network.id).pack(),
                }
            ]
        )
    first = locales[0]
    return {
        "method": "send_message",
        "params": dict(variants.get("en", variants[first])),
        "locales": variants,
        "buttons": buttons,
    }


async def notify_new_reports(
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    now: datetime,
) -> int:
    """Queue one notice per network with new reports. Returns how many reports were
    notified. Each network's reports are claimed and its notice queued in one
    transaction, so a crash or a second process neither loses nor repeats a notice."""
    async with session_pool() as session:
        network_ids = await repo.networks_to_notify(
            session, quiet_before=now - NOTIFY_QUIET, stale_before=now - NOTIFY_MAX_WAIT
        )
    done = 0
    for network_id in network_ids:
        async with session_pool() as session:
            ids = await repo.claim_unnotified(session, network_id, now)
            if not ids:
                await session.rollback()
                continue
            rows = await repo.rows_by_ids(session, ids)
            network = await networks.get(session, network_id)
            assert network is not None
            authors = {r.report.author_id for r in rows}
            recipients = [
                Recipient(u.id, u.tg_id, u.language or i18n.default_locale)
                for u in await memberships.coordinators(session, network_id)
                if not authors <= {u.id}  # nobody is told of their own reports only
            ]
            if not recipients:
                await session.commit()
                done += len(ids)
                continue
            locales = _network_locales({r.locale for r in recipients}, i18n.default_locale)
            payload = notice_payload(i18n, network, rows, locales)
            await delivery.enqueue(
                session,
                kind=NOTICE_KIND,
                payload=payload,
                recipients=recipients,
                network_id=network_id,
            )
            done += len(ids)
    return done


def nudge_payload(
    i18n: I18n, network: Network, days: int, locales: Sequence[str]
) -> dict[str, Any]:
    variants: dict[str, dict[str, Any]] = {}
    labels: dict[str, str] = {}
    for locale in locales:
        with i18n.context(), i18n.use_locale(locale):
            variants[locale] = {
                "text": _(
                    "Hello! No activity report from you in <b>{network}</b> for {n} day. "
                    "Did you run or attend an activity lately? Reporting it takes half a "
                    "minute.",
                    "Hello! No activity report from you in <b>{network}</b> for {n} days. "
                    "Did you run or attend an activity lately? Reporting it takes half a "
                    "minute.",
                    days,
                ).format(network=escape(network.name), n=fmt_number(days, locale))
            }
            labels[locale] = "📝 " + _("Report an activity")
    first = locales[0]
    return {
        "method": "send_message",
        "params": dict(variants.get("en", variants[first])),
        "locales": variants,
        "buttons": [[{"text": labels, "callback_data": RepStartCb(network_id=network.id).pack()}]],
    }


async def send_nudges(
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    now: datetime,
) -> int:
    """Nudge the members who are due, in networks where it is a good time. Returns how
    many people were nudged."""
    async with session_pool() as session:
        candidates = await repo.nudging_networks(session)
    nudged = 0
    for settings, network in candidates:
        if not in_nudge_window(network, settings.weekend, now):
            continue
        async with session_pool() as session:
            if not await repo.claim_nudge_run(session, network.id, now, now - NUDGE_RUN_GAP):
                await session.rollback()
                continue
            cutoff = now - timedelta(days=settings.nudge_days)
            targets = await repo.due_for_nudge(session, network.id, cutoff)
            if not targets:
                await session.commit()
                continue
            await repo.record_nudges(session, network.id, [t.user_id for t in targets], now)
            recipients = [
                Recipient(t.user_id, t.tg_id, t.language or network.locale or i18n.default_locale)
                for t in targets
            ]
            locales = _network_locales({r.locale for r in recipients}, i18n.default_locale)
            await delivery.enqueue(
                session,
                kind=NUDGE_KIND,
                payload=nudge_payload(i18n, network, settings.nudge_days, locales),
                recipients=recipients,
                network_id=network.id,
            )
            nudged += len(targets)
            log.info("nudged %d members of network %s to report", len(targets), network.slug)
    return nudged
