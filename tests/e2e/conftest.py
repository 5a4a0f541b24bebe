"""End-to-end harness: the real `prevnet` process against the fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.telegram import FakeBotAPI

pytestmark = pytest.mark.e2e

TOKEN = "123456:TEST-TOKEN"
ADMIN_ID = 7000
ROOT = Path(__file__).resolve().parents[2]


def prevnet_command() -> list[str]:
    script = Path(sys.executable).parent / "prevnet"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


class Prevnet:
    """A running `prevnet run` plus the CLI against the same database and fake server."""

    def __init__(self, api: FakeBotAPI, tmp_path: Path, extra_env: dict[str, str]) -> None:
        self.api = api
        self.log_path = tmp_path / "prevnet.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))},
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}",
            "ADMIN_IDS": str(ADMIN_ID),
            "DEFAULT_LOCALE": "en",
            "LOG_LEVEL": "INFO",
            "REDIS_URL": "",
            "WEBHOOK_URL": "",
            **extra_env,
        }
        self.cwd = tmp_path
        self.process: asyncio.subprocess.Process | None = None
        self._log_file: Any = None

    async def cli(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *prevnet_command(), *args, cwd=self.cwd, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        code = proc.returncode or 0
        if check and code != 0:
            raise AssertionError(f"prevnet {' '.join(args)} failed ({code}): {err.decode()}")
        return code, out.decode(), err.decode()

    async def start(self) -> None:
        offset = len(self.log())
        self._log_file = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *prevnet_command(), "run", cwd=self.cwd, env=self.env,
            stdout=self._log_file, stderr=asyncio.subprocess.STDOUT,
        )
        # Up when it polls or listens (a long poll shows in the fake's call log only when done).
        for _ in range(300):
            fresh = self.log()[offset:]
            if "Run polling" in fresh or "webhook listening" in fresh:
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"prevnet run did not start polling:\n{self.log()}")

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"prevnet did not stop on {sig}:\n{self.log()}") from None
        finally:
            if self._log_file is not None:
                self._log_file.close()
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def make_network(self, slug: str = "saida", **opts: str) -> None:
        args = ["network", "add", "--slug", slug, "--name", opts.get("name", "Saida Network"),
                "--country", opts.get("country", "LB"),
                "--timezone", opts.get("timezone", "Asia/Beirut")]
        if opts.get("approval"):
            args.append("--approval")
        await self.cli(*args)

    async def invite(self, network: str = "saida", role: str = "member", uses: int = 5) -> str:
        """Runs `prevnet invite` and returns the deep link's start payload."""
        _code, out, _err = await self.cli(
            "invite", "--network", network, "--role", role, "--uses", str(uses)
        )
        link = next(line for line in out.splitlines() if line.startswith("link: "))
        assert link.startswith("link: https://t.me/prevnet_test_bot?start="), out
        return link.rsplit("=", 1)[1]


class User:
    """A person with a phone: writes, taps buttons, waits for what the bot says."""

    def __init__(self, api: FakeBotAPI, user_id: int, language_code: str = "en",
                 first_name: str = "User") -> None:
        self.api, self.id = api, user_id
        api.add_user(user_id, first_name=first_name, language_code=language_code)

    @property
    def seen(self) -> int:
        return self.api.message_count(self.id)

    async def say(self, text: str, expect: Callable[[dict[str, Any]], bool] | str | None = None,
                  timeout: float = 15) -> dict[str, Any]:
        """Send text; wait for the next bot message (or edit) matching `expect`."""
        after = self.seen
        self.api.send_message(self.id, text)
        return await self.wait(expect, after=after, timeout=timeout)

    async def tap(self, message: dict[str, Any], data: str,
                  expect: Callable[[dict[str, Any]], bool] | str | None = None,
                  timeout: float = 15) -> dict[str, Any]:
        before = self._version(message["message_id"])
        after = self.seen
        self.api.press_button(self.id, message["message_id"], data)

        def changed(m: dict[str, Any]) -> bool:
            if m["message_id"] == message["message_id"]:
                return len(m.get("edits") or []) > before
            return m["index"] >= after

        def matches(m: dict[str, Any]) -> bool:
            return changed(m) and _match(expect, m)

        return await self.api.wait_for_message(self.id, matches, timeout=timeout)

    async def wait(self, expect: Callable[[dict[str, Any]], bool] | str | None = None,
                   after: int = 0, timeout: float = 15) -> dict[str, Any]:
        return await self.api.wait_for_message(
            self.id, lambda m: _match(expect, m), timeout=timeout, after=after
        )

    def _version(self, message_id: int) -> int:
        m = self.api.get_message(self.id, message_id)
        return len((m or {}).get("edits") or [])


def _match(expect: Callable[[dict[str, Any]], bool] | str | None, m: dict[str, Any]) -> bool:
    if expect is None:
        return True
    if isinstance(expect, str):
        return expect in (m.get("text") or m.get("caption") or "")
    return expect(m)


def button_data(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as api:
        yield api


@pytest.fixture
async def prevnet(fake_api: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Prevnet]:
    app = Prevnet(fake_api, tmp_path, {})
    yield app
    if app.process is not None and app.process.returncode is None:
        code = await app.stop()
        assert code == 0, f"prevnet exited with {code} on SIGTERM:\n{app.log()}"
    assert "Traceback" not in app.log(), app.log()
