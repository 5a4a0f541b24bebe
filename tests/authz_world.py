"""The world of the authorisation matrix (tests/test_authz_matrix.py): two networks, A and
B, five actors, B's objects (an event, a report, an invite, a pending join, a scheduled
broadcast, its deliveries), a database snapshot, the catalogue's refusals, and the walk
over the real dispatcher that lists every command, callback prefix and dialog state.

B's names and texts are unique ("Secret-B…", "B-report-text", …), so a leak is a
substring search over everything the bot sent."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Dispatcher, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.filters.state import StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import TelegramMethod
from aiogram.utils.i18n import I18n
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Base, Invite, Membership, User, utcnow
from storage.models.delivery import Delivery
from storage.models.events import Event
from storage.models.plans import PlanAction, PlanMilestone
from storage.models.reports import Report
from tests.helpers import make_invite, make_network, member_of
from tests.mocked_bot import BOT_ID
from tests.people import ADMIN_ID, Person

ACTORS = ("stranger", "member_a", "coord_a", "coord_b", "admin")
RIGHT_TO_B = frozenset({"coord_b", "admin"})  # everyone else must never see B
LANGUAGE = {"stranger": "ar", "member_a": "ar", "coord_a": "en", "coord_b": "en", "admin": "en"}
IDS = {"stranger": 301, "member_a": 302, "coord_a": 303, "coord_b": 304, "admin": ADMIN_ID}
B_PERSON, B_PENDING = 305, 306
B_MARKERS = ("Secret-B", "B-report-text", "B-event-title", "B-event-place", "B-broadcast-text")
A_MARKERS = ("Saida Network", "Amal", "Karim")  # and B's coordinator must never see A
IGNORED_TABLES = frozenset({"processed_updates"})  # the update ledger grows with every update

# The refusals, msgid -> catalogue text in the actor's language (see `refusal`).
DENIED = "Sorry, you are not allowed to do that."
STALE = "This button is no longer valid."
JOIN_FIRST = "Please join your network first: open your invite link or send /join CODE."
HELP_HINT = "Send /help to see what I can do."
ONLY_COORD = "Only coordinators can use /{command}."
ONLY_ADMIN = "Only the programme staff (admins) can use /{command}."
NOT_MEMBER = "You are not a member of this network."
NO_REPORTER = "Reports are filed by the members of a network; you are not one."


def refusal(i18n: I18n, msgid: str, locale: str, **values: Any) -> str:
    """The exact catalogue text; in Arabic it must really be translated."""
    translated = i18n.gettext(msgid, locale=locale)
    if locale != "en":
        assert translated != msgid, f"{msgid!r} has no {locale} translation"
    return translated.format(**values) if values else translated


@dataclass
class World:
    people: dict[str, Person]
    ids: dict[str, int] = field(default_factory=dict)  # net_a, net_b, event_b, report_b, ...
    b_code: str = ""


def _future(tz: str, days: int) -> str:
    local = (utcnow() + timedelta(days=days)).astimezone(ZoneInfo(tz))
    return local.strftime("%Y-%m-%d") + " 18:00"


async def build_world(session: AsyncSession, person: Any) -> World:
    net_a = await make_network(session, "saida")
    net_b = await make_network(session, "bnet", name="Secret-B-name", country="JO",
                               timezone="Asia/Amman", locale="en")
    people = {
        name: person(IDS[name], language_code=LANGUAGE[name], first_name="Test")
        for name in ACTORS
    }
    await member_of(session, people["member_a"], net_a, lang="ar", name="Amal")
    await member_of(session, people["coord_a"], net_a, role="coordinator", name="Karim")
    await member_of(session, people["coord_b"], net_b, role="coordinator", name="Secret-B-coord")
    b_person = person(B_PERSON)
    await member_of(session, b_person, net_b, name="Secret-B-person")
    await member_of(session, person(B_PENDING), net_b, name="Secret-B-pending")
    pending = await session.scalar(
        select(Membership.id).join(User).where(User.tg_id == B_PENDING)
    )
    await session.execute(update(Membership).where(Membership.id == pending)
                          .values(status="pending"))
    await session.commit()
    # B's report, by B's member, through the dialog.
    for step in ("/report",):
        await b_person.send(step)
    for data in ("rt:workshop", "rd:0", "rn:5", "ra:none"):
        await b_person.press(data)
    await b_person.send("B-report-text about the workshop")
    await b_person.press("rf:skip_file")
    await b_person.press("rf:submit")
    # B's event, by B's coordinator.
    coord_b = people["coord_b"]
    await coord_b.send("/newevent")
    await coord_b.press("nev:kind:meeting")
    await coord_b.send("B-event-title")
    await coord_b.send(_future("Asia/Amman", 3))
    await coord_b.press("nev:len:60")
    await coord_b.send("B-event-place")
    await coord_b.press("nev:skip:")
    await coord_b.press("nev:confirm:1")
    # B's scheduled broadcast.
    await coord_b.send("/broadcast")
    await coord_b.press("bcaud:all")
    await coord_b.send("B-broadcast-text")
    await coord_b.press("bcgo:schedule")
    await coord_b.send(_future("Asia/Amman", 2))
    # B's plan: an action under way with a milestone, by B's coordinator.
    await coord_b.send("/plan")
    await coord_b.press(f"pnew:{net_b.id}")
    await coord_b.send("Secret-B-action")
    await coord_b.press("pf:skip:")
    await coord_b.press("pf:resp_done:")
    month = _future("Asia/Amman", 0)[:7]
    await coord_b.press(f"pf:start:{month}")
    await coord_b.press(f"pf:end:{month}")
    action_b = await session.scalar(select(PlanAction.id).where(PlanAction.network_id == net_b.id))
    await coord_b.press(f"pmn:{action_b}")
    await coord_b.send("Secret-B-milestone")
    await coord_b.send(_future("Asia/Amman", 5)[:10])
    invite = await make_invite(session, net_b.id, max_uses=5)
    world = World(people=people, b_code=invite.code)
    b_person_id = await session.scalar(select(User.id).where(User.tg_id == B_PERSON))
    delivery_b = await session.scalar(
        select(Delivery.id).where(Delivery.user_id == b_person_id).order_by(Delivery.id.desc())
    )
    found: dict[str, int | None] = {
        "net_a": net_a.id,
        "net_b": net_b.id,
        "event_b": await session.scalar(select(Event.id).where(Event.network_id == net_b.id)),
        "report_b": await session.scalar(select(Report.id).where(Report.network_id == net_b.id)),
        "invite_b": invite.id,
        "pending_b": pending,
        "user_b": b_person_id,
        "delivery_b": delivery_b,
        "broadcast_b": await session.scalar(text("SELECT max(id) FROM broadcasts")),
        "action_b": action_b,
        "milestone_b": await session.scalar(select(PlanMilestone.id)),
    }
    missing = [k for k, v in found.items() if v is None]
    assert not missing, f"the world lacks {missing}"
    world.ids = {k: int(v) for k, v in found.items() if v is not None}
    assert await session.scalar(select(Invite.id).where(Invite.id == invite.id))
    return world


async def snapshot(pool: async_sessionmaker[AsyncSession]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but the update ledger), in primary-key order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with pool() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in IGNORED_TABLES:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = await session.execute(select(table).order_by(*order))
            out[table.name] = [tuple(r) for r in rows]
    return out


def diff(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    return [name for name in before if before[name] != after[name]]


async def set_dialog(dp: Dispatcher, tg_id: int, state: State | None,
                     data: dict[str, Any]) -> None:
    key = StorageKey(bot_id=BOT_ID, chat_id=tg_id, user_id=tg_id)
    await dp.fsm.storage.set_state(key, state)
    await dp.fsm.storage.set_data(key, data)


def seen(requests: list[TelegramMethod[Any]]) -> list[str]:
    """Everything a request could show: texts, captions, button labels, file contents."""
    out: list[str] = []
    for r in requests:
        for attr in ("text", "caption"):
            value = getattr(r, attr, None)
            if isinstance(value, str):
                out.append(value)
        markup = getattr(r, "reply_markup", None)
        for row in getattr(markup, "inline_keyboard", None) or []:
            out.extend(b.text for b in row)
        document = getattr(r, "document", None)
        data = getattr(document, "data", None)
        if isinstance(data, bytes):
            out.append(data.decode("utf-8", "replace"))
    return out


# ---------------------------------------------------------------- the dispatcher's surface


def _routers(router: Router) -> list[Router]:
    out = [router]
    for sub in router.sub_routers:
        out.extend(_routers(sub))
    return out


def surface(dp: Dispatcher) -> tuple[set[str], set[str], set[str]]:
    """(commands, callback prefixes, dialog states) the dispatcher's handlers react to."""
    commands: set[str] = set()
    prefixes: set[str] = set()
    states: set[str] = set()
    for router in _routers(dp):
        for observer in (router.message, router.callback_query):
            for handler in observer.handlers:
                for f in handler.filters or []:
                    cb = f.callback
                    if isinstance(cb, Command):
                        commands.update(c for c in cb.commands if isinstance(c, str))
                    elif isinstance(cb, CallbackQueryFilter):
                        prefixes.add(cb.callback_data.__prefix__)
                    elif isinstance(cb, StateFilter):
                        for s in cb.states:
                            states.update(_state_names(s))
                    elif isinstance(cb, State):
                        states.update(_state_names(cb))
    return commands, prefixes, states


def _state_names(value: Any) -> set[str]:
    if isinstance(value, State) and value.state:
        return {value.state}
    if isinstance(value, type) and issubclass(value, StatesGroup):
        return {s.state for s in value.__all_states__ if s.state}
    return set()


def _modules() -> list[Any]:
    found = []
    for package_name in ("handlers", "bot"):
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if info.name.endswith("__main__"):
                continue  # runs the program
            found.append(importlib.import_module(info.name))
    return found


def declared() -> tuple[set[str], set[str]]:
    """(callback prefixes, dialog states) declared anywhere in handlers/ and bot/, used or
    not: every CallbackData class and every StatesGroup's states."""
    prefixes: set[str] = set()
    states: set[str] = set()
    for module in _modules():
        for value in vars(module).values():
            if not isinstance(value, type) or value.__module__ != module.__name__:
                continue
            if issubclass(value, CallbackData) and value is not CallbackData:
                prefixes.add(value.__prefix__)
            elif issubclass(value, StatesGroup) and value is not StatesGroup:
                states |= _state_names(value)
    return prefixes, states


def missing_rows(
    dp: Dispatcher, commands: set[str], prefixes: set[str], states: set[str]
) -> list[str]:
    """What the table lacks: each item named, for the failure message."""
    live_commands, live_prefixes, live_states = surface(dp)
    declared_prefixes, declared_states = declared()
    out = [f"command /{c}" for c in sorted(live_commands - commands)]
    all_prefixes = live_prefixes | declared_prefixes
    out += [f"callback prefix {p!r}" for p in sorted(all_prefixes - prefixes)]
    out += [f"dialog state {s}" for s in sorted((live_states | declared_states) - states)]
    return out
