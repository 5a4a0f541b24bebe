"""The authorisation matrix: every command, callback prefix and dialog step (tests/authz_table.py)
against five actors (a stranger, a member of network A, a coordinator of A, a coordinator of
B, an admin), through the real dispatcher, in a world with two networks.

Each refused cell gets exactly the catalogue's refusal in the actor's language (the stranger
and A's member speak Arabic), changes no row of any table (a snapshot before and after),
and sends nothing to anyone else; no cell shows B's names or texts to an actor with no
right to B. A handler, callback prefix or dialog state without a row fails the first test.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Dispatcher, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from pydantic import SecretStr

from bot.commands import COMMAND_LEVEL
from bot.config import Settings
from tests.authz_table import CALLBACKS, COMMANDS, LEVEL, STATES, Row, refusal
from tests.authz_world import (
    A_MARKERS,
    ACTORS,
    B_MARKERS,
    DENIED,
    HELP_HINT,
    IDS,
    JOIN_FIRST,
    LANGUAGE,
    NO_REPORTER,
    NOT_MEMBER,
    RIGHT_TO_B,
    STALE,
    World,
    build_world,
    diff,
    missing_rows,
    seen,
    set_dialog,
    snapshot,
)
from tests.authz_world import refusal as catalogue
from tests.people import texts

APOLOGY = "Sorry, something went wrong on my side. Please try again."  # a crash
GENERIC = (DENIED, STALE, JOIN_FIRST, HELP_HINT, NOT_MEMBER, NO_REPORTER, APOLOGY)


def _table_items() -> tuple[set[str], set[str], set[str]]:
    return ({r.item for r in COMMANDS}, {r.item for r in CALLBACKS}, {r.item for r in STATES})


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Pseudonymised exports are set up, so their button is a real export when allowed."""
    return settings.model_copy(update={"export_pseudonym_key": SecretStr("k" * 32)})


def test_every_handler_has_a_row(dp: Dispatcher) -> None:
    commands, prefixes, states = _table_items()
    assert missing_rows(dp, commands, prefixes, states) == []
    assert commands == set(COMMAND_LEVEL)  # the menu and /help list the same commands


class _FakeCb(CallbackData, prefix="zzfake"):
    n: int


class _FakeDialog(StatesGroup):
    step = State()


def test_the_completeness_check_catches_a_new_handler(dp: Dispatcher) -> None:
    extra = Router(name="extra")

    @extra.message(Command("frobnicate"))
    async def frob(message: Message) -> None: ...

    @extra.callback_query(_FakeCb.filter())
    async def fake(query: CallbackQuery) -> None: ...

    @extra.message(_FakeDialog.step)
    async def step(message: Message) -> None: ...

    dp.include_router(extra)
    commands, prefixes, states = _table_items()
    assert missing_rows(dp, commands, prefixes, states) == [
        "command /frobnicate", "callback prefix 'zzfake'", "dialog state _FakeDialog:step",
    ]
    assert missing_rows(dp, commands | {"frobnicate"}, prefixes | {"zzfake"},
                        states | {"_FakeDialog:step"}) == []


_TYPED = "typed text outside a dialog"  # the catch-all: "Please join ..." or "Send /help ..."


def _outside(row: Row) -> Row:
    """A dialog step's input sent while not in the dialog: refused for everyone (the
    language buttons are /language's too, open to all)."""
    lang = row.make.__name__ == "_lang"
    return Row(row.kind, row.item, row.make, frozenset(ACTORS) if lang else frozenset(),
               level=row.level, per_actor={a: STALE if row.button else _TYPED for a in ACTORS},
               button=row.button, label=f"{row.name}, outside the dialog")


class Matrix:
    def __init__(self, dp: Dispatcher, world: World, pool: Any, i18n: Any) -> None:
        self.dp, self.world, self.pool, self.i18n = dp, world, pool, i18n
        self.failures: list[str] = []
        self.cells = 0
        self.last: dict[str, list[Any]] | None = None

    def text_of(self, msgid: str, actor: str, values: dict[str, str]) -> str:
        return catalogue(self.i18n, msgid, LANGUAGE[actor], **values)

    def refusal_text(self, row: Row, actor: str) -> str:
        msgid, values = refusal(row, actor)
        if msgid == _TYPED:
            msgid = JOIN_FIRST if LEVEL[actor] == 0 else HELP_HINT
        return self.text_of(msgid, actor, values)

    async def run(self, row: Row, actor: str, *, in_dialog: bool) -> None:
        self.cells += 1
        p = self.world.people[actor]
        if in_dialog:
            assert row.state is not None and row.data is not None
            await set_dialog(self.dp, IDS[actor], row.state, row.data(self.world))
            self.last = None
        action = row.make(self.world, actor)
        allowed = actor in row.allowed
        # A refused cell changed nothing: its "after" is the next refused cell's "before".
        before = None if allowed else (self.last or await snapshot(self.pool))
        if row.kind == "callback" or (row.kind == "state" and row.button):
            out = await p.press(action)
        else:
            out = await p.send(action)
        where = f"{row.name} [{action}] by {actor}"
        shown = seen(out)
        markers = B_MARKERS if actor not in RIGHT_TO_B else A_MARKERS if actor == "coord_b" else ()
        leaked = [m for m in markers for t in shown if m in t]
        if leaked:
            self.failures.append(f"{where}: shows {sorted(set(leaked))}: {shown}")
        if allowed:
            generic = {self.text_of(m, actor, {}) for m in GENERIC}
            refused = [t for t in texts(out) if t in generic]
            if refused or not out:
                self.failures.append(f"{where}: allowed but answered {texts(out)}")
        else:
            expected = self.refusal_text(row, actor)
            if texts(out) != [expected]:
                self.failures.append(f"{where}: wanted [{expected!r}], got {texts(out)}")
            after = await snapshot(self.pool)
            changed = diff(before or {}, after)
            if changed:
                self.failures.append(f"{where}: refused but changed {changed}")
            self.last = after
            others = {getattr(r, "chat_id", IDS[actor]) for r in out} - {IDS[actor]}
            if others:
                self.failures.append(f"{where}: refused but sent to chats {others}")
        if allowed or in_dialog:  # back to no dialog for the next cell
            await set_dialog(self.dp, IDS[actor], None, {})
            self.last = None


async def test_authorization_matrix(dp: Dispatcher, session, session_pool, person) -> None:  # type: ignore[no-untyped-def]
    world = await build_world(session, person)
    matrix = Matrix(dp, world, session_pool, dp["i18n"])
    for row in COMMANDS:
        for actor in ACTORS:
            await matrix.run(row, actor, in_dialog=False)
    for row in STATES:
        for actor in ACTORS:
            await matrix.run(_outside(row), actor, in_dialog=False)
            await matrix.run(row, actor, in_dialog=True)
    for row in CALLBACKS:
        for actor in ACTORS:
            await matrix.run(row, actor, in_dialog=False)
    report = "\n".join(matrix.failures[:60])
    assert matrix.failures == [], f"{len(matrix.failures)} cells fail:\n{report}"
    rows = len(COMMANDS) + len(CALLBACKS) + len(STATES)
    assert matrix.cells == len(ACTORS) * (rows + len(STATES))
    print(f"\nauthz matrix: {len(COMMANDS)} commands, {len({r.item for r in CALLBACKS})} "
          f"callback prefixes in {len(CALLBACKS)} rows, {len(STATES)} dialog steps (x2: "
          f"outside and inside), {len(ACTORS)} actors, {matrix.cells} cells")


def _carries_ids(row: Row) -> bool:
    """Whether the row's callback data carry ids of the world's objects."""
    one, two = World(people={}, ids=_Ids(1)), World(people={}, ids=_Ids(2))
    return row.make(one, "admin") != row.make(two, "admin")


class _Ids(dict):  # type: ignore[type-arg]
    def __init__(self, value: int) -> None:
        super().__init__()
        self.value = value

    def __missing__(self, key: str) -> int:
        return self.value


GHOST = 999_999


async def test_ids_of_nothing_are_refused_without_a_crash(  # type: ignore[no-untyped-def]
    dp: Dispatcher, session, session_pool, person
) -> None:
    """Every button that carries ids, with ids of objects that do not exist: no apology
    (no crash), no row changed but the person's own dialog, nothing of B shown."""
    world = await build_world(session, person)
    ghost = World(people=world.people, ids=_Ids(GHOST))
    rows = [r for r in CALLBACKS if _carries_ids(r)]
    failures: list[str] = []
    for row in rows:
        for actor in ACTORS:
            before = await snapshot(session_pool)
            action = row.make(ghost, actor)
            out = await world.people[actor].press(action)
            where = f"{row.name} [{action}] by {actor}"
            apology = catalogue(dp["i18n"], APOLOGY, LANGUAGE[actor])
            if apology in texts(out) or not texts(out):
                failures.append(f"{where}: answered {texts(out)}")
            changed = [t for t in diff(before, await snapshot(session_pool)) if t != "fsm_states"]
            if changed:
                failures.append(f"{where}: changed {changed}")
            if actor not in RIGHT_TO_B and any(m in t for m in B_MARKERS for t in seen(out)):
                failures.append(f"{where}: shows B: {seen(out)}")
            await set_dialog(dp, IDS[actor], None, {})
    assert failures == [], "\n".join(failures[:40])
    assert len(rows) >= 40
