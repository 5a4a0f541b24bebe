"""A fake Telegram Bot API server for tests and benchmarks (see server.py)."""

from .server import ApiError, FakeBotAPI

__all__ = ["ApiError", "FakeBotAPI"]
