"""The real `prevnet run` with WEBAPP_URL serves the dashboard: on WEBAPP_PORT with long
polling, on the webhook's listener in webhook mode; stopped with the bot."""

from __future__ import annotations

import aiohttp

from tests.dashboard_helpers import sign_init_data
from tests.e2e.conftest import TOKEN, Prevnet
from tests.e2e.test_webhook_e2e import free_port


async def _check_served(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/app/") as r:
            assert r.status == 200 and r.headers["Cache-Control"] == "no-cache"
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert "<html" in await r.text()
        async with http.get(base + "/app/api/session") as r:
            assert r.status == 401 and (await r.json())["error"] == "unauthorized"
        # Signed with the bot's token, but a stranger: the process checks with its token.
        stranger = sign_init_data(TOKEN, {"id": 9301, "first_name": "S"})
        async with http.get(
            base + "/app/api/session", headers={"Authorization": "tma " + stranger}
        ) as r:
            assert r.status == 403


async def _refused(base: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(base + "/app/"):
            return False
    except aiohttp.ClientConnectionError:
        return True


async def test_polling_mode_serves_the_dashboard_on_webapp_port(fake_api, tmp_path):
    port = free_port()
    app = Prevnet(fake_api, tmp_path, {
        "WEBAPP_URL": "https://dash.example.org/app/",
        "WEBAPP_HOST": "127.0.0.1",
        "WEBAPP_PORT": str(port),
    })
    await app.start()
    try:
        await _check_served(f"http://127.0.0.1:{port}")
    finally:
        assert await app.stop() == 0, app.log()
    assert await _refused(f"http://127.0.0.1:{port}")
    assert "dashboard listening" in app.log() and "Traceback" not in app.log(), app.log()


async def test_webhook_mode_serves_the_dashboard_beside_the_webhook(fake_api, tmp_path):
    port = free_port()
    app = Prevnet(fake_api, tmp_path, {
        "WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "WEBHOOK_SECRET": "e2e-webhook-secret-0123456789abcdef",
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBAPP_URL": f"http://127.0.0.1:{port}/app/",
    })
    await app.start()
    try:
        await _check_served(f"http://127.0.0.1:{port}")
    finally:
        assert await app.stop() == 0, app.log()
    assert "Traceback" not in app.log(), app.log()


async def test_a_taken_webapp_port_is_one_line_and_exit_2(fake_api, tmp_path):
    import asyncio
    import socket

    from tests.e2e.conftest import prevnet_command

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = Prevnet(fake_api, tmp_path, {
            "WEBAPP_URL": "https://dash.example.org/app/", "WEBAPP_PORT": str(port),
        })
        proc = await asyncio.create_subprocess_exec(
            *prevnet_command(), "run", cwd=app.cwd, env=app.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2, err.decode()
    assert f"the dashboard cannot listen on 127.0.0.1:{port}" in err.decode()
    assert "Traceback" not in err.decode()
