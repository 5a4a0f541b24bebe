"""`prevnet sandbox`: try the bot without Telegram (README.md, "Try it first")."""

from __future__ import annotations

import argparse
from typing import Any

from bot.config import Settings


def register(sub: Any) -> None:
    """Add `sandbox` to the command line's subparsers."""
    p = sub.add_parser(
        "sandbox",
        help="try the bot with no token and no network: a local Telegram and a chat page",
        description="Run the real bot against a local Bot API server and serve a chat page "
        "where people can talk to it side by side: no .env, no token, no internet. The "
        "database is a throw-away SQLite file, removed on Ctrl-C.",
    )
    p.add_argument("--port", type=int, default=8090,
                   help="the chat page's port on 127.0.0.1 (default 8090)")
    seed = p.add_mutually_exclusive_group()
    seed.add_argument("--demo", dest="demo", action="store_true", default=True,
                      help="a demo network with a coordinator, members, events and reports "
                      "(the default)")
    seed.add_argument("--empty", dest="demo", action="store_false",
                      help="one network and its invite codes only, to show joining")
    p.add_argument("--telegram-limits", action="store_true",
                   help="enforce Telegram's rate limits and answer 429 beyond them "
                   "(off by default)")
    p.add_argument("--lang", choices=("ar", "en", "fr"), default="ar",
                   help="the chat page's language, until changed in its top bar (default "
                   "ar; each chat keeps its own person's language)")
    p.add_argument("--log-level", default="WARNING", metavar="LEVEL",
                   help="the bot's log level (default WARNING)")
    p.set_defaults(func=cmd_sandbox)


async def cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    """Takes nothing of `settings` (.env): the bot gets an environment of its own."""
    from bot.sandbox.runner import Options, run_sandbox

    if not 0 < args.port < 65536:
        from bot.errors import CliError

        raise CliError("--port must be between 1 and 65535")
    return await run_sandbox(Options(port=args.port, demo=args.demo,
                                     telegram_limits=args.telegram_limits,
                                     log_level=args.log_level.upper(), lang=args.lang))
