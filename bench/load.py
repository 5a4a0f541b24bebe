"""Many people at once: the real `prevnet run` process against the fake Bot API over HTTP,
with a bare aiogram echo bot on the same fake server, in the same run, as the yardstick.

    python -m bench.load                      # defaults: 150 ms answers, 429 past 30/s
    python -m bench.load --people 200 --duration 60 --latency 0.15 --limit 30

(a) ``--people`` people open the invite link at the same instant and walk the whole
    registration dialog (language, name, sector, consent) while the fake answers every
    request after ``--latency`` seconds and says 429 past ``--limit`` messages per second.
    Prints failed updates (the bot's "error handling update" log lines), apologies seen by
    people, 429s, and the seconds until everyone is registered.
(b) The same people, now members, each send /help and wait for the answer, again and
    again for ``--duration`` seconds (a closed loop), through the fake with ``--latency``
    and no send limit (``--loop-limit`` sets one). Then the echo bot gets the same closed
    loop on a fresh fake server. Prints p50/p95/p99 and updates per second for both and
    the ratios prevnet/echo (targets: p99 at most 1.5 x echo, throughput at least 0.7 x).

The fake server and the simulated people run in this process (one core), each bot in its
own process (the other core). Flood control is off for prevnet in (b): a closed loop is
a person tapping as fast as the bot answers, which is exactly what it would stop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.sandbox.telegram import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:LOAD-BENCH"
ECHO_TOKEN = "654321:ECHO-BENCH"
FIRST_USER = 3_000_000
APOLOGY = "something went wrong"


def prevnet_command() -> list[str]:
    script = Path(sys.executable).parent / "prevnet"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def button_data(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


class Process:
    """A bot process whose output goes to a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name, self.args, self.env, self.cwd = name, args, env, cwd
        self.log_path = cwd / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self._log: Any = None

    async def start(self, ready: str) -> None:
        self._log = log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, cwd=self.cwd, env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        for _ in range(600):
            if ready in self.log():
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.log()[-3000:]}")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads) so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *prevnet_command(), *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"prevnet {' '.join(args)}: {err.decode()}")
    return out.decode()


async def wait_for(
    api: FakeBotAPI, uid: int, after: int, match: Callable[[dict[str, Any]], bool],
    timeout: float = 120,
) -> dict[str, Any]:
    return await api.wait_for_message(uid, match, timeout=timeout, after=after)


async def register(api: FakeBotAPI, uid: int, code: str) -> None:
    seen = api.message_count(uid)
    api.send_message(uid, f"/start {code}")
    first = await wait_for(api, uid, seen, lambda m: "lang:en" in button_data(m))
    seen = api.message_count(uid)
    api.press_button(uid, first["message_id"], "lang:en")
    await wait_for(api, uid, 0, lambda m: "name" in (m.get("text") or "") and
                   m["message_id"] == first["message_id"])
    seen = api.message_count(uid)
    api.send_message(uid, f"Member {uid}")
    sectors = await wait_for(api, uid, seen, lambda m: "sec:teacher" in button_data(m))
    api.press_button(uid, sectors["message_id"], "sec:teacher")
    consent = await wait_for(api, uid, 0, lambda m: "consent:1" in button_data(m))
    api.press_button(uid, consent["message_id"], "consent:1")
    await wait_for(api, uid, 0, lambda m: "Welcome to" in (m.get("text") or ""))


async def closed_loop(
    api: FakeBotAPI, uids: list[int], text: str, duration: float
) -> tuple[list[float], int, float]:
    """Each person sends ``text`` and waits for the answer, again and again."""
    latencies: list[float] = []
    errors = 0
    start = time.monotonic()
    deadline = start + duration

    async def person(uid: int) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            after = api.message_count(uid)
            t0 = time.monotonic()
            api.send_message(uid, text)
            try:
                await api.wait_for_message(uid, None, timeout=30, after=after)
            except TimeoutError:
                errors += 1
                continue
            latencies.append(time.monotonic() - t0)

    await asyncio.gather(*(person(uid) for uid in uids))
    return latencies, errors, time.monotonic() - start


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def measured_loop(
    name: str, bot: Process, api: FakeBotAPI, uids: list[int], duration: float
) -> dict[str, float]:
    cpu = bot.cpu_seconds()
    latencies, errors, elapsed = await closed_loop(api, uids, "/help", duration)
    cpu = bot.cpu_seconds() - cpu
    figures = describe(name, latencies, errors, elapsed)
    figures["cpu_ms"] = cpu * 1000 / max(1, len(latencies))
    print(f"  {'':8} CPU of the bot process: {cpu:.1f} s, {figures['cpu_ms']:.2f} ms per update")
    return figures


def describe(name: str, latencies: list[float], errors: int, elapsed: float) -> dict[str, float]:
    figures = {
        "p50": pct(latencies, 50) * 1000,
        "p95": pct(latencies, 95) * 1000,
        "p99": pct(latencies, 99) * 1000,
        "rate": len(latencies) / elapsed,
    }
    print(
        f"  {name:8} {len(latencies):7d} answers  p50 {figures['p50']:7.0f} ms  "
        f"p95 {figures['p95']:7.0f} ms  p99 {figures['p99']:7.0f} ms  "
        f"{figures['rate']:7.1f} updates/s  {errors} unanswered"
    )
    return figures


async def bench(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="prevnet-load-"))
    api = FakeBotAPI(token=TOKEN, max_calls=0, global_rate=args.limit, retry_after=1)
    await api.start()
    api.set_delay("*", args.latency)
    uids = api.add_users(args.people, start_id=FIRST_USER)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))},
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'load.db'}",
        "LOG_LEVEL": args.log_level,
        "REDIS_URL": "",
        "WEBHOOK_URL": "",
        "PYTHONPATH": str(ROOT),
    }
    print(f"bench.load: {args.people} people, answers after {args.latency * 1000:.0f} ms, "
          f"429 past {args.limit:g}/s in (a); {args.duration:g} s closed loop in (b)")
    await cli(env, tmp, "network", "add", "--slug", "bench", "--name", "Bench Network",
              "--country", "LB", "--timezone", "Asia/Beirut", "--locale", "en")
    out = await cli(env, tmp, "invite", "--network", "bench", "--uses", str(args.people + 10))
    code = next(line for line in out.splitlines() if line.startswith("link: ")).rsplit("=", 1)[1]

    # (a) everyone registers at the same instant
    bot = Process("prevnet", [*prevnet_command(), "run"], env, tmp)
    await bot.start("Run polling")
    try:
        t0 = time.monotonic()
        results = await asyncio.gather(
            *(register(api, uid, code) for uid in uids), return_exceptions=True
        )
        took = time.monotonic() - t0
        stuck = [r for r in results if isinstance(r, BaseException)]
        apologies = sum(
            1 for uid in uids for m in api.messages(uid) if APOLOGY in (m.get("text") or "")
        )
        failed = bot.log().count("error handling update")
        print("(a) registration at the same instant")
        print(f"  registered {args.people - len(stuck)} of {args.people} in {took:.1f} s; "
              f"failed updates {failed}; apologies {apologies}; "
              f"429s {api.stats()['too_many_requests']}")

        # (b) closed loop, prevnet
        await bot.stop()
        env_loop = {**env, "FLOOD_LIMIT": "0"}
        api.configure(global_rate=args.loop_limit)
        bot = Process("prevnet-loop", [*prevnet_command(), "run"], env_loop, tmp)
        await bot.start("Run polling")
        await asyncio.sleep(1)
        print(f"(b) closed loop, {args.people} members, {args.duration:g} s, "
              f"answers after {args.latency * 1000:.0f} ms")
        prevnet = await measured_loop("prevnet", bot, api, uids, args.duration)
    finally:
        await bot.stop()
        await api.stop()

    # (b) closed loop, the bare aiogram echo bot on a fresh fake server
    echo_api = FakeBotAPI(token=ECHO_TOKEN, max_calls=0, global_rate=args.loop_limit)
    await echo_api.start()
    echo_api.set_delay("*", args.latency)
    echo_uids = echo_api.add_users(args.people, start_id=FIRST_USER)
    echo_env = {**env, "BOT_TOKEN": ECHO_TOKEN, "TELEGRAM_API_URL": echo_api.base_url}
    echo = Process("echo", [sys.executable, "-m", "bench.echo_bot"], echo_env, tmp)
    await echo.start("echo bot polling")
    try:
        await asyncio.sleep(1)
        yardstick = await measured_loop("echo", echo, echo_api, echo_uids, args.duration)
    finally:
        await echo.stop()
        await echo_api.stop()
    p99 = prevnet["p99"] / yardstick["p99"]
    rate = prevnet["rate"] / yardstick["rate"]
    print(f"  ratios prevnet/echo: p99 {p99:.2f} (target <= 1.5), "
          f"throughput {rate:.2f} (target >= 0.7), "
          f"CPU per update {prevnet['cpu_ms'] / yardstick['cpu_ms']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per API answer")
    parser.add_argument("--limit", type=float, default=30.0, help="429 past this many/s in (a)")
    parser.add_argument("--loop-limit", type=float, default=None, help="429 limit in (b)")
    parser.add_argument("--log-level", default="INFO", help="prevnet's LOG_LEVEL")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
