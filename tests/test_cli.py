"""The `prevnet` command line, run in-process (in a thread: it starts its own event loop)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.sandbox.telegram import FakeBotAPI


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in list(os.environ):
        if name in {"BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "ADMIN_IDS", "REDIS_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db' / 'cli.db'}")
    return tmp_path


async def run(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_network_add_list_and_invite_with_link(env, monkeypatch, capsys):
    assert await run("network", "add", "--slug", "zarqa", "--name", "Zarqa Network",
                     "--country", "jo", "--timezone", "Asia/Amman") == 0
    assert (env / "db" / "cli.db").exists()  # the folder was created
    assert await run("network", "list") == 0
    out = capsys.readouterr().out
    assert "zarqa\tZarqa Network\tJO\tAsia/Amman\tar\t0 members" in out
    async with FakeBotAPI() as api:
        monkeypatch.setenv("BOT_TOKEN", api.token)
        monkeypatch.setenv("TELEGRAM_API_URL", api.base_url)
        assert await run("invite", "--network", "zarqa", "--role", "coordinator",
                         "--uses", "3", "--expires", "2") == 0
    out = capsys.readouterr().out
    code = out.split("code: ", 1)[1].split()[0]
    assert f"link: https://t.me/prevnet_test_bot?start={code}" in out
    assert "role: coordinator, uses: 3" in out


async def test_clear_errors_and_exit_codes(env, capsys):
    assert await run("network", "add", "--slug", "x1", "--name", "X", "--country", "LB",
                     "--timezone", "Asia/Nowhere") == 2
    assert "unknown time zone 'Asia/Nowhere'" in capsys.readouterr().err
    assert await run("invite", "--network", "nope") == 2
    assert "unknown network 'nope'" in capsys.readouterr().err
    assert await run("run") == 2
    assert "BOT_TOKEN is not set" in capsys.readouterr().err
    assert await run("invite", "--network", "nope", "--uses", "0") == 2


async def test_invite_without_token_still_gives_the_code(env, capsys):
    await run("network", "add", "--slug", "irbid", "--name", "Irbid", "--country", "JO",
              "--timezone", "Asia/Amman")
    capsys.readouterr()
    assert await run("invite", "--network", "irbid") == 0
    captured = capsys.readouterr()
    assert "members can send: /join " in captured.out
    assert "BOT_TOKEN is not set" in captured.err


def test_every_command_has_help() -> None:
    for args in (["--help"], ["run", "--help"], ["db", "upgrade", "--help"],
                 ["network", "add", "--help"], ["network", "list", "--help"],
                 ["invite", "--help"]):
        result = subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0 and "usage: prevnet" in result.stdout, args
