"""What a fuzzed person does (tests/test_fuzz.py): hostile texts, every command, taps on
the buttons they were shown, forged callback data, photos and documents, a whole join.

A step is a plain tuple, so hypothesis prints a failing example as something to paste
into an ``@example``: ``(kind, who, value)``, `who` a player's Telegram id (``0``: the
one who acted last).
"""

from __future__ import annotations

import enum
import inspect
from typing import Any

from aiogram.filters.callback_data import CallbackData
from hypothesis import strategies as st

from bot import callbacks
from bot.commands import COMMANDS
from tests.fuzz_world import PLAYERS

Step = tuple[str, int, Any]

# Telegram lets a person send 4096 characters; the bot answers with its own words around.
HOSTILE = [
    "Sami <3", "<b>x</b>", "&amp;", "&", "<", ">", "a < b & c > d", "</b>", "<i>", "&#0;",
    "&#x110000;", "&#xD800;", "&lt;", "<script>alert(1)</script>", "<a href='x'>y</a>",
    "\u202eevil\u202c", "\u200f\u200e\u200b\u200d\u2066", "🙂👨‍👩‍👧‍👦🇱🇧", "\x00", "a\x00b",
    "\n\n", " ", "", "{name} {0} %s %(x)s", "١٢٣", "۱۲", "12", "0", "-5", "20", "2h", "90m",
    "99999999999999999999", "tomorrow 17:00", "2030-01-15 10:00", "2026-13-45 25:99",
    "ar", "fr", "LB", "Asia/Beirut", "https://t.me/x", "Town hall <A&B>",
    "a" * 4096, "&" * 4096, "<" * 4096, "🙂" * 2048, "é" * 4096, "x\n" * 2048,
]
COMMAND_NAMES = [name for name, _desc, _level in COMMANDS] + ["unknown", "help@prevnet_test_bot"]
STRINGS = [
    "show", "who", "edit", "time", "place", "cancel", "cancel_ok", "attend", "kind", "day",
    "hour", "len", "skip", "confirm", "ok", "flag", "go", "ask", "force", "submit",
    "skip_file", "remove_file", "withdraw", "keep", "networks_done", "sectors_done", "send",
    "schedule", "country", "tz", "lang", "approval", "slug", "members", "invite", "settings",
    "digest", "report", "reports", "export", "leave", "broadcast", "newevent", "all",
    "coordinators", "sectors", "week", "month", "workshop", "youth", "none", "day_of_week",
    "en", "ar", "xx", "", "-", "1", "0", "true",
]
INTS = [*range(13), *PLAYERS, 203, -1, 2**31 - 1, -(2**31), 2**31, 2**63 - 1, 10**20]

# Any text without a network's marker ("QZ<X>"): no q at all.
_no_markers = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="qQ"), max_size=40
)
texts = st.one_of(
    st.sampled_from(HOSTILE),
    st.lists(st.sampled_from(HOSTILE[:30]), min_size=2, max_size=4).map("".join),
    _no_markers,
)


def _callback_classes() -> list[type[CallbackData]]:
    return [
        obj for _name, obj in inspect.getmembers(callbacks, inspect.isclass)
        if issubclass(obj, CallbackData) and obj is not CallbackData
    ]


def _field_values(annotation: Any) -> st.SearchStrategy[str]:
    if annotation is bool:
        return st.sampled_from(["1", "0", "true", "x"])
    if annotation is int:
        return st.sampled_from(INTS).map(str)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from([m.value for m in annotation] + ["x", ""])
    return st.one_of(st.sampled_from(STRINGS), _no_markers.map(lambda s: s[:12]))


def _forged(cls: type[CallbackData]) -> st.SearchStrategy[str]:
    fields = [_field_values(f.annotation) for f in cls.model_fields.values()]
    return st.tuples(*fields).map(lambda values: ":".join([cls.__prefix__, *values]))


def fit64(data: str) -> str:
    """Telegram's limit: callback data of 1 to 64 bytes."""
    raw = data.encode()[:64].decode(errors="ignore")
    return raw or "x"


callback_data = st.one_of(
    st.sampled_from(_callback_classes()).flatmap(_forged),
    st.binary(min_size=1, max_size=64).map(lambda b: b.decode(errors="replace")),
    _no_markers,
).map(fit64)

command = st.tuples(
    st.sampled_from(COMMAND_NAMES),
    st.one_of(st.just(""), st.sampled_from(["CODE", "BCODE", "abcdefghijkl", "x y"]), texts),
)

actions: st.SearchStrategy[tuple[str, Any]] = st.one_of(
    st.tuples(st.just("text"), texts),
    st.tuples(st.just("text"), texts),
    st.tuples(st.just("command"), command),
    st.tuples(st.just("tap"), st.integers(0, 40)),
    st.tuples(st.just("tap"), st.integers(0, 40)),
    st.tuples(st.just("press"), callback_data),
    st.tuples(st.just("media"), st.tuples(st.sampled_from(["photo", "document"]),
                                          st.none() | texts)),
    # several moves in one step, deeper into a dialog: a tap on the newest buttons (an
    # even number), or a typed text (an odd one, with the text)
    st.tuples(st.just("walk"), st.lists(st.tuples(st.integers(0, 15), texts),
                                        min_size=2, max_size=4)),
    st.tuples(st.just("join"), st.tuples(st.sampled_from(["CODE", "BCODE"]),
                                         st.none() | texts, st.integers(0, 9))),
)


def scripts(max_steps: int) -> st.SearchStrategy[list[Step]]:
    """Turns: a player sends a command, then does up to five things (taps on what it
    showed, texts, files, ...), then another player; at most `max_steps` steps in all."""
    turn = st.tuples(
        st.sampled_from(PLAYERS), command, st.lists(actions, min_size=0, max_size=5)
    )
    return st.lists(turn, min_size=1, max_size=3).map(
        lambda turns: [
            step
            for who, opening, done in turns
            for step in [("command", who, opening), *((k, who, v) for k, v in done)]
        ][:max_steps]
    )
