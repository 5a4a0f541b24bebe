"""Outgoing message rate limits shared by everything the bot sends (PRODUCT.md §4).

Telegram lets a bot send about 30 messages per second across all chats and about one per
second to one chat; past that it answers 429 with ``retry_after`` and the whole bot must
wait. Every message-sending request therefore goes through one `RateLimitMiddleware`
installed on the bot's aiogram session (`DeliveryEngine.install` does it):

* `PriorityRateLimiter` hands out send tokens at ``rate`` per second to a priority queue of
  waiters. Interactive replies (requests made by handlers, `Priority.HIGH`) are served
  before bulk sends (requests made inside `bulk_priority()`, i.e. by the delivery engine,
  `Priority.LOW`), so a member's answer waits at most for the next token, never behind a
  broadcast. Within a priority, first come first served.
* The limiter combines two rules and grants a token only when both allow it:
  a sliding log ("at most N = round(rate) sends in any N / rate * (1 + margin) seconds",
  which Telegram-like sliding-window counters can never see exceeded, even with a few
  milliseconds of network jitter thanks to the margin) and a GCRA smoother ("one token
  every 1/rate seconds, with at most ``smooth_burst`` seconds of catch-up") so sends are
  evenly spaced instead of bursting at the start of each window. The long-run rate is
  rate / (1 + margin), i.e. 98 % of the configured ceiling by default.
* `pause(seconds)` (called on 429) stops all grants until then, for every priority.
* `ChatSpacer` keeps sends to one chat at least ``interval`` apart (1 s plus a margin;
  3 s for groups and channels, Telegram's 20 per minute).

The clock and the sleep function are injectable so the limiter is tested without real time.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_EPSILON = 1e-9

# Bot API methods that post a message (and so count against Telegram's limits).
# Edits, deletions, callback answers, chat actions and reads do not count.
SENDING_METHODS: frozenset[str] = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAudio",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendSticker",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendChecklist",
        "sendDice",
        "sendInvoice",
        "sendGame",
        "sendPaidMedia",
        "sendMediaGroup",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
    }
)


class Priority(enum.IntEnum):
    HIGH = 0  # a member's own action: replies sent by handlers
    LOW = 1  # bulk sends: broadcasts, announcements, reminders, digests


_BULK: ContextVar[bool] = ContextVar("prevnet_bulk_send", default=False)


@contextmanager
def bulk_priority() -> Iterator[None]:
    """Requests made inside this block (in this task) are low priority bulk sends."""
    token = _BULK.set(True)
    try:
        yield
    finally:
        _BULK.reset(token)


def current_priority() -> Priority:
    return Priority.LOW if _BULK.get() else Priority.HIGH


class PriorityRateLimiter:
    """Send tokens at ``rate`` per second, highest priority first; see the module docstring."""

    def __init__(
        self,
        rate: float,
        *,
        margin: float = 0.02,
        smooth_burst: float = 0.05,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError("rate must be a positive number of sends per second")
        if margin < 0:
            raise ValueError("margin must not be negative")
        self.rate = float(rate)
        self._clock = clock
        self._sleep = sleep
        # Sliding log: at most `_n` grants within any `_window` seconds.
        self._n = max(1, round(rate))
        self._window = self._n / self.rate * (1.0 + margin)
        self._log: deque[float] = deque(maxlen=self._n)
        # GCRA smoother: theoretical arrival time and how far ahead of it we may run.
        self._interval = 1.0 / self.rate
        self._tolerance = max(0.0, smooth_burst - self._interval)
        self._tat = -math.inf
        self._paused_until = -math.inf
        self._waiters: list[tuple[int, int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._pump_task: asyncio.Task[None] | None = None
        self.granted = 0
        self.pauses = 0

    @property
    def effective_rate(self) -> float:
        """The long-run rate the limiter actually allows (the ceiling minus the margin)."""
        return self._n / self._window

    @property
    def waiting(self) -> int:
        return sum(1 for *_, fut in self._waiters if not fut.done())

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` (Telegram said 429 retry_after); never shortens."""
        until = self._clock() + max(0.0, float(seconds))
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1
            log.warning("send limiter paused for %.1f s (429 from Telegram)", seconds)

    def ready_in(self, cost: int = 1) -> float:
        """Seconds until a token of ``cost`` could be granted (0 if now), ignoring waiters."""
        now = self._clock()
        return max(0.0, self._ready_at(min(cost, self._n)) - now)

    def _ready_at(self, cost: int) -> float:
        ready = max(self._paused_until, self._tat - self._tolerance)
        expire = len(self._log) + cost - self._n  # how many logged grants must have expired
        if expire > 0:
            ready = max(ready, self._log[expire - 1] + self._window)
        return ready

    def _grant(self, now: float, cost: int) -> None:
        self._tat = max(self._tat, now) + cost * self._interval
        for _ in range(cost):
            self._log.append(now)
        self.granted += cost

    async def acquire(self, priority: int = Priority.HIGH, cost: int = 1) -> None:
        """Wait for a send token (``cost`` tokens for a media group)."""
        cost = max(1, min(int(cost), self._n))
        now = self._clock()
        if not self._waiters and self._ready_at(cost) <= now + _EPSILON:
            self._grant(now, cost)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (int(priority), next(self._seq), cost, fut))
        if self._pump_task is None:
            self._pump_task = asyncio.create_task(self._pump(), name="rate-limiter-pump")
        await fut

    async def _pump(self) -> None:
        try:
            waiters = self._waiters
            while waiters:
                _, _, cost, fut = waiters[0]
                if fut.done():  # the waiter was cancelled
                    heapq.heappop(waiters)
                    continue
                now = self._clock()
                ready = self._ready_at(cost)
                if ready > now + _EPSILON:
                    await self._sleep(ready - now)
                    continue
                heapq.heappop(waiters)
                self._grant(now, cost)
                fut.set_result(None)
        finally:
            self._pump_task = None


class ChatSpacer:
    """At most one send per ``interval`` to one chat (``group_interval`` for groups)."""

    def __init__(
        self,
        interval: float = 1.05,
        group_interval: float = 3.1,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.interval = interval
        self.group_interval = group_interval
        self._clock = clock
        self._last: dict[int | str, float] = {}
        self._prune_at = 4096

    def _gap(self, chat_id: int | str) -> float:
        is_group = isinstance(chat_id, str) or chat_id < 0
        return self.group_interval if is_group else self.interval

    def delay(self, chat_id: int | str) -> float:
        """Seconds to wait before this chat may get its next message (0 if now)."""
        last = self._last.get(chat_id)
        if last is None:
            return 0.0
        return max(0.0, last + self._gap(chat_id) - self._clock())

    def try_mark(self, chat_id: int | str) -> bool:
        """Record a send to the chat now, unless the chat is still within its interval."""
        now = self._clock()
        last = self._last.get(chat_id)
        if last is not None and last + self._gap(chat_id) > now + _EPSILON:
            return False
        self._last[chat_id] = now
        if len(self._last) > self._prune_at:
            horizon = now - max(self.interval, self.group_interval)
            self._last = {k: v for k, v in self._last.items() if v > horizon}
            self._prune_at = max(4096, 2 * len(self._last))
        return True


def _cost(method: Any) -> int:
    for field in ("media", "message_ids"):  # sendMediaGroup, copyMessages, forwardMessages
        items = getattr(method, field, None)
        if isinstance(items, list):
            return max(1, len(items))
    return 1


class RateLimitMiddleware(BaseRequestMiddleware):
    """aiogram session middleware: every sending request takes a token first.

    Requests made inside `bulk_priority()` are low priority, all others high. A 429 pauses
    the whole limiter for ``retry_after`` seconds and the request is retried (up to
    ``max_retries`` times, then `TelegramRetryAfter` is raised to the caller).
    """

    def __init__(
        self,
        limiter: PriorityRateLimiter,
        spacer: ChatSpacer | None = None,
        *,
        max_retries: int = 5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limiter = limiter
        self.spacer = spacer
        self.max_retries = max_retries
        self._sleep = sleep
        self.retry_after_count = 0  # 429 answers seen

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ not in SENDING_METHODS:
            return await make_request(bot, method)
        priority = current_priority()
        cost = _cost(method)
        chat_id = getattr(method, "chat_id", None)
        spacer = self.spacer if isinstance(chat_id, int | str) else None
        retries = 0
        while True:
            if spacer is not None:
                assert chat_id is not None
                delay = spacer.delay(chat_id)
                if delay > 0:
                    await self._sleep(delay)
            await self.limiter.acquire(priority, cost)
            if spacer is not None and not spacer.try_mark(chat_id):  # type: ignore[arg-type]
                continue  # another request to this chat went first; wait for its interval
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                self.retry_after_count += 1
                self.limiter.pause(exc.retry_after)
                retries += 1
                if retries > self.max_retries:
                    raise
