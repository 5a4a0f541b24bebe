"""How updates enter the bot when many people act at once.

`UpdateFlowMiddleware` is the first outer middleware on every update:

* **Flood control.** Someone sending more than ``flood_limit`` updates within
  ``flood_window`` seconds gets one polite message; a dropped button press is still
  answered, with a short toast; the excess is dropped and logged, without touching the
  database. Blocking and unblocking the bot always pass.
* **In order per chat.** Updates of one chat are handled one at a time, in the order they
  arrived; different chats run side by side.
* **Backpressure.** At most ``max_in_flight`` updates are handled at once; the others wait
  in line (the wait holds no database connection) instead of exhausting the pool.
* **A clean stop.** `drain()` waits until the updates already taken are done, so a stop
  (SIGTERM) does not close the Telegram session under a handler half-way through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n

from bot.i18n import N_, known_locale, pick_locale

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
Clock = Callable[[], float]

FLOOD_TAPS = N_("Too many taps at once: please wait a few seconds.")
FLOOD_MESSAGES = N_(
    "You are sending messages faster than I can read them. Please wait a few seconds, "
    "then send your message again."
)

# What a person does themselves; other update kinds (blocking the bot) are never dropped.
_PERSONAL_KINDS = ("message", "edited_message", "callback_query")


@dataclass(slots=True)
class _Flood:
    times: deque[float] = field(default_factory=deque)
    noticed: bool = False


class FloodGuard:
    """A sliding window of update times per person."""

    def __init__(self, limit: int, window: float, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._people: OrderedDict[int, _Flood] = OrderedDict()
        self.dropped = 0

    def check(self, user_id: int) -> tuple[bool, bool]:
        """(allowed, notice): notice is True for the first dropped update of a flood."""
        if self.limit <= 0:
            return True, False
        now = self._clock()
        entry = self._people.get(user_id)
        if entry is None:
            entry = self._people[user_id] = _Flood()
            if len(self._people) > 50_000:
                self._prune(now)
        else:
            self._people.move_to_end(user_id)
        times = entry.times
        horizon = now - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            entry.noticed = False
        times.append(now)
        if len(times) <= self.limit:
            return True, False
        self.dropped += 1
        notice = not entry.noticed
        entry.noticed = True
        return False, notice

    def _prune(self, now: float) -> None:
        horizon = now - self.window
        idle = [u for u, e in self._people.items() if not e.times or e.times[-1] <= horizon]
        for user_id in idle:
            del self._people[user_id]


class _ChatLine:
    """A FIFO lock per chat that forgets chats nobody is waiting for."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def acquire(self, key: int) -> None:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._forget(key)
            raise

    def release(self, key: int) -> None:
        lock, _ = self._locks[key]
        lock.release()
        self._forget(key)

    def _forget(self, key: int) -> None:
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class UpdateFlowMiddleware(BaseMiddleware):
    """Flood control, then per-chat order, then a bound on updates in flight."""

    def __init__(
        self,
        i18n: I18n,
        *,
        max_in_flight: int,
        flood_limit: int,
        flood_window: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self.i18n = i18n
        self.flood = FloodGuard(flood_limit, flood_window, clock)
        self.max_in_flight = max_in_flight
        self._slots = asyncio.Semaphore(max_in_flight)
        self._line = _ChatLine()
        self.in_flight = 0
        self.waiting = 0
        self._busy = 0  # updates inside this middleware: waiting or in flight
        self._idle = asyncio.Event()
        self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until no update is waiting or in flight; False when `timeout` ran out."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("stopping with %d updates still being handled", self._busy)
            return False
        return True

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        self._busy += 1
        self._idle.clear()
        try:
            return await self._flow(handler, event, data)
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def _flow(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        tg_user: TgUser | None = data.get("event_from_user")
        kind = event.event_type
        chat = data.get("event_chat")
        if tg_user is not None and kind in _PERSONAL_KINDS:
            # A group (ignored by every handler, handlers/groups.py) has a budget of its
            # own, so it cannot use up a person's, and its excess is dropped silently.
            group = chat.id if chat is not None and chat.type != "private" else None
            allowed, notice = self.flood.check(tg_user.id if group is None else group)
            if not allowed:
                log.warning(
                    "flood: update %s (%s) from user %s dropped", event.update_id, kind, tg_user.id
                )
                if group is None:
                    await self._tell_flood(data["bot"], event, tg_user, notice)
                return None
        key = chat.id if chat is not None else (tg_user.id if tg_user is not None else None)
        if key is not None:
            self.waiting += 1
            try:
                await self._line.acquire(key)
            finally:
                self.waiting -= 1
        try:
            async with self._slots:
                self.in_flight += 1
                try:
                    return await handler(event, data)
                finally:
                    self.in_flight -= 1
        finally:
            if key is not None:
                self._line.release(key)

    async def _tell_flood(self, bot: Bot, event: Update, tg_user: TgUser, notice: bool) -> None:
        locale = known_locale(tg_user.id) or pick_locale(None, tg_user, self.i18n.default_locale)
        try:
            if event.callback_query is not None:
                # Every press is answered (the spinner stops), with a short toast.
                text = self.i18n.gettext(FLOOD_TAPS, locale=locale)
                await bot.answer_callback_query(event.callback_query.id, text=text)
            elif notice:
                text = self.i18n.gettext(FLOOD_MESSAGES, locale=locale)
                await bot.send_message(tg_user.id, text)
        except TelegramAPIError as exc:
            log.warning("could not tell user %s about the flood limit: %s", tg_user.id, exc)
