"""Building a network's digest and its per-person texts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES
from bot.delivery import Recipient
from bot.digest_render import (
    NetworkDigest,
    Renderer,
)
from bot.services.digests.weeks import current_week, window_for, zone
from storage.models import Network, Role
from storage.repositories import digests as repo
from storage.repositories.digests import (
    MemberRow,
)


def locale_of(language: str | None, network: Network | None, default: str) -> str:
    for candidate in (language, network.locale if network else None, default):
        if candidate in SUPPORTED_LOCALES:
            return candidate
    return "en"


async def build(
    session: AsyncSession, networks: Sequence[Network], now: datetime
) -> dict[int, NetworkDigest]:
    """The digests of these networks as of ``now``, each in its own time zone, from a
    fixed number of SQL statements (see storage.repositories.digests.collect)."""
    windows = {n.id: window_for(zone(n), now) for n in networks}
    collected = await repo.collect(session, windows)
    return {
        n.id: NetworkDigest(
            network=n,
            week=current_week(n, now),
            window=windows[n.id],
            figures=collected.figures[n.id],
            answers=collected.answers,
        )
        for n in networks
    }


def is_coordinator(member: MemberRow) -> bool:
    return member.role == Role.COORDINATOR


def text_payload(
    renderer: Renderer, d: NetworkDigest, default_locale: str
) -> tuple[dict[str, Any], list[Recipient]]:
    """The text job: one text per locale in the payload, each member's own text (their
    answers, the broadcasts that reached them, the coordinators' part) as an override."""
    people = [
        (m, locale_of(m.language, d.network, default_locale))
        for m in d.figures.members
        if not m.unreachable
    ]
    locales = sorted({loc for _m, loc in people}) or [d.network.locale or default_locale]
    variants = {loc: {"text": renderer.text(d, loc, None, False)} for loc in locales}
    recipients = []
    for m, loc in people:
        own = renderer.text(d, loc, m, is_coordinator(m))
        params = {"text": own} if own != variants[loc]["text"] else None
        recipients.append(Recipient(m.user_id, m.tg_id, loc, params=params))
    first = locales[0]
    payload = {
        "method": "send_message",
        "params": dict(variants.get("en", variants[first])),
        "locales": variants,
    }
    return payload, recipients


def build_all_texts(renderer: Renderer, digests: Sequence[NetworkDigest], default: str) -> int:
    """Every member's and coordinator's text of these digests (the benchmark's work);
    returns how many texts were made."""
    made = 0
    for d in digests:
        _payload, recipients = text_payload(renderer, d, default)
        made += len(recipients)
    return made
