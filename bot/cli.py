"""The `prevnet` command line (README.md, "Command line")."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot import cli_backup, cli_crypt, cli_retention, cli_sandbox
from bot.config import SUPPORTED_LOCALES, MissingToken, Settings
from bot.errors import CliError

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prevnet", description="The Prevention Network bot and its administration."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="apply pending migrations, then run the bot until stopped")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser(
        "worker",
        help="only deliveries and scheduled jobs, no updates (PostgreSQL, beside `run`)",
    )
    p.set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_cmd", required=True)
    p = db.add_parser("upgrade", help="apply pending migrations")
    p.set_defaults(func=cmd_db_upgrade)
    p = db.add_parser(
        "copy",
        help="copy every table into another, empty database (e.g. SQLite to PostgreSQL); "
        "run it with the bot stopped",
        description="Copy every table of DATABASE_URL into the database at --to, in one "
        "transaction, after migrating both; refused when the target holds rows. Run it with "
        "the bot stopped: what the bot writes meanwhile is not copied.",
    )
    p.add_argument("--to", required=True, metavar="URL",
                   help="the target, e.g. postgresql+asyncpg://prevnet@127.0.0.1:5432/prevnet "
                   "(a password can come from PGPASSWORD instead of the URL)")
    p.add_argument("--replace", action="store_true", help="empty the target's tables first")
    p.set_defaults(func=cmd_db_copy)

    net = sub.add_parser("network", help="networks").add_subparsers(dest="net_cmd", required=True)
    p = net.add_parser("add", help="create a network")
    p.add_argument("--slug", required=True, help="short id, e.g. saida")
    p.add_argument("--name", required=True, help="display name, e.g. 'Saida Prevention Network'")
    p.add_argument("--country", required=True, help="two-letter country code, e.g. LB or JO")
    p.add_argument("--timezone", required=True, help="IANA time zone, e.g. Asia/Beirut")
    p.add_argument("--locale", default="ar", choices=SUPPORTED_LOCALES, help="default: ar")
    p.add_argument(
        "--approval", action="store_true", help="coordinators approve each member who joins"
    )
    p.set_defaults(func=cmd_network_add)
    p = net.add_parser("list", help="list networks")
    p.set_defaults(func=cmd_network_list)

    p = sub.add_parser("invite", help="make an invite code and its deep link")
    p.add_argument("--network", required=True, metavar="SLUG")
    p.add_argument("--role", default="member", choices=("member", "coordinator"))
    p.add_argument("--uses", type=int, default=1, help="how many people may use it (default 1)")
    p.add_argument("--expires", type=int, default=7, metavar="DAYS", help="default 7 days")
    p.set_defaults(func=cmd_invite)

    export = sub.add_parser("export", help="export data").add_subparsers(
        dest="export_cmd", required=True
    )
    p = export.add_parser("reports", help="write one network's activity reports to a file")
    p.add_argument("--network", required=True, metavar="SLUG")
    p.add_argument("--since", type=_day, metavar="DATE", help="first activity date, YYYY-MM-DD")
    p.add_argument("--until", type=_day, metavar="DATE", help="last activity date, YYYY-MM-DD")
    p.add_argument("--format", required=True, choices=("csv", "xlsx"))
    p.add_argument("--output", required=True, metavar="FILE")
    p.add_argument("--locale", choices=SUPPORTED_LOCALES, help="default: the network's")
    p.add_argument(
        "--pseudonymise",
        action="store_true",
        help="authors as keyed pseudonyms, not names (needs EXPORT_PSEUDONYM_KEY)",
    )
    p.set_defaults(func=cmd_export_reports)

    digest = sub.add_parser("digest", help="weekly digests").add_subparsers(
        dest="digest_cmd", required=True
    )
    p = digest.add_parser(
        "send",
        help="send this week's digest now (every network and the admins', or one network)",
    )
    p.add_argument("--network", metavar="SLUG", help="only this network (default: all)")
    p.add_argument(
        "--force", action="store_true", help="send it even if this week's already went out"
    )
    p.set_defaults(func=cmd_digest_send)

    p = sub.add_parser(
        "status", help="the outbox, the processes alive, the last digests and reminders"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--jobs", type=int, default=20, metavar="N",
                   help="list at most N send jobs (default 20)")
    p.set_defaults(func=cmd_status)
    for extra in (cli_backup, cli_retention, cli_crypt, cli_sandbox):  # modules of their own
        extra.register(sub)
    return parser


async def _with_db(settings: Settings, work: Callable[..., Awaitable[int]]) -> int:
    from storage.engine import create_engine, create_session_pool
    from storage.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_session_pool(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import run

    await run(settings)
    return 0


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import run_worker

    await run_worker(settings)
    return 0


async def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    async def done(session: object) -> int:
        print("database is up to date")
        return 0

    return await _with_db(settings, done)


async def cmd_db_copy(settings: Settings, args: argparse.Namespace) -> int:
    from storage.copy import CopyRefused, copy_database, summary

    try:
        copied = await copy_database(settings.database_url, args.to, replace=args.replace)
    except CopyRefused as exc:
        raise CliError(str(exc)) from exc
    print(summary(copied, args.to))
    return 0


async def cmd_network_add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.networks import NetworkError, create_network

    async def work(session: object) -> int:
        try:
            network = await create_network(
                session,  # type: ignore[arg-type]
                slug=args.slug,
                name=args.name,
                country=args.country,
                timezone=args.timezone,
                locale=args.locale,
                require_approval=args.approval,
            )
        except NetworkError as exc:
            raise CliError(str(exc)) from exc
        print(f"created network {network.slug}: {network.name} ({network.country}, "
              f"{network.timezone}, {network.locale})")
        return 0

    return await _with_db(settings, work)


async def cmd_network_list(settings: Settings, args: argparse.Namespace) -> int:
    from storage.repositories import memberships, networks

    async def work(session: object) -> int:
        rows = await networks.list_all(session)  # type: ignore[arg-type]
        if not rows:
            print("no networks yet: create one with `prevnet network add`")
        for n in rows:
            count = await memberships.count_active(session, n.id)  # type: ignore[arg-type]
            approval = ", approval" if n.require_approval else ""
            print(f"{n.slug}\t{n.name}\t{n.country}\t{n.timezone}\t{n.locale}"
                  f"\t{count} members{approval}")
        return 0

    return await _with_db(settings, work)


async def cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services import registration
    from storage.models import utcnow
    from storage.repositories import networks

    async def work(session: object) -> int:
        network = await networks.get_by_slug(session, args.network)  # type: ignore[arg-type]
        if network is None:
            raise CliError(f"unknown network {args.network!r}: see `prevnet network list`")
        try:
            invite = await registration.make_invite(
                session,  # type: ignore[arg-type]
                network_id=network.id,
                role=args.role,
                max_uses=args.uses,
                days=args.expires,
                now=utcnow(),
            )
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        print(f"code: {invite.code}")
        username = await _bot_username(settings)
        if username:
            print(f"link: https://t.me/{username}?start={invite.code}")
        else:
            print(f"members can send: /join {invite.code}")
        print(f"network: {network.slug}, role: {invite.role}, uses: {invite.max_uses}, "
              f"expires: {invite.expires_at:%Y-%m-%d %H:%M} UTC")
        return 0

    return await _with_db(settings, work)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date as YYYY-MM-DD") from None


def _output_file(name: str) -> Path:
    output = Path(name)
    if not output.parent.is_dir():
        raise CliError(f"cannot write {output}: the folder {output.parent} does not exist")
    if output.is_dir():
        raise CliError(f"cannot write {output}: it is a folder")
    return output


def _write_file(output: Path, content: bytes) -> None:
    """Write through a temporary file, so a reader never sees half a file."""
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        tmp.write_bytes(content)
        tmp.replace(output)
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from exc


async def cmd_export_reports(settings: Settings, args: argparse.Namespace) -> int:
    from bot.i18n import create_i18n
    from bot.services import reports
    from storage.models import utcnow
    from storage.repositories import networks

    output = _output_file(args.output)
    if args.since and args.until and args.since > args.until:
        raise CliError("--since must not be after --until")
    key = settings.pseudonym_key() if args.pseudonymise else None
    if args.pseudonymise and key is None:
        raise CliError("--pseudonymise needs EXPORT_PSEUDONYM_KEY (16 characters or more)")

    async def work(session: object) -> int:
        network = await networks.get_by_slug(session, args.network)  # type: ignore[arg-type]
        if network is None:
            raise CliError(f"unknown network {args.network!r}: see `prevnet network list`")
        locale = args.locale or network.locale
        i18n = create_i18n(settings.default_locale)
        with i18n.context(), i18n.use_locale(locale):
            export = await reports.export_reports(
                session,  # type: ignore[arg-type]
                network_id=network.id,
                since=args.since,
                until=args.until,
                formats=(args.format,),
                locale=locale,
                actor=None,
                now=utcnow(),
                pseudonym_key=key,
            )
        _write_file(output, export.files[args.format])
        print(f"wrote {export.count} reports of {network.slug} to {output}")
        return 0

    return await _with_db(settings, work)


async def cmd_digest_send(settings: Settings, args: argparse.Namespace) -> int:
    """Queue this week's digests in the outbox and deliver them (the running bot's engine
    may deliver some too). A week whose digest went out is refused unless --force."""
    from bot.delivery import DeliveryEngine
    from bot.factory import create_bot
    from bot.i18n import create_i18n
    from bot.services import digests
    from storage.engine import create_engine, create_session_pool
    from storage.migrate import upgrade
    from storage.models import utcnow
    from storage.repositories import networks

    bot = create_bot(settings)  # MissingToken: a clear message, exit 2
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        pool = create_session_pool(engine)
        async with pool() as session:
            if args.network:
                network = await networks.get_by_slug(session, args.network)
                if network is None:
                    raise CliError(f"unknown network {args.network!r}: see `prevnet network list`")
                targets = [network]
            else:
                targets = list(await networks.list_all(session))
        delivery = DeliveryEngine(bot, pool, rate=settings.broadcast_rate)
        sender = digests.DigestSender(
            bot, pool, delivery, create_i18n(settings.default_locale), settings.admin_ids
        )
        now = utcnow()
        refused: list[str] = []
        queued = 0
        for network in targets:
            result = await digests.send_network_digest(
                sender, network.id, now=now, trigger="cli", force=args.force
            )
            label = f"{network.slug} (week of {result.week.isoformat()})"
            if result.sent:
                queued += 1
                print(f"{label}: digest queued for {result.recipients} people")
            elif result.outcome == digests.Outcome.IN_PROGRESS:
                refused.append(f"{label}: this week's digest is being sent right now")
            else:
                sent_at = result.digest.sent_at if result.digest else None
                when = f" on {sent_at:%Y-%m-%d %H:%M} UTC" if sent_at else ""
                refused.append(
                    f"{label}: this week's digest already went out{when}; "
                    "add --force to send it again"
                )
        if not args.network and settings.admin_ids:
            result = await digests.send_admin_digest(
                sender, now=now, trigger="cli", force=args.force
            )
            if result.sent:
                queued += 1
                print(f"admins (week of {result.week.isoformat()}): digest queued for "
                      f"{result.recipients} admins")
            else:
                refused.append(f"admins (week of {result.week.isoformat()}): this week's "
                               "digest already went out; add --force to send it again")
        if args.network and refused and not queued:
            raise CliError(refused[0])
        for line in refused:
            print(line, file=sys.stderr)
        if queued:
            try:
                await delivery.run_until_idle(timeout=600)
            except TimeoutError:
                print("the digests are queued; the running bot delivers the rest",
                      file=sys.stderr)
            else:
                print("delivered")
        if not targets:
            print("no networks yet: create one with `prevnet network add`")
        return 0
    finally:
        await bot.session.close()
        await engine.dispose()


async def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """Reads only: no migration is applied (a schema behind this code is refused)."""
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from bot.services import status
    from storage.engine import create_engine, create_session_pool
    from storage.migrate import current_revision, pending_revisions

    path = settings.sqlite_path()
    if path is not None and not path.exists():
        raise CliError(f"no database at {path}: run `prevnet db upgrade` or `prevnet run`")
    engine = create_engine(settings.database_url)
    try:
        revision = await current_revision(engine)
        missing = pending_revisions(revision)
        if missing:
            raise CliError(f"the database lacks migrations {', '.join(reversed(missing))}: "
                           "run `prevnet db upgrade`")
        async with create_session_pool(engine)() as session:
            report = await status.collect(session, jobs_shown=max(args.jobs, 0), schema=revision)
    except (SQLAlchemyError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"cannot read the database: {first}") from exc
    finally:
        await engine.dispose()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(status.render(report), end="")
    return 0


async def _bot_username(settings: Settings) -> str | None:
    """The bot's @username for the deep link, asked of the Bot API; None if unreachable."""
    from aiogram.exceptions import TelegramAPIError

    from bot.factory import create_bot

    try:
        bot = create_bot(settings)
    except MissingToken:
        print("warning: BOT_TOKEN is not set, so no deep link can be made", file=sys.stderr)
        return None
    try:
        me = await asyncio.wait_for(bot.get_me(), timeout=15)
        return me.username
    except (TelegramAPIError, TimeoutError, OSError) as exc:
        print(f"warning: could not reach the Bot API for the bot's name: {exc}", file=sys.stderr)
        return None
    finally:
        await bot.session.close()


def log_format() -> str:
    """Each line tells which process wrote it: ``[<pid>:<random>]``, the end of the
    process's worker id (bot/delivery/workers.py), as heartbeats and status show it."""
    from bot.delivery.workers import process_id

    short = ":".join(process_id().rsplit(":", 2)[-2:]).replace("%", "%%")
    return f"%(asctime)s %(levelname)s [{short}] %(name)s: %(message)s"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        print(f"prevnet: bad settings: {problems}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format=log_format())
    from storage.crypto import CryptoError, use_keys

    use_keys(settings.data_key_bytes())  # encryption at rest (storage/crypto.py)
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
        # aiogram's line per handled update: at INFO it is most of the log under load.
        logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    func: Command = args.func
    from aiogram.utils.token import TokenValidationError

    try:
        return asyncio.run(func(settings, args))
    except TokenValidationError:
        print("prevnet: BOT_TOKEN is not a bot token (expected 123456:ABC...)", file=sys.stderr)
        return 2
    except (CliError, MissingToken, CryptoError) as exc:
        print(f"prevnet: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
