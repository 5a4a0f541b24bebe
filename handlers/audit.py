"""/audit: the programme staff (admins) read the audit log."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import MinLevel
from bot.services import auditlog
from bot.services.access import Actor, Level
from bot.text.labels import audit_label

router = Router(name=__name__)
router.message.filter(MinLevel(Level.ADMIN))


@router.message(Command("audit"))
async def audit(message: Message, session: AsyncSession, actor: Actor, i18n: I18n) -> None:
    entries = await auditlog.recent(session, actor)
    if not entries:
        await message.answer(_("The audit log is empty."))
        return
    lines = [_("<b>Audit log</b>, newest first (UTC):")]
    for e in entries:
        when = format_datetime(e.at, "short", tzinfo=None, locale=i18n.current_locale)
        parts = [when, audit_label(e.action)]
        if e.network:
            parts.append(escape(e.network))
        if e.actor:
            parts.append(_("by {name}").format(name=escape(e.actor)))
        lines.append(" · ".join(parts))
    await message.answer("\n".join(lines))
