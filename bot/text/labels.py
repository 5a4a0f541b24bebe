"""Translated names of stored values (sectors, roles, languages), lists said the way each
language says them (typed digits: bot/text/formats.py)."""

from __future__ import annotations

from collections.abc import Iterable

from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n.context import get_i18n
from babel.lists import format_list

from storage.models import MembershipStatus, Role, Sector
from storage.models.events import Answer, EventKind

ANSWER_ICONS = {Answer.GOING: "✅", Answer.MAYBE: "🤔", Answer.NO: "❌"}

SECTOR_LABELS = {
    Sector.TEACHER: __("Teacher"),
    Sector.YOUTH_WORKER: __("Youth worker"),
    Sector.RELIGIOUS_LEADER: __("Religious leader"),
    Sector.YOUTH_REP: __("Youth representative"),
    Sector.POLICE: __("Community police"),
    Sector.NGO: __("NGO staff"),
    Sector.PSYCHOSOCIAL: __("Psycho-social support"),
    Sector.OTHER: __("Other"),
}

ROLE_LABELS = {
    Role.MEMBER: __("member"),
    Role.COORDINATOR: __("coordinator"),
}

STATUS_LABELS = {
    MembershipStatus.PENDING: __("waiting for approval"),
    MembershipStatus.ACTIVE: __("active"),
}

# Each language names itself, so anyone can find theirs.
LANGUAGE_NAMES = {"ar": "العربية", "en": "English", "fr": "Français"}


def sector_label(value: str) -> str:
    try:
        return str(SECTOR_LABELS[Sector(value)])
    except ValueError:
        return value


def role_label(value: str) -> str:
    try:
        return str(ROLE_LABELS[Role(value)])
    except ValueError:
        return value


# Reports.
from storage.models.reports import ActivityType, AgeGroup, ReportStatus  # noqa: E402

ACTIVITY_LABELS = {
    ActivityType.WORKSHOP: __("Workshop"),
    ActivityType.AWARENESS: __("Awareness session"),
    ActivityType.CULTURE: __("Sports, arts or culture"),
    ActivityType.DIALOGUE: __("Dialogue session"),
    ActivityType.MENTORING: __("Mentoring"),
    ActivityType.REFERRAL: __("Referral or case support"),
    ActivityType.TRAINING: __("Training attended"),
    ActivityType.OTHER: __("Other activity"),
}

AGE_LABELS = {
    AgeGroup.CHILDREN: __("Children (under 12)"),
    AgeGroup.ADOLESCENTS: __("Adolescents (12–17)"),
    AgeGroup.YOUTH: __("Young people (18–29)"),
    AgeGroup.ADULTS: __("Adults (30 and over)"),
    AgeGroup.MIXED: __("Mixed ages"),
}

REPORT_STATUS_LABELS = {
    ReportStatus.NEW: __("new"),
    ReportStatus.REVIEWED: __("reviewed"),
    ReportStatus.FLAGGED: __("flagged"),
}


def activity_label(value: str) -> str:
    try:
        return str(ACTIVITY_LABELS[ActivityType(value)])
    except ValueError:
        return value


def age_label(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(AGE_LABELS[AgeGroup(value)])
    except ValueError:
        return value


def report_status_label(value: str) -> str:
    try:
        return str(REPORT_STATUS_LABELS[ReportStatus(value)])
    except ValueError:
        return value


# Events.
EVENT_KIND_LABELS = {
    EventKind.MEETING: __("Meeting"),
    EventKind.TRAINING: __("Training"),
    EventKind.WORKSHOP: __("Workshop"),
}

ANSWER_LABELS = {
    Answer.GOING: __("Going"),
    Answer.MAYBE: __("Maybe"),
    Answer.NO: __("Not going"),
}


def event_kind_label(value: str) -> str:
    try:
        return str(EVENT_KIND_LABELS[EventKind(value)])
    except ValueError:
        return value


def answer_label(value: str) -> str:
    try:
        return str(ANSWER_LABELS[Answer(value)])
    except ValueError:
        return value


AUDIT_LABELS = {
    "join": __("joined"),
    "join_approve": __("join approved"),
    "join_reject": __("join declined"),
    "leave": __("left"),
    "invite": __("invite made"),
    "invite_revoke": __("invite revoked"),
    "network_add": __("network created"),
    "broadcast": __("broadcast"),
    "broadcast_cancel": __("broadcast cancelled"),
    "export": __("reports exported"),
    "report_withdraw": __("report withdrawn"),
    "report_settings": __("report settings changed"),
    "event_create": __("event created"),
    "event_update": __("event changed"),
    "event_cancel": __("event cancelled"),
    "event_settings": __("reminder settings changed"),
    "digest_send": __("digest sent"),
    "digest_settings": __("digest settings changed"),
    "retention_purge": __("old data purged"),
    "dashboard_view": __("dashboard viewed"),
    "report_review": __("report reviewed"),
    "report_nudge": __("member nudged to report"),
    "plan_action_add": __("plan action added"),
    "plan_action_status": __("plan action status changed"),
    "plan_action_responsible": __("plan action's members responsible changed"),
    "plan_milestone_add": __("plan milestone added"),
    "plan_milestone_done": __("plan milestone marked"),
    "plan_action_edit": __("plan action changed"),
    "plan_action_months": __("plan action's months changed"),
    "plan_milestone_edit": __("plan milestone changed"),
    "plan_milestone_due": __("plan milestone's due date changed"),
    "plan_milestone_remove": __("plan milestone removed"),
    "feedback_view": __("training feedback viewed"),
    "feedback_export": __("training feedback exported"),
}


def audit_label(action: str) -> str:
    label = AUDIT_LABELS.get(action)
    return str(label) if label is not None else action


# Lists and typed numbers.


def current_locale(default: str = "en") -> str:
    """The locale of the update being handled (or of an ``i18n.use_locale`` block)."""
    try:
        return get_i18n().current_locale
    except LookupError:
        return default


def join_list(items: Iterable[str], locale: str | None = None) -> str:
    """Items as a sentence says them: "a, b, and c", "a, b et c", "a وb وc" (CLDR, via
    Babel's ``format_list``). ``locale``: the current one when not given."""
    values = [str(item) for item in items]
    if not values:
        return ""
    return format_list(values, style="standard", locale=locale or current_locale())
