"""Control: rate limits and 429s, failure and delay injection, the call log and counters.

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from .common import _MISSING, PAID_BROADCAST_RATE, ApiError, _Chat, _to_bool


class ControlMixin:
    """What tests set to make the fake misbehave, and what they read to count calls."""

    # -- rate limits

    def _admit_send(self, chat: _Chat, p: dict[str, Any], count: int = 1) -> None:
        """Rate limits, then blocked/deactivated checks, for a message-sending call."""
        now = time.monotonic()
        cutoff = now - 1.0
        window = self._global_window
        while window and window[0] <= cutoff:
            window.popleft()
        paid = _to_bool(p.get("allow_paid_broadcast", False))
        cap = PAID_BROADCAST_RATE if paid else self.global_rate
        if cap is not None and len(window) + count > cap:
            raise self._too_many_requests()
        chat_window = None
        if self.per_chat_rate is not None:
            chat_window = self._chat_windows.get(chat.id)
            if chat_window is None:
                chat_window = self._chat_windows[chat.id] = deque()
            while chat_window and chat_window[0] <= cutoff:
                chat_window.popleft()
            if len(chat_window) + count > self.per_chat_rate:
                raise self._too_many_requests()
        for _ in range(count):
            window.append(now)
            if chat_window is not None:
                chat_window.append(now)
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.deactivated:
            raise ApiError(403, "Forbidden: user is deactivated")

    def _too_many_requests(self) -> ApiError:
        n = self.retry_after
        return ApiError(429, f"Too Many Requests: retry after {n}", {"retry_after": n})

    def configure(
        self,
        global_rate: Any = _MISSING,
        per_chat_rate: Any = _MISSING,
        retry_after: Any = _MISSING,
    ) -> None:
        """Change rate limits at runtime (None disables a limit)."""
        if global_rate is not _MISSING:
            self.global_rate = None if global_rate is None else float(global_rate)
            self._global_window.clear()
        if per_chat_rate is not _MISSING:
            self.per_chat_rate = None if per_chat_rate is None else float(per_chat_rate)
            self._chat_windows.clear()
        if retry_after is not _MISSING:
            self.retry_after = int(retry_after)

    # -- failures and delays

    def _maybe_fail(self, key: str) -> None:
        queue = self._failures.get(key) or self._failures.get("*")
        if not queue:
            return
        code, description, retry_after = queue.popleft()
        if not queue:
            for k, v in list(self._failures.items()):
                if v is queue:
                    del self._failures[k]
        raise ApiError(
            code, description, {"retry_after": retry_after} if retry_after is not None else None
        )

    def fail_next(
        self,
        method: str,
        error_code: int = 500,
        description: str = "Internal Server Error",
        count: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` ("*" = any method) fail as given."""
        queue = self._failures.setdefault(method.lower(), deque())
        for _ in range(count):
            queue.append((int(error_code), description, retry_after))

    def clear_failures(self) -> None:
        self._failures.clear()

    def set_delay(self, method: str, seconds: float | None, mode: str = "before") -> None:
        """Delay the responses of ``method`` ("*" = any method); 0/None removes the delay.

        mode="before": wait, then process — if the client gave up meanwhile the call is
        dropped unprocessed (a request lost on the way). mode="after": process, then wait
        (the message is delivered but the response is late: the bot may time out and retry).
        """
        if mode not in ("before", "after"):
            raise ValueError("mode must be 'before' or 'after'")
        if not seconds:
            self._delays.pop(method.lower(), None)
        else:
            self._delays[method.lower()] = (float(seconds), mode)

    # -- call log and counters

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """The call log (bounded by max_calls): {method, params, time, ok, result | error_*}."""
        if method is None:
            return list(self._calls)
        lowered = method.lower()
        return [c for c in self._calls if c["method"].lower() == lowered]

    def stats(self) -> dict[str, Any]:
        elapsed = None
        if self._first_send is not None and self._last_send is not None:
            elapsed = self._last_send - self._first_send
        return {
            "methods": dict(self._method_counts),
            "sent_per_chat": dict(self._sent_per_chat),
            "chats_with_messages": len(self._sent_per_chat),
            "total_sent": self._total_sent,
            "too_many_requests": self._too_many,
            "errors": dict(self._error_counts),
            "max_rate_per_second": self._max_rate,
            "send_span_seconds": elapsed,
            "updates_created": self._updates_created,
            "updates_dropped": self._updates_dropped,
            "pending_updates": self.pending_update_count,
            "users": len(self._chats),
        }
