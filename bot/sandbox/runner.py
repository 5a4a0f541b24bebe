"""`prevnet sandbox`: the local Bot API and chat page, and the real bot as a child process.

In a temporary folder (removed at the end): a SQLite database, seeded before the bot starts
(bot/sandbox/seed.py), and the bot's working directory, so no `.env` is read. The child is
`prevnet run` with a clean environment: a made-up token, TELEGRAM_API_URL pointing at the
local server, that database. It runs the same create_dispatcher and delivery engine as in
production. SIGINT (Ctrl-C) or SIGTERM stops the child, then the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import CliError
from bot.sandbox.page import SandboxBotAPI
from bot.sandbox.seed import Seeded, seed

HOST = "127.0.0.1"
BOT_USERNAME = "prevnet_sandbox_bot"
BOT_NAME = "Prevnet"
# --telegram-limits: about what Telegram allows a bot (30 messages a second in all; a chat
# should not get more than about one a second, bursts pass).
GLOBAL_RATE = 30.0
PER_CHAT_RATE = 3.0
STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class Options:
    port: int = 8090
    demo: bool = True
    telegram_limits: bool = False
    log_level: str = "WARNING"
    lang: str = "ar"  # the chat page's language until someone picks another


def make_token() -> tuple[int, str]:
    """A made-up bot token of Telegram's shape (``<bot id>:<35 characters>``)."""
    bot_id = 7_000_000_000 + secrets.randbelow(900_000_000)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return bot_id, f"{bot_id}:AA" + "".join(secrets.choice(alphabet) for _ in range(33))


def make_api(opts: Options, seeded: Seeded) -> SandboxBotAPI:
    """The local Bot API: Telegram's rate limits (and 429s) only with --telegram-limits."""
    bot_id, token = make_token()
    return SandboxBotAPI(
        token=token, host=HOST, port=opts.port, bot_id=bot_id,
        bot_username=BOT_USERNAME, bot_first_name=BOT_NAME,
        global_rate=GLOBAL_RATE if opts.telegram_limits else None,
        per_chat_rate=PER_CHAT_RATE if opts.telegram_limits else None,
        retry_after=1, max_calls=2000, seeded=seeded, language=opts.lang,
    )


def free_port(preferred: int) -> int:
    """``preferred`` if nothing listens there, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise CliError("no free port for the dashboard")


def child_env(*, token: str, api_url: str, database_url: str, admin_ids: list[int],
              webapp_port: int, home: Path, log_level: str) -> dict[str, str]:
    """The bot's whole environment: nothing of ours (no BOT_TOKEN, DATA_KEY, ...) leaks in."""
    package_root = str(Path(__file__).resolve().parents[2])
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": package_root,  # `-m bot` also without an installed package
        "PYTHONUNBUFFERED": "1",
        "MPLCONFIGDIR": str(_matplotlib_dir(home)),
        "BOT_TOKEN": token,
        "TELEGRAM_API_URL": api_url,
        "DATABASE_URL": database_url,
        "ADMIN_IDS": ",".join(str(i) for i in admin_ids),
        "LOG_LEVEL": log_level,
        # The coordinators' dashboard (its settings are ignored by a bot without it).
        "WEBAPP_URL": f"http://{HOST}:{webapp_port}/app/",
        "WEBAPP_HOST": HOST,
        "WEBAPP_PORT": str(webapp_port),
    }


def _matplotlib_dir(home: Path) -> Path:
    """Where the bot's matplotlib keeps its font cache: a lasting folder if there is one
    (building the cache takes seconds at every start otherwise), else the temporary home."""
    lasting = os.environ.get("MPLCONFIGDIR") or str(Path.home() / ".cache" / "prevnet-sandbox")
    try:
        Path(lasting).mkdir(parents=True, exist_ok=True)
    except OSError:
        return home / "matplotlib"
    return Path(lasting) if os.access(lasting, os.W_OK) else home / "matplotlib"


def banner(base_url: str, seeded: Seeded, opts: Options) -> str:
    lines = [
        "prevnet sandbox: the real bot against a local Telegram; nothing leaves this computer.",
        f"  Open the chat page: {base_url}/",
    ]
    if opts.demo:
        lines.append(f"  Demo network: {seeded.network}, a coordinator and "
                     f"{sum(p.role == 'member' for p in seeded.people)} members.")
    for invite in seeded.invites:
        lines.append(f"  Invite code ({invite.role}): {invite.code}  (send /start {invite.code})")
    if opts.telegram_limits:
        lines.append(f"  Telegram's limits are on: {GLOBAL_RATE:g} messages/s, "
                     f"{PER_CHAT_RATE:g}/s per chat, 429 beyond.")
    lines.append("  Stop with Ctrl-C.")
    return "\n".join(lines)


async def run_sandbox(opts: Options) -> int:
    from storage.crypto import use_keys

    use_keys(None)  # the child has no DATA_KEY: write plaintext whatever our .env says
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not on Windows: there Ctrl-C cancels this coroutine, and `finally` cleans up.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    tmp = Path(tempfile.mkdtemp(prefix="prevnet-sandbox-"))
    api: SandboxBotAPI | None = None
    child: asyncio.subprocess.Process | None = None
    try:
        home = tmp / "home"
        (home / "matplotlib").mkdir(parents=True)
        database_url = f"sqlite+aiosqlite:///{tmp / 'sandbox.db'}"
        seeded = await seed(database_url, demo=opts.demo)
        api = make_api(opts, seeded)
        token = api.token
        try:
            base_url = await api.start()
        except OSError as exc:
            raise CliError(f"cannot listen on {HOST}:{opts.port} ({exc.strerror or exc}): "
                           "try another --port") from exc
        await set_seeded_menus(base_url, token, seeded)
        env = child_env(token=token, api_url=base_url, database_url=database_url,
                        admin_ids=seeded.admin_ids, webapp_port=free_port(api.port + 1),
                        home=home, log_level=opts.log_level)
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=str(home), env=env,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
        )
        print(banner(base_url, seeded, opts), flush=True)
        stopped = asyncio.ensure_future(stop.wait())
        exited = asyncio.ensure_future(child.wait())
        polling = asyncio.ensure_future(api.bot_polling.wait())
        pending: set[asyncio.Future[Any]] = {stopped, exited, polling}
        while True:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if polling in done:
                print("  The bot is up.", flush=True)
            if stopped in done or exited in done:
                break
        for fut in pending:
            fut.cancel()
        if exited in done and not stopped.done():
            print(f"prevnet sandbox: the bot stopped by itself (exit status {child.returncode})",
                  file=sys.stderr)
            return 1
        print("prevnet sandbox: stopping", flush=True)
        return 0
    finally:
        if child is not None and child.returncode is None:
            await _stop_child(child)
        if api is not None:
            await api.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


async def set_seeded_menus(base_url: str, token: str, seeded: Seeded) -> None:
    """The command menus the bot gave the seeded people when they joined (the bot sets a
    person's menu as they register, which the seeded ones did not do through it)."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from bot.commands import set_chat_menu
    from bot.i18n import create_i18n
    from bot.services.access import Level

    levels = {"coordinator": Level.COORDINATOR, "member": Level.MEMBER}
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    i18n = create_i18n("en")
    try:
        for person in seeded.people:
            level = Level.ADMIN if person.tg_id in seeded.admin_ids else levels.get(
                person.role or "", Level.STRANGER)
            if level != Level.STRANGER:
                await set_chat_menu(bot, i18n, person.tg_id, level, person.language)
    finally:
        await bot.session.close()


async def _stop_child(child: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(child.wait(), timeout=STOP_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            if hasattr(os, "killpg"):
                os.killpg(child.pid, signal.SIGKILL)  # its session: anything it started too
            else:
                child.kill()
        await child.wait()
