"""deploy/: the systemd units (`systemd-analyze verify` where installed), the environment
example (loads as Settings), and the nginx site run for real where nginx is installed:
the secret header reaches the bot, both upstreams serve, one down is skipped, HTTP goes
to HTTPS, /healthz for this host, 404 for the rest."""

from __future__ import annotations

import asyncio
import io
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.config import Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = DEPLOY / "systemd"
ENV_EXAMPLE = DEPLOY / "prevnet.env.example"
SITE = DEPLOY / "nginx" / "prevnet.conf"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


# ------------------------------------------------------------------------ systemd


def _directives(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.mark.parametrize(
    "name", ["prevnet-run.service", "prevnet-run@.service", "prevnet-worker@.service"]
)
def test_units_are_hardened_and_stop_gracefully(name):
    d = _directives(UNITS / name)
    for key, value in {
        "User": "prevnet", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
        "PrivateTmp": "yes", "Restart": "on-failure", "KillSignal": "SIGTERM",
        "EnvironmentFile": "/etc/prevnet/prevnet.env", "WantedBy": "multi-user.target",
    }.items():
        assert d.get(key) == [value], (name, key, d.get(key))
    assert "/var/lib/prevnet" in d["ReadWritePaths"][0].split()
    # The delivery engine's grace for sends in flight is 10 s (bot/delivery/engine.py).
    assert int(d["TimeoutStopSec"][0]) >= 30
    command = d["ExecStart"][0]
    expected = "worker" if "worker" in name else "run"
    assert command.endswith(f"/opt/prevnet/.venv/bin/prevnet {expected}"), command
    if name == "prevnet-run@.service":
        assert "WEBHOOK_PORT=%i" in command  # the instance is the port


def test_units_pass_systemd_analyze_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    prevnet = Path(sys.executable).parent / "prevnet"
    assert prevnet.exists(), prevnet
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace("/opt/prevnet/.venv/bin/prevnet", str(prevnet))
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "./prevnet-run.service", "./prevnet-run@8080.service",
         "./prevnet-worker@1.service"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    complaints = [line for line in (result.stdout + result.stderr).splitlines()
                  if "prevnet" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


# -------------------------------------------------------------------- environment


def _example_values() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def test_env_example_names_real_settings_and_loads(tmp_path, monkeypatch):
    values = _example_values()
    fields = {name.upper() for name in Settings.model_fields}
    assert set(values) <= fields, set(values) - fields
    for name in fields:
        monkeypatch.delenv(name, raising=False)
    secret = secrets.token_urlsafe(32)  # what the example's comment suggests
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", secret)
    values.update(BOT_TOKEN="123456:ABCdef", WEBHOOK_SECRET=secret, ADMIN_IDS="1,2")
    env = tmp_path / "prevnet.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.redis_url and settings.redis_url.startswith("redis://")
    assert settings.webhook_url == "https://bot.example.org"
    assert settings.webhook_host == "127.0.0.1" and settings.webhook_port == 8080
    comment = ENV_EXAMPLE.read_text()
    assert "at least 32" in comment and "A-Z a-z 0-9 _ -" in comment


# -------------------------------------------------------------------------- nginx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Upstream:
    """A stand-in for one `prevnet run`: records what reaches it."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.seen.append((request.method, request.path, dict(request.headers)))
        return web.Response(text=self.name)

    async def start(self) -> None:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def _site_for_test(tmp: Path, http: int, https: int, a: int, b: int) -> str:
    site = SITE.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http};",
        "listen [::]:80;": "",
        "listen 443 ssl;": f"listen 127.0.0.1:{https} ssl;",
        "listen [::]:443 ssl;": "",
        "/etc/letsencrypt/live/bot.example.org/fullchain.pem": str(tmp / "cert.pem"),
        "/etc/letsencrypt/live/bot.example.org/privkey.pem": str(tmp / "key.pem"),
        "server 127.0.0.1:8080 ": f"server 127.0.0.1:{a} ",
        "server 127.0.0.1:8081 ": f"server 127.0.0.1:{b} ",
        "root /var/www/letsencrypt;": f"root {tmp};",
    }
    for old, new in replacements.items():
        assert old in site, old
        site = site.replace(old, new)
    return site


@pytest.fixture
def site(tmp_path: Path) -> tuple[list[str], dict[str, int]]:
    """The site on free local ports with a self-signed certificate, in a wrapper
    configuration that `nginx -t` accepts: (nginx's arguments, the ports)."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (for a test certificate)")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=bot.example.org", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )
    ports = {name: _free_port() for name in ("http", "https", "a", "b")}
    (tmp_path / "site.conf").write_text(
        _site_for_test(tmp_path, ports["http"], ports["https"], ports["a"], ports["b"])
    )
    (tmp_path / "temp").mkdir()
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers read this test's folder
    (tmp_path / "nginx.conf").write_text(
        f"{user}daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "worker_processes 1;\nevents {}\n"
        f"http {{\n  access_log {tmp_path}/access.log;\n"
        + "".join(f"  {kind}_temp_path {tmp_path}/temp/{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  include {tmp_path}/site.conf;\n}}\n"
    )
    conf = ["-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    check = subprocess.run(["nginx", "-t", *conf], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    return conf, ports


@pytest.fixture
async def nginx(site) -> AsyncIterator[tuple[int, int, Upstream, Upstream]]:  # type: ignore[no-untyped-def]
    conf, ports = site
    a, b = Upstream("a", ports["a"]), Upstream("b", ports["b"])
    await a.start()
    await b.start()
    process = await asyncio.create_subprocess_exec(
        "nginx", *conf, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,  # its error.log is in the test's folder
    )
    try:
        for _ in range(100):
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", ports["https"])
                w.close()
                await w.wait_closed()
                break
            except OSError:
                await asyncio.sleep(0.05)
        yield ports["http"], ports["https"], a, b
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
        await a.stop()
        await b.stop()


async def test_nginx_site_passes_the_secret_to_both_processes_and_nothing_else(nginx):
    http, https, a, b = nginx
    no_verify = ssl.create_default_context()
    no_verify.check_hostname = False
    no_verify.verify_mode = ssl.CERT_NONE
    base = f"https://127.0.0.1:{https}"
    host = {"Host": "bot.example.org"}
    secret = secrets.token_urlsafe(32)
    update = {"update_id": 1, "message": {"text": "hi"}}
    timeout = aiohttp.ClientTimeout(total=15)
    connector = aiohttp.TCPConnector(ssl=no_verify)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as client:

        async def post() -> tuple[int, str]:
            async with client.post(f"{base}/webhook", json=update,
                                   headers={**host, SECRET_HEADER: secret}) as r:
                return r.status, await r.text()

        answers = [await post() for _ in range(4)]
        assert all(status == 200 for status, _ in answers)
        assert {who for _, who in answers} == {"a", "b"}  # both upstreams serve
        for upstream in (a, b):
            for method, path, headers in upstream.seen:
                assert (method, path) == ("POST", "/webhook")
                assert headers[SECRET_HEADER] == secret  # passed through unchanged
                assert headers["Host"] == "bot.example.org"
                assert headers["X-Forwarded-Proto"] == "https"

        await a.stop()  # one process down: the other takes every update
        assert [await post() for _ in range(3)] == [(200, "b")] * 3

        async with client.get(f"{base}/webhook", headers=host) as r:
            assert r.status == 403  # POST only
        for path in ("/", "/admin", "/webhook/x", "/.env"):
            async with client.get(f"{base}{path}", headers=host) as r:
                assert r.status == 404, path
        async with client.get(f"{base}/healthz", headers=host) as r:
            assert r.status == 200  # this host may ask
        big = io.BytesIO(b'{"update_id": 2, "message": {"text": "' + b"x" * 2**21 + b'"}}')
        async with client.post(f"{base}/webhook", data=big,
                               headers={**host, SECRET_HEADER: secret,
                                        "Content-Type": "application/json"}) as r:
            assert r.status == 413  # client_max_body_size
        async with client.get(f"http://127.0.0.1:{http}/webhook", headers=host,
                              allow_redirects=False) as r:
            assert r.status == 301
            assert r.headers["Location"] == "https://bot.example.org/webhook"
    assert all(path != "/webhook/x" for _m, path, _h in b.seen)
