"""The fake Telegram Bot API moved into the package: bot/sandbox/telegram (the sandbox's
local Bot API). This name is kept for old imports and ``python -m tests.fake_api``."""

from bot.sandbox.telegram import ApiError, FakeBotAPI

__all__ = ["ApiError", "FakeBotAPI"]
