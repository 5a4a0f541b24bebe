"""One Telegram limit for all the bot's processes (REDIS_URL set): the rules of
ratelimit.py with their state in Redis (docs/delivery.md, "Several processes").

Every decision is a Lua script on Redis's own clock (``redis.call('TIME')``), so processes
whose clocks disagree still agree:

* the sliding log: a sorted set; a grant adds a member per message scored "in flight"
  (``now + hold``: a crashed process's sends leave by themselves), the answer moves it to
  the answer time, members older than ``window`` are trimmed; bulk is refused, with the
  wait, while N are in the window; the bulk GCRA smoother (and REPLY_RATE's) is one key;
* the pause: the pause-until time; any process's 429 sets it (never shortening it), every
  grant checks it; in the ``caution`` seconds after it replies keep to the window too, and
  a reply refused then holds every process's bulk back a moment (replies first);
* per-chat spacing: a key per chat, "busy" while a bulk request is out, then the time of
  the chat's next bulk send, expiring then.

Each process keeps its priority queue in front: the head asks Redis when its turn comes and
sleeps the wait Redis returned (plus a little jitter), or until a slot is released here.
Keys: ``prevnet:{<bot id>}:rl:*`` (one cluster hash slot per bot), all with a TTL.

Own scripts rather than a library: `limits` (fixed, moving and sliding windows, counted
when a request is made), `pyrate-limiter` (buckets), `redis-rate-limiters` (semaphore and
token bucket) and `aiolimiter` (one process) neither hold a slot until ``window`` after the
*answer* (what makes N + 1 impossible at Telegram whatever the round trip) nor know
priorities, a shared pause with a caution period or per-chat turns.

Redis down: one warning, and each process keeps to the limits on its own (its local
limiter, at the same rate; replies never stop); a PING every ``recheck`` seconds, and the
shared limits again once Redis answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from redis.exceptions import RedisError

from bot.delivery import shared_scripts as scripts
from bot.delivery.ratelimit import ChatSpacer, Priority, PriorityRateLimiter, SendLimiter

log = logging.getLogger(__name__)

_LOCAL = "local"  # a waiter's answer: Redis is gone, take a slot of the local limiter

def _jittered(wait: float) -> float:
    return max(0.001, wait) + random.uniform(0.0, min(0.002, 0.1 * wait))


class RedisLink:
    """One process's Redis connection for its limits: up or down (one warning per outage,
    then a PING every ``recheck`` seconds). The client is made on first use."""

    def __init__(self, url: str, *, recheck: float = 5.0, timeout: float = 1.0) -> None:
        self.url, self.recheck, self.timeout = url, recheck, timeout
        self.up = True
        self.errors: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._probe: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of the scripts; raises one of ``errors`` (after `lost`) if Redis fails."""
        if self._client is None:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            self._client = Redis.from_url(
                self.url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 1),  # one reconnection (a restarted server), no more
            )
            lua = {"acquire": scripts.ACQUIRE, "release": scripts.RELEASE,
                   "pause": scripts.PAUSE, "chat": scripts.CHAT}
            self._scripts = {k: self._client.register_script(v) for k, v in lua.items()}
        try:
            async with asyncio.timeout(2 * self.timeout):
                return await self._scripts[name](keys=keys, args=args)
        except self.errors as exc:
            self.lost(exc)
            raise

    async def quiet(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """`run`, None if Redis failed (a write that can be lost)."""
        with contextlib.suppress(*self.errors):
            return await self.run(name, keys, args)
        return None

    def lost(self, exc: BaseException) -> None:
        if self.up:
            self.up = False
            log.warning(
                "Redis is not answering (%s: %s): this process keeps to the send limits on "
                "its own, at the same rate, until it answers again", type(exc).__name__, exc,
            )
            self._probe = asyncio.get_running_loop().create_task(self._wait_for_redis())

    async def _wait_for_redis(self) -> None:
        while True:
            await asyncio.sleep(self.recheck)
            try:
                async with asyncio.timeout(2 * self.timeout):
                    await self._client.ping()
            except self.errors:
                continue
            self.up, self._probe = True, None
            log.warning("Redis answers again: the send limits are shared again")
            return

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``coro`` in the background (kept until done); None without a running loop."""
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def aclose(self) -> None:
        """Finish the background writes, close the client (made again if used again)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2 * self.timeout)
        if self._probe is not None:
            self._probe.cancel()
            self.up, self._probe = True, None  # the next call finds out again
        if self._client is not None:
            with contextlib.suppress(*self.errors):
                await self._client.aclose()
            self._client = None


class SharedRateLimiter:
    """`PriorityRateLimiter`'s rules for all processes at once (see the module docstring):
    ``async with limiter.slot(priority, cost):`` around each request, `pause` on a 429.

    ``local`` is this process's own limiter: used while Redis is down, and holding this
    process at once on its own 429 (before the shared pause is written).
    """

    def __init__(
        self,
        link: RedisLink,
        prefix: str,
        rate: float,
        *,
        reply_rate: float | None = None,
        window: float = 1.0,
        smooth_burst: float = 0.05,
        hold: float = 20.0,
    ) -> None:
        self.local = local = PriorityRateLimiter(
            rate, reply_rate=reply_rate, window=window, smooth_burst=smooth_burst
        )
        self.link, self.rate, self.reply_rate = link, local.rate, reply_rate
        self._keys = [f"{prefix}{k}" for k in ("log", "tat", "reply_tat", "pause", "reply_waits")]
        self._window, self._hold = local._window, hold  # hold: see the module docstring
        interval = 1.0 / self.rate
        self._args = [  # ARGV of the acquire script after (high, cost)
            local.capacity, self._window, interval, max(0.0, smooth_burst - interval),
            1.0 / reply_rate if reply_rate else 0, local._caution, hold,
            min(self._window, max(0.005, interval)),  # poll: how soon to ask again while full
        ]
        self._token = uuid.uuid4().hex[:12]
        self._seq, self._order = itertools.count(), itertools.count()
        self._waiters: list[tuple[int, int, int, asyncio.Future[str]]] = []
        self._pump_task: asyncio.Task[None] | None = None
        self._kick: asyncio.Event | None = None  # the pump's: wakes it before its wait is over
        self._granted = self._queued = 0
        self._asking = 0  # bulk acquisitions asking Redis outside the queue

    @property
    def capacity(self) -> int:
        return self.local.capacity

    @property
    def paused_until(self) -> float:
        """This process's own pause (monotonic clock); the shared one is in Redis."""
        return self.local.paused_until

    @property
    def pauses(self) -> int:
        return self.local.pauses

    @property
    def granted(self) -> int:
        return self._granted + self.local.granted

    @property
    def queued(self) -> int:
        return self._queued + self.local.queued

    def pause(self, seconds: float, reason: str = "429 from Telegram") -> asyncio.Task[Any] | None:
        """Grant nothing for ``seconds``, in every process. Returns the task writing it to
        Redis (awaiting it is optional), or None."""
        self.local.pause(seconds, reason)
        if not self.link.up:
            return None
        return self.link.spawn(
            self.link.quiet("pause", self._keys[3:4], [seconds, self.local._caution])
        )

    async def _ask(self, priority: int, cost: int) -> str | float | None:
        """One grant from Redis: its member prefix, or the wait, or None if Redis is gone."""
        member = f"{self._token}:{next(self._seq)}"
        args = [1 if priority == Priority.HIGH else 0, cost, *self._args, member]
        try:
            granted, wait = await self.link.run("acquire", self._keys, args)
        except self.link.errors:
            return None
        if granted:
            self._granted += cost
            return member
        return int(wait) / 1e6

    async def acquire(self, priority: int = Priority.HIGH, cost: int = 1) -> str | None:
        """A send slot; `release` it with what this returned (None: the local limiter's)."""
        cost = self.local._clamp(cost)
        # Straight to Redis when nobody here goes first (bulk: nobody at all, so a hundred
        # senders do not all ask at once).
        bulk = priority != Priority.HIGH
        if (
            self.link.up
            and not (self._waiters and self._waiters[0][0] <= priority)
            and not (bulk and (self._asking or self._pump_task))
            and self.local.paused_until <= time.monotonic()
        ):
            self._asking += bulk
            try:
                got = await self._ask(priority, cost)
            finally:
                self._asking -= bulk
            if isinstance(got, str):
                return got
        if self.link.up:
            fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (int(priority), next(self._order), cost, fut))
            self._queued += 1
            self._wake_pump()  # it may go before the one the pump is waiting for
            if self._pump_task is None:
                self._kick = asyncio.Event()
                self._pump_task = asyncio.create_task(self._pump(), name="shared-limiter-pump")
            try:
                member = await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled() and fut.result() != _LOCAL:
                    self.link.spawn(self.release(fut.result(), cost, sent=False))
                raise
            if member != _LOCAL:
                return member
        await self.local.acquire(priority, cost)
        return None

    def _wake_pump(self) -> None:
        if self._kick is not None:
            self._kick.set()

    async def release(self, member: str | None, cost: int = 1, *, sent: bool = True) -> None:
        cost = self.local._clamp(cost)
        if member is None:
            self.local.release(cost, sent=sent)
            return
        args = [1 if sent else 0, member, cost, self._window, self._hold]
        await self.link.quiet("release", self._keys[:1], args)
        self._wake_pump()

    @asynccontextmanager
    async def slot(self, priority: int = Priority.HIGH, cost: int = 1) -> AsyncIterator[None]:
        member = await self.acquire(priority, cost)
        try:
            yield
        finally:
            await asyncio.shield(self.release(member, cost))

    async def _pump(self) -> None:
        waiters, kick = self._waiters, self._kick
        assert kick is not None
        try:
            while waiters:
                kick.clear()
                priority, _, cost, fut = waiters[0]
                if fut.done():  # granted (and overtaken since) or cancelled
                    heapq.heappop(waiters)
                    continue
                if not self.link.up:  # everyone to the local limiter, in order
                    while waiters:
                        fut = heapq.heappop(waiters)[3]
                        if not fut.done():
                            fut.set_result(_LOCAL)
                    return
                wait = self.local.paused_until - time.monotonic()
                if wait <= 0:
                    got = await self._ask(priority, cost)
                    if got is None:
                        continue
                    if isinstance(got, str):
                        if fut.done():  # cancelled meanwhile: give it back
                            self.link.spawn(self.release(got, cost, sent=False))
                        else:
                            fut.set_result(got)
                        continue
                    wait = got
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_jittered(wait)):
                        await kick.wait()
        finally:
            self._pump_task = self._kick = None

    async def aclose(self) -> None:
        await self.link.aclose()


class SharedChatSpacer(ChatSpacer):
    """`ChatSpacer` (one bulk request at a time per chat, then an interval) for all
    processes: the local turn first (the order within this process), then the chat's key."""

    def __init__(
        self, link: RedisLink, prefix: str, interval: float = 1.05, group_interval: float = 3.1,
        *, hold: float = 20.0,
    ) -> None:
        super().__init__(interval, group_interval)
        self.link, self._prefix, self._hold = link, f"{prefix}chat:", hold
        self._held: dict[int | str, str] = {}  # chat -> its previous next-allowed time

    def _call(self, chat_id: int | str, op: str, previous: str = "0") -> Any:
        key, args = f"{self._prefix}{chat_id}", [op, self._gap(chat_id), self._hold, previous]
        return (self.link.run if op == "acquire" else self.link.quiet)("chat", [key], args)

    async def acquire(self, chat_id: int | str) -> None:
        await super().acquire(chat_id)
        try:
            while self.link.up:
                try:
                    granted, value = await self._call(chat_id, "acquire")
                except self.link.errors:
                    return
                if granted:
                    self._held[chat_id] = value.decode() if isinstance(value, bytes) else value
                    return
                await asyncio.sleep(_jittered(int(value) / 1e6))
        except asyncio.CancelledError:
            super().release(chat_id, sent=False)
            raise

    def release(self, chat_id: int | str, *, sent: bool = True) -> None:
        previous = self._held.pop(chat_id, None)
        if previous is None or self.link.spawn(self._release(chat_id, sent, previous)) is None:
            super().release(chat_id, sent=sent)

    async def _release(self, chat_id: int | str, sent: bool, previous: str) -> None:
        try:
            await self._call(chat_id, "release" if sent else "unsent", previous)
        finally:  # this process's next request to the chat goes once Redis knows
            super().release(chat_id, sent=sent)

    def note(self, chat_id: int | str) -> None:
        super().note(chat_id)
        if self.link.up:
            self.link.spawn(self._call(chat_id, "note"))


def key_prefix(bot_id: int | str) -> str:
    """``prevnet:{<bot id>}:rl:``: per bot, and one Redis Cluster hash slot per bot."""
    return f"prevnet:{{{bot_id}}}:rl:"


def create_shared_limits(
    redis_url: str,
    bot_id: int | str,
    *,
    rate: float,
    reply_rate: float | None = None,
    per_chat_interval: float = 1.05,
    group_interval: float = 3.1,
    recheck: float = 5.0,
) -> tuple[SharedRateLimiter, SharedChatSpacer | None]:
    """This process's limiter and chat spacer (None if per_chat_interval is 0), sharing
    one Redis connection pool; `SharedRateLimiter.aclose` closes it."""
    link, prefix = RedisLink(redis_url, recheck=recheck), key_prefix(bot_id)
    limiter = SharedRateLimiter(link, prefix, rate, reply_rate=reply_rate)
    if per_chat_interval <= 0:
        return limiter, None
    return limiter, SharedChatSpacer(link, prefix, per_chat_interval, group_interval)


def build_limits(
    bot_id: int | str,
    *,
    rate: float,
    reply_rate: float | None,
    per_chat_interval: float,
    redis_url: str | None,
    limiter: SendLimiter | None,
) -> tuple[SendLimiter, ChatSpacer | None, SharedRateLimiter | None]:
    """A delivery engine's limiter and chat spacer: the given limiter, else the shared ones
    on Redis (REDIS_URL), else this process's own; and the shared limiter to close."""
    if limiter is None and redis_url:
        shared, spacer = create_shared_limits(
            redis_url, bot_id, rate=rate, reply_rate=reply_rate,
            per_chat_interval=per_chat_interval,
        )
        return shared, spacer, shared
    local_spacer = ChatSpacer(per_chat_interval) if per_chat_interval > 0 else None
    return limiter or PriorityRateLimiter(rate, reply_rate=reply_rate), local_spacer, None
