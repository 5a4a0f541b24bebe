"""Weekly digests: content with a controlled clock and fixed data (counts, names, plural
forms in Arabic), and the shared data set-up of the other test_digest_* files."""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiogram.utils.i18n import I18n
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.digest_parts import TEXT_MAX
from bot.digest_render import Renderer
from bot.i18n import create_i18n
from bot.services import digests
from bot.text.formats import utf16_len
from storage.models import (
    Broadcast,
    BroadcastNetwork,
    JobStatus,
    Membership,
    Network,
    SendJob,
    User,
)
from storage.models.events import Event, EventRsvp
from storage.models.reports import Report
from tests.helpers import make_network

# Sunday 16 March 2025, 09:00 in Beirut (UTC+2 until the end of March): a digest's moment.
NOW = datetime(2025, 3, 16, 7, 0, tzinfo=UTC)
TODAY = date(2025, 3, 16)


@dataclass
class World:
    network: Network
    people: dict[str, User] = field(default_factory=dict)


async def add_person(
    session: AsyncSession,
    network: Network,
    tg_id: int,
    name: str | None,
    *,
    role: str = "member",
    sector: str = "teacher",
    language: str | None = "en",
    blocked: bool = False,
) -> User:
    user = await session.scalar(select(User).where(User.tg_id == tg_id))
    if user is None:
        user = User(
            tg_id=tg_id, language=language, display_name=name, consent_at=NOW,
            unreachable_since=NOW if blocked else None,
        )
        session.add(user)
        await session.flush()
    session.add(
        Membership(
            user_id=user.id, network_id=network.id, role=role, status="active", sector=sector
        )
    )
    await session.flush()
    return user


async def add_report(
    session: AsyncSession,
    network: Network,
    author: User | None,
    *,
    day: date,
    kind: str = "workshop",
    participants: int = 10,
    sector: str = "teacher",
    status: str = "new",
    filed: datetime = NOW,
    description: str = "An activity",
) -> Report:
    report = Report(
        network_id=network.id, author_id=author.id if author else None, author_sector=sector,
        activity_type=kind, activity_date=day, participants=participants,
        description=description, status=status, created_at=filed,
    )
    session.add(report)
    await session.flush()
    return report


_uids = iter(range(1, 10**6))


async def add_event(
    session: AsyncSession,
    network: Network,
    title: str,
    starts_at: datetime,
    *,
    answers: dict[User, str] | None = None,
    status: str = "scheduled",
) -> Event:
    event = Event(
        network_id=network.id, uid=f"ev-{next(_uids)}", kind="meeting", title=title,
        place="Town hall", starts_at=starts_at, ends_at=starts_at + timedelta(hours=2),
        status=status,
    )
    session.add(event)
    await session.flush()
    for user, answer in (answers or {}).items():
        session.add(EventRsvp(event_id=event.id, user_id=user.id, answer=answer,
                              answered_at=NOW))
    await session.flush()
    return event


async def add_broadcast(
    session: AsyncSession,
    network: Network,
    preview: str,
    sent_at: datetime,
    *,
    roles: list[str] | None = None,
    status: str = JobStatus.DONE,
) -> Broadcast:
    job = SendJob(kind="broadcast", network_id=network.id, payload={}, status=status,
                  due_at=sent_at, total=0)
    session.add(job)
    await session.flush()
    broadcast = Broadcast(
        job_id=job.id, audience={"networks": [network.id], "roles": roles, "sectors": None},
        kind="text", preview=preview, created_at=sent_at,
    )
    session.add(broadcast)
    await session.flush()
    session.add(BroadcastNetwork(broadcast_id=broadcast.id, network_id=network.id))
    await session.flush()
    return broadcast


async def saida(session: AsyncSession, slug: str = "saida", tg_base: int = 100) -> World:
    """Saida (Asia/Beirut): a coordinator, three members (one blocked the bot), reports in
    and out of the last seven days, events in and out of the next seven, broadcasts."""
    network = await make_network(session, slug, name=f"{slug.title()} Network")
    network.created_at = NOW - timedelta(days=90)
    w = World(network)
    p = w.people
    p["Maya"] = await add_person(session, network, tg_base, "Maya", role="coordinator",
                                 sector="ngo")
    p["Rana"] = await add_person(session, network, tg_base + 1, "Rana", sector="teacher")
    p["Omar"] = await add_person(session, network, tg_base + 2, "Omar", sector="ngo",
                                 language="ar")
    p["Sami"] = await add_person(session, network, tg_base + 3, "Sami <b>", sector="police",
                                 language="fr", blocked=True)
    # The last seven days end now: 10-16 March, today included.
    await add_report(session, network, p["Rana"], day=date(2025, 3, 10), participants=10)
    await add_report(session, network, p["Rana"], day=date(2025, 3, 15), kind="awareness",
                     participants=20, status="reviewed")
    await add_report(session, network, None, day=date(2025, 3, 12), kind="dialogue",
                     participants=5, sector="police")  # its author left: anonymous
    await add_report(session, network, p["Omar"], day=date(2025, 3, 8), participants=99)
    # The day of last week's digest, filed before it went out: counted there, not here.
    await add_report(session, network, p["Omar"], day=date(2025, 3, 9), participants=98,
                     filed=NOW - timedelta(days=7, hours=1))
    await add_report(session, network, p["Omar"], day=date(2025, 2, 1), participants=7,
                     status="reviewed")  # in the chart's eight weeks only
    # The next seven days.
    await add_event(session, network, "Monthly meeting", NOW + timedelta(days=2),
                    answers={p["Rana"]: "going", p["Maya"]: "going", p["Omar"]: "maybe"})
    await add_event(session, network, "Far away", NOW + timedelta(days=8))
    await add_event(session, network, "Called off", NOW + timedelta(days=1),
                    status="cancelled")
    await add_broadcast(session, network, "Meeting moved to Thursday", NOW - timedelta(days=2))
    await add_broadcast(session, network, "Coordinators: budget", NOW - timedelta(days=3),
                        roles=["coordinator"])
    await add_broadcast(session, network, "Last month's news", NOW - timedelta(days=20))
    await add_broadcast(session, network, "Tomorrow's plan", NOW + timedelta(days=1),
                        status=JobStatus.SCHEDULED)
    await session.commit()
    return w


def make_sender(bot: Any, session_pool: Any, admin_ids: frozenset[int] = frozenset(),
                worker_id: str | None = None) -> digests.DigestSender:
    """A digest sender on a delivery engine of its own (no per-chat spacing: fast tests)."""
    from bot.delivery import DeliveryEngine

    engine = DeliveryEngine(bot, session_pool, rate=1000, per_chat_interval=0,
                            worker_id=worker_id, record_linger=0)
    return digests.DigestSender(bot, session_pool, engine, create_i18n("en"), admin_ids)


async def build_one(session: AsyncSession, network: Network, now: datetime = NOW):  # type: ignore[no-untyped-def]
    return (await digests.build(session, [network], now))[network.id]


def member_row(d: Any, user: User) -> Any:
    return next(m for m in d.figures.members if m.user_id == user.id)


# ------------------------------------------------------------------------------- tests


@pytest.fixture
def i18n() -> I18n:
    return create_i18n("en")


async def test_members_digest_counts_events_and_broadcasts(session, i18n):
    w = await saida(session)
    d = await build_one(session, w.network)
    text = Renderer(i18n).text(d, "en", member_row(d, w.people["Rana"]), False)

    assert "<b>Saida Network</b>: weekly digest" in text
    assert "Mar 10\u2009–\u200916, 2025" in text
    assert "3 activities · 👥 35 participants reached" in text
    assert "By type: Awareness session 1, Dialogue session 1, and Workshop 1" in text
    assert "By sector: Teacher 2 and Community police 1" in text
    assert "1 of 3 members reported." in text
    assert "📅 <b>Monthly meeting</b> · Tue, Mar 18, 9:00\u202fAM" in text
    assert "Going 2 · Maybe 1 · Not going 0 · <i>your answer: Going</i>" in text
    assert "Far away" not in text and "Called off" not in text
    assert "📣 Meeting moved to Thursday" in text
    for hidden in ("Coordinators: budget", "Last month's news", "Tomorrow's plan"):
        assert hidden not in text
    assert "For coordinators" not in text
    assert len(text) < 1500  # a phone screen or two

    sami = Renderer(i18n).text(d, "en", member_row(d, w.people["Sami"]), False)
    assert "you have not answered" in sami


async def test_coordinators_digest_names_reviews_and_blocked(session, i18n):
    w = await saida(session)
    d = await build_one(session, w.network)
    text = Renderer(i18n).text(d, "en", member_row(d, w.people["Maya"]), True)

    assert "📣 Coordinators: budget" in text  # coordinators see every broadcast
    assert "✅ Reported (1): Rana" in text
    assert "⏳ Not reported yet (2): Omar and Sami &lt;b&gt;" in text  # names escaped
    assert "🗂 4 reports to review: /reports" in text
    assert "🚫 1 member blocked the bot: Sami &lt;b&gt;" in text
    assert "your answer: Going" in text


async def test_empty_network_and_texts_stay_within_telegram_limits(session, i18n):
    network = await make_network(session, "quiet", name="Quiet Network")
    for i in range(120):
        await add_person(session, network, 5000 + i, f"A very long member name number {i:03}",
                         role="coordinator" if i == 0 else "member")
    for i in range(12):
        await add_event(session, network, f"Event {i}", NOW + timedelta(hours=5 + i))
    await session.commit()
    d = await build_one(session, network)
    coordinator = d.coordinators[0]
    text = Renderer(i18n).text(d, "en", coordinator, True)
    assert "No activity was reported." in text
    assert "0 of 119 members reported." in text
    assert "and 104 more" in text and "… and 6 more: /events" in text
    assert utf16_len(text) <= TEXT_MAX
    generic = Renderer(i18n).text(d, "en", None, False)
    assert "your answer" not in generic and "you have not answered" not in generic


def _arabic_catalog(base: gettext.NullTranslations | None) -> gettext.GNUTranslations:
    """Arabic translations of a few digest strings, with Arabic's six plural forms."""
    catalog = Catalog(locale="ar")
    # The project's rule (scripts/update_catalogs.py, CLDR): zero, one, two, few (3-10),
    # many (11-99), other (100-102, ...).
    catalog._num_plurals = 6  # type: ignore[attr-defined]
    catalog._plural_expr = (  # type: ignore[attr-defined]
        "(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5)"
    )
    catalog.add(("{n} activity", "{n} activities"),
                ("لا أنشطة", "نشاط واحد", "نشاطان", "{n} أنشطة", "{n} نشاطًا", "{n} نشاط"))
    catalog.add(
        ("{n} of {total} member reported.", "{n} of {total} members reported."),
        ("أبلغ {n} من {total} عضو.", "أبلغ {n} من عضو واحد.", "أبلغ {n} من عضوين.",
         "أبلغ {n} من {total} أعضاء.", "أبلغ {n} من {total} عضوًا.", "أبلغ {n} من {total} عضو."),
    )
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    translations = gettext.GNUTranslations(buffer)
    if base is not None:
        translations.add_fallback(base)
    return translations


@pytest.mark.parametrize(
    ("activities", "expected"),
    [
        (1, "نشاط واحد"),
        (2, "نشاطان"),
        (3, "3 أنشطة"),
        (11, "11 نشاطًا"),
        (100, "100 نشاط"),
    ],
)
async def test_arabic_plural_forms(session, activities, expected):
    i18n = create_i18n("en")
    i18n.locales["ar"] = _arabic_catalog(i18n.locales.get("ar"))
    network = await make_network(session, "irbid", name="Irbid Network", country="JO",
                                 timezone="Asia/Amman")
    omar = await add_person(session, network, 300, "Omar", language="ar")
    others = [await add_person(session, network, 301 + i, f"M{i}") for i in range(10)]
    for i in range(activities):
        await add_report(session, network, omar, day=date(2025, 3, 10), participants=1 + i % 3)
    await session.commit()
    d = await build_one(session, network)
    text = Renderer(i18n).text(d, "ar", member_row(d, omar), False)
    assert expected in text
    assert f"أبلغ 1 من {len(others) + 1} عضوًا." in text  # 11 members: the "many" form
