"""Translated names of stored values (sectors, roles, languages)."""

from __future__ import annotations

from aiogram.utils.i18n import lazy_gettext as __

from storage.models import MembershipStatus, Role, Sector

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
