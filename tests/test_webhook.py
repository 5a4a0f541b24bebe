"""Webhook mode's secret (bot/webhook.py): the rule, the 401s, and `prevnet run` refusing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import cli
from bot.sandbox.telegram import FakeBotAPI
from bot.webhook import SECRET_HEADER, SecretRequestHandler, secret_problem
from tests.mocked_bot import MockedBot

SECRET = "Ab-_" * 8  # 32 characters, every kind the rule allows
UPDATE = {"update_id": 1, "message": {
    "message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
    "from": {"id": 5, "is_bot": False, "first_name": "X"}, "text": "/help"}}


def test_secret_rule() -> None:
    assert secret_problem(SECRET) is None
    assert secret_problem("z" * 256) is None
    assert secret_problem("z" * 31) == (
        "WEBHOOK_SECRET is 31 characters long: it must have at least 32 (for example: "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )
    assert secret_problem("z" * 257) == (
        "WEBHOOK_SECRET is 257 characters long: Telegram allows 256"
    )
    bad = "WEBHOOK_SECRET may contain only the characters A-Z a-z 0-9 _ -"
    for secret in ("z" * 31 + "!", "z" * 31 + "é", "z" * 16 + " " + "z" * 16, "z" * 32 + "\n"):
        assert secret_problem(secret) == bad, secret
    missing = "WEBHOOK_SECRET must be set in webhook mode (WEBHOOK_URL is set)"
    assert secret_problem(None) == secret_problem("") == missing
    with pytest.raises(ValueError, match="at least 32"):
        SecretRequestHandler(Dispatcher(), MockedBot(), secret_token="z" * 31)


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[TestClient[Any, Any], list[int]]]:
    """The real handler on /webhook in front of a dispatcher that counts what it is fed."""
    dp = Dispatcher()
    fed: list[int] = []

    @dp.update.outer_middleware()
    async def count(handler, event, data):  # type: ignore[no-untyped-def]
        fed.append(event.update_id)

    app = web.Application()
    SecretRequestHandler(dispatcher=dp, bot=MockedBot(), secret_token=SECRET,
                         handle_in_background=False).register(app, path="/webhook")
    async with TestClient(TestServer(app)) as client:
        yield client, fed


async def raw_post(client: TestClient[Any, Any], header: bytes) -> bytes:
    """A POST whose secret header is these bytes, as no HTTP client library would send."""
    body = b'{"update_id": 7}'
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + SECRET_HEADER.encode() + b": " + header + b"\r\n"
        + b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )
    reply = await reader.read()
    writer.close()
    return reply.split(b"\r\n", 1)[0]


async def test_a_wrong_missing_or_non_ascii_secret_is_a_401(webhook) -> None:  # type: ignore[no-untyped-def]
    client, fed = webhook
    for headers in ({}, {SECRET_HEADER: ""}, {SECRET_HEADER: "wrong"},
                    {SECRET_HEADER: SECRET[:-1]}, {SECRET_HEADER: SECRET + "x"},
                    {SECRET_HEADER: SECRET[:-1] + "é"}, {SECRET_HEADER: "секрет"}):
        response = await client.post("/webhook", json=UPDATE, headers=headers)
        assert response.status == 401, headers
    for raw in (b"\xff\xfe", SECRET[:-1].encode() + b"\xff", "é".encode()):
        assert await raw_post(client, raw) == b"HTTP/1.1 401 Unauthorized", raw
    assert fed == []
    response = await client.post("/webhook", json=UPDATE, headers={SECRET_HEADER: SECRET})
    assert response.status == 200
    assert await raw_post(client, SECRET.encode()) == b"HTTP/1.1 200 OK"
    assert fed == [1, 7]


async def test_run_refuses_a_short_secret_before_calling_telegram(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cret-token"
    monkeypatch.chdir(tmp_path)  # no .env
    async with FakeBotAPI(token="123456:TEST-TOKEN") as api:
        for name, value in {
            "BOT_TOKEN": "123456:TEST-TOKEN", "TELEGRAM_API_URL": api.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", "REDIS_URL": "",
            "WEBHOOK_URL": "http://127.0.0.1:1", "WEBHOOK_SECRET": secret,
        }.items():
            monkeypatch.setenv(name, value)
        code = await asyncio.to_thread(cli.main, ["run"])
        assert api.calls() == []  # not even getMe
    assert code == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "prevnet: WEBHOOK_SECRET is 12 characters long: it must have at least 32 "
        "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    ]
    assert secret not in captured.out + captured.err
    assert not os.listdir(tmp_path)  # no database made, no lock taken
