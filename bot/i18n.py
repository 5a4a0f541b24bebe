"""gettext catalogues (Babel) and the aiogram i18n middleware."""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n, I18nMiddleware
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.config import SUPPORTED_LOCALES

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated later, where it is shown."""
    return message


def compile_catalogs(locales_dir: Path = LOCALES_DIR) -> list[Path]:
    """Compile every `.po` whose `.mo` is missing or older. Returns the files written."""
    written: list[Path] = []
    for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=po_path.parent.parent.name)
        # A name of this process's own: several processes (a worker beside the bot, test
        # workers) may compile at once, and each replaces the file whole.
        tmp = mo_path.with_suffix(f".mo.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=False)
        tmp.replace(mo_path)
        written.append(mo_path)
    if written:
        log.info("compiled %d message catalogues", len(written))
    return written


def create_i18n(default_locale: str) -> I18n:
    compile_catalogs()
    return I18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)


_KNOWN_LOCALES: OrderedDict[int, str] = OrderedDict()
_KNOWN_MAX = 50_000


def remember_locale(tg_id: int, locale: str) -> None:
    """The language last used with this person (for answers given without the database,
    such as the flood notice)."""
    if _KNOWN_LOCALES.get(tg_id) != locale:
        _KNOWN_LOCALES[tg_id] = locale
    _KNOWN_LOCALES.move_to_end(tg_id)
    if len(_KNOWN_LOCALES) > _KNOWN_MAX:
        _KNOWN_LOCALES.popitem(last=False)


def known_locale(tg_id: int) -> str | None:
    return _KNOWN_LOCALES.get(tg_id)


def pick_locale(stored: str | None, tg_user: TgUser | None, default: str) -> str:
    """The member's chosen language, else Telegram's language_code if we speak it."""
    if stored in SUPPORTED_LOCALES:
        return stored
    if tg_user is not None and tg_user.language_code:
        code = tg_user.language_code.split("-")[0].lower()
        if code in SUPPORTED_LOCALES:
            return code
    return default


class UserLocaleMiddleware(I18nMiddleware):
    """Reads the language stored for the user (loaded by the access middleware)."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        actor = data.get("actor")
        stored = actor.user.language if actor is not None and actor.user is not None else None
        tg_user = data.get("event_from_user")
        locale = pick_locale(stored, tg_user, self.i18n.default_locale)
        if tg_user is not None:
            remember_locale(tg_user.id, locale)
        return locale
