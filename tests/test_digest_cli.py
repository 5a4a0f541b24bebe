"""`prevnet digest send [--network S] [--force]`, in-process against the fake Bot API."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.sandbox.telegram import FakeBotAPI
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from tests.test_digest import saida


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in list(os.environ):
        if name in {"BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "ADMIN_IDS", "REDIS_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


async def run(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def _seed(env: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{env / 'cli.db'}")
    try:
        await upgrade(engine)
        async with create_session_pool(engine)() as session:
            await saida(session)
    finally:
        await engine.dispose()


async def test_digest_send_once_refused_then_forced(env, monkeypatch, capsys):
    assert await run("digest", "send") == 2  # no token: a clear error
    assert "BOT_TOKEN is not set" in capsys.readouterr().err
    await _seed(env)
    async with FakeBotAPI() as api:
        for tg_id in (100, 101, 102, 103):
            api.add_user(tg_id)
        monkeypatch.setenv("BOT_TOKEN", api.token)
        monkeypatch.setenv("TELEGRAM_API_URL", api.base_url)

        assert await run("digest", "send", "--network", "nope") == 2
        assert "unknown network 'nope'" in capsys.readouterr().err

        assert await run("digest", "send", "--network", "saida") == 0
        out = capsys.readouterr().out
        assert "saida (week of " in out and "digest queued for 3 people" in out
        assert "delivered" in out
        for tg_id in (101, 102):
            assert len(api.messages(tg_id)) == 1
        coordinator = api.messages(100)
        assert len(coordinator) == 2 and coordinator[0].get("photo")  # chart, then text
        assert "For coordinators" in coordinator[1]["text"]
        assert api.messages(103) == []  # blocked the bot

        assert await run("digest", "send", "--network", "saida") == 2
        err = capsys.readouterr().err
        assert "this week's digest already went out" in err and "--force" in err
        assert len(api.messages(101)) == 1

        assert await run("digest", "send") == 0  # every network: saida is skipped, politely
        captured = capsys.readouterr()
        assert "already went out" in captured.err and "queued" not in captured.out
        assert len(api.messages(101)) == 1

        assert await run("digest", "send", "--network", "saida", "--force") == 0
        assert len(api.messages(101)) == 2
