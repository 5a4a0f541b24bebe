"""Webhook mode's secret: the rule for WEBHOOK_SECRET (the one place it is checked), and
the request handler that refuses, with a 401, every POST without the right header.

Telegram sends the secret in the ``X-Telegram-Bot-Api-Secret-Token`` header of each
update it POSTs. It accepts 1..256 characters of ``A-Z a-z 0-9 _ -``; prevnet asks for
at least 32, so that the secret cannot be guessed.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler

from bot.errors import CliError

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_MIN = 32
SECRET_MAX = 256  # Telegram's limit
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]*")


class BadWebhookSecret(CliError):
    """`prevnet run` in webhook mode with a WEBHOOK_SECRET that breaks the rule: one line
    on stderr, exit status 2, before anything is asked of Telegram."""


def require_secret(secret: str | None) -> str:
    """The secret, or BadWebhookSecret saying what is wrong with it."""
    problem = secret_problem(secret)
    if problem is not None:
        raise BadWebhookSecret(problem)
    assert secret is not None
    return secret


def secret_problem(secret: str | None) -> str | None:
    """What is wrong with WEBHOOK_SECRET, as one line for the operator; None when fine."""
    if not secret:
        return "WEBHOOK_SECRET must be set in webhook mode (WEBHOOK_URL is set)"
    if not _SECRET_RE.fullmatch(secret):
        return "WEBHOOK_SECRET may contain only the characters A-Z a-z 0-9 _ -"
    if len(secret) < SECRET_MIN:
        return (
            f"WEBHOOK_SECRET is {len(secret)} characters long: it must have at least "
            f"{SECRET_MIN} (for example: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )
    if len(secret) > SECRET_MAX:
        return f"WEBHOOK_SECRET is {len(secret)} characters long: Telegram allows {SECRET_MAX}"
    return None


class SecretRequestHandler(SimpleRequestHandler):
    """aiogram's handler for one bot, with a secret check that cannot fail: the header is
    compared as bytes in constant time, so a missing, wrong or non-ASCII header is a 401
    (aiogram's own check raises TypeError on a non-ASCII header: a 500), and the
    dispatcher never sees the update."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret_token: str, **data: Any) -> None:
        problem = secret_problem(secret_token)
        if problem is not None:
            raise ValueError(problem)
        super().__init__(dispatcher=dispatcher, bot=bot, secret_token=secret_token, **data)
        self._secret = secret_token.encode("ascii")

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        # aiohttp gives header bytes that are not UTF-8 as surrogates: never ASCII.
        given = telegram_secret_token.encode("ascii") if telegram_secret_token.isascii() else b""
        if given and hmac.compare_digest(given, self._secret):
            return True
        log.warning(
            "webhook: a request without the right %s header was refused (401)", SECRET_HEADER
        )
        return False
