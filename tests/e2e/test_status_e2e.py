"""The real `prevnet run` (webhook mode) serves /healthz and shows in `prevnet status`
while it runs; its heartbeat row is gone after a clean stop."""

from __future__ import annotations

import json

import aiohttp

from tests.e2e.conftest import Prevnet
from tests.e2e.test_webhook_e2e import free_port


async def test_healthz_and_status_of_a_running_bot(fake_api, tmp_path):
    port = free_port()
    app = Prevnet(fake_api, tmp_path, {
        "WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "WEBHOOK_SECRET": "e2e-webhook-secret-0123456789abcdef",
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
    })
    await app.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
                assert await r.json() == {"status": "ok", "database": "ok", "redis": "off"}
        assert app.process is not None
        _code, out, _err = await app.cli("status", "--json")
        [process] = json.loads(out)["processes"]
        assert (process["role"], process["pid"], process["alive"]) == (
            "run", app.process.pid, True)
        _code, text, _err = await app.cli("status")
        assert "Processes: 1 alive (alive: a heartbeat within 30s)" in text
        row = next(line.split() for line in text.splitlines() if line.split()[:1] == ["run"])
        assert row[2] == str(app.process.pid) and row[7] == "alive"
    finally:
        assert await app.stop() == 0, app.log()
    _code, out, _err = await app.cli("status", "--json")
    assert json.loads(out)["processes"] == []
    assert "Traceback" not in app.log(), app.log()
