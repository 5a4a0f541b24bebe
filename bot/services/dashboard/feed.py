"""The report feed: filters, one report, review and flag (the bot's rules:
bot/services/reports/review.py), and the export of the filtered reports, sent by the
bot to the person's private chat like /export sends it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from html import escape
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.export import Sheet, to_csv, to_xlsx
from bot.services import reports as service
from bot.services.access import AccessDenied
from bot.services.dashboard.figures import activity_types
from bot.services.dashboard.scope import DashboardError, Scope, Viewer, local_iso, network_ref
from bot.text.formats import fmt_date, fmt_number
from bot.text.labels import activity_label, age_label, report_status_label, sector_label
from storage.models import Network
from storage.models.reports import AttachmentKind, ReportStatus
from storage.repositories import audit, users
from storage.repositories import dashboard as repo
from storage.repositories.dashboard import FeedFilter
from storage.repositories.reports import ReportRow

log = logging.getLogger(__name__)

FEED_LIMIT = 20
FEED_MAX = 100
REVIEW_STATUSES = (ReportStatus.REVIEWED, ReportStatus.FLAGGED)


def _date(value: object) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DashboardError(400, "bad_request")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DashboardError(400, "bad_request") from None


def _int(value: str | int | None) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.isdigit() or len(value) > 12:
        raise DashboardError(400, "bad_request")
    return int(value)


async def feed_filter(
    session: AsyncSession, scope: Scope, params: Mapping[str, Any]
) -> FeedFilter:
    """The filters of the page, checked: a member id must be a member of the scope."""
    kind = params.get("type") or None
    if kind is not None and (
        not isinstance(kind, str) or kind not in {t["key"] for t in activity_types()}
    ):
        raise DashboardError(400, "bad_request")
    status = params.get("status") or None
    if status is not None and (not isinstance(status, str) or status not in set(ReportStatus)):
        raise DashboardError(400, "bad_request")
    since, until = _date(params.get("since")), _date(params.get("until"))
    if since is not None and until is not None and since > until:
        raise DashboardError(400, "bad_request")
    author_id = None
    membership_id = _int(params.get("member"))
    if membership_id is not None:
        found = await repo.member(session, membership_id)
        if found is None or found.network_id not in scope.ids:
            raise AccessDenied(f"membership {membership_id} is not in the scope")
        author_id = found.user_id
    return FeedFilter(scope.ids, kind, since, until, author_id, status)


def report_json(
    row: ReportRow, network: Network | None, membership_id: int | None = None
) -> dict[str, Any]:
    """``membership_id``: the author's membership of the report's network (the id the
    page passes as ``member=``), None once they left."""
    r = row.report
    return {
        "id": r.id,
        "reference": r.reference,
        "date": r.activity_date.isoformat(),
        "type": r.activity_type,
        "type_label": activity_label(r.activity_type),
        "snippet": service.first_words(r.description, service.SNIPPET_CHARS),
        "participants": r.participants,
        "author": {
            "id": membership_id if row.author_name is not None else None,
            "name": row.author_name if row.author_name is not None else _("former member"),
        },
        "status": r.status,
        "status_label": report_status_label(r.status),
        "network": network_ref(network) if network is not None else None,
    }


async def feed(
    session: AsyncSession, scope: Scope, viewer: Viewer, params: Mapping[str, Any]
) -> dict[str, Any]:
    where = await feed_filter(session, scope, params)
    limit = _int(params.get("limit")) or FEED_LIMIT
    limit = max(1, min(limit, FEED_MAX))
    rows = await repo.feed(session, where, before=_int(params.get("before")), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    places = scope.by_id()
    people = await repo.active_members(session, scope.ids)
    memberships = {(m.network_id, m.user_id): m.membership_id for m in people}
    return {
        "reports": [
            report_json(
                r,
                places.get(r.report.network_id),
                memberships.get((r.report.network_id, r.report.author_id or 0)),
            )
            for r in rows
        ],
        "next": rows[-1].report.id if more and rows else None,
        "filters": {
            "types": activity_types(),
            "statuses": [
                {"key": s.value, "label": report_status_label(s.value)} for s in ReportStatus
            ],
            "members": [
                {"id": m.membership_id, "name": m.name or "",
                 "network": network_ref(places[m.network_id])}
                for m in people
            ],
        },
    }


async def detail(
    session: AsyncSession, viewer: Viewer, report_id: int
) -> dict[str, Any]:
    """One report (AccessDenied for another network's, or an unknown id)."""
    row, network = await service.open_report(session, viewer.actor, report_id)
    return await _detail_json(session, viewer, row, network)


async def _detail_json(
    session: AsyncSession, viewer: Viewer, row: ReportRow, network: Network
) -> dict[str, Any]:
    r = row.report
    locale = viewer.locale
    reviewer = None
    if r.reviewed_by_id is not None:
        found = await users.get_many(session, [r.reviewed_by_id])
        reviewer = (found[0].display_name or "") if found else None
    member = await repo.membership_of(session, r.author_id, network.id) if r.author_id else None
    body = report_json(row, network, member)
    fields = [
        {"label": _("Reference"), "value": r.reference},
        {"label": _("Date"), "value": fmt_date(r.activity_date, locale, "long")},
        {"label": _("Network"), "value": network.name},
        {"label": _("Activity type"), "value": body["type_label"]},
        {"label": _("Participants"), "value": fmt_number(r.participants, locale)},
    ]
    if r.age_group:
        fields.append({"label": _("Age group"), "value": age_label(r.age_group)})
    if row.action_title:  # the action of the network's plan the report serves
        fields.append({"label": _("Action of the plan"), "value": row.action_title})
    fields += [
        {
            "label": _("Description"),
            "value": r.description or _("(text removed after the retention period)"),
        },
        {"label": _("Sector of the author"), "value": sector_label(r.author_sector)},
        {
            "label": _("Author"),
            "value": row.author_name if row.author_name is not None else _("former member"),
        },
        {"label": _("Status"), "value": report_status_label(r.status)},
    ]
    if r.attachment_file_id and r.attachment_kind == AttachmentKind.PHOTO:
        fields.append({"label": _("Attachment"), "value": _("Photo attached")})
    elif r.attachment_file_id:
        fields.append({"label": _("Attachment"), "value": _("Document attached")})
    body.update(
        {
            "description": r.description,
            "age_group": r.age_group,
            "age_label": age_label(r.age_group),
            "action": row.action_title,
            "place": None,  # reports have no place; events do
            "review_note": r.review_note,
            "reviewed_by": reviewer,
            "reviewed_at": local_iso(r.reviewed_at, network) if r.reviewed_at else None,
            "created_at": local_iso(r.created_at, network),
            "fields": fields,
        }
    )
    return {"report": body, "can_review": viewer.actor.can_coordinate(network.id)}


async def review(
    session: AsyncSession,
    bot: Bot,
    i18n: I18n,
    viewer: Viewer,
    report_id: int,
    status: str,
    note: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Mark reviewed, or flag with a note (told to the author, as the bot does). The
    bot's rules (service.review) decide; a refusal is a 409 with its reason."""
    if status not in REVIEW_STATUSES:
        raise DashboardError(400, "bad_request")
    if note is not None and not isinstance(note, str):
        raise DashboardError(400, "bad_request")
    try:
        row, network = await service.review(
            session, viewer.actor, report_id, ReportStatus(status), note, now
        )
    except service.ReportError as exc:
        await session.rollback()
        raise DashboardError(409, "conflict", service.problem_text(exc, viewer.locale)) from None
    await audit.record(
        session,
        "report_review",
        actor_id=viewer.user_id,
        network_id=network.id,
        report=row.report.id,
        status=status,
        via="dashboard",
    )
    await session.commit()
    if (
        status == ReportStatus.FLAGGED
        and row.author_tg_id is not None
        and row.author_tg_id != viewer.actor.tg_id
    ):
        with i18n.use_locale(row.author_language or network.locale or i18n.default_locale):
            text = _("Your coordinator has a question about your report {ref}:\n{note}").format(
                ref=row.report.reference, note=escape(row.report.review_note or "")
            )
        try:
            await bot.send_message(row.author_tg_id, text)
        except TelegramAPIError as exc:
            log.warning("could not tell the author of report %s: %s", row.report.id, exc)
    return await _detail_json(session, viewer, row, network)


EXPORT_FORMATS = service.EXPORT_FORMATS


async def export(
    session: AsyncSession,
    bot: Bot,
    viewer: Viewer,
    scope: Scope,
    params: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The filtered reports as one CSV or XLSX file, sent to the person's private chat
    (sendDocument, with the caption /export uses). Audit-logged."""
    fmt = params.get("format")
    if fmt not in EXPORT_FORMATS:
        raise DashboardError(400, "bad_request")
    if not scope.networks:
        raise DashboardError(404, "not_found")
    where = await feed_filter(session, scope, params)
    rows = await repo.for_export(session, where)
    locale = viewer.locale
    places = scope.by_id()
    sheets = [
        service.export_sheet(
            places[net_id], [r for r in rows if r.report.network_id == net_id], locale
        )
        for net_id in sorted({r.report.network_id for r in rows}) or scope.ids[:1]
    ]
    first = sheets[0]
    sheet = Sheet(
        title=first.title,
        headers=first.headers,
        rows=[line for s in sheets for line in s.rows],
        rtl=first.rtl,
        wrap=first.wrap,
    )
    content = to_csv(sheet) if fmt == "csv" else to_xlsx(sheet)
    for network_id in scope.ids if not scope.all else [None]:
        await audit.record(
            session,
            "export",
            actor_id=viewer.user_id,
            network_id=network_id,
            what="reports",
            since=where.since.isoformat() if where.since else None,
            until=where.until.isoformat() if where.until else None,
            type=where.activity_type,
            status=where.status,
            author=where.author_id,
            rows=len(rows),
            formats=[fmt],
            pseudonymised=False,
            via="dashboard",
            at=now.isoformat(),
        )
    await session.commit()
    name = _("All networks") if scope.all else scope.networks[0].name
    if where.since is None and where.until is None:
        period = _("all time")
    else:
        first_day = fmt_date(where.since, locale) if where.since else "…"
        last_day = fmt_date(where.until or now.astimezone(scope.zone).date(), locale)
        period = f"{first_day} – {last_day}"
    caption = _(
        "{network}, {period}: {n} report.", "{network}, {period}: {n} reports.", len(rows)
    ).format(network=escape(name), period=period, n=fmt_number(len(rows), locale))
    slug = "all" if scope.all else scope.networks[0].slug
    since = where.since.isoformat() if where.since else "start"
    until = where.until.isoformat() if where.until else "now"
    filename = f"reports-{slug}-{since}-{until}.{fmt}"
    await bot.send_document(
        viewer.actor.tg_id, BufferedInputFile(content, filename=filename), caption=caption
    )
    return {"ok": True, "count": len(rows)}
