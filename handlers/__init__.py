"""aiogram routers, assembled in one known order: the catch-all goes last."""

from __future__ import annotations

from aiogram import F, Router

from handlers import (
    audit,
    broadcasts,
    cancel,
    common,
    dashboard,
    digests,
    errors,
    events,
    fallback,
    feedback,
    groups,
    invites,
    members,
    networks,
    plan_edits,
    plans,
    privacy,
    registration,
    reports,
    settings,
)

# Order matters: /cancel first, dialog callbacks (registration) before the general ones,
# the fallback last.
MODULES = (
    cancel,
    registration,
    common,
    invites,
    members,
    privacy,
    broadcasts,
    settings,
    events,
    feedback,
    reports,
    digests,
    dashboard,
    plans,
    plan_edits,
    audit,
    networks,
    fallback,
)


def get_routers() -> list[Router]:
    """A fresh tree each call, so every dispatcher (one per test) owns its routers."""
    root = Router(name="private")
    # Groups and channels reach no dialog: handlers/groups.py only decides to stay or leave.
    root.message.filter(F.chat.type == "private")
    root.callback_query.filter(F.message.chat.type == "private")
    root.my_chat_member.filter(F.chat.type == "private")
    for module in (errors, groups, *MODULES):
        # Module routers are singletons; detach them from a previous dispatcher's tree.
        module.router._parent_router = None
    root.include_routers(*(m.router for m in MODULES))
    return [errors.router, groups.router, root]
