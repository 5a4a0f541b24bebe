"""Webhook mode: Telegram (the fake) POSTs updates with the secret header; others are refused."""

from __future__ import annotations

import socket

import aiohttp

from tests.e2e.conftest import Prevnet, User


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode(fake_api, tmp_path):
    port = free_port()
    app = Prevnet(fake_api, tmp_path, {
        "WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "WEBHOOK_SECRET": "e2e-webhook-secret-0123456789abcdef",
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
    })
    await app.start()
    try:
        info = fake_api.webhook_info
        assert info["url"] == f"http://127.0.0.1:{port}/webhook"
        user = User(fake_api, 9101)
        await user.say("/start", "Hello")
        async with aiohttp.ClientSession() as http:
            forged = {"update_id": 999, "message": {
                "message_id": 1, "date": 0, "chat": {"id": 9101, "type": "private"},
                "from": {"id": 9101, "is_bot": False, "first_name": "X"}, "text": "/help"}}
            async with http.post(f"http://127.0.0.1:{port}/webhook", json=forged,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
                assert r.status == 401
        count = user.seen
        await user.say("/help", "To join your Prevention Network")
        assert user.seen == count + 1  # the forged update was not handled
    finally:
        assert await app.stop() == 0, app.log()
    assert "Traceback" not in app.log(), app.log()
