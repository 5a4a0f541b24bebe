"""`prevnet purge [--dry-run]`: the retention purge by hand (README.md, "Retention")."""

from __future__ import annotations

import argparse
from typing import Any

from bot.config import Settings

WIDTH = 14


def register(sub: Any) -> None:
    """Add `purge` to the command line's subparsers."""
    p = sub.add_parser(
        "purge",
        help="delete or blank what is older than the RETAIN_* settings (see README, Retention)",
        description="Purge report attachments, report texts, delivery rows, audit entries "
        "and processed update ids older than their RETAIN_* settings, and write one audit "
        "entry. The running bot does this every day at 03:30 UTC.",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="only count what would go; change nothing"
    )
    p.set_defaults(func=cmd_purge)


def render(outcome: Any, *, dry_run: bool) -> str:
    """One line per kind: how many rows would go (or went), and the cut-off."""
    verb = "would go" if dry_run else "went"
    title = "dry run: nothing is changed" if dry_run else "purged"
    out = [f"{title} (now {outcome.now:%Y-%m-%d %H:%M} UTC)"]
    for line in outcome.lines:
        if line.cutoff is None:
            out.append(f"  {line.kind:<{WIDTH}} kept forever (0 days)")
        else:
            out.append(
                f"  {line.kind:<{WIDTH}} {line.count} {verb}: older than {line.days} days, "
                f"before {line.cutoff:%Y-%m-%d %H:%M} UTC"
            )
    out.append(f"  {'total':<{WIDTH}} {outcome.total} {verb}")
    return "\n".join(out) + "\n"


async def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services import retention
    from storage.engine import create_engine, create_session_pool
    from storage.migrate import upgrade
    from storage.models import utcnow

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        pool = create_session_pool(engine)
        now = utcnow()
        if args.dry_run:
            async with pool() as session:
                outcome = await retention.preview(session, settings, now)
        else:
            outcome = await retention.purge(pool, settings, now, trigger="cli")
    finally:
        await engine.dispose()
    print(render(outcome, dry_run=args.dry_run), end="")
    return 0
