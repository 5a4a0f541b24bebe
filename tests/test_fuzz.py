"""Fuzzing the real dispatcher (security issue, item 2): random sequences of updates from
the people of two networks, with the invariants of tests/fuzz_play.py checked after every
step. The world is tests/fuzz_world.py, the steps tests/fuzz_steps.py.

The profile runs ``FUZZ_EXAMPLES`` examples (2,000 by default, the CI profile), each of
up to ``FUZZ_STEPS`` steps (5; a step may be a walk of up to four moves), derandomized so
that every run tries the same examples; ``FUZZ_EXAMPLES=20000`` is the long run.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from bot.config import Settings
from tests.fuzz_check import CheckedBot
from tests.fuzz_play import finish, play
from tests.fuzz_steps import Step, scripts
from tests.fuzz_world import A_COORD, A_MEMBER, B_COORD, B_MEMBER, STRANGER, World, build
from tests.helpers import join, make_invite, make_network, member_of
from tests.people import ADMIN_ID

PROFILE = "prevnet-fuzz"
settings.register_profile(
    PROFILE,
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
    derandomize=True,  # the same examples on every run: CI is reproducible
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,  # one world, reset before each example
        HealthCheck.data_too_large,
    ],
)
MAX_STEPS = int(os.environ.get("FUZZ_STEPS", "5"))
PROGRESS = os.environ.get("FUZZ_PROGRESS")  # a file: how many examples have run, for long runs
_examples = itertools.count(1)


@pytest.fixture
def bot() -> CheckedBot:
    return CheckedBot()


@pytest.fixture
async def world(dp, bot, engine, session_pool, settings: Settings) -> AsyncIterator[World]:  # type: ignore[no-untyped-def]
    db = Path(settings.database_url.split("///", 1)[1])
    built = await build(dp, bot, engine, session_pool, db)
    root = logging.getLogger()
    root.addHandler(built.errors)
    try:
        yield built
    finally:
        root.removeHandler(built.errors)


async def test_the_world_is_built_with_both_networks(world: World) -> None:
    assert world.built_with == []  # every request while it was built passed the check
    rights = await world.rights()
    assert rights[A_MEMBER] == {"A"} and rights[A_COORD] == {"A"}
    assert rights[STRANGER] == set() and rights[B_MEMBER] == rights[B_COORD] == {"B"}
    assert world.ids.networks == {"A": 1, "B": 2}
    # two events, two reports, two broadcasts, the pending membership: all found as ids
    assert len([i for i in world.ids.ints if 0 < i < 100]) >= 8
    # a stranger joins A with its invite; a reset forgets it
    last = await play(world, ("join", 0, ("CODE", "Sami <3", 0)), 0)
    world.granted.clear()  # the right the code gave: without it, the membership's
    assert last == STRANGER and (await world.rights())[STRANGER] == {"A"}
    await world.reset()
    assert (await world.rights())[STRANGER] == set()
    assert world.bot.session.keyboards == {} and world.granted == {}


@settings(settings.get_profile(PROFILE))
@given(script=scripts(MAX_STEPS))
# Bugs it found, kept: a number too big for the database in a forged button
@example(script=[("press", 0, "ack:100000000000000000000")])
# an admin's invite: its network was lazy-loaded outside the greenlet (MissingGreenlet)
@example(script=[("command", ADMIN_ID, ("invite", "")), ("tap", ADMIN_ID, 0),
                 ("tap", ADMIN_ID, 0), ("tap", ADMIN_ID, 0)])
async def test_random_updates_keep_every_invariant(world: World, script: list[Step]) -> None:
    await world.reset()
    last = A_MEMBER
    for step in script:
        last = await play(world, step, last)
    await finish(world)
    n = next(_examples)
    if PROGRESS and n % 500 == 0:
        await asyncio.to_thread(Path(PROGRESS).write_text, f"{n}\n")


async def test_the_joined_notice_names_sami_lt_3(dp, bot: CheckedBot, session, person) -> None:  # type: ignore[no-untyped-def]
    """The coordinators' notice of a join, for a member named `Sami <3`, is sent and is
    valid Bot API HTML (it was not when the name was not escaped)."""
    network = await make_network(session, name="Saida Network")
    coordinator = person(3)
    await member_of(session, coordinator, network, role="coordinator", name="Omar")
    bot.take_requests()
    invite = await make_invite(session, network.id)
    out = await join(person(2), invite.code, name="Sami <3")
    notices = [r for r in out if getattr(r, "chat_id", None) == 3]
    assert [r.text for r in notices] == [
        "Sami &lt;3 (Teacher) joined Saida Network as member."
    ]
    assert bot.session.violations == []



def test_the_check_refuses_what_telegram_refuses() -> None:
    """tests/fuzz_check.py: the fake Bot API's HTML parser and Telegram's limits."""
    from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, SendPhoto
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    from tests.fuzz_check import problems

    bot = CheckedBot()
    ok = [
        SendMessage(chat_id=1, text="Sami &lt;3 <b>joined</b>"),
        SendMessage(chat_id=1, text="<" * 4096, parse_mode=None),
        SendMessage(chat_id=1, text="&lt;" * 4096),  # 4096 characters once parsed
        SendPhoto(chat_id=1, photo="x", caption="🙂" * 512),  # 1024 UTF-16 units
    ]
    assert [problems(bot, m) for m in ok] == [[]] * 4
    refused = {
        "Sami <3 joined": 'Unsupported start tag "3"',
        "<u>open": "Can't find end tag",
        "<foo>x</foo>": 'Unsupported start tag "foo"',
        "a & b": 'unescaped "&"',
        "&lt;" * 4097: "message is too long",
        "🙂" * 2049: "message is too long",
        " \n ": "message text is empty",
    }
    for text, reason in refused.items():
        found = problems(bot, EditMessageText(chat_id=1, message_id=1, text=text))
        assert len(found) == 1 and reason in found[0], (text[:20], found)
    assert "caption" not in str(problems(bot, SendPhoto(chat_id=1, photo="x", caption="é")))
    assert "too long" in problems(bot, SendPhoto(chat_id=1, photo="x", caption="🙂" * 513))[0]
    assert "MESSAGE_TOO_LONG" in problems(
        bot, AnswerCallbackQuery(callback_query_id="1", text="x" * 201)
    )[0]
    long_data = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="go", callback_data="é" * 33)]]
    )
    assert "BUTTON_DATA_INVALID" in problems(
        bot, SendMessage(chat_id=1, text="x", reply_markup=long_data)
    )[0]
