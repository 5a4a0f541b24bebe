"""Weekly digests (business rules). Placeholder, filled in by its issue."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.scheduler import AppContext


def setup_jobs(ctx: AppContext) -> None:
    """Register this feature's scheduled jobs on ctx.scheduler."""
