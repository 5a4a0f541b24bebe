"""`prevnet sandbox` as a newcomer runs it: no .env, no token, no network; Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.sandbox_helpers import Sandbox

TELEGRAM = "https://api.telegram.org"


def test_sandbox_starts_without_env_or_network_and_stops_on_sigint(tmp_path: Path) -> None:
    # A .env and an environment that would send the bot to Telegram: the sandbox ignores both.
    (tmp_path / ".env").write_text(
        f"BOT_TOKEN=111:REAL-TOKEN-FROM-ENV-FILE\nTELEGRAM_API_URL={TELEGRAM}\n"
        f"DATABASE_URL=sqlite+aiosqlite:///{tmp_path / 'dotenv.db'}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env.update(BOT_TOKEN="222:REAL-TOKEN-FROM-ENVIRONMENT", TELEGRAM_API_URL=TELEGRAM,
               DATA_KEY="", ADMIN_IDS="1")
    sandbox = Sandbox(tmp_path, "--empty", env=env)  # the demo: tests/test_sandbox_page.py
    try:
        info = sandbox.wait_answering()
        assert info["network"] and [p["name"] for p in info["people"]] == ["Operator"]
        assert sorted(i["role"] for i in info["invites"]) == ["coordinator", "member"]
        sandbox.wait_until(lambda: f"Open the chat page: {sandbox.base_url}/" in sandbox.output(),
                           "the page's address printed")
        page = sandbox.get("/")
        assert "<title>Prevnet sandbox</title>" in page and "/static/sandbox.js" in page
        sandbox.wait_bot_up()
        [child] = sandbox.child_pids()
        child_env = dict(
            line.split("=", 1)
            for line in Path(f"/proc/{child}/environ").read_text().split("\0") if "=" in line
        )
        workdir = Path(os.readlink(f"/proc/{child}/cwd"))
    except BaseException:
        sandbox.stop(signal.SIGKILL)
        raise
    assert child_env["TELEGRAM_API_URL"] == sandbox.base_url
    token = child_env["BOT_TOKEN"]
    assert "REAL-TOKEN" not in token and token.split(":")[0].isdigit()
    assert child_env["DATABASE_URL"].startswith("sqlite+aiosqlite:///")
    assert str(workdir.parent) in child_env["DATABASE_URL"]  # the throw-away folder
    assert child_env["WEBAPP_URL"].startswith("http://127.0.0.1:")
    assert child_env["WEBAPP_URL"].endswith("/app/")
    assert child_env["WEBAPP_PORT"] in child_env["WEBAPP_URL"]
    assert not (set(child_env) & {"DATA_KEY", "REDIS_URL", "WEBHOOK_URL", "VIRTUAL_ENV"})
    assert not (workdir / ".env").exists()
    assert TELEGRAM not in "".join(child_env.values())

    assert sandbox.stop(signal.SIGINT) == 0, sandbox.output()
    assert not Path(f"/proc/{child}").exists(), "the bot outlived the sandbox"
    assert not workdir.parent.exists(), "the temporary folder was left behind"
    assert not (tmp_path / "dotenv.db").exists()
    assert "Traceback" not in sandbox.output(), sandbox.output()
