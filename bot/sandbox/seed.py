"""What the sandbox's database holds before the bot starts: the demo network "Saida", or
(``--empty``) one network and its invite codes only.

Written through the services and repositories, as `prevnet network add`, `prevnet invite`
and people joining would write it, after the migrations are applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import registration
from bot.services.events.reminders import plan_reminders
from bot.services.networks import create_network
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Role, utcnow
from storage.models.events import Answer, EventKind, EventStatus
from storage.models.reports import ActivityType, AgeGroup, ReportStatus
from storage.repositories import events, memberships
from storage.repositories import reports as report_repo

NETWORK_SLUG = "saida"
NETWORK_NAME = "شبكة صيدا للوقاية"  # Saida Prevention Network
TIMEZONE = "Asia/Beirut"
OPERATOR_ID = 5_000_900  # the operator (ADMIN_IDS): creates networks, invites coordinators


@dataclass(frozen=True)
class Person:
    """A Telegram user of the sandbox: who they are in the chat page and in the network."""

    tg_id: int
    first_name: str
    last_name: str | None
    language: str  # the Telegram client's language (ar, en, fr)
    role: str | None = None  # "coordinator", "member" or None (not in a network yet)
    sector: str = "other"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass(frozen=True)
class InviteInfo:
    code: str
    role: str
    uses: int


@dataclass
class Seeded:
    network: str
    people: list[Person] = field(default_factory=list)
    invites: list[InviteInfo] = field(default_factory=list)
    admin_ids: list[int] = field(default_factory=list)


OPERATOR = Person(OPERATOR_ID, "Operator", None, "en")
COORDINATOR = Person(5_000_001, "رنا", "حداد", "ar", "coordinator", "ngo")
MEMBERS = (
    Person(5_000_002, "خالد", "منصور", "ar", "member", "teacher"),
    Person(5_000_003, "ليلى", "عيسى", "ar", "member", "youth_worker"),
    Person(5_000_004, "يوسف", "البزري", "ar", "member", "religious_leader"),
    Person(5_000_005, "Marie", "Khoury", "fr", "member", "psychosocial"),
)

# (weeks ago, weekday offset, author index, type, participants, age group, text, reviewed)
REPORTS: tuple[tuple[int, int, int, str, int, str | None, str, bool], ...] = (
    (7, 0, 0, ActivityType.WORKSHOP, 22, AgeGroup.ADOLESCENTS,
     "ورشة عن التنمّر في المدرسة مع طلاب الصف التاسع.", True),
    (7, 2, 1, ActivityType.CULTURE, 35, AgeGroup.YOUTH,
     "دوري كرة قدم للشباب في ملعب الحي، مع نقاش قصير بعد المباراة.", True),
    (6, 4, 3, ActivityType.DIALOGUE, 14, AgeGroup.ADULTS,
     "Groupe de parole avec des parents sur le stress des enfants.", True),
    (6, 0, 2, ActivityType.DIALOGUE, 18, AgeGroup.MIXED,
     "لقاء حواري بين الأهالي ووجهاء الحي حول العنف بين الشباب.", True),
    (5, 3, 0, ActivityType.AWARENESS, 60, AgeGroup.MIXED,
     "جلسة توعية في مركز الشؤون الاجتماعية.", True),
    (4, 1, 1, ActivityType.MENTORING, 6, AgeGroup.ADOLESCENTS,
     "جلسات إرشاد أسبوعية لمجموعة صغيرة من المراهقين.", True),
    (3, 2, 3, ActivityType.REFERRAL, 2, AgeGroup.YOUTH,
     "Orientation de deux jeunes vers un suivi psychosocial.", True),
    (3, 4, 2, ActivityType.TRAINING, 1, None,
     "حضرت تدريب الشبكة عن الإحالة الآمنة.", True),
    (2, 0, 0, ActivityType.WORKSHOP, 25, AgeGroup.ADOLESCENTS,
     "ورشة رسم جداري في المدرسة عن التسامح.", False),
    (1, 2, 1, ActivityType.CULTURE, 40, AgeGroup.CHILDREN,
     "عرض مسرحي للأطفال في المكتبة العامة.", False),
    (1, 3, 3, ActivityType.AWARENESS, 30, AgeGroup.ADULTS,
     "Séance d'information sur les ressources d'aide du quartier.", False),
    (0, 1, 2, ActivityType.DIALOGUE, 12, AgeGroup.YOUTH,
     "نقاش مع الشباب عن الشائعات على وسائل التواصل.", False),
)


async def seed(database_url: str, *, demo: bool, now: datetime | None = None) -> Seeded:
    """Apply the migrations to the (new) database and write the sandbox's data."""
    now = now or utcnow()
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with create_session_pool(engine)() as session:
            if demo:
                return await _demo(session, now)
            return await _empty(session, now)
    finally:
        await engine.dispose()


async def _network(session: AsyncSession) -> int:
    network = await create_network(
        session, slug=NETWORK_SLUG, name=NETWORK_NAME, country="LB", timezone=TIMEZONE,
        locale="ar",
    )
    return network.id


async def _invite(session: AsyncSession, network_id: int, role: str, uses: int,
                  now: datetime) -> InviteInfo:
    invite = await registration.make_invite(
        session, network_id=network_id, role=role, max_uses=uses, days=90, now=now
    )
    return InviteInfo(invite.code, invite.role, invite.max_uses)


async def _empty(session: AsyncSession, now: datetime) -> Seeded:
    network_id = await _network(session)
    out = Seeded(NETWORK_NAME, people=[OPERATOR], admin_ids=[OPERATOR_ID])
    out.invites.append(await _invite(session, network_id, Role.COORDINATOR, 2, now))
    out.invites.append(await _invite(session, network_id, Role.MEMBER, 50, now))
    return out


async def _join(session: AsyncSession, person: Person, code: str, when: datetime) -> int:
    joined = await registration.register(
        session, tg_id=person.tg_id, code=code, language=person.language,
        display_name=person.name, sector=person.sector, now=when,
    )
    joined.membership.joined_at = when
    await session.commit()
    return joined.user.id


async def _demo(session: AsyncSession, now: datetime) -> Seeded:
    network_id = await _network(session)
    start = now - timedelta(weeks=9)
    lead = await _invite(session, network_id, Role.COORDINATOR, 1, start)
    group = await _invite(session, network_id, Role.MEMBER, len(MEMBERS), start)
    coordinator_id = await _join(session, COORDINATOR, lead.code, start)
    member_ids = [
        await _join(session, person, group.code, start + timedelta(hours=i + 1))
        for i, person in enumerate(MEMBERS)
    ]
    tz = ZoneInfo(TIMEZONE)
    local_today = now.astimezone(tz).date()

    def local(day_offset: int, hour: int) -> datetime:
        day = local_today + timedelta(days=day_offset)
        return datetime.combine(day, time(hour), tz).astimezone(ZoneInfo("UTC"))

    # A past training (three weeks ago) with attendance marked, an upcoming meeting.
    training = await events.create(
        session, network_id=network_id, uid=f"sandbox-training-{now:%Y%m%d}@prevnet",
        kind=EventKind.TRAINING, title="تدريب: الإحالة الآمنة",
        place="مركز الشؤون الاجتماعية، صيدا",
        description="كيف نحيل شاباً إلى الدعم النفسي والاجتماعي بأمان.",
        starts_at=local(-19, 10), ends_at=local(-19, 13), status=EventStatus.SCHEDULED,
        sequence=0, created_by_id=coordinator_id, created_at=local(-30, 9),
        updated_at=local(-30, 9),
    )
    for i, user_id in enumerate(member_ids):
        await events.set_answer(session, training.id, user_id,
                                Answer.GOING if i < 3 else Answer.MAYBE, local(-28, 12))
        await events.set_attended(session, training.id, user_id, i != 1)
    meeting = await events.create(
        session, network_id=network_id, uid=f"sandbox-meeting-{now:%Y%m%d}@prevnet",
        kind=EventKind.MEETING, title="اجتماع الشبكة الشهري", place="بلدية صيدا، الطابق الثاني",
        description="مراجعة نشاطات الشهر وخطة الشهر القادم.",
        starts_at=local(3, 17), ends_at=local(3, 19), status=EventStatus.SCHEDULED,
        sequence=0, created_by_id=coordinator_id, created_at=local(-2, 9),
        updated_at=local(-2, 9),
    )
    await events.set_answer(session, meeting.id, member_ids[0], Answer.GOING, local(-1, 20))
    await events.set_answer(session, meeting.id, member_ids[3], Answer.MAYBE, local(-1, 21))
    await session.commit()
    meeting = await events.get(session, meeting.id) or meeting
    await plan_reminders(session, meeting, now)
    await session.commit()
    # A dozen reports over the last eight weeks, the older ones reviewed.
    for weeks, weekday, author, kind, count, age, text, reviewed in REPORTS:
        day = local_today - timedelta(weeks=weeks) - timedelta(days=local_today.weekday())
        day += timedelta(days=weekday)
        day = min(day, local_today)
        filed = min(datetime.combine(day, time(18), tz).astimezone(ZoneInfo("UTC")), now)
        person = MEMBERS[author]
        await report_repo.create(
            session, network_id=network_id, author_id=member_ids[author],
            author_sector=person.sector, activity_type=kind, activity_date=day,
            participants=count, age_group=age, description=text,
            status=ReportStatus.REVIEWED if reviewed else ReportStatus.NEW,
            reviewed_by_id=coordinator_id if reviewed else None,
            reviewed_at=filed + timedelta(days=1) if reviewed else None,
            notified_at=filed, created_at=filed,
        )
    await session.commit()
    assert await memberships.count_active(session, network_id) == 1 + len(MEMBERS)
    out = Seeded(NETWORK_NAME, people=[COORDINATOR, *MEMBERS, OPERATOR],
                 admin_ids=[OPERATOR_ID])
    # For newcomers in the room: one code several people can use.
    out.invites.append(await _invite(session, network_id, Role.MEMBER, 50, now))
    return out
