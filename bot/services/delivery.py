"""The delivery engine: every message the bot sends to many people goes through it.

Broadcasts, event announcements, reminders, digests and nudges are *send jobs*: one
payload, many recipients. `DeliveryEngine.enqueue` stores the job and one delivery row per
recipient (one transaction) before anything is sent; a background loop then claims due
rows in batches, sends them through aiogram with a bounded number of requests in flight,
and records the outcomes in batches. Telegram's limits (PRODUCT.md §4) are enforced by the
request middleware of bot/services/ratelimit.py, which `install()` puts on the bot's
session so handlers' interactive replies share the same limiter at a higher priority.

Usage::

    engine = DeliveryEngine(bot, session_pool, rate=settings.broadcast_rate)
    engine.on_job_progress = show_progress          # optional
    await engine.start()                            # installs the middleware, starts the loop
    job = await engine.enqueue(
        session,
        kind="broadcast",
        payload={
            "method": "send_message",
            "params": {"text": "<b>Meeting moved</b> to Thursday"},
            "locales": {"ar": {"text": "..."}, "fr": {"text": "..."}},
            "buttons": [[{"text": {"en": "Understood", "ar": "...", "fr": "Compris"},
                          "callback_data": "ack:{delivery_id}"}]],
        },
        recipients=[Recipient(user.id, user.tg_id, user.language or "en") for user in people],
        network_id=network.id, author_id=author.id,
        due_at=None,                                # None: now; else an aware datetime
        progress=(author_chat_id, progress_message_id),
    )                                               # commits, wakes the loop
    ...
    await engine.stop()

API
---
``DeliveryEngine(bot, session_pool, *, rate, worker_id=None, max_attempts=5,
concurrency=None, lease=60, backoff_base=2, backoff_max=600, poll_interval=1,
progress_interval=2, request_timeout=None, per_chat_interval=1.05, claim_batch=None,
stop_grace=10, record_linger=0.02, limiter=None, reply_rate=None)``; ``concurrency`` None means
ceil(rate / 2) clamped to 10..100 requests in flight.

* ``install()``: the rate-limit middleware on ``bot.session`` (idempotent). start() installs
  it if it is not there, and stop() then removes it again; call install() yourself to keep
  it for good. ``uninstall()`` removes it.
* ``start()`` / ``stop()``: the background loop. stop() stops claiming, lets the requests
  in flight finish (up to ``stop_grace`` seconds), records them, and puts the rows it had
  claimed but not sent back to pending.
* ``wake()``: look for due work now (enqueue calls it for jobs due now).
* ``enqueue(session, *, kind, payload, recipients, network_id=None, author_id=None,
  due_at=None, progress=None) -> SendJob``: validates and renders the payload once per
  locale (ValueError if it cannot be sent), drops duplicate recipients, leaves out users
  whose ``unreachable_since`` is set (counted in ``job.skipped``), inserts the job
  (status ``scheduled``, ``total`` = deliveries) and its deliveries in batches of 1,000,
  commits.
* ``cancel(session, job_id) -> bool``: a job that has not started (deliveries deleted,
  status ``cancelled``); False once it runs. Commits.
* ``run_until_idle(timeout=60)``: for tests and one-shot commands: run (starting and
  stopping the loop if it is not running) until every job due now is done, waiting for
  retries in backoff, and for the progress callbacks. TimeoutError after ``timeout``.
* ``on_job_progress``: ``async (JobProgress) -> None``, called at most every
  ``progress_interval`` seconds per job while it runs and once at the end (``done``
  True), with the job's counts; exceptions are logged, never propagated.
* ``stats``: counters of this engine (sent, blocked, failed, retried, requeued, claimed);
  ``retry_after_received``: 429 answers its middleware saw.
* storage.repositories.delivery: ``job_counts(session, job_id) -> JobCounts`` (one GROUP
  BY) and ``record_ack(session, delivery_id, user_tg_id) -> bool`` for the "understood"
  button (first press sets acked_at; False if the delivery is not that user's).

Payload
-------
A JSON dict stored on the job and rendered per delivery without any per-recipient SQL::

    {"method": "send_message" | "send_photo" | "send_document" | "copy_message"
               | "forward_message" | "send_video" | "send_audio" | "send_animation"
               | "send_voice" | "send_sticker" | "send_location",
     "params": {...aiogram method kwargs except chat_id/reply_markup...},
     "locales": {"ar": {...param overrides}, "en": {...}, "fr": {...}},   # optional
     "buttons": [[{"text": "label" | {"ar": ..., "en": ..., "fr": ...},
                   "callback_data": "ack:{delivery_id}" | "url": "..."}]]}  # optional

The delivery's ``locale`` picks the overrides and the button labels, falling back to
"en", then to the first one given. A recipient may carry its own overrides
(``Recipient(..., params={"text": ...})``, stored on its delivery row): they are merged
over the locale-rendered params when that delivery is sent (e.g. a digest whose text
differs per member); they must not set ``chat_id`` or ``reply_markup``.
``{delivery_id}`` in a button's callback_data or url is replaced by the delivery's id
(callback_data must stay within 64 bytes). Text is sent with
the bot's default parse mode (HTML) unless the params set ``parse_mode`` or carry
``entities`` / ``caption_entities`` (then no parse mode). `build_method` renders one.

Rows and outcomes
-----------------
``pending -> sending -> sent`` (message_id, sent_at) ``| blocked | failed``; ``attempts``
counts sends whose outcome was known or unknown, ``last_error`` keeps the last error.

* 429 (`TelegramRetryAfter`): the middleware pauses the whole limiter for retry_after and
  retries; if it still fails the row goes back to pending at now + retry_after, not counted.
* 5xx, network errors, timeouts: retried with exponential backoff (``backoff_base`` *
  2^(attempts-1), jittered, capped by ``backoff_max``) until ``max_attempts``, then failed.
* 403 (`TelegramForbiddenError`): blocked, and the user's ``unreachable_since`` is set.
* 400 (chat not found, bad markup, ...) and other API errors: failed at once.
* A group that became a supergroup (migrate_to_chat_id): chat_id updated, sent again.

No error stops the rest of the job.

Crash safety and several processes
-----------------------------------
Rows are claimed atomically in batches (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two
processes never claim, hence never send, the same row; SQLite: one sending process) and
marked ``sending`` with ``claimed_by`` = worker id and ``claimed_at``. A sender slot is
released only once its outcome is committed, so at most ``concurrency`` rows can have left
without being recorded as sent.

In-flight policy: *at least once*. After a crash, rows left in ``sending`` go back to
pending and are sent again, by the next engine that starts: at once when it can tell the
holder is dead (the same ``worker_id``, or a default worker id — host, boot, PID namespace,
pid — of a process of this machine that no longer exists), otherwise when the holder's
lease (``lease`` seconds, renewed every lease/3 while it lives) runs out. So a kill -9
resends at most ``concurrency`` messages that had left in the last instant (a duplicate is
better than a member missing a meeting); a row that keeps coming back this way fails after
``max_attempts`` with last_error "unknown: ...". With several processes, give each its own
worker_id and share ``rate`` between them (each process has its own limiter).

Fairness: each claim takes a share from every running job in turn, so a reminder to ten
people does not wait behind a broadcast to ten thousand.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot, methods
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods.base import Response, TelegramMethod
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ratelimit import (
    _BULK,
    ChatSpacer,
    PriorityRateLimiter,
    RateLimitMiddleware,
)
from storage.engine import db_scope
from storage.models import SendJob, utcnow
from storage.repositories import delivery as repo
from storage.repositories import users as users_repo
from storage.repositories.delivery import (
    BLOCKED,
    FAILED,
    PENDING,
    SENT,
    ClaimedDelivery,
    JobCounts,
    job_counts,
    record_ack,
)

__all__ = [
    "METHODS",
    "DeliveryEngine",
    "JobCounts",
    "JobProgress",
    "Recipient",
    "build_method",
    "default_worker_id",
    "job_counts",
    "record_ack",
]

log = logging.getLogger(__name__)

METHODS: dict[str, type[TelegramMethod[Any]]] = {
    "send_message": methods.SendMessage,
    "send_photo": methods.SendPhoto,
    "send_document": methods.SendDocument,
    "copy_message": methods.CopyMessage,
    "forward_message": methods.ForwardMessage,
    "send_video": methods.SendVideo,
    "send_audio": methods.SendAudio,
    "send_animation": methods.SendAnimation,
    "send_voice": methods.SendVoice,
    "send_sticker": methods.SendSticker,
    "send_location": methods.SendLocation,
}
_NO_MARKUP = frozenset({"forward_message"})

# aiogram parses every answer as pydantic's Response[T]; pydantic keeps such generic
# classes only while something references them, so after each garbage collection the next
# answer rebuilt Response[Message] (~10 ms, close to half the engine's CPU per message).
# Holding them makes it a cache hit.
_RESPONSE_TYPES = tuple(
    Response[t]  # type: ignore[valid-type]
    for t in {cls.__returning__ for cls in METHODS.values()} | {bool, Message | bool}
)
_DELIVERY_ID = "{delivery_id}"
_MAX_CALLBACK_DATA = 64
_KIND_LENGTH = 16


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int  # users.id
    chat_id: int  # where to send: the user's Telegram id for a private chat
    locale: str = "en"
    # This recipient's own overrides, merged over the locale's params (None: none).
    params: dict[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True, slots=True)
class JobProgress:
    job_id: int
    kind: str
    network_id: int | None
    author_id: int | None
    progress_chat_id: int | None
    progress_message_id: int | None
    total: int
    sent: int
    blocked: int
    failed: int
    pending: int
    acked: int
    skipped: int
    done: bool  # the last call for this job


@dataclass(slots=True)
class EngineStats:
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0  # transient errors that will be tried again
    requeued: int = 0  # 429s that escaped the middleware's retries
    claimed: int = 0


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _local_identity() -> str:
    """This machine and PID namespace: where a process id means the same process."""
    host = socket.gethostname()[:24].replace(":", "_")
    boot = _read("/proc/sys/kernel/random/boot_id")[:8]
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    return f"{host}/{boot}/{namespace}" if boot and namespace else ""


_LOCAL = _local_identity()
_LIVE_WORKERS: set[str] = set()  # started engines of this process


def default_worker_id() -> str:
    """``<host>/<boot>/<pid namespace>:<pid>:<random>``: unique per engine, and telling
    which process held a claim, so a restart resumes a dead local process's rows at once
    instead of waiting for its lease."""
    return f"{_LOCAL or socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def is_dead_local_worker(worker_id: str) -> bool:
    """True when the worker ran in this machine and PID namespace and its process is gone
    (or is this process, but that engine is not running any more). False when unsure."""
    parts = worker_id.rsplit(":", 2)
    if not _LOCAL or len(parts) != 3 or parts[0] != _LOCAL or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return worker_id not in _LIVE_WORKERS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


# --------------------------------------------------------------------------- payload


def _pick(variants: dict[str, Any], locale: str) -> Any:
    if locale in variants:
        return variants[locale]
    if "en" in variants:
        return variants["en"]
    return next(iter(variants.values())) if variants else None


class _Template:
    """A payload rendered for one locale; `build` adds the chat and the delivery id."""

    __slots__ = ("cls", "markup", "params", "rows")

    def __init__(self, payload: dict[str, Any], locale: str) -> None:
        if not isinstance(payload, dict):
            raise ValueError("payload must be a dict")
        name = payload.get("method", "send_message")
        cls = METHODS.get(name)
        if cls is None:
            raise ValueError(f"unsupported payload method {name!r}; use one of {sorted(METHODS)}")
        self.cls: Any = cls
        params = dict(payload.get("params") or {})
        locales = payload.get("locales") or {}
        if not isinstance(locales, dict):
            raise ValueError("payload locales must be a dict of locale -> param overrides")
        overrides = _pick(locales, locale) if locales else None
        if overrides:
            params.update(overrides)
        for forbidden in ("chat_id", "reply_markup"):
            if forbidden in params:
                raise ValueError(f"payload params must not set {forbidden}")
        if "parse_mode" not in params and (
            params.get("entities") or params.get("caption_entities")
        ):
            params["parse_mode"] = None
        self.params = params
        self.rows: list[list[tuple[str, dict[str, Any]]]] | None = None
        self.markup: InlineKeyboardMarkup | None = None
        buttons = payload.get("buttons")
        if buttons:
            if name in _NO_MARKUP:
                raise ValueError(f"{name} cannot carry buttons")
            rows: list[list[tuple[str, dict[str, Any]]]] = []
            for row in buttons:
                out = []
                for button in row:
                    button = dict(button)
                    text = button.pop("text", None)
                    if isinstance(text, dict):
                        text = _pick(text, locale)
                    if not isinstance(text, str) or not text:
                        raise ValueError("every button needs a text (or texts by locale)")
                    if not button:
                        raise ValueError("every button needs callback_data or url")
                    out.append((text, {k: str(v) for k, v in button.items()}))
                rows.append(out)
            self.rows = rows
            if not any(_DELIVERY_ID in v for r in rows for _, b in r for v in b.values()):
                self.markup = self._markup(0)

    def _markup(self, delivery_id: int) -> InlineKeyboardMarkup:
        assert self.rows is not None
        did = str(delivery_id)
        keyboard = []
        for row in self.rows:
            keyboard.append(
                [
                    InlineKeyboardButton(
                        text=text, **{k: v.replace(_DELIVERY_ID, did) for k, v in fields.items()}
                    )
                    for text, fields in row
                ]
            )
        return InlineKeyboardMarkup(inline_keyboard=keyboard)

    def build(
        self, chat_id: int, delivery_id: int, overrides: dict[str, Any] | None = None
    ) -> TelegramMethod[Any]:
        params = self.params
        if overrides:
            params = _merge(params, overrides)
        markup = self.markup
        if markup is None and self.rows is not None:
            markup = self._markup(delivery_id)
        if markup is not None:
            return self.cls(chat_id=chat_id, reply_markup=markup, **params)
        return self.cls(chat_id=chat_id, **params)

    def check(self) -> None:
        """Raise ValueError if this cannot become a valid request."""
        try:
            method = self.build(0, 10**15)
        except Exception as exc:  # pydantic ValidationError, TypeError
            raise ValueError(f"payload does not make a valid {self.cls.__name__}: {exc}") from exc
        markup = getattr(method, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            for row in markup.inline_keyboard:
                for button in row:
                    data = button.callback_data
                    if data is not None and len(data.encode()) > _MAX_CALLBACK_DATA:
                        raise ValueError(f"callback_data longer than 64 bytes: {data!r}")


def _check_overrides(params: dict[str, Any] | None) -> None:
    if params is None:
        return
    if not isinstance(params, dict):
        raise ValueError("a recipient's params must be a dict of param overrides")
    for forbidden in ("chat_id", "reply_markup"):
        if forbidden in params:
            raise ValueError(f"a recipient's params must not set {forbidden}")


def _merge(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A delivery's own overrides over the locale's params (a shallow update; entities
    without a parse mode still mean no parse mode)."""
    merged = {**params, **overrides}
    if "parse_mode" not in merged and (merged.get("entities") or merged.get("caption_entities")):
        merged["parse_mode"] = None
    return merged


def build_method(
    payload: dict[str, Any],
    locale: str,
    chat_id: int,
    delivery_id: int = 0,
    params: dict[str, Any] | None = None,
) -> TelegramMethod[Any]:
    """The request a delivery of this payload makes (also useful for a preview);
    ``params``: the recipient's own overrides, if any."""
    _check_overrides(params)
    return _Template(payload, locale).build(chat_id, delivery_id, params)


# aiohttp errors raised before the request was written: nothing reached Telegram.
_NOT_SENT_ERRORS = ("ClientConnectorError", "ClientConnectorDNSError", "ClientProxyConnectionError")


def _never_left(exc: TelegramNetworkError) -> bool:
    return str(exc.message).startswith(_NOT_SENT_ERRORS)


def _message_id(result: Any) -> int | None:
    if isinstance(result, list):
        result = result[0] if result else None
    mid = getattr(result, "message_id", None)
    return int(mid) if mid is not None else None


# ---------------------------------------------------------------------------- engine


@dataclass(slots=True)
class _Job:
    id: int
    payload: dict[str, Any]
    templates: dict[str, _Template] = field(default_factory=dict)

    def template(self, locale: str) -> _Template:
        tpl = self.templates.get(locale)
        if tpl is None:
            tpl = self.templates[locale] = _Template(self.payload, locale)
        return tpl


@dataclass(slots=True)
class _Result:
    row: ClaimedDelivery
    params: dict[str, Any]
    done: asyncio.Future[None]
    blocked_user: int | None = None


ProgressCallback = Callable[[JobProgress], Awaitable[None]]


class DeliveryEngine:
    """See the module docstring."""

    def __init__(
        self,
        bot: Bot,
        session_pool: async_sessionmaker[AsyncSession],
        *,
        rate: float,
        worker_id: str | None = None,
        max_attempts: int = 5,
        concurrency: int | None = None,
        lease: float = 60.0,
        backoff_base: float = 2.0,
        backoff_max: float = 600.0,
        poll_interval: float = 1.0,
        progress_interval: float = 2.0,
        request_timeout: int | None = None,
        per_chat_interval: float = 1.05,
        claim_batch: int | None = None,
        stop_grace: float = 10.0,
        record_linger: float = 0.02,
        limiter: PriorityRateLimiter | None = None,
        reply_rate: float | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.bot = bot
        self.session_pool = session_pool
        self.rate = float(rate)
        self.worker_id = (worker_id or default_worker_id())[:64]
        self.max_attempts = max_attempts
        # Enough requests in flight for the rate with Telegram's round trips (~0.1-0.5 s).
        self.concurrency = concurrency or max(10, min(100, math.ceil(self.rate / 2)))
        self.lease = lease
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.poll_interval = poll_interval
        self.progress_interval = progress_interval
        self.request_timeout = request_timeout
        self.stop_grace = stop_grace
        self.record_linger = record_linger
        self.claim_batch = claim_batch or max(2 * self.concurrency, min(500, math.ceil(rate)))
        self.limiter = limiter or PriorityRateLimiter(self.rate, reply_rate=reply_rate)
        spacer = ChatSpacer(per_chat_interval) if per_chat_interval > 0 else None
        self.middleware = RateLimitMiddleware(self.limiter, spacer)
        self.on_job_progress: ProgressCallback | None = None
        self.stats = EngineStats()

        self._jobs: dict[int, _Job] = {}
        self._queue: asyncio.Queue[ClaimedDelivery | None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._results_ready: asyncio.Event | None = None
        self._results: list[_Result] = []
        self._inflight: dict[int, ClaimedDelivery] = {}
        self._db_lock: asyncio.Lock | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._recorder_task: asyncio.Task[None] | None = None
        self._senders: list[asyncio.Task[None]] = []
        self._progress_tasks: dict[int, asyncio.Task[None]] = {}
        self._last_progress: dict[int, float] = {}
        self._stopping = False
        self._recorder_closing = False
        self._installed_here = False
        self._jobs_running = False
        self._rr = 0
        self._network_backoff = 0.0

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._main_task is not None

    def install(self) -> None:
        """Put the rate-limit middleware on the bot's session (once)."""
        if self.middleware not in self.bot.session.middleware:
            self.bot.session.middleware(self.middleware)

    def uninstall(self) -> None:
        if self.middleware in self.bot.session.middleware:
            self.bot.session.middleware.unregister(self.middleware)

    async def start(self) -> None:
        if self._main_task is not None:
            return
        self._installed_here = self.middleware not in self.bot.session.middleware
        self.install()
        _LIVE_WORKERS.add(self.worker_id)
        self._stopping = False
        self._recorder_closing = False
        self._queue = asyncio.Queue()
        self._wakeup = asyncio.Event()
        self._results_ready = asyncio.Event()
        self._db_lock = asyncio.Lock()
        self._results = []
        self._inflight = {}
        await self._with_db(self._startup_reclaim)
        self._recorder_task = asyncio.create_task(self._recorder(), name="delivery-recorder")
        self._senders = [
            asyncio.create_task(self._sender(), name=f"delivery-sender-{i}")
            for i in range(self.concurrency)
        ]
        self._main_task = asyncio.create_task(self._claim_loop(), name="delivery-claimer")
        log.info(
            "delivery engine %s started: %.4g msg/s, %d in flight",
            self.worker_id,
            self.rate,
            self.concurrency,
        )

    async def stop(self) -> None:
        """Finish in-flight sends, release the rest of the claims, return."""
        main = self._main_task
        if main is None:
            return
        assert self._queue is not None and self._wakeup is not None
        assert self._results_ready is not None
        self._stopping = True
        self._wakeup.set()
        try:
            await main
        except Exception:
            log.exception("the delivery loop had failed")
        # Claimed but not started: back to pending, not an attempt.
        unsent: list[int] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                unsent.append(item.id)
        for _ in self._senders:
            self._queue.put_nowait(None)
        if unsent:
            await self._with_db(lambda s: repo.release(s, unsent, self.worker_id), commit=True)
        _done, pending = await asyncio.wait(self._senders, timeout=self.stop_grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._senders, return_exceptions=True)
        self._recorder_closing = True
        self._results_ready.set()
        if self._recorder_task is not None:
            await asyncio.gather(self._recorder_task, return_exceptions=True)
        # Cut off mid-request (stop_grace ran out): outcome unknown, sent again later.
        cut = list(self._inflight)
        if cut:
            await self._with_db(
                lambda s: repo.reclaim(
                    s,
                    now=utcnow(),
                    max_attempts=self.max_attempts,
                    worker_ids=[self.worker_id],
                    delivery_ids=cut,
                ),
                commit=True,
            )
        await self._wait_progress()
        self._main_task = self._recorder_task = None
        self._senders = []
        self._inflight = {}
        self._jobs.clear()
        if self._installed_here:  # start() put it there: the bot is back as it was
            self.uninstall()
        _LIVE_WORKERS.discard(self.worker_id)
        log.info("delivery engine %s stopped", self.worker_id)

    @property
    def retry_after_received(self) -> int:
        """429 answers seen by this engine's middleware (interactive and bulk)."""
        return self.middleware.retry_after_count

    def wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    async def run_until_idle(self, timeout: float = 60.0) -> None:
        own = self._main_task is None
        if own:
            await self.start()
        try:
            async with asyncio.timeout(timeout):
                while not await self._idle():
                    self.wake()
                    await asyncio.sleep(0.02)
        finally:
            if own:
                await self.stop()

    async def _idle(self) -> bool:
        if self._main_task is not None and self._main_task.done():
            self._main_task.result()  # the loop died: raise its error
        assert self._queue is not None
        if self._queue.qsize() or self._inflight or self._results:
            return False
        await self._finish_jobs()
        async with self.session_pool() as session:
            if await repo.has_due_work(session, utcnow()):
                return False
        if self._queue.qsize() or self._inflight or self._results:
            return False
        await self._wait_progress()
        return True

    # -------------------------------------------------------------------- enqueue

    async def enqueue(
        self,
        session: AsyncSession,
        *,
        kind: str,
        payload: dict[str, Any],
        recipients: Sequence[Recipient],
        network_id: int | None = None,
        author_id: int | None = None,
        due_at: datetime | None = None,
        progress: tuple[int, int] | None = None,
    ) -> SendJob:
        """Store a job and its deliveries (one transaction, committed). See the docstring."""
        if not kind or len(kind) > _KIND_LENGTH:
            raise ValueError(f"kind must be 1..{_KIND_LENGTH} characters")
        if due_at is not None and due_at.tzinfo is None:
            raise ValueError("due_at must be timezone-aware")
        unique: dict[int, Recipient] = {}
        for recipient in recipients:
            unique.setdefault(recipient.user_id, recipient)
        for locale in {r.locale for r in unique.values()} or {"en"}:
            _Template(payload, locale).check()
        for recipient in unique.values():
            _check_overrides(recipient.params)
        unreachable = await repo.unreachable_user_ids(session, list(unique))
        targets = [r for r in unique.values() if r.user_id not in unreachable]
        now = utcnow()
        due = due_at or now
        job = await repo.create_job(
            session,
            kind=kind,
            payload=payload,
            due_at=due,
            total=len(targets),
            skipped=len(unique) - len(targets),
            network_id=network_id,
            author_id=author_id,
            progress_chat_id=progress[0] if progress else None,
            progress_message_id=progress[1] if progress else None,
        )
        await repo.insert_deliveries(
            session, job.id, ((r.user_id, r.chat_id, r.locale, r.params) for r in targets), due
        )
        await session.commit()
        log.info(
            "job %s (%s) queued: %d recipients, %d skipped as unreachable, due %s",
            job.id,
            kind,
            len(targets),
            len(unique) - len(targets),
            due.isoformat(timespec="seconds"),
        )
        if due <= utcnow():
            self.wake()
        return job

    async def cancel(self, session: AsyncSession, job_id: int) -> bool:
        cancelled = await repo.cancel_job(session, job_id, utcnow())
        await session.commit()
        return cancelled

    # --------------------------------------------------------------------- the loop

    async def _with_db(
        self, work: Callable[[AsyncSession], Awaitable[Any]], *, commit: bool = True
    ) -> Any:
        """Run ``work`` in a fresh session under this engine's write lock."""
        lock = self._db_lock or asyncio.Lock()
        async with lock, self.session_pool() as session:
            result = await work(session)
            if commit:
                await session.commit()
            return result

    async def _startup_reclaim(self, session: AsyncSession) -> None:
        now = utcnow()
        dead = [w for w in await repo.claim_holders(session) if is_dead_local_worker(w)]
        count = await repo.reclaim(
            session,
            now=now,
            max_attempts=self.max_attempts,
            worker_ids=[self.worker_id, *dead],
            stale_before=now - timedelta(seconds=self.lease),
        )
        if count:
            log.warning("%d deliveries left in flight by a stopped sender will be retried", count)

    async def _claim_loop(self) -> None:
        assert self._wakeup is not None and self._queue is not None
        next_maintenance = time.monotonic() + self.lease / 3
        next_finish = 0.0
        failures = 0
        while not self._stopping:
            self._wakeup.clear()
            timeout = self.poll_interval
            try:
                now_m = time.monotonic()
                if now_m >= next_maintenance:
                    next_maintenance = now_m + self.lease / 3
                    await self._with_db(self._maintenance)
                claimed = 0
                if self._queue.qsize() <= self.claim_batch // 2:
                    claimed = await self._claim()
                if self._jobs_running and (
                    now_m >= next_finish
                    or (not claimed and not self._queue.qsize() and not self._inflight)
                ):
                    next_finish = now_m + 0.5
                    await self._finish_jobs()
                if not claimed and not self._queue.qsize():
                    timeout = await self._idle_timeout()
                failures = 0
            except Exception:
                failures += 1
                timeout = min(30.0, 0.2 * 2**failures)
                log.exception("delivery loop: database error; retrying in %.1f s", timeout)
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()

    async def _idle_timeout(self) -> float:
        async with self.session_pool() as session:
            due = await repo.next_due_at(session)
        if due is None:
            return self.poll_interval
        return min(self.poll_interval, max(0.005, (due - utcnow()).total_seconds()))

    async def _maintenance(self, session: AsyncSession) -> None:
        now = utcnow()
        await repo.heartbeat(session, self.worker_id, now)
        dead = [w for w in await repo.claim_holders(session) if is_dead_local_worker(w)]
        stale = await repo.reclaim(
            session,
            now=now,
            max_attempts=self.max_attempts,
            worker_ids=dead,
            stale_before=now - timedelta(seconds=self.lease),
        )
        if stale:
            log.warning("%d deliveries of a dead sender (lease expired) will be retried", stale)

    async def _claim(self) -> int:
        assert self._queue is not None
        want = self.claim_batch - self._queue.qsize()
        if want <= 0:
            return 0

        async def work(session: AsyncSession) -> list[ClaimedDelivery]:
            now = utcnow()
            if await repo.has_due_scheduled(session, now):  # read first: no idle writes
                promoted = await repo.promote_due_jobs(session, now)
                log.info("jobs %s started", promoted)
            job_ids = await repo.running_job_ids(session)
            self._jobs_running = bool(job_ids)
            if not job_ids:
                await session.commit()
                return []
            start = self._rr % len(job_ids)
            self._rr += 1
            active = job_ids[start:] + job_ids[:start]
            claimed: list[ClaimedDelivery] = []
            for _ in range(3):  # a few passes: shares left by small jobs go to big ones
                if not active or len(claimed) >= want:
                    break
                share = max(1, math.ceil((want - len(claimed)) / len(active)))
                still: list[int] = []
                for job_id in active:
                    room = want - len(claimed)
                    if room <= 0:
                        still.append(job_id)
                        continue
                    limit = min(share, room)
                    rows = await repo.claim(
                        session, job_id=job_id, worker_id=self.worker_id, now=now, limit=limit
                    )
                    claimed.extend(rows)
                    if len(rows) == limit:
                        still.append(job_id)
                active = still
            missing = list({r.job_id for r in claimed} - self._jobs.keys())
            for job in await repo.get_jobs(session, missing):
                self._jobs[job.id] = _Job(job.id, job.payload)
            await session.commit()
            live = set(job_ids)
            for job_id in list(self._jobs):
                if job_id not in live:
                    del self._jobs[job_id]
            return claimed

        rows: list[ClaimedDelivery] = await self._with_db(work, commit=False)
        for row in rows:
            self._queue.put_nowait(row)
        self.stats.claimed += len(rows)
        return len(rows)

    async def _finish_jobs(self) -> None:
        finished: list[int] = await self._with_db(lambda s: repo.finish_jobs(s, utcnow()))
        for job_id in finished:
            log.info("job %s done", job_id)
            self._jobs.pop(job_id, None)
            self._last_progress.pop(job_id, None)
            previous = self._progress_tasks.get(job_id)
            self._track(job_id, self._progress(job_id, done=True, after=previous))

    # -------------------------------------------------------------------- sending

    async def _sender(self) -> None:
        _BULK.set(True)  # this task's requests are low priority in the limiter
        with db_scope():  # it holds no connection while sending (bot/dbguard.py)
            await self._send_loop()

    async def _send_loop(self) -> None:
        assert self._queue is not None and self._results_ready is not None
        loop = asyncio.get_running_loop()
        queue = self._queue
        low_water = self.claim_batch // 2
        while True:
            row = await queue.get()
            if row is None:
                return
            if queue.qsize() <= low_water and self._wakeup is not None:
                self._wakeup.set()
            self._inflight[row.id] = row
            result = _Result(row, {}, loop.create_future())
            result.params = await self._send(row, result)
            self._results.append(result)
            self._results_ready.set()
            await asyncio.shield(result.done)

    async def _send(self, row: ClaimedDelivery, result: _Result) -> dict[str, Any]:
        """Send one delivery; return its outcome row (never raises, except cancellation)."""
        try:
            job = self._jobs[row.job_id]
            method = job.template(row.locale).build(row.chat_id, row.id, row.params)
        except Exception as exc:
            self.stats.failed += 1
            return repo.outcome(
                row.id, FAILED, error=f"cannot render payload: {exc}", **self._claim_of(row)
            )
        try:
            response = await self.bot(method, request_timeout=self.request_timeout)
        except TelegramRetryAfter as exc:
            self.stats.requeued += 1
            return repo.outcome(
                row.id,
                PENDING,
                attempted=False,
                next_attempt_at=utcnow() + timedelta(seconds=exc.retry_after),
                error=f"429: {exc.message}",
            )
        except TelegramMigrateToChat as exc:
            return repo.outcome(
                row.id,
                PENDING,
                attempted=False,
                chat_id=exc.migrate_to_chat_id,
                error=f"migrated to {exc.migrate_to_chat_id}",
            )
        except TelegramForbiddenError as exc:
            self.stats.blocked += 1
            result.blocked_user = row.user_id
            return repo.outcome(row.id, BLOCKED, error=f"403: {exc.message}", **self._claim_of(row))
        except TelegramNetworkError as exc:
            if _never_left(exc):
                return self._unreachable(row, str(exc))
            return self._transient(row, f"{type(exc).__name__}: {exc}")
        except (TelegramServerError, TimeoutError) as exc:
            return self._transient(row, f"{type(exc).__name__}: {exc}")
        except TelegramAPIError as exc:  # 400 chat not found, bad request, 404, 401, ...
            self.stats.failed += 1
            return repo.outcome(
                row.id, FAILED, error=f"{type(exc).__name__}: {exc}", **self._claim_of(row)
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # undecodable answer, a bug: outcome unknown, try again
            log.exception("delivery %s: unexpected error", row.id)
            return self._transient(row, f"{type(exc).__name__}: {exc}")
        self.stats.sent += 1
        self._network_backoff = 0.0
        return repo.outcome(
            row.id, SENT, message_id=_message_id(response), sent_at=utcnow(), **self._claim_of(row)
        )

    def _claim_of(self, row: ClaimedDelivery) -> dict[str, Any]:
        return {"claimed_by": self.worker_id, "claimed_at": row.claimed_at}

    def _unreachable(self, row: ClaimedDelivery, error: str) -> dict[str, Any]:
        """Telegram could not be reached, so the message never left: not an attempt. The
        whole engine pauses (1 s, doubling to 30 s) and picks the row up again after."""
        self.stats.requeued += 1
        wait = self._network_backoff = min(30.0, max(1.0, self._network_backoff * 2))
        if self.limiter.paused_until < time.monotonic() + wait - 0.5:
            log.warning("Telegram is not reachable (%s); sending paused for %.0f s", error, wait)
            self.limiter.pause(wait, reason="Telegram unreachable")
        return repo.outcome(
            row.id,
            PENDING,
            attempted=False,
            next_attempt_at=utcnow() + timedelta(seconds=wait),
            error=f"unreachable: {error}",
        )

    def _transient(self, row: ClaimedDelivery, error: str) -> dict[str, Any]:
        attempts = row.attempts + 1
        if attempts >= self.max_attempts:
            self.stats.failed += 1
            return repo.outcome(row.id, FAILED, error=error, **self._claim_of(row))
        self.stats.retried += 1
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempts - 1))
        delay *= random.uniform(0.8, 1.0)
        return repo.outcome(
            row.id, PENDING, next_attempt_at=utcnow() + timedelta(seconds=delay), error=error
        )

    # ------------------------------------------------------------------- recording

    async def _recorder(self) -> None:
        assert self._results_ready is not None
        failures = 0
        while True:
            if not self._results:
                if self._recorder_closing:
                    return
                await self._results_ready.wait()
                self._results_ready.clear()
                continue
            if self.record_linger and len(self._results) < self.concurrency // 2:
                # Gather a few more outcomes: one commit for many rows (each database
                # round trip costs more than a message's own work).
                await asyncio.sleep(self.record_linger)
            batch, self._results = self._results, []
            try:
                await self._with_db(functools.partial(self._record, batch=batch))
                failures = 0
            except Exception:
                failures += 1
                log.exception("could not record %d delivery outcomes; retrying", len(batch))
                self._results[:0] = batch
                if self._recorder_closing and failures >= 5:
                    log.error("gave up recording %d outcomes; a restart retries them", len(batch))
                    self._results = []
                    self._release(batch)
                else:
                    await asyncio.sleep(min(10.0, 0.1 * 2**failures))
                continue
            self._release(batch)
            self._after_record(batch)

    def _release(self, batch: Iterable[_Result]) -> None:
        for result in batch:
            self._inflight.pop(result.row.id, None)
            if not result.done.done():
                result.done.set_result(None)

    async def _record(self, session: AsyncSession, batch: list[_Result]) -> None:
        await repo.record_outcomes(session, [r.params for r in batch])
        blocked = [r.blocked_user for r in batch if r.blocked_user is not None]
        if blocked:
            await users_repo.mark_unreachable(session, blocked, utcnow())

    def _after_record(self, batch: list[_Result]) -> None:
        if self.on_job_progress is None:
            return
        now = time.monotonic()
        for job_id in {r.row.job_id for r in batch}:
            last = self._last_progress.get(job_id)
            if last is None:
                self._last_progress[job_id] = now  # the first report comes after an interval
                continue
            task = self._progress_tasks.get(job_id)
            if now - last >= self.progress_interval and (task is None or task.done()):
                self._last_progress[job_id] = now
                self._track(job_id, self._progress(job_id))

    def _track(self, job_id: int, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._progress_tasks[job_id] = task

        def forget(t: asyncio.Task[None]) -> None:
            if self._progress_tasks.get(job_id) is t:
                del self._progress_tasks[job_id]

        task.add_done_callback(forget)

    async def _progress(
        self, job_id: int, *, done: bool = False, after: asyncio.Task[None] | None = None
    ) -> None:
        _BULK.set(False)  # the author's progress message is not a bulk send
        with db_scope():
            await self._report_progress(job_id, done=done, after=after)

    async def _report_progress(
        self, job_id: int, *, done: bool, after: asyncio.Task[None] | None
    ) -> None:
        if after is not None:
            await asyncio.gather(after, return_exceptions=True)
        callback = self.on_job_progress
        if callback is None:
            return
        try:
            async with self.session_pool() as session:
                job = await repo.get_job(session, job_id)
                if job is None:
                    return
                counts = await job_counts(session, job_id)
            await callback(
                JobProgress(
                    job_id=job.id,
                    kind=job.kind,
                    network_id=job.network_id,
                    author_id=job.author_id,
                    progress_chat_id=job.progress_chat_id,
                    progress_message_id=job.progress_message_id,
                    total=counts.total,
                    sent=counts.sent,
                    blocked=counts.blocked,
                    failed=counts.failed,
                    pending=counts.pending,
                    acked=counts.acked,
                    skipped=counts.skipped,
                    done=done,
                )
            )
        except Exception:
            log.exception("progress callback for job %s failed", job_id)

    async def _wait_progress(self) -> None:
        while True:
            tasks = [t for t in self._progress_tasks.values() if not t.done()]
            if not tasks:
                break
            await asyncio.gather(*tasks, return_exceptions=True)
        self._progress_tasks = {}
