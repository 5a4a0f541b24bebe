"""Updates: the queue of what users do, getUpdates (long polling) and confirming.

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from .common import DEFAULT_UPDATE_TYPES_EXCLUDED, ApiError, _bad, _json_param, _to_int


class UpdatesMixin:
    """The update queue, getUpdates with offsets and long polling, redelivery injection."""

    def _set_allowed_updates(self, value: Any) -> None:
        allowed = _json_param(value, "can't parse allowed updates JSON object")
        if not isinstance(allowed, list):
            raise _bad("can't parse allowed updates JSON object")
        self._allowed_updates = frozenset(str(a) for a in allowed) if allowed else None

    async def _api_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self._webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _to_int(p.get("offset")) if p.get("offset") not in (None, "") else None
        limit = _to_int(p.get("limit")) if p.get("limit") not in (None, "") else 100
        limit = max(1, min(100, limit or 100))
        timeout = _to_int(p.get("timeout")) if p.get("timeout") not in (None, "") else 0
        timeout = max(0, timeout or 0)
        if p.get("allowed_updates") not in (None, ""):
            self._set_allowed_updates(p.get("allowed_updates"))
        self._poll_generation += 1
        generation = self._poll_generation
        if self._poll_waiters:  # terminate an older long poll
            self._wake(self._poll_waiters)
        self._confirm(offset)
        batch = self._take(limit)
        if batch or timeout == 0 or self._closing:
            return batch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            fut: asyncio.Future[None] = loop.create_future()
            self._poll_waiters.append(fut)
            try:
                async with asyncio.timeout(remaining):
                    await fut
            except TimeoutError:
                pass
            finally:
                if fut in self._poll_waiters:
                    self._poll_waiters.remove(fut)
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if self._webhook:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            batch = self._take(limit)
            if batch:
                return batch

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        queue = self._queue
        before = len(queue) + len(self._forced)
        if offset < 0:
            keep = -offset
            while len(queue) > keep:
                queue.popleft()
            self._forced = [e for e in self._forced if not e[1]]
        else:
            while queue and queue[0]["update_id"] < offset:
                queue.popleft()
            if self._forced:
                self._forced = [
                    e for e in self._forced if not (e[1] and e[0]["update_id"] < offset)
                ]
        if self._confirm_waiters and len(queue) + len(self._forced) != before:
            self._wake(self._confirm_waiters)

    def _take(self, limit: int) -> list[dict[str, Any]]:
        if not self._forced:
            if len(self._queue) <= limit:
                return list(self._queue)
            return list(itertools.islice(self._queue, limit))
        batch = list(itertools.islice(self._queue, limit))
        batch.extend(e[0] for e in self._forced)
        batch.sort(key=lambda u: u["update_id"])
        batch = batch[:limit]
        chosen = {id(u) for u in batch}
        for entry in self._forced:
            if id(entry[0]) in chosen:
                entry[1] = True
        return batch

    def _drop_pending(self) -> None:
        self._queue.clear()
        self._forced = []
        self._wake(self._confirm_waiters)

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]]) -> None:
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        waiters.clear()

    def _enqueue(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, kind: obj}
        self._next_update_id += 1
        self._updates_created += 1
        allowed = self._allowed_updates
        if (allowed is None and kind in DEFAULT_UPDATE_TYPES_EXCLUDED) or (
            allowed is not None and kind not in allowed
        ):
            self._updates_dropped += 1
            return update
        self._queue.append(update)
        if self._poll_waiters:
            self._wake(self._poll_waiters)
        return update

    @property
    def pending_update_count(self) -> int:
        """Updates not confirmed yet (delivered-but-unconfirmed ones included)."""
        return len(self._queue) + len(self._forced)

    def pending_updates(self) -> list[dict[str, Any]]:
        """Unconfirmed updates, in delivery order."""
        out = list(self._queue) + [e[0] for e in self._forced]
        out.sort(key=lambda u: u["update_id"])
        return out

    async def wait_for_updates_confirmed(self, timeout: float = 10.0) -> None:
        """Wait until the bot has confirmed (getUpdates offset / webhook 2xx) every update."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.pending_update_count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.pending_update_count} update(s) still unconfirmed")
            fut: asyncio.Future[None] = loop.create_future()
            self._confirm_waiters.append(fut)
            try:
                async with asyncio.timeout(remaining):
                    await fut
            except TimeoutError:
                pass

    def inject_raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` verbatim, even with an already used update_id (redelivery test).

        It is returned by the next getUpdates even if its id is below the offset, then dropped
        once confirmed. Without an update_id it gets the next one.
        """
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        uid = int(update["update_id"])
        if uid >= self._next_update_id:
            self._next_update_id = uid + 1
        self._forced.append([update, False])
        if self._poll_waiters:
            self._wake(self._poll_waiters)
        if self._webhook:
            self._start_webhook_worker()
        return update
