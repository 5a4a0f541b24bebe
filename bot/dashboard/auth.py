"""Signing in to the dashboard: Telegram's initData, checked on every API call.

The page sends ``Authorization: tma <initData>``. The signature is checked with aiogram's
``safe_parse_webapp_init_data`` (HMAC-SHA256, compared in constant time), then the age of
``auth_date`` (at most WEBAPP_MAX_AGE seconds, and not in the future beyond a minute of
clock skew). Who the person is and what they may see is read from the database on every
call (bot/services/dashboard): nothing the page sends is taken as a right.

Failed sign-ins are counted per client address: past FAILED_LIMIT in FAILED_WINDOW
seconds the address gets 429 with Retry-After until the oldest failure ages out.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from aiogram.utils.web_app import WebAppInitData, safe_parse_webapp_init_data

SCHEME = "tma"
CLOCK_SKEW = 60.0  # seconds an auth_date may be ahead of our clock
FAILED_LIMIT = 20  # failed sign-ins per address ...
FAILED_WINDOW = 60.0  # ... in this many seconds
MAX_INIT_DATA = 4096  # characters; Telegram's initData is well under 1 KB
MAX_ADDRESSES = 10_000  # addresses remembered at most (the oldest are forgotten)


class SignInFailed(Exception):
    """Missing, malformed, tampered, expired or future initData (401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SignIn:
    tg_id: int
    language_code: str | None
    first_name: str
    auth_date: datetime


def init_data_of(authorization: str | None) -> str:
    """The initData of an ``Authorization: tma <initData>`` header."""
    if not authorization:
        raise SignInFailed("missing")
    scheme, _sep, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != SCHEME or not value:
        raise SignInFailed("scheme")
    if len(value) > MAX_INIT_DATA:
        raise SignInFailed("too long")
    return value


def verify(token: str, init_data: str, *, max_age: float, now: datetime) -> SignIn:
    """Who signed in, or SignInFailed saying why not."""
    try:
        data: WebAppInitData = safe_parse_webapp_init_data(token, init_data)
    except (ValueError, TypeError):  # a bad signature, or signed data that does not parse
        raise SignInFailed("signature") from None
    if data.user is None:
        raise SignInFailed("no user")
    auth = data.auth_date
    if auth.tzinfo is None:
        auth = auth.replace(tzinfo=UTC)
    age = (now - auth).total_seconds()
    if age < -CLOCK_SKEW:
        raise SignInFailed("future")
    if age > max_age:
        raise SignInFailed("expired")
    return SignIn(
        tg_id=data.user.id,
        language_code=data.user.language_code,
        first_name=data.user.first_name,
        auth_date=auth,
    )


class FailedSignIns:
    """Failed sign-ins per client address in a sliding window (in memory, per process)."""

    def __init__(self, limit: int = FAILED_LIMIT, window: float = FAILED_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str, now: float) -> int | None:
        """Seconds until this address may try again, or None when it may now."""
        times = self._recent(address, now)
        if times is None or len(times) < self.limit:
            return None
        return max(1, math.ceil(times[0] + self.window - now))

    def failed(self, address: str, now: float) -> None:
        times = self._recent(address, now)
        if times is None:
            if len(self._failures) >= MAX_ADDRESSES:
                self._failures.pop(next(iter(self._failures)))
            times = self._failures[address] = deque()
        times.append(now)
        while len(times) > self.limit:
            times.popleft()
