"""Run the fake Bot API standalone: ``python -m bot.sandbox.telegram --port 8081``.

Prints ``READY <base_url>`` on stdout once listening; stops on SIGTERM/SIGINT.
Drive it over HTTP under ``<base_url>/_test/...`` (see remote.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .server import FakeBotAPI


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox.telegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--bot-id", type=int, default=None, help="default: the token's prefix")
    parser.add_argument("--bot-username", default="prevnet_test_bot")
    parser.add_argument("--rate", type=float, default=None, help="global sends per second")
    parser.add_argument("--per-chat-rate", type=float, default=None, help="sends/s per chat")
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--users", type=int, default=0, help="pre-create N users")
    parser.add_argument("--users-start", type=int, default=1_000_000, help="first user id")
    parser.add_argument("--max-calls", type=int, default=10_000, help="call log size (0 = off)")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> None:
    bot_id = args.bot_id
    if bot_id is None:
        prefix = args.token.split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() else 123456
    api = FakeBotAPI(
        token=args.token,
        host=args.host,
        port=args.port,
        bot_id=bot_id,
        bot_username=args.bot_username,
        global_rate=args.rate,
        per_chat_rate=args.per_chat_rate,
        retry_after=args.retry_after,
        max_calls=args.max_calls,
    )
    if args.users:
        api.add_users(args.users, args.users_start)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    base_url = await api.start()
    sys.stdout.write(f"READY {base_url}\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await api.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_main(_parse_args(argv)))


if __name__ == "__main__":
    main()
