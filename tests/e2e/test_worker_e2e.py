"""`prevnet worker` as a real process: beside a `prevnet run` on PostgreSQL it takes no
updates and delivers what the bot scheduled, once; on SQLite it is refused, and so is a
second bot process on one SQLite file."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import update

from bot.sandbox.telegram import FakeBotAPI
from storage.engine import create_engine
from storage.models import SendJob, utcnow
from storage.models.delivery import Delivery
from tests.e2e.conftest import Prevnet, User, button_data, prevnet_command
from tests.e2e.test_registration_e2e import register
from tests.e2e.test_webhook_e2e import free_port
from tests.pg import fresh_database

REFUSED = (
    "SQLite serves one process: `prevnet run` does the worker's duties; for several "
    "processes use PostgreSQL (DATABASE_URL=postgresql+asyncpg://...) and REDIS_URL"
)
UPDATE_METHODS = ("getUpdates", "setWebhook", "deleteWebhook")


class WorkerProcess(Prevnet):
    """A running `prevnet worker`, its log in a file of its own."""

    def __init__(self, api: FakeBotAPI, tmp_path: Path, extra_env: dict[str, str]) -> None:
        super().__init__(api, tmp_path, extra_env)
        self.log_path = tmp_path / "worker.log"

    async def start(self) -> None:
        self._log_file = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *prevnet_command(), "worker", cwd=self.cwd, env=self.env,
            stdout=self._log_file, stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(300):
            if "prevnet worker is up" in self.log():
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"prevnet worker did not start:\n{self.log()}")


async def bring_forward(url: str, timeout: float = 15.0) -> None:
    """Time passes: the scheduled broadcasts fall due in a second. The bot says "Scheduled
    for ..." (that message's id is the job's progress message) just before it stores the
    job, so a loaded machine may need a moment before the job is there."""
    engine = create_engine(url)
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            async with engine.begin() as conn:
                due = utcnow() + timedelta(seconds=1)
                jobs = (await conn.execute(
                    update(SendJob).where(SendJob.status == "scheduled").values(due_at=due)
                    .returning(SendJob.id)
                )).scalars().all()
                if jobs:
                    await conn.execute(update(Delivery).where(Delivery.job_id.in_(jobs))
                                       .values(next_attempt_at=due))
                    return
            assert asyncio.get_running_loop().time() < deadline, "no scheduled broadcast"
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


async def schedule_broadcast(coordinator: User, text: str) -> None:
    menu = await coordinator.say("/broadcast", lambda m: "bcaud:all" in button_data(m))
    await coordinator.tap(menu, "bcaud:all", "Now send the message")
    summary = await coordinator.say(text, lambda m: "bcgo:schedule" in button_data(m))
    await coordinator.tap(summary, "bcgo:schedule", "When?")
    later = (utcnow() + timedelta(minutes=5)).astimezone(ZoneInfo("Asia/Beirut"))
    await coordinator.say(later.strftime("%Y-%m-%d %H:%M"), "Scheduled for")


def copies(api: FakeBotAPI, user: User, text: str) -> int:
    return sum(1 for m in api.messages(user.id) if m.get("text") == text)


def log_ids(log: str) -> set[str]:
    return set(re.findall(r"^\S+ \S+ \S+ \[(\d+):[0-9a-f]+\] ", log, re.M))


async def test_worker_beside_run_on_postgresql(fake_api, tmp_path, redis_url):
    port = free_port()
    async with fresh_database() as url:
        env = {"DATABASE_URL": url, "REDIS_URL": redis_url}
        (tmp_path / "worker").mkdir()
        worker = WorkerProcess(fake_api, tmp_path / "worker", env)
        app = Prevnet(fake_api, tmp_path, {
            **env,
            "WEBHOOK_URL": f"http://127.0.0.1:{port}",
            "WEBHOOK_SECRET": "e2e-webhook-secret-0123456789abcdef",
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
        })
        try:
            await worker.start()  # first, on the empty database: it applies the migrations
            assert not [c for m in UPDATE_METHODS for c in fake_api.calls(m)]
            assert fake_api.calls("getMe")
            await app.make_network("saida", name="Saida Network")
            coordinator_code = await app.invite("saida", role="coordinator", uses=1)
            member_code = await app.invite("saida", uses=10)
            await app.start()
            assert fake_api.webhook_info["url"] == f"http://127.0.0.1:{port}/webhook"
            # `prevnet status` sees both processes by their heartbeats.
            _code, out, _err = await app.cli("status", "--json")
            seen = {(p["role"], p["pid"], p["alive"]) for p in json.loads(out)["processes"]}
            assert worker.process is not None and app.process is not None
            assert seen == {("worker", worker.process.pid, True), ("run", app.process.pid, True)}

            coordinator = User(fake_api, 8100, first_name="Maya")
            await register(coordinator, coordinator_code, "en", "Maya", sector="ngo")
            members = [User(fake_api, 8101 + i) for i in range(3)]
            for i, m in enumerate(members):
                await register(m, member_code, "en", f"Member {i}")

            # Both processes run an engine: the broadcast goes out once all the same.
            first = "Training on Thursday, 5 pm"
            await schedule_broadcast(coordinator, first)
            await bring_forward(url)
            for m in members:
                await m.wait(first, timeout=20)

            # With `prevnet run` stopped, the worker alone delivers the next one.
            second = "Forms are due on Monday"
            await schedule_broadcast(coordinator, second)
            assert await app.stop() == 0, app.log()
            await bring_forward(url)
            for m in members:
                await m.wait(second, timeout=20)
            await asyncio.sleep(1.5)  # time for a second copy, if there were one
            for m in members:
                assert copies(fake_api, m, first) == 1 and copies(fake_api, m, second) == 1
            # The webhook was set by `prevnet run` only; the worker never touched it.
            assert len(fake_api.calls("setWebhook")) == 1
            assert not fake_api.calls("deleteWebhook") and not fake_api.calls("getUpdates")
        finally:
            code = await worker.stop(signal.SIGINT)  # (`prevnet run` was stopped by SIGTERM)
            if app.process is not None and app.process.returncode is None:
                await app.stop()
        assert code == 0, worker.log()
        log = worker.log()
        assert "prevnet worker stopped" in log and "Traceback" not in log, log
        assert "Traceback" not in app.log(), app.log()
        # Each line names its process: the worker's pid, and the bot's.
        assert worker.process is not None and app.process is not None
        assert log_ids(log) == {str(worker.process.pid)}
        assert log_ids(app.log()) == {str(app.process.pid)}


async def test_worker_on_sqlite_is_refused(prevnet):
    code, out, err = await prevnet.cli("worker", check=False)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and REFUSED in err, err


async def test_a_second_bot_on_one_sqlite_file_is_refused(prevnet):
    await prevnet.make_network("saida")
    await prevnet.start()
    assert prevnet.process is not None
    code, _out, err = await prevnet.cli("run", check=False)
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert f"another prevnet process (pid {prevnet.process.pid}) is running on" in err
    # The one-shot commands keep working beside the running bot.
    await prevnet.make_network("tyre", name="Tyre Network")
    _code, out, _err = await prevnet.cli("network", "list")
    assert "saida" in out and "tyre" in out
    await prevnet.invite("tyre")
