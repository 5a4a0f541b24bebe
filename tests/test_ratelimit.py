"""The send limiter and its aiogram middleware, on a virtual clock (no real waiting)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import EditMessageText, GetMe, SendMediaGroup, SendMessage
from aiogram.types import InputMediaPhoto

from bot.delivery.ratelimit import (
    ChatSpacer,
    Priority,
    PriorityRateLimiter,
    RateLimitMiddleware,
    bulk_priority,
    current_priority,
)


class VirtualClock:
    """Time that only moves when every task is waiting: sleeps cost nothing real."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, delay), next(self._seq), fut))
        await fut

    async def run(self, coro: Awaitable[Any]) -> Any:
        task = asyncio.ensure_future(coro)
        while not task.done():
            for _ in range(50):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
                if task.done():
                    break
            if task.done():
                break
            if not self._timers:
                raise AssertionError("deadlock: every task waits and no timer is set")
            when, _, fut = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            if not fut.done():
                fut.set_result(None)
        return task.result()


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any (t - window, t] — how the fake Bot API counts."""
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def limiter(clock: VirtualClock, rate: float, **kw: Any) -> PriorityRateLimiter:
    return PriorityRateLimiter(rate, clock=clock, sleep=clock.sleep, **kw)


async def test_rate_is_a_ceiling_and_is_reached() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 20)
    grants: list[float] = []

    async def send() -> None:
        async with lim.slot(Priority.LOW):
            grants.append(clock())

    async def burst() -> None:
        await asyncio.gather(*(send() for _ in range(200)))

    await clock.run(burst())
    assert len(grants) == 200
    assert max_in_window(grants) <= 20
    achieved = (len(grants) - 1) / (grants[-1] - grants[0])
    assert 0.95 * 20 <= achieved <= 20 * 1.0001
    # Evenly spaced, not 20 at the start of each second.
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert max(gaps) < 0.1


async def test_window_holds_whatever_the_round_trip() -> None:
    """The server counts a message somewhere between our grant and its answer: with any
    round trips, no (t - 1, t] window at the server ever holds more than the rate."""
    clock = VirtualClock()
    rng = random.Random(7)
    lim = limiter(clock, 10)
    seen_by_server: list[float] = []

    async def send() -> None:
        async with lim.slot(Priority.LOW):
            granted = clock()
            await clock.sleep(rng.uniform(0.0, 0.4))
            seen_by_server.append(rng.uniform(granted, clock()))

    async def burst() -> None:
        await asyncio.gather(*(send() for _ in range(150)))

    await clock.run(burst())
    assert len(seen_by_server) == 150
    assert max_in_window(seen_by_server) <= 10


async def test_interactive_replies_overtake_the_bulk_queue() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 10)
    order: list[str] = []

    async def send(name: str, priority: Priority) -> None:
        async with lim.slot(priority):
            order.append(name)

    async def scenario() -> None:
        bulk = [asyncio.create_task(send(f"bulk{i}", Priority.LOW)) for i in range(30)]
        await clock.sleep(0.55)  # a few bulk sends went out, the rest queue
        sent_before = len(order)
        assert sent_before < 10
        await send("reply", Priority.HIGH)
        assert order.index("reply") == sent_before  # the very next send
        await asyncio.gather(*bulk)

    await clock.run(scenario())
    assert [n for n in order if n.startswith("bulk")] == [f"bulk{i}" for i in range(30)]


async def test_pause_stops_every_priority() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 50)
    grants: list[tuple[str, float]] = []

    async def send(name: str, priority: Priority) -> None:
        async with lim.slot(priority):
            grants.append((name, clock()))

    async def scenario() -> None:
        await send("first", Priority.LOW)
        lim.pause(3.0)
        lim.pause(1.0)  # a shorter pause never shortens the current one
        await asyncio.gather(send("low", Priority.LOW), send("high", Priority.HIGH))

    await clock.run(scenario())
    assert grants[0] == ("first", 0.0)
    assert [name for name, _ in grants[1:]] == ["high", "low"]
    assert all(t >= 3.0 for _, t in grants[1:])
    assert lim.pauses == 1


async def test_cancelled_waiters_give_their_slot_back() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 2)

    async def scenario() -> None:
        await lim.acquire()
        await lim.acquire()  # the window (2 per second) is now full
        waiter = asyncio.create_task(lim.acquire(Priority.LOW))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert lim.in_flight == 2
        lim.release()
        lim.release(sent=False)  # never left: does not occupy the window
        await lim.acquire(Priority.LOW)
        assert clock() == pytest.approx(0.0)  # one slot was free at once
        await lim.acquire(Priority.LOW)  # the second waits for the first send to leave the window
        assert clock() == pytest.approx(1.0)

    await clock.run(scenario())


async def test_a_media_group_costs_one_slot_per_message() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 5)

    async def scenario() -> None:
        async with lim.slot(Priority.LOW, cost=5):
            pass
        start = clock()
        async with lim.slot(Priority.LOW):
            pass
        assert clock() - start == pytest.approx(1.0)

    await clock.run(scenario())


async def test_chat_spacer_one_at_a_time_and_an_interval_apart() -> None:
    clock = VirtualClock()
    spacer = ChatSpacer(1.05, 3.1, clock=clock, sleep=clock.sleep)
    log: list[tuple[int, float, float]] = []

    async def send(chat: int, duration: float) -> None:
        await spacer.acquire(chat)
        start = clock()
        await clock.sleep(duration)
        spacer.release(chat)
        log.append((chat, start, clock()))

    async def scenario() -> None:
        await asyncio.gather(send(1, 0.2), send(1, 0.2), send(2, 0.2), send(-100, 0.1))
        await send(-100, 0.1)

    await clock.run(scenario())
    starts = {chat: [s for c, s, _ in log if c == chat] for chat in (1, 2, -100)}
    ends = {chat: [e for c, _, e in log if c == chat] for chat in (1, 2, -100)}
    assert starts[2] == [0.0]  # another chat does not wait
    assert starts[1][1] >= ends[1][0] + 1.05  # an interval after the previous answer
    assert starts[-100][1] >= ends[-100][0] + 3.1  # groups: 20 per minute


def _request(make: Callable[[Any], Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def make_request(bot: Any, method: Any) -> Any:
        return await make(method)

    return make_request


async def test_middleware_limits_sending_methods_only() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 100)
    middleware = RateLimitMiddleware(lim)
    seen: list[tuple[str, Priority]] = []

    async def answer(method: Any) -> Any:
        seen.append((method.__api_method__, current_priority()))
        return True

    make_request = _request(answer)

    async def scenario() -> None:
        await middleware(make_request, None, GetMe())  # type: ignore[arg-type]
        await middleware(
            make_request,
            None,  # type: ignore[arg-type]
            EditMessageText(chat_id=1, message_id=1, text="edit"),
        )
        assert lim.granted == 0
        await middleware(make_request, None, SendMessage(chat_id=1, text="hi"))  # type: ignore[arg-type]
        assert lim.granted == 1
        media = [InputMediaPhoto(media="a"), InputMediaPhoto(media="b")]
        with bulk_priority():
            await middleware(make_request, None, SendMediaGroup(chat_id=2, media=media))  # type: ignore[arg-type]
        assert lim.granted == 3

    await clock.run(scenario())
    assert seen[-1] == ("sendMediaGroup", Priority.LOW)
    assert seen[-2] == ("sendMessage", Priority.HIGH)


async def test_middleware_429_pauses_everything_then_retries() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 100)
    middleware = RateLimitMiddleware(lim, max_retries=2)
    attempts: list[float] = []
    answers = ["429", "ok"]

    async def answer(method: Any) -> Any:
        attempts.append(clock())
        if answers.pop(0) == "429":
            raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=4)
        return "sent"

    async def scenario() -> Any:
        return await middleware(_request(answer), None, SendMessage(chat_id=5, text="x"))  # type: ignore[arg-type]

    assert await clock.run(scenario()) == "sent"
    assert attempts[1] - attempts[0] >= 4.0
    assert middleware.retry_after_count == 1

    # Past max_retries the 429 reaches the caller.
    async def always_429(method: Any) -> Any:
        raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=1)

    async def hopeless() -> None:
        await middleware(_request(always_429), None, SendMessage(chat_id=6, text="x"))  # type: ignore[arg-type]

    with pytest.raises(TelegramRetryAfter):
        await clock.run(hopeless())
    assert middleware.retry_after_count == 1 + 3


async def test_chat_spacer_forgets_old_chats_but_keeps_spacing() -> None:
    clock = VirtualClock()
    spacer = ChatSpacer(1.0, 3.0, clock=clock, sleep=clock.sleep)
    released: dict[int, float] = {}

    async def scenario() -> None:
        for chat in range(4098):  # the table is pruned around the 4097th chat
            await spacer.acquire(chat)
            spacer.release(chat)
            released[chat] = clock()
            clock.now += 0.001
        assert len(spacer._chats) < 4098  # old chats are forgotten
        for chat in (4096, 4097):  # the chats seen while pruning are still spaced
            await spacer.acquire(chat)
            assert clock() >= released[chat] + 1.0
            spacer.release(chat)

    await clock.run(scenario())


async def test_interactive_replies_skip_the_chat_spacer_but_bulk_keeps_its_distance() -> None:
    """A tap's two answers go out at once; a bulk message to that chat waits its interval."""
    from bot.delivery.ratelimit import ChatSpacer, PriorityRateLimiter, RateLimitMiddleware
    from bot.delivery.ratelimit import bulk_priority as bulk

    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    spacer = ChatSpacer(1.0, clock=lambda: now[0], sleep=fake_sleep)
    middleware = RateLimitMiddleware(PriorityRateLimiter(1000), spacer)

    class Method:
        __api_method__ = "sendMessage"
        chat_id = 5

    async def make_request(bot, method):  # type: ignore[no-untyped-def]
        return "ok"

    assert await middleware(make_request, None, Method()) == "ok"  # type: ignore[arg-type]
    assert await middleware(make_request, None, Method()) == "ok"  # type: ignore[arg-type]
    assert slept == []  # no waiting for replies
    with bulk():
        assert await middleware(make_request, None, Method()) == "ok"  # type: ignore[arg-type]
    assert slept and abs(slept[-1] - 1.0) < 1e-6  # bulk waited one interval after them


async def test_replies_go_at_once_and_bulk_uses_what_is_left() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 10)
    replies: list[float] = []
    bulk: list[float] = []

    async def reply() -> None:
        async with lim.slot(Priority.HIGH):
            replies.append(clock())

    async def send_bulk() -> None:
        async with lim.slot(Priority.LOW):
            bulk.append(clock())

    async def scenario() -> None:
        # 40 members tap at the same instant: 40 answers, none waits for the broadcast rate.
        await asyncio.gather(*(reply() for _ in range(40)))
        assert replies == [0.0] * 40
        # The bulk send waits until the replies have left the window.
        await send_bulk()

    await clock.run(scenario())
    assert bulk[0] >= 1.0
    # A 429's pause still holds replies.
    lim.pause(2.0)
    start = clock()
    await clock.run(reply())
    assert replies[-1] - start >= 2.0


async def test_reply_rate_caps_replies_when_set() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 10, reply_rate=5)
    grants: list[float] = []

    async def reply() -> None:
        async with lim.slot(Priority.HIGH):
            grants.append(clock())

    async def burst() -> None:
        await asyncio.gather(*(reply() for _ in range(25)))

    await clock.run(burst())
    assert len(grants) == 25
    assert max_in_window(grants) <= 6  # evenly spaced at 5 per second (float edges)
    assert grants[-1] >= 4.7


async def test_after_a_429_replies_keep_to_the_window_for_a_while() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 10)
    grants: list[float] = []

    async def reply() -> None:
        async with lim.slot(Priority.HIGH):
            grants.append(clock())

    async def scenario() -> None:
        lim.pause(1.0)  # Telegram said 429
        await asyncio.gather(*(reply() for _ in range(30)))  # they do not all rush back
        assert max_in_window(grants) <= 10
        await clock.sleep(15.0)  # long after: at once again
        start = len(grants)
        await asyncio.gather(*(reply() for _ in range(30)))
        assert len(set(grants[start:])) == 1

    await clock.run(scenario())
    assert min(grants) >= 1.0
