"""`prevnet rotate-key` (README.md, "Encryption at rest"; storage/crypto.py, storage/rekey.py).

The new key comes from the environment variable NEW_DATA_KEY or from a file
(``--new-key-file``), never from the command line, where `ps` and shell histories show it.
Without a new key, the values still in plaintext are encrypted under DATA_KEY.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.errors import CliError

NEW_KEY_ENV = "NEW_DATA_KEY"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "rotate-key",
        help="re-encrypt the personal columns under a new key (NEW_DATA_KEY); bot stopped",
        description="Re-encrypt every encrypted column (display names, report descriptions, "
        "review notes, attachment file ids) from DATA_KEY to the key in NEW_DATA_KEY (or "
        "--new-key-file), in batches; values in plaintext are encrypted too. Safe to run "
        "again after a crash. Refused while a bot process is alive. Then set DATA_KEY to "
        "the new key. Without a new key: encrypts the plaintext values under DATA_KEY.",
    )
    p.add_argument("--generate", action="store_true",
                   help="only print a new random key (urlsafe base64 of 32 bytes)")
    p.add_argument("--new-key-file", type=Path, metavar="PATH",
                   help=f"read the new key from this file instead of {NEW_KEY_ENV}")
    p.add_argument("--batch", type=int, default=500, metavar="N",
                   help="rows per transaction (default 500)")
    p.set_defaults(func=cmd_rotate_key)


def _new_key(args: argparse.Namespace) -> bytes | None:
    from storage.crypto import BadKey, parse_key

    if args.new_key_file is not None:
        try:
            text, where = args.new_key_file.read_text(encoding="utf-8"), str(args.new_key_file)
        except OSError as exc:
            raise CliError(f"cannot read --new-key-file {args.new_key_file}: "
                           f"{exc.strerror}") from None
    else:
        text, where = os.environ.get(NEW_KEY_ENV, ""), NEW_KEY_ENV
    if not text.strip():
        return None
    try:
        return parse_key(text)
    except BadKey as exc:
        raise CliError(f"the new key ({where}) {exc}") from None


async def _refuse_alive(engine: Any) -> None:
    from bot.heartbeat import ALIVE_AFTER
    from storage.engine import create_session_pool
    from storage.models.base import utcnow
    from storage.repositories import processes

    async with create_session_pool(engine)() as session:
        alive = await processes.alive(session, now=utcnow(), within=ALIVE_AFTER)
    if alive:
        names = ", ".join(f"{p.role} {p.id}" for p in alive[:3])
        raise CliError(f"{len(alive)} bot process(es) alive ({names}): stop them first, "
                       "then rotate the key")


async def cmd_rotate_key(settings: Settings, args: argparse.Namespace) -> int:
    from bot.roles import single_process
    from storage.crypto import CryptoError, Keyring, generate_key
    from storage.engine import create_engine
    from storage.migrate import upgrade
    from storage.rekey import rekey

    if args.generate:
        print(generate_key())
        return 0
    if args.batch < 1:
        raise CliError("--batch must be at least 1")
    current, new = settings.data_key_bytes(), _new_key(args)
    target = new or current
    if target is None:
        raise CliError(f"no key: set DATA_KEY (the current key) and {NEW_KEY_ENV} or "
                       "--new-key-file (the new one); `prevnet rotate-key --generate` makes one")
    ring = Keyring(target, [current] if current else [])
    with single_process(settings.database_url):  # SQLite: no bot may start meanwhile
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            await _refuse_alive(engine)
            done = await rekey(engine, ring, batch=args.batch)
        except CryptoError as exc:
            raise CliError(f"{exc}; nothing more was changed (rows done so far are under "
                           "the new key: run again with the right DATA_KEY)") from None
        finally:
            await engine.dispose()
    for c in done:
        print(f"{c.column}: {c.changed} re-encrypted ({c.plaintext} were plaintext), "
              f"{c.kept} already under the new key")
    if new is not None and new != current:
        print(f"done: set DATA_KEY to the new key (the value of {NEW_KEY_ENV} or the file) "
              "before starting the bot; the old key no longer reads the database")
    else:
        print("done: every value is encrypted under DATA_KEY")
    return 0
