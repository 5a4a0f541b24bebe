"""What `prevnet status` shows an operator: the outbox, the processes, the last digests
and reminders (README.md, "Command line").

`collect` reads everything in a handful of GROUP BY queries (never a query per job or
per row); `render` lays it out for a terminal, `StatusReport.to_dict` for `--json`. Times
are UTC. The rate limiter lives in each process's memory, so it is not shown here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.heartbeat import ALIVE_AFTER, PRUNE_AFTER
from storage.models import DeliveryStatus, JobStatus, ReminderStatus, utcnow
from storage.repositories import digests, processes
from storage.repositories import status as repo
from storage.repositories.digests import ADMIN_SCOPE, DigestRun
from storage.repositories.status import JobOverview, OutboxTotals, ReminderRun, ReminderTotals

JOBS_SHOWN = 20  # jobs listed at most (running and scheduled ones first)
JOBS_SINCE = timedelta(days=1)  # finished jobs listed if created this recently
REMINDER_RUNS_SHOWN = 5
DELIVERY_STATUSES: tuple[str, ...] = tuple(s.value for s in DeliveryStatus)


@dataclass(frozen=True, slots=True)
class ProcessLine:
    id: str
    role: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    alive: bool


@dataclass(frozen=True, slots=True)
class StatusReport:
    now: datetime
    outbox: OutboxTotals
    jobs: list[JobOverview]
    processes: list[ProcessLine]
    digests: list[DigestRun]
    reminders: ReminderTotals
    reminder_runs: list[ReminderRun]
    alive_after: timedelta
    jobs_since: datetime
    schema: str | None = None  # the database's migration revision, when the caller knows it

    @property
    def alive(self) -> list[ProcessLine]:
        return [p for p in self.processes if p.alive]

    @property
    def gone(self) -> list[ProcessLine]:
        return [p for p in self.processes if not p.alive]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 UTC, ages in seconds (positive: in the past)."""
        now = self.now

        def age(moment: datetime | None) -> float | None:
            return None if moment is None else round((now - moment).total_seconds(), 3)

        outbox = self.outbox
        return {
            "now": _iso(now),
            "schema": self.schema,
            "outbox": {
                "jobs": dict(sorted(outbox.jobs.items())),
                "pending": outbox.pending,
                "sending": outbox.sending,
                "due": outbox.due,
                "oldest_due": _iso(outbox.oldest_due),
                "oldest_due_age_seconds": age(outbox.oldest_due),
                "oldest_sending": _iso(outbox.oldest_sending),
            },
            "jobs": [
                {
                    "id": j.id,
                    "kind": j.kind,
                    "status": j.status,
                    "network": j.network,
                    "title": j.title,
                    "created_at": _iso(j.created_at),
                    "due_at": _iso(j.due_at),
                    "finished_at": _iso(j.finished_at),
                    "total": j.total,
                    "skipped": j.skipped,
                    **{s: j.by_status.get(s, 0) for s in DELIVERY_STATUSES},
                    "oldest_pending": _iso(j.oldest_pending),
                    "oldest_pending_age_seconds": age(j.oldest_pending),
                }
                for j in self.jobs
            ],
            "processes": [
                {
                    "id": p.id,
                    "role": p.role,
                    "host": p.host,
                    "pid": p.pid,
                    "started_at": _iso(p.started_at),
                    "last_seen": _iso(p.last_seen),
                    "last_seen_age_seconds": age(p.last_seen),
                    "alive": p.alive,
                }
                for p in self.processes
            ],
            "alive_after_seconds": self.alive_after.total_seconds(),
            "digests": [
                {
                    "scope": d.scope,
                    "network": d.network,
                    "week": d.week.isoformat(),
                    "status": d.status,
                    "trigger": d.trigger,
                    "claimed_by": d.claimed_by,
                    "claimed_at": _iso(d.claimed_at),
                    "sent_at": _iso(d.sent_at),
                    "recipients": d.recipients,
                    "resends": d.resends,
                }
                for d in self.digests
            ],
            "reminders": {
                **self.reminders.by_status,
                "due": self.reminders.due,
                "oldest_due": _iso(self.reminders.oldest_due),
                "next_due": _iso(self.reminders.next_due),
                "oldest_claim": _iso(self.reminders.oldest_claim),
                "last_done": _iso(self.reminders.last_done),
                "recent": [
                    {
                        "id": r.id,
                        "network": r.network,
                        "event": r.event_title,
                        "offset_minutes": r.offset_minutes,
                        "status": r.status,
                        "done_at": _iso(r.done_at),
                        "note": r.note,
                    }
                    for r in self.reminder_runs
                ],
            },
        }


async def collect(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    jobs_shown: int = JOBS_SHOWN,
    jobs_since: timedelta = JOBS_SINCE,
    alive_after: timedelta = ALIVE_AFTER,
    schema: str | None = None,
) -> StatusReport:
    """Everything `prevnet status` shows, read in one session (nothing is written)."""
    now = now or utcnow()
    since = now - jobs_since
    rows = await processes.seen_since(session, now - PRUNE_AFTER)
    report = StatusReport(
        now=now,
        outbox=await repo.outbox_totals(session, now),
        jobs=await repo.job_overviews(session, since=since, limit=jobs_shown),
        processes=[
            ProcessLine(
                id=p.id,
                role=p.role,
                host=p.host,
                pid=p.pid,
                started_at=p.started_at,
                last_seen=p.last_seen,
                alive=p.last_seen >= now - alive_after,
            )
            for p in rows
        ],
        digests=await digests.latest_runs(session),
        reminders=await repo.reminder_totals(session, now),
        reminder_runs=await repo.recent_reminder_runs(session, REMINDER_RUNS_SHOWN),
        alive_after=alive_after,
        jobs_since=since,
        schema=schema,
    )
    return report


# ---------------------------------------------------------------------------- text


def duration(delta: timedelta) -> str:
    """``45s``, ``5m 2s``, ``3h 10m``, ``2d 4h`` (the two largest units)."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def relative(moment: datetime | None, now: datetime) -> str:
    """``5m 2s ago``, ``in 30s`` or ``-``."""
    if moment is None:
        return "-"
    delta = now - moment
    return f"{duration(delta)} ago" if delta >= timedelta(0) else f"in {duration(delta)}"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: set[int]) -> list[str]:
    """Columns two spaces apart; ``right`` are the indexes of right-aligned (number)
    columns. The last column is not padded."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  " + "  ".join(parts).rstrip())
    return lines


def _short(text: str | None, limit: int = 40) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _counts(items: dict[str, int], order: Sequence[str]) -> str:
    shown = [f"{items[k]} {k}" for k in order if items.get(k)]
    shown += [f"{n} {k}" for k, n in sorted(items.items()) if k not in order and n]
    return ", ".join(shown) or "none"


def _pending_since(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    return f"due {relative(moment, now)}"


def render(report: StatusReport) -> str:
    now = report.now
    schema = f" (database schema {report.schema})" if report.schema else ""
    out = [f"prevnet status at {now:%Y-%m-%d %H:%M:%S} UTC{schema}", ""]

    # Outbox
    ob = report.outbox
    job_order = [s.value for s in (JobStatus.RUNNING, JobStatus.SCHEDULED, JobStatus.DONE,
                                   JobStatus.CANCELLED)]
    out.append("Outbox")
    out.append(f"  jobs: {_counts(ob.jobs, job_order)}")
    waiting = f"{ob.pending} pending"
    if ob.pending:
        oldest = f", the oldest due {relative(ob.oldest_due, now)}" if ob.oldest_due else ""
        waiting += f" ({ob.due} due{oldest})"
    sending = f"{ob.sending} sending"
    if ob.sending and ob.oldest_sending:
        sending += f" (the oldest claimed {relative(ob.oldest_sending, now)})"
    out.append(f"  deliveries: {waiting}, {sending}")
    if report.jobs:
        out.append("")
        out.extend(
            _table(
                ["job", "kind", "status", "network", "created", *DELIVERY_STATUSES,
                 "oldest pending", "title"],
                [
                    [j.id, j.kind, j.status, j.network or "-", _when(j.created_at),
                     *(j.by_status.get(s, 0) for s in DELIVERY_STATUSES),
                     _pending_since(j.oldest_pending, now), _short(j.title)]
                    for j in report.jobs
                ],
                right={0, 5, 6, 7, 8, 9},
            )
        )
    else:
        hours = (now - report.jobs_since).total_seconds() / 3600
        out.append(f"  no job running, scheduled or created in the last {hours:g} h")
    out.append("")

    # Processes
    alive, gone = report.alive, report.gone
    header = f"Processes: {len(alive)} alive"
    if gone:
        header += f", {len(gone)} gone without stopping"
    out.append(f"{header} (alive: a heartbeat within {duration(report.alive_after)})")
    if report.processes:
        out.extend(
            _table(
                ["role", "host", "pid", "started", "last seen", "state", "id"],
                [
                    [p.role, p.host, p.pid, _when(p.started_at), relative(p.last_seen, now),
                     "alive" if p.alive else "GONE", p.id]
                    for p in [*alive, *gone]
                ],
                right={2},
            )
        )
    else:
        out.append("  no heartbeat: no `prevnet run` or `prevnet worker` is running")
    out.append("")

    # Digests
    out.append("Digests (the latest week of each network, and the admins')")
    if report.digests:
        out.extend(
            _table(
                ["network", "week", "status", "trigger", "claimed", "sent", "recipients"],
                [
                    [d.network or ("admins" if d.scope == ADMIN_SCOPE else d.scope),
                     d.week.isoformat(), d.status, d.trigger, _when(d.claimed_at),
                     _when(d.sent_at), d.recipients]
                    for d in report.digests
                ],
                right={6},
            )
        )
    else:
        out.append("  no digest yet")
    out.append("")

    # Reminders
    rem = report.reminders
    out.append("Reminders")
    by = rem.by_status
    pending = f"{by.get(ReminderStatus.PENDING, 0)} pending"
    if rem.due:
        pending += f" ({rem.due} due, the oldest {relative(rem.oldest_due, now)})"
    claimed = f"{by.get(ReminderStatus.CLAIMED, 0)} claimed"
    if rem.oldest_claim:
        claimed += f" (since {relative(rem.oldest_claim, now)})"
    out.append(
        f"  {pending}, {claimed}, {by.get(ReminderStatus.SENT, 0)} sent, "
        f"{by.get(ReminderStatus.SKIPPED, 0)} skipped"
    )
    last = f"{_when(rem.last_done)} ({relative(rem.last_done, now)})" if rem.last_done else "-"
    upcoming = f"{_when(rem.next_due)} ({relative(rem.next_due, now)})" if rem.next_due else "-"
    out.append(f"  last sent or skipped: {last}; next due: {upcoming}")
    if report.reminder_runs:
        out.extend(
            _table(
                ["network", "event", "before", "status", "when"],
                [
                    [r.network, _short(r.event_title, 30),
                     duration(timedelta(minutes=r.offset_minutes)), r.status,
                     f"{_when(r.done_at)} ({relative(r.done_at, now)})"]
                    for r in report.reminder_runs
                ],
                right=set(),
            )
        )
    return "\n".join(out).rstrip() + "\n"
