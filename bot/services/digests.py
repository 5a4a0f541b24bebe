"""Weekly digests (business rules): what each network heard and what comes next, once a week.

Schedule
--------
Each network has a weekday and an hour (`digest_settings`, default Sunday 09:00) in its
own time zone. `setup_jobs` registers an APScheduler cron trigger per network in that zone
(re-planned when the settings change, here or in another process), the admins' digest on
Mondays at 06:00 UTC, and a sync job every few minutes (and at start) that re-plans and
catches up: a digest that came due this week while the bot was down goes out now (never
one of an earlier week), and one cut off half-way by a crash is finished.

Exactly once
------------
A week is the ISO week (Monday to Sunday) of the digest's local date. Before anything is
sent, a `digests` row (scope, week) is inserted and committed (`repo.claim`): its unique
constraint is the lock, so the scheduler of two processes, a restart, `prevnet digest
send` and a coordinator's "send now" never make a second digest of the same week; the
late ones are told it has gone out (`Outcome.ALREADY_SENT`). `force` (the CLI's
``--force``, an admin's "send anyway") sends it again on purpose, still only once if two
force at the same time. Each part (chart upload, chart job, text job) is recorded on the
row in the transaction that queues it, so a resumed digest repeats nothing.

Contents
--------
The figures of a batch of networks come from a fixed number of aggregate statements
(`repo.collect`); texts are made from them in Python (bot.digest_render). Members get the
seven days up to the moment the digest is built (today included: activities,
participants, by type and sector, how many members reported), the next seven days'
events with their answer counts and their own answer, and the broadcasts of the week
that reached them; coordinators also get the names of who reported and who did not,
reports to review, members who blocked the bot, and a chart of activities per week over
eight weeks (uploaded once per language to one coordinator, sent to the others by
file_id). Admins get one message comparing all networks and the same figures as an XLSX
file.

Everything goes through the delivery engine: one send job per part, the member's text as a
per-delivery override of the job's per-locale text.
"""

from __future__ import annotations

import asyncio
import copy
import enum
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from babel.dates import format_datetime, format_skeleton, get_day_names
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SUPPORTED_LOCALES
from bot.delivery import DeliveryEngine, Recipient
from bot.digest_render import (
    AdminRow,
    NetworkDigest,
    Renderer,
    admin_row,
)
from bot.services.access import AccessDenied, Actor
from storage.models import Network, Role, User, utcnow
from storage.models.digests import Digest
from storage.repositories import audit
from storage.repositories import digests as repo
from storage.repositories import users as users_repo
from storage.repositories.digests import (
    ADMIN_SCOPE,
    CHART_WEEKS,
    MemberRow,
    Schedule,
    Window,
    network_scope,
)

if TYPE_CHECKING:
    from bot.context import AppContext

log = logging.getLogger(__name__)

KIND_TEXT = "digest"
KIND_CHART = "digest_chart"
KIND_ADMIN = "digest_admin"
KIND_XLSX = "digest_xlsx"
LEASE = timedelta(minutes=10)  # a claim older than this was left by a stopped process
SYNC_SECONDS = 300
ADMIN_WEEKDAY, ADMIN_HOUR, ADMIN_ZONE = 0, 6, "UTC"  # Mondays 06:00 UTC
CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SYNC_JOB_ID = "digests.sync"
ADMIN_JOB_ID = "digests.admin"


def network_job_id(network_id: int) -> str:
    return f"digests.network.{network_id}"


class Outcome(enum.StrEnum):
    SENT = "sent"  # queued now (this call made the week's digest)
    ALREADY_SENT = "already_sent"
    IN_PROGRESS = "in_progress"  # another process (or call) is sending it right now
    NO_NETWORK = "no_network"


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    week: date
    digest: Digest | None = None
    recipients: int = 0

    @property
    def sent(self) -> bool:
        return self.outcome == Outcome.SENT


@dataclass
class DigestSender:
    """What sending digests needs; made by `setup_jobs`, the handlers and the CLI."""

    bot: Bot
    session_pool: async_sessionmaker[AsyncSession]
    delivery: DeliveryEngine
    i18n: I18n
    admin_ids: frozenset[int] = frozenset()
    worker_id: str = ""
    planned: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.worker_id:
            self.worker_id = self.delivery.worker_id

    @classmethod
    def from_context(cls, ctx: AppContext) -> DigestSender:
        return cls(ctx.bot, ctx.session_pool, ctx.delivery, ctx.i18n, ctx.settings.admin_ids)


# ------------------------------------------------------------------------------ time


def zone(network: Network) -> ZoneInfo:
    return ZoneInfo(network.timezone)


def week_of(day: date) -> date:
    """The Monday of ``day``'s ISO week: the key of that week's digest."""
    return day - timedelta(days=day.weekday())


def window_for(tz: ZoneInfo, now: datetime) -> Window:
    """The seven days that end at ``now`` (today, local, and the six days before it: a
    report filed a minute ago counts), the chart's eight weeks ending today, and the next
    seven days from ``now``. Events and broadcasts count from ``now`` minus seven days,
    so one week's digest starts where the last one (at the same hour) stopped."""
    today = now.astimezone(tz).date()
    start = today - timedelta(days=6)
    return Window(
        start=start,
        end=today,
        chart_start=today - timedelta(days=7 * CHART_WEEKS - 1),
        since=now - timedelta(days=7),
        until=now,
        now=now,
    )


def current_week(network: Network, now: datetime) -> date:
    return week_of(now.astimezone(zone(network)).date())


def due_at(schedule: Schedule, tz: ZoneInfo, week: date) -> datetime:
    """When the digest of ``week`` is due: its weekday and hour, local, as UTC."""
    day = week + timedelta(days=schedule.weekday)
    return datetime.combine(day, time(schedule.hour), tzinfo=tz).astimezone(UTC)


def next_due(schedule: Schedule, tz: ZoneInfo, now: datetime) -> datetime:
    week = week_of(now.astimezone(tz).date())
    moment = due_at(schedule, tz, week)
    return moment if moment > now else due_at(schedule, tz, week + timedelta(days=7))


def admin_week(now: datetime) -> date:
    return week_of(now.astimezone(ZoneInfo(ADMIN_ZONE)).date())


# --------------------------------------------------------------------------- building


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


# --------------------------------------------------------------------------- sending


async def _claim(
    sender: DigestSender,
    *,
    scope: str,
    network_id: int | None,
    week: date,
    now: datetime,
    trigger: str,
    force: bool,
) -> tuple[int | None, SendResult | None]:
    """The digest row to complete, or the reason there is none."""
    async with sender.session_pool() as session:
        digest_id = await repo.claim(
            session, scope=scope, network_id=network_id, week=week, trigger=trigger,
            as_of=now, worker_id=sender.worker_id, now=now,
        )
        if digest_id is not None:
            await session.commit()
            return digest_id, None
        await session.rollback()
        row = await repo.get(session, scope, week)
        if row is None:  # deleted in between (its network went): nothing to do
            return None, SendResult(Outcome.IN_PROGRESS, week)
        if row.status == repo.CLAIMED:
            if row.claimed_at >= now - LEASE:
                return None, SendResult(Outcome.IN_PROGRESS, week, row)
            taken = await repo.take_over(
                session, row.id, worker_id=sender.worker_id, stale_before=now - LEASE, now=now
            )
            await session.commit()
            return (row.id, None) if taken else (None, SendResult(Outcome.IN_PROGRESS, week, row))
        if not force:
            return None, SendResult(Outcome.ALREADY_SENT, week, row)
        again = await repo.reclaim_for_resend(
            session, row.id, worker_id=sender.worker_id, as_of=now, now=now, trigger=trigger
        )
        await session.commit()
        if not again:
            return None, SendResult(Outcome.IN_PROGRESS, week, row)
        return row.id, None


async def send_network_digest(
    sender: DigestSender,
    network_id: int,
    *,
    now: datetime,
    trigger: str,
    force: bool = False,
    actor_id: int | None = None,
) -> SendResult:
    """This week's digest of one network, unless it has gone out (or ``force``)."""
    async with sender.session_pool() as session:
        found = await repo.networks_with_schedules(session, [network_id])
    if not found:
        return SendResult(Outcome.NO_NETWORK, week_of(now.date()))
    network, _schedule = found[0]
    week = current_week(network, now)
    digest_id, refused = await _claim(
        sender, scope=network_scope(network.id), network_id=network.id, week=week, now=now,
        trigger=trigger, force=force,
    )
    if digest_id is None:
        assert refused is not None
        return refused
    return await _complete_network(sender, digest_id, actor_id=actor_id)



def _file_payload(
    method: str, field: str, files: dict[str, str], captions: dict[str, str]
) -> dict[str, Any]:
    """An outbox payload sending an uploaded file (one file_id per language) with its caption."""
    first = sorted(files)[0]
    return {
        "method": method,
        "params": {
            field: files.get("en", files[first]),
            "caption": captions.get("en", captions[first]),
        },
        "locales": {loc: {field: files[loc], "caption": captions[loc]} for loc in files},
    }

async def _upload(
    bot: Bot,
    session: AsyncSession,
    candidates: Sequence[tuple[int, int]],
    send: Callable[[int], Awaitable[Message]],
) -> tuple[str, int] | None:
    """Send a file to the first candidate who can get it: (its file_id, their user id)."""
    for user_id, tg_id in candidates:
        try:
            message = await send(tg_id)
        except TelegramForbiddenError:
            await users_repo.mark_unreachable(session, [user_id], utcnow())
            continue
        except TelegramAPIError as exc:
            log.warning("could not upload a digest file to %s: %s", tg_id, exc)
            continue
        if message.photo:
            return message.photo[-1].file_id, user_id
        if message.document:
            return message.document.file_id, user_id
    return None


async def _send_file_part(
    sender: DigestSender,
    session: AsyncSession,
    digest: Digest,
    progress: dict[str, Any],
    *,
    part: str,
    kind: str,
    method: str,
    field: str,
    filename: str,
    people_by_locale: dict[str, list[tuple[int, int]]],
    render: Callable[[str], bytes],
    caption: Callable[[str], str],
    network_id: int | None = None,
    author_id: int | None = None,
) -> int | None:
    """A file part of a digest (the chart, the admins' XLSX), each step recorded on the
    digest row so a crash never repeats one: upload the file once per language to the
    first person who can get it, then send its file_id to everyone else through the
    outbox. Returns the outbox job's id, if there was anyone left to send it to."""
    for loc, people in sorted(people_by_locale.items()):
        if loc in progress["files"]:
            continue
        data, text = render(loc), caption(loc)

        def send(chat_id: int, data: bytes = data, text: str = text) -> Awaitable[Message]:
            upload = BufferedInputFile(data, filename=filename)
            return getattr(sender.bot, method)(chat_id, **{field: upload}, caption=text)

        uploaded = await _upload(sender.bot, session, people, send)
        if uploaded is not None:
            progress["files"][loc], user_id = uploaded
            progress["uploaded"].append(user_id)
            digest.progress = copy.deepcopy(progress)
        await session.commit()
    rest = [
        Recipient(user_id, tg_id, loc)
        for loc, people in people_by_locale.items()
        for user_id, tg_id in people
        if loc in progress["files"] and user_id not in progress["uploaded"]
    ]
    progress["parts"].append(part)
    digest.progress = copy.deepcopy(progress)
    if not rest:
        await session.commit()
        return None
    files = progress["files"]
    payload = _file_payload(method, field, files, {loc: caption(loc) for loc in files})
    job = await sender.delivery.enqueue(
        session, kind=kind, payload=payload, recipients=rest,
        network_id=network_id, author_id=author_id,
    )  # commits the progress with the job
    return job.id


def _progress(digest: Digest) -> dict[str, Any]:
    p = dict(digest.progress or {})
    p["files"] = dict(p.get("files") or {})
    p["uploaded"] = list(p.get("uploaded") or [])
    p["parts"] = list(p.get("parts") or [])
    return p


async def _complete_network(
    sender: DigestSender, digest_id: int, *, actor_id: int | None = None
) -> SendResult:
    """Finish a claimed digest: chart (upload, then the other coordinators), then texts."""
    default = sender.i18n.default_locale
    async with sender.session_pool() as session:
        digest = await repo.get_by_id(session, digest_id)
        assert digest is not None and digest.network_id is not None
        found = await repo.networks_with_schedules(session, [digest.network_id])
        network = found[0][0]
        d = (await build(session, [network], digest.as_of))[network.id]
        await session.commit()  # no transaction stays open while we talk to Telegram
        renderer = Renderer(sender.i18n)
        progress = _progress(digest)
        jobs = dict(digest.job_ids or {})
        coordinators = [m for m in d.coordinators if not m.unreachable]

        if coordinators and "chart" not in progress["parts"]:
            by_locale: dict[str, list[tuple[int, int]]] = {}
            for m in coordinators:
                loc = locale_of(m.language, network, default)
                by_locale.setdefault(loc, []).append((m.user_id, m.tg_id))
            job_id = await _send_file_part(
                sender, session, digest, progress, part="chart", kind=KIND_CHART,
                method="send_photo", field="photo", filename="digest.png",
                people_by_locale=by_locale,
                render=lambda loc: renderer.chart(d, loc),
                caption=lambda loc: renderer.chart_caption(d, loc),
                network_id=network.id, author_id=actor_id,
            )
            if job_id is not None:
                jobs["chart"] = job_id

        recipients: list[Recipient] = []
        if "text" not in progress["parts"]:
            payload, recipients = text_payload(renderer, d, default)
            progress["parts"].append("text")
            digest.progress = copy.deepcopy(progress)
            digest.status = repo.SENT
            digest.sent_at = utcnow()
            digest.recipients = len(recipients)
            if recipients:
                job = await sender.delivery.enqueue(
                    session, kind=KIND_TEXT, payload=payload, recipients=recipients,
                    network_id=network.id, author_id=actor_id,
                )  # commits the status with the job
                jobs["text"] = job.id
        digest.status = repo.SENT
        digest.job_ids = dict(jobs)
        await audit.record(
            session, "digest_send", actor_id=actor_id, network_id=network.id,
            week=digest.week.isoformat(), trigger=digest.trigger, recipients=digest.recipients,
            resend=digest.resends,
        )
        await session.commit()
        log.info(
            "digest of %s for the week of %s queued for %d people (%s)",
            network.slug, digest.week, digest.recipients, digest.trigger,
        )
        return SendResult(Outcome.SENT, digest.week, digest, digest.recipients)


# ------------------------------------------------------------------------- admins


async def admin_rows(session: AsyncSession, now: datetime) -> list[AdminRow]:
    from storage.repositories import networks as networks_repo

    networks = list(await networks_repo.list_all(session))
    digests = await build(session, networks, now)
    return [admin_row(digests[n.id]) for n in networks]


async def send_admin_digest(
    sender: DigestSender, *, now: datetime, trigger: str, force: bool = False
) -> SendResult:
    """This week's cross-network digest to the admins (who have talked to the bot)."""
    week = admin_week(now)
    digest_id, refused = await _claim(
        sender, scope=ADMIN_SCOPE, network_id=None, week=week, now=now, trigger=trigger,
        force=force,
    )
    if digest_id is None:
        assert refused is not None
        return refused
    return await _complete_admin(sender, digest_id)


async def _complete_admin(sender: DigestSender, digest_id: int) -> SendResult:
    default = sender.i18n.default_locale
    async with sender.session_pool() as session:
        digest = await repo.get_by_id(session, digest_id)
        assert digest is not None
        rows = await admin_rows(session, digest.as_of)
        admins = [
            u for u in await repo.admin_users(session, sender.admin_ids)
            if u.unreachable_since is None
        ]
        await session.commit()
        window = window_for(ZoneInfo(ADMIN_ZONE), digest.as_of)
        renderer = Renderer(sender.i18n)
        progress = _progress(digest)
        jobs = dict(digest.job_ids or {})
        by_locale: dict[str, list[User]] = {}
        for u in admins:
            by_locale.setdefault(locale_of(u.language, None, default), []).append(u)

        if admins and "xlsx" not in progress["parts"]:
            job_id = await _send_file_part(
                sender, session, digest, progress, part="xlsx", kind=KIND_XLSX,
                method="send_document", field="document",
                filename=f"digest-{digest.week.isoformat()}.xlsx",
                people_by_locale={
                    loc: [(u.id, u.tg_id) for u in people] for loc, people in by_locale.items()
                },
                render=lambda loc: renderer.admin_xlsx(rows, window, loc),
                caption=lambda loc: renderer.admin_caption(window, loc),
            )
            if job_id is not None:
                jobs["xlsx"] = job_id

        if "text" not in progress["parts"]:
            locales = sorted(by_locale) or [default]
            variants = {loc: {"text": renderer.admin_text(rows, window, loc)} for loc in locales}
            recipients = [
                Recipient(u.id, u.tg_id, loc) for loc, people in by_locale.items() for u in people
            ]
            progress["parts"].append("text")
            digest.progress = copy.deepcopy(progress)
            digest.status = repo.SENT
            digest.sent_at = utcnow()
            digest.recipients = len(recipients)
            if recipients:
                first = locales[0]
                payload = {
                    "method": "send_message",
                    "params": dict(variants.get("en", variants[first])),
                    "locales": variants,
                }
                job = await sender.delivery.enqueue(
                    session, kind=KIND_ADMIN, payload=payload, recipients=recipients
                )
                jobs["text"] = job.id
        digest.status = repo.SENT
        digest.job_ids = dict(jobs)
        await audit.record(
            session, "digest_send", week=digest.week.isoformat(), trigger=digest.trigger,
            recipients=digest.recipients, resend=digest.resends, scope=ADMIN_SCOPE,
        )
        await session.commit()
        log.info("admins' digest for the week of %s queued for %d admins",
                 digest.week, digest.recipients)
        return SendResult(Outcome.SENT, digest.week, digest, digest.recipients)


# ---------------------------------------------------------------- schedule and catch-up


async def catch_up(sender: DigestSender, now: datetime) -> list[SendResult]:
    """Send this week's digests that are due and not sent (the bot was down at their
    time), finish those a stopped process left half-way, and give up those of past weeks.
    A digest is due only if its network existed, with that schedule, at the due time."""
    async with sender.session_pool() as session:
        planned = await repo.networks_with_schedules(session)
        stale = await repo.stale_claims(session, now - LEASE)
        keys = [(network_scope(n.id), current_week(n, now)) for n, _s in planned]
        if sender.admin_ids:
            keys.append((ADMIN_SCOPE, admin_week(now)))
        existing = await repo.of_weeks(session, keys)
        networks = {n.id: n for n, _s in planned}

        def this_week(row: Digest) -> date | None:
            if row.scope == ADMIN_SCOPE:
                return admin_week(now)
            network = networks.get(row.network_id) if row.network_id is not None else None
            return current_week(network, now) if network is not None else None

        resumable = [row for row in stale if row.week == this_week(row)]
        for row in stale:
            if row not in resumable:
                await repo.set_status(session, row.id, repo.ABANDONED)
                log.warning("digest %s of the week of %s was cut off; its week is over",
                            row.scope, row.week)
        await session.commit()
    results: list[SendResult] = []
    for row in resumable:
        async with sender.session_pool() as session:
            taken = await repo.take_over(
                session, row.id, worker_id=sender.worker_id, stale_before=now - LEASE, now=now
            )
            await session.commit()
        if taken:
            log.warning("finishing digest %s of the week of %s, cut off earlier",
                        row.scope, row.week)
            if row.scope == ADMIN_SCOPE:
                results.append(await _complete_admin(sender, row.id))
            else:
                results.append(await _complete_network(sender, row.id))
    for network, schedule in planned:
        week = current_week(network, now)
        moment = due_at(schedule, zone(network), week)
        since = max(network.created_at, schedule.updated_at or network.created_at)
        if (network_scope(network.id), week) in existing or not since <= moment <= now:
            continue
        log.info("digest of %s was due at %s: sending it now", network.slug, moment)
        results.append(await send_network_digest(sender, network.id, now=now, trigger="catchup"))
    if sender.admin_ids and (ADMIN_SCOPE, admin_week(now)) not in existing:
        moment = due_at(Schedule(ADMIN_WEEKDAY, ADMIN_HOUR), ZoneInfo(ADMIN_ZONE), admin_week(now))
        if moment <= now:
            results.append(await send_admin_digest(sender, now=now, trigger="catchup"))
    return results


_SENDERS: weakref.WeakKeyDictionary[BaseScheduler, DigestSender] = weakref.WeakKeyDictionary()


def plan(scheduler: BaseScheduler, sender: DigestSender, network: Network,
         schedule: Schedule) -> None:
    """The network's cron trigger, in its time zone (replaced only when it changed, so a
    re-plan never skips a run that is about to fire)."""
    job_id = network_job_id(network.id)
    key = (schedule.weekday, schedule.hour, network.timezone)
    if sender.planned.get(job_id) == key and scheduler.get_job(job_id) is not None:
        return

    async def run(network_id: int = network.id) -> None:
        result = await send_network_digest(sender, network_id, now=utcnow(), trigger="schedule")
        log.info("scheduled digest of network %s: %s", network_id, result.outcome)

    if scheduler.get_job(job_id) is not None:
        scheduler.remove_job(job_id)  # (a pending job of a scheduler not yet started, too)
    scheduler.add_job(
        run,
        CronTrigger(
            day_of_week=CRON_DAYS[schedule.weekday], hour=schedule.hour, minute=0,
            timezone=zone(network),
        ),
        id=job_id,
    )
    sender.planned[job_id] = key


async def sync(scheduler: BaseScheduler, sender: DigestSender, now: datetime) -> None:
    """Re-plan every network's trigger from the database, then catch up."""
    async with sender.session_pool() as session:
        planned = await repo.networks_with_schedules(session)
    wanted = set()
    for network, schedule in planned:
        plan(scheduler, sender, network, schedule)
        wanted.add(network_job_id(network.id))
    for job_id in [j for j in sender.planned if j.startswith("digests.network.")]:
        if job_id not in wanted:
            sender.planned.pop(job_id, None)
            if scheduler.get_job(job_id) is not None:
                scheduler.remove_job(job_id)
    await catch_up(sender, now)


def replan(scheduler: BaseScheduler | None, network: Network, schedule: Schedule) -> bool:
    """After a settings change in this process: move the network's trigger at once."""
    sender = _SENDERS.get(scheduler) if scheduler is not None else None
    if sender is None:
        return False  # not running here; the sync job of the running bot picks it up
    plan(scheduler, sender, network, schedule)  # type: ignore[arg-type]
    return True


def setup_jobs(ctx: AppContext) -> None:
    """Register this feature's scheduled jobs on ctx.scheduler: a cron trigger per
    network (planned by the first sync, at start), the admins' digest, and the sync."""
    sender = DigestSender.from_context(ctx)
    _SENDERS[ctx.scheduler] = sender
    lock = asyncio.Lock()

    async def run_sync() -> None:
        if lock.locked():
            return
        async with lock:
            try:
                await sync(ctx.scheduler, sender, utcnow())
            except Exception:
                log.exception("digest sync failed; trying again at the next one")

    async def run_admin() -> None:
        result = await send_admin_digest(sender, now=utcnow(), trigger="schedule")
        log.info("admins' digest: %s", result.outcome)

    ctx.scheduler.add_job(
        run_sync, "interval", seconds=SYNC_SECONDS, id=SYNC_JOB_ID, replace_existing=True,
        next_run_time=utcnow(),
    )
    if ctx.settings.admin_ids:
        ctx.scheduler.add_job(
            run_admin,
            CronTrigger(day_of_week=CRON_DAYS[ADMIN_WEEKDAY], hour=ADMIN_HOUR, minute=0,
                        timezone=ZoneInfo(ADMIN_ZONE)),
            id=ADMIN_JOB_ID,
            replace_existing=True,
        )


# ------------------------------------------------------------------ people asking


@dataclass(frozen=True, slots=True)
class Preview:
    text: str
    chart: bytes | None = None  # the coordinators' PNG
    xlsx: bytes | None = None  # the admins' spreadsheet
    filename: str = ""


async def preview(
    session: AsyncSession, i18n: I18n, actor: Actor, network_id: int, now: datetime
) -> Preview:
    """This week's digest of a network as the actor would get it (0: the admins')."""
    renderer = Renderer(i18n)
    locale = i18n.current_locale
    if network_id == 0:
        if not actor.is_admin:
            raise AccessDenied("only admins see the cross-network digest")
        rows = await admin_rows(session, now)
        window = window_for(ZoneInfo(ADMIN_ZONE), now)
        return Preview(
            renderer.admin_text(rows, window, locale),
            xlsx=renderer.admin_xlsx(rows, window, locale),
            filename=f"digest-{admin_week(now).isoformat()}.xlsx",
        )
    actor.require_member(network_id)
    found = await repo.networks_with_schedules(session, [network_id])
    if not found:
        raise AccessDenied(f"no network {network_id}")
    network = found[0][0]
    d = (await build(session, [network], now))[network_id]
    me = next(
        (m for m in d.figures.members if actor.user is not None and m.user_id == actor.user.id),
        None,
    )
    coordinator = actor.can_coordinate(network_id)
    text = renderer.text(d, locale, me, coordinator)
    chart = renderer.chart(d, locale) if coordinator else None
    return Preview(text, chart=chart)


async def network_for(session: AsyncSession, actor: Actor, network_id: int) -> Network:
    actor.require_coordinator(network_id)
    found = await repo.networks_with_schedules(session, [network_id])
    if not found:
        raise AccessDenied(f"no network {network_id}")
    return found[0][0]


async def schedule_of(
    session: AsyncSession, actor: Actor, network_id: int, now: datetime
) -> tuple[Network, Schedule, Digest | None]:
    """A coordinator's view of the schedule, with this week's digest row if any."""
    network = await network_for(session, actor, network_id)
    schedule = await repo.get_schedule(session, network_id)
    row = await repo.get(session, network_scope(network_id), current_week(network, now))
    return network, schedule, row


async def change_schedule(
    session: AsyncSession,
    actor: Actor,
    network_id: int,
    now: datetime,
    *,
    weekday: int | None = None,
    hour: int | None = None,
) -> tuple[Network, Schedule]:
    network = await network_for(session, actor, network_id)
    current = await repo.get_schedule(session, network_id)
    new_day = current.weekday if weekday is None else weekday
    new_hour = current.hour if hour is None else hour
    if not (0 <= new_day <= 6 and 0 <= new_hour <= 23):
        raise ValueError("weekday 0-6 and hour 0-23")
    schedule = await repo.save_schedule(session, network_id, now, weekday=new_day, hour=new_hour)
    await audit.record(
        session, "digest_settings", actor_id=actor.user.id if actor.user else None,
        network_id=network_id, weekday=new_day, hour=new_hour,
    )
    await session.commit()
    return network, schedule


async def send_now(
    sender: DigestSender, actor: Actor, network_id: int, now: datetime, *, force: bool = False
) -> SendResult:
    """A coordinator's "send now" (refused when this week's went out; admins may force)."""
    actor.require_coordinator(network_id)
    if force and not actor.is_admin:
        raise AccessDenied("only admins send a week's digest twice")
    return await send_network_digest(
        sender, network_id, now=now, trigger="coordinator", force=force,
        actor_id=actor.user.id if actor.user else None,
    )


# ----------------------------------------------------------------------------- texts


def schedule_label(schedule: Schedule, locale: str) -> str:
    day = get_day_names("wide", locale=locale)[schedule.weekday]
    hour = format_skeleton("Hm", datetime(2000, 1, 1, schedule.hour), locale=locale)
    return _("every {day} at {hour}").format(day=day, hour=hour)


def sent_label(row: Digest | None, network: Network, locale: str) -> str:
    """This week's digest: when it went out, or that it has not yet."""
    if row is None or row.status != repo.SENT or row.sent_at is None:
        return _("This week's digest has not gone out yet.")
    when = format_datetime(row.sent_at, "EEEE HH:mm", tzinfo=zone(network), locale=locale)
    return _("This week's digest went out on {when}.").format(when=when)
