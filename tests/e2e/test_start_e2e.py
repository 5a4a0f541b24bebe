"""Starting without Telegram, with a wrong token, and losing the network while running."""

from __future__ import annotations

import asyncio
import signal

from bot.sandbox.telegram import FakeBotAPI
from tests.e2e.conftest import TOKEN, Prevnet, User, prevnet_command


async def down_api() -> FakeBotAPI:
    """A fake Bot API with an address but not listening yet (Telegram unreachable)."""
    api = FakeBotAPI(token=TOKEN)
    await api.start()
    await api.stop()
    return api


async def wait_in_log(app: Prevnet, text: str, count: int = 1, timeout: float = 30) -> None:
    for _ in range(int(timeout * 10)):
        if app.log().count(text) >= count:
            return
        assert app.process is not None
        if app.process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} x{count} not in the log:\n{app.log()}")


async def test_a_wrong_token_is_one_line_and_exit_2(tmp_path):
    async with FakeBotAPI(token="999:OTHER-TOKEN") as api:  # Telegram says 401 to ours
        app = Prevnet(api, tmp_path, {})
        proc = await asyncio.create_subprocess_exec(
            *prevnet_command(), "run", cwd=app.cwd, env=app.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert lines == [
        "prevnet: Telegram refused BOT_TOKEN (401 Unauthorized): check the token from @BotFather"
    ], err.decode()
    assert "Traceback" not in out.decode()
    assert not (tmp_path / "e2e.db").exists()  # nothing else started


async def test_telegram_unreachable_then_up(tmp_path):
    api = await down_api()
    app = Prevnet(api, tmp_path, {})
    app._log_file = app.log_path.open("ab")
    app.process = await asyncio.create_subprocess_exec(
        *prevnet_command(), "run", cwd=app.cwd, env=app.env,
        stdout=app._log_file, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await wait_in_log(app, "Telegram is not reachable", count=2)
        assert "Run polling" not in app.log()
        assert "delivery engine" not in app.log()  # nothing started before getMe answered
        api.fail_next("getMe", 502, "Bad Gateway")  # then a 5xx: tried again too
        await api.start()
        await wait_in_log(app, "Run polling", timeout=60)
        log = app.log()
        assert "Bad Gateway" in log
        assert log.count("Telegram is not reachable") >= 3
        user = User(api, 4242)
        await user.say("/help", "To join your Prevention Network")
    finally:
        code = await app.stop()
        await api.stop()
    assert code == 0
    log = app.log()
    assert "Traceback" not in log and " ERROR " not in log, log


async def test_stopped_while_waiting_for_telegram(tmp_path):
    api = await down_api()
    app = Prevnet(api, tmp_path, {})
    app._log_file = app.log_path.open("ab")
    app.process = await asyncio.create_subprocess_exec(
        *prevnet_command(), "run", cwd=app.cwd, env=app.env,
        stdout=app._log_file, stderr=asyncio.subprocess.STDOUT,
    )
    await wait_in_log(app, "Telegram is not reachable")
    assert await app.stop(signal.SIGTERM) == 0
    assert "Traceback" not in app.log()


async def test_network_lost_while_running(prevnet, fake_api):
    await prevnet.make_network("saida")
    code = await prevnet.invite("saida", role="coordinator")
    await prevnet.start()
    user = User(fake_api, 4343)
    first = await user.say(f"/start {code}", "Which language")
    await fake_api.stop()  # the line goes down
    await asyncio.sleep(3)
    await fake_api.start()  # and comes back on the same address
    await wait_in_log(prevnet, "Failed to fetch updates")
    # the dialog goes on where it was
    await user.tap(first, "lang:en", "name", timeout=60)
    log = prevnet.log()
    assert "Traceback" not in log, log
