"""Role filters: the single place handlers are gated by who is acting."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Filter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import StatesGroup
from aiogram.types import Message, TelegramObject

from bot.services.access import Actor, Level


class MinLevel(Filter):
    def __init__(self, level: Level) -> None:
        self.level = level

    async def __call__(self, event: TelegramObject, actor: Actor | None = None) -> bool:
        return actor is not None and actor.level >= self.level


class DialogNetwork(Filter):
    """On a router whose dialogs (`groups`) are about one network: while the person is in
    one of them, every step first checks they may still act in the dialog's network
    (`Actor.require_dialog`); a refusal is AccessDenied, answered by handlers/errors.py.
    A command is let through: it starts afresh, and /cancel leaves the dialog."""

    def __init__(self, *groups: type[StatesGroup], member: bool = False) -> None:
        self.groups = groups
        self.member = member

    async def __call__(
        self,
        event: TelegramObject,
        actor: Actor | None = None,
        raw_state: str | None = None,
        state: FSMContext | None = None,
    ) -> bool:
        if actor is None or state is None or raw_state is None:
            return True
        if not any(raw_state in group for group in self.groups):
            return True
        if isinstance(event, Message) and (event.text or "").startswith("/"):
            return True
        actor.require_dialog(await state.get_data(), member=self.member)
        return True


# Typed text that is not a command: a dialog step's answer (a command starts afresh).
TYPED = F.text & ~F.text.startswith("/")


def member_and_coordinator_routers(name: str) -> tuple[Router, Router, Router]:
    """A feature's router with two children: one for members and up, one for coordinators
    and up (admins included); what a role may not reach falls through to the catch-all."""
    router = Router(name=name)
    members = Router(name=f"{name}.members")
    members.message.filter(MinLevel(Level.MEMBER))
    members.callback_query.filter(MinLevel(Level.MEMBER))
    coordinators = Router(name=f"{name}.coordinators")
    coordinators.message.filter(MinLevel(Level.COORDINATOR))
    coordinators.callback_query.filter(MinLevel(Level.COORDINATOR))
    router.include_routers(members, coordinators)
    return router, members, coordinators
