"""What became of each delivery: Telegram's answer (or error) turned into the row's
outcome, and the outcomes recorded in batches (docs/delivery.md, "Rows and outcomes")."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.payload import Template
from bot.delivery.ratelimit import (
    SendLimiter,
)
from storage.models import utcnow
from storage.repositories import delivery as repo
from storage.repositories import users as users_repo
from storage.repositories.delivery import (
    BLOCKED,
    FAILED,
    PENDING,
    SENT,
    ClaimedDelivery,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class EngineStats:
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0  # transient errors that will be tried again
    requeued: int = 0  # 429s that escaped the middleware's retries
    claimed: int = 0


# aiohttp errors raised before the request was written: nothing reached Telegram.
_NOT_SENT_ERRORS = ("ClientConnectorError", "ClientConnectorDNSError", "ClientProxyConnectionError")


def _never_left(exc: TelegramNetworkError) -> bool:
    return str(exc.message).startswith(_NOT_SENT_ERRORS)


def _message_id(result: Any) -> int | None:
    if isinstance(result, list):
        result = result[0] if result else None
    mid = getattr(result, "message_id", None)
    return int(mid) if mid is not None else None


@dataclass(slots=True)
class _Result:
    row: ClaimedDelivery
    params: dict[str, Any]
    done: asyncio.Future[None]
    blocked_user: int | None = None


class Outcomes:
    """The sending and recording half of `DeliveryEngine` (a mixin; its state is the
    engine's)."""

    bot: Bot
    stats: EngineStats
    worker_id: str
    request_timeout: int | None
    limiter: SendLimiter
    max_attempts: int
    backoff_base: float
    backoff_max: float
    record_linger: float
    concurrency: int
    _templates_of: Callable[[int, str], Template]
    _network_backoff: float
    _results: list[_Result]
    _results_ready: asyncio.Event | None
    _recorder_closing: bool
    _inflight: dict[int, ClaimedDelivery]
    _with_db: Callable[..., Awaitable[Any]]
    _after_record: Callable[[list[_Result]], None]

    async def _send(self, row: ClaimedDelivery, result: _Result) -> dict[str, Any]:
        """Send one delivery; return its outcome row (never raises, except cancellation)."""
        try:
            template = self._templates_of(row.job_id, row.locale)
            method = template.build(row.chat_id, row.id, row.params)
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
