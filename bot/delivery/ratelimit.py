"""Outgoing message rate limits shared by everything the bot sends.

Telegram lets a bot send about 30 messages per second across all chats and about one per
second to one chat; past that it answers 429 with ``retry_after`` and the whole bot must
wait. Every message-sending request therefore goes through one `RateLimitMiddleware`
installed on the bot's aiogram session (`DeliveryEngine.install` does it):

* `PriorityRateLimiter` hands out send slots to a priority queue of waiters. Interactive
  replies (requests made by handlers, `Priority.HIGH`) go at once: Telegram's ~30/s is a
  limit on broadcasts, and a member waiting for the answer to their own tap must not queue
  behind one (an optional ``reply_rate`` caps them, GCRA, for operators who want it).
  Only in the ten seconds after a 429 do they keep to the window as well, so they do not
  all rush back at once and earn the next 429.
  They are counted all the same, so bulk sends (requests made inside `bulk_priority()`,
  i.e. by the delivery engine, `Priority.LOW`) use what is left of ``rate``. Within a
  priority, first come first served.
* A bulk slot is granted only when two rules allow it:

  - a sliding log: at most N = round(rate) sends per window of N / rate seconds, where a
    send occupies the window from the moment it is granted until ``window`` after its
    answer arrived. Telegram counted the message somewhere between the two, so a server
    that allows N per sliding second can never see N + 1, whatever the network or event
    loop jitter (the price is that each send's round trip adds to its window, so with a
    round trip of d the rate is N / (window + d); locally d is a few milliseconds);
  - for bulk sends, a GCRA smoother: one slot every 1/rate seconds, with at most
    ``smooth_burst`` seconds of catch-up, so a broadcast is evenly spaced instead of
    bursting at the start of each window. Interactive replies skip the smoother: when many
    members act at once they get the window's whole allowance at once.

* `pause(seconds)` (on a 429) stops all grants until then, for every priority.
* `ChatSpacer`: one bulk request at a time per chat, and the next one at least
  ``interval`` after the previous message to that chat (1 s plus a margin; 3 s for groups
  and channels, Telegram's 20 per minute there). Interactive replies do not wait for it
  (a tap's answer is a message or two, a burst Telegram allows), but the spacer notes
  them, so the chat's next bulk message keeps its distance.

Clock and sleep are injectable so the limiter is tested without real time. With REDIS_URL
set, shared_limit.py keeps the same rules in Redis, for all the bot's processes at once.
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

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
_MIN_SLEEP = 1e-6  # never spin on float rounding

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
def bulk_priority(enabled: bool = True) -> Iterator[None]:
    """Requests made inside this block (in this task) are low priority bulk sends."""
    token = _BULK.set(enabled)
    try:
        yield
    finally:
        _BULK.reset(token)


def current_priority() -> Priority:
    return Priority.LOW if _BULK.get() else Priority.HIGH


class SendLimiter(Protocol):
    """What the middleware and the engine use of a limiter: `PriorityRateLimiter` (this
    process) or `bot.delivery.shared_limit.SharedRateLimiter` (every process, in Redis)."""

    rate: float

    @property
    def paused_until(self) -> float: ...

    @property
    def pauses(self) -> int: ...

    def slot(self, priority: int = ..., cost: int = ...) -> AbstractAsyncContextManager[None]: ...

    def pause(self, seconds: float, reason: str = ...) -> object: ...


class PriorityRateLimiter:
    """Send slots at ``rate`` per second, highest priority first; see the module docstring.

    ``async with limiter.slot(priority):`` around each request (or `acquire` then
    `release` once the answer arrived, whatever it was).
    """

    def __init__(
        self,
        rate: float,
        *,
        reply_rate: float | None = None,
        window: float = 1.0,
        smooth_burst: float = 0.05,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError("rate must be a positive number of sends per second")
        self.rate = float(rate)
        self._clock = clock
        self._sleep = sleep
        # Sliding log: in flight + answered within `_window` < `_n`.
        self._n = max(1, round(self.rate))
        self._window = self._n / self.rate * window
        self._log: deque[float] = deque()  # answer times, oldest first
        self._in_flight = 0
        # GCRA smoother: theoretical arrival time and how far ahead of it we may run.
        self._interval = 1.0 / self.rate
        self._tolerance = max(0.0, smooth_burst - self._interval)
        self._tat = -math.inf
        self._paused_until = -math.inf
        self._caution = 10.0  # seconds after a pause in which replies keep to the window too
        # Optional cap on replies: GCRA, evenly spaced.
        if reply_rate is not None and not reply_rate > 0:
            raise ValueError("reply_rate must be a positive number of sends per second")
        self.reply_rate = reply_rate
        self._reply_interval = 1.0 / reply_rate if reply_rate else 0.0
        self._reply_tolerance = 0.0
        self._reply_tat = -math.inf
        self._waiters: list[tuple[int, int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._pump_task: asyncio.Task[None] | None = None
        self._released: asyncio.Future[None] | None = None
        self.granted = 0
        self.pauses = 0
        self.queued = 0  # acquisitions that had to wait in line

    @property
    def capacity(self) -> int:
        """N: sends allowed per window."""
        return self._n

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return sum(1 for *_, fut in self._waiters if not fut.done())

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float, reason: str = "429 from Telegram") -> None:
        """Grant nothing for ``seconds`` (Telegram said 429 retry_after); never shortens."""
        until = self._clock() + max(0.0, float(seconds))
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1
            log.warning("send limiter paused for %.1f s (%s)", seconds, reason)

    def _ready_at(self, now: float, cost: int, priority: int = Priority.LOW) -> float:
        """When a grant of ``cost`` becomes possible; inf: only after a release."""
        log_ = self._log
        horizon = now - self._window
        while log_ and log_[0] <= horizon:
            log_.popleft()
        ready = self._paused_until
        if priority == Priority.HIGH:  # replies: only a pause (and REPLY_RATE) holds them
            if self._reply_interval:
                ready = max(ready, self._reply_tat - self._reply_tolerance)
            if now >= self._paused_until + self._caution:
                return ready
            # Just after a 429 the whole bot was over the limit: for a few seconds replies
            # keep to the window too, instead of all rushing back and earning another.
        else:
            ready = max(ready, self._tat - self._tolerance)
        excess = self._in_flight + len(log_) + cost - self._n
        if excess > 0:
            if excess > len(log_):
                return math.inf
            # Still in the window now (the pruning above is the authority; the sum below
            # may round down to `now`).
            ready = max(ready, log_[excess - 1] + self._window, math.nextafter(now, math.inf))
        return ready

    def _grant(self, now: float, cost: int, priority: int = Priority.LOW) -> None:
        if priority == Priority.HIGH:
            if self._reply_interval:
                self._reply_tat = max(self._reply_tat, now) + cost * self._reply_interval
        else:
            self._tat = max(self._tat, now) + cost * self._interval
        self._in_flight += cost
        self.granted += cost

    def release(self, cost: int = 1, *, sent: bool = True) -> None:
        """The request of an acquired slot is over (``sent`` False: it never left)."""
        cost = self._clamp(cost)
        self._in_flight = max(0, self._in_flight - cost)
        if sent:
            now = self._clock()
            self._log.extend(itertools.repeat(now, cost))
        released = self._released
        if released is not None and not released.done():
            released.set_result(None)

    def _clamp(self, cost: int) -> int:
        return max(1, min(int(cost), self._n))

    async def acquire(self, priority: int = Priority.HIGH, cost: int = 1) -> None:
        """Wait for a send slot (``cost`` slots for a media group); `release` it after."""
        cost = self._clamp(cost)
        now = self._clock()
        waiters = self._waiters
        # Nobody of this priority or higher is waiting (an interactive reply overtakes the
        # bulk queue) and a slot is free now: no queueing.
        if (not waiters or waiters[0][0] > priority) and self._ready_at(now, cost, priority) <= now:
            self._grant(now, cost, priority)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (int(priority), next(self._seq), cost, fut))
        self.queued += 1
        if self._pump_task is None:
            self._pump_task = asyncio.create_task(self._pump(), name="rate-limiter-pump")
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted, but the caller is gone
                self.release(cost, sent=False)
            raise

    @asynccontextmanager
    async def slot(self, priority: int = Priority.HIGH, cost: int = 1) -> AsyncIterator[None]:
        await self.acquire(priority, cost)
        try:
            yield
        finally:
            self.release(cost)

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            waiters = self._waiters
            while waiters:
                priority, _, cost, fut = waiters[0]
                if fut.done():  # the waiter was cancelled
                    heapq.heappop(waiters)
                    continue
                now = self._clock()
                ready = self._ready_at(now, cost, priority)
                if ready == math.inf:
                    self._released = loop.create_future()
                    await self._released
                    self._released = None
                    continue
                if ready > now:
                    await self._sleep(max(ready - now, _MIN_SLEEP))
                    continue
                heapq.heappop(waiters)
                self._grant(now, cost, priority)
                fut.set_result(None)
        finally:
            self._pump_task = None
            self._released = None


@dataclass(slots=True)
class _ChatTurn:
    busy: bool = False
    last: float = -math.inf
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class ChatSpacer:
    """One request at a time per chat, the next ``interval`` after the previous answer."""

    def __init__(
        self,
        interval: float = 1.05,
        group_interval: float = 3.1,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self.group_interval = group_interval
        self._clock = clock
        self._sleep = sleep
        self._chats: dict[int | str, _ChatTurn] = {}
        self._prune_at = 4096

    def _gap(self, chat_id: int | str) -> float:
        is_group = isinstance(chat_id, str) or chat_id < 0
        return self.group_interval if is_group else self.interval

    async def acquire(self, chat_id: int | str) -> None:
        """Wait for this chat's turn; `release` it when the request is over."""
        while True:
            turn = self._chats.get(chat_id)
            if turn is None:
                self._maybe_prune()  # first: the new entry must not be pruned
                turn = self._chats[chat_id] = _ChatTurn()
            if turn.busy:
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                turn.waiters.append(fut)
                try:
                    await fut
                except asyncio.CancelledError:
                    if fut in turn.waiters:
                        turn.waiters.remove(fut)
                    elif fut.done() and not fut.cancelled():
                        self._wake_next(turn)  # we were woken: pass the turn on
                    raise
                continue
            delay = turn.last + self._gap(chat_id) - self._clock()
            turn.busy = True
            if delay > _EPSILON:  # hold the turn while waiting out the interval
                try:
                    await self._sleep(delay)
                except asyncio.CancelledError:
                    turn.busy = False
                    self._wake_next(turn)
                    raise
            return

    def note(self, chat_id: int | str) -> None:
        """A message went to this chat without waiting its turn (an interactive reply):
        the chat's next bulk message keeps its distance from it."""
        turn = self._chats.get(chat_id)
        if turn is None:
            self._maybe_prune()
            turn = self._chats[chat_id] = _ChatTurn()
        turn.last = max(turn.last, self._clock())

    def release(self, chat_id: int | str, *, sent: bool = True) -> None:
        turn = self._chats.get(chat_id)
        if turn is None:
            return
        turn.busy = False
        if sent:
            turn.last = self._clock()
        self._wake_next(turn)

    @staticmethod
    def _wake_next(turn: _ChatTurn) -> None:
        while turn.waiters:
            fut = turn.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _maybe_prune(self) -> None:
        if len(self._chats) <= self._prune_at:
            return
        horizon = self._clock() - max(self.interval, self.group_interval)
        self._chats = {
            k: t for k, t in self._chats.items() if t.busy or t.waiters or t.last > horizon
        }
        self._prune_at = max(4096, 2 * len(self._chats))


def _cost(method: Any) -> int:
    for name in ("media", "message_ids"):  # sendMediaGroup, copyMessages, forwardMessages
        items = getattr(method, name, None)
        if isinstance(items, list):
            return max(1, len(items))
    return 1


class RateLimitMiddleware(BaseRequestMiddleware):
    """aiogram session middleware: every sending request takes a slot first.

    Requests made inside `bulk_priority()` are low priority, all others high. A 429 pauses
    the whole limiter for ``retry_after`` seconds and the request is retried (up to
    ``max_retries`` times, then `TelegramRetryAfter` is raised to the caller).
    """

    def __init__(
        self,
        limiter: SendLimiter,
        spacer: ChatSpacer | None = None,
        *,
        max_retries: int = 5,
    ) -> None:
        self.limiter = limiter
        self.spacer = spacer
        self.max_retries = max_retries
        self.retry_after_count = 0  # 429 answers seen

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ not in SENDING_METHODS:
            return await make_request(bot, method)
        chat_id = getattr(method, "chat_id", None)
        if self.spacer is None or not isinstance(chat_id, int | str):
            return await self._send(make_request, bot, method)
        if current_priority() == Priority.HIGH:
            # A reply to the person's own action: a tap's answer is two or three messages
            # at most, which Telegram lets through; making them wait a second each would
            # make the bot feel slow. Only the global rate applies to it.
            try:
                return await self._send(make_request, bot, method)
            finally:
                self.spacer.note(chat_id)
        await self.spacer.acquire(chat_id)
        sent = False
        try:
            response = await self._send(make_request, bot, method)
            sent = True
            return response
        except TelegramRetryAfter:
            raise  # nothing was delivered: the chat's interval does not restart
        except Exception:
            sent = True  # it may have been delivered
            raise
        finally:
            self.spacer.release(chat_id, sent=sent)

    async def _send(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        priority = current_priority()
        cost = _cost(method)
        retries = 0
        while True:
            async with self.limiter.slot(priority, cost):
                try:
                    return await make_request(bot, method)
                except TelegramRetryAfter as exc:
                    self.retry_after_count += 1
                    self.limiter.pause(exc.retry_after)
                    retries += 1
                    if retries > self.max_retries:
                        raise
