"""A local Telegram Bot API server: the sandbox's Telegram (`prevnet sandbox`) and the fake the
tests and benchmarks run the bot against (see server.py)."""

from .server import ApiError, FakeBotAPI

__all__ = ["ApiError", "FakeBotAPI"]
