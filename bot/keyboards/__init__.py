"""Inline and reply keyboards, one module per feature; they are fed plain data (labels,
choices, flags) and never ask a service or the database.

The shared ones (language, sector, consent, network picker, approvals, invites, leaving)
are in `common` and re-exported here.
"""

from bot.keyboards.common import (
    INVITE_USE_CHOICES,
    approve,
    confirm_leave,
    consent,
    invite_roles,
    invite_uses,
    languages,
    pick_network,
    revoke,
    sectors,
    use_telegram_name,
)

__all__ = [
    "INVITE_USE_CHOICES",
    "approve",
    "confirm_leave",
    "consent",
    "invite_roles",
    "invite_uses",
    "languages",
    "pick_network",
    "revoke",
    "sectors",
    "use_telegram_name",
]
