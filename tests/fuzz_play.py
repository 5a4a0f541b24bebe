"""Playing fuzz steps (tests/fuzz_steps.py) on the world (tests/fuzz_world.py) and checking
the invariants after every one of them:

* no unhandled exception: nothing was logged at ERROR (the dispatcher's `crashed`
  handler logs there, and so do a failed apology and a dead delivery loop), and
  `feed_update` raised nothing;
* every button press was answered exactly once (`Person.press` asserts it);
* nothing of a network (its ``QZ<X>`` marker) reached anyone with no right to it;
* every request the bot made, to anyone, outbox sends included, passed the fake Bot
  API's formatting check (tests/fuzz_check.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram.methods import TelegramMethod
from aiogram.types import Document, Message, PhotoSize, Update

from tests.fuzz_steps import Step
from tests.fuzz_world import MARKERS, STRANGER, World, recipients
from tests.helpers import I_AGREE, LANGUAGE_NAMES
from tests.people import Person, _update_ids


def _seen(request: TelegramMethod[Any]) -> list[str]:
    """Everything of a request a person could read: texts, captions, labels, files."""
    out: list[str] = []
    for attr in ("text", "caption"):
        value = getattr(request, attr, None)
        if isinstance(value, str):
            out.append(value)
    for item in getattr(request, "media", None) or []:
        out.append(getattr(item, "caption", None) or "")
    markup = getattr(request, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", None) or []:
        out.extend(b.text for b in row)
    document = getattr(request, "document", None)
    data = getattr(document, "data", None)
    if isinstance(data, bytes):
        out.append(data.decode(errors="ignore"))
        out.append(getattr(document, "filename", None) or "")
    return out


def check_sent(
    world: World, sent: list[tuple[int | None, Any]], rights: dict[int, set[str]]
) -> None:
    for chat_id, request in sent:
        allowed = rights.get(chat_id or 0, set())
        for tag, marker in MARKERS.items():
            if tag in allowed:
                continue
            for seen in _seen(request):
                assert marker not in seen.lower(), (
                    f"network {tag} revealed to {chat_id} (rights {allowed}): {request!r}"
                )
    assert not world.bot.session.violations, world.bot.session.violations[0]
    assert not world.errors.records, world.errors.records[0].getMessage()


async def _media(p: Person, kind: str, caption: str | None) -> list[TelegramMethod[Any]]:
    n = next(_update_ids)
    extra: dict[str, Any] = {"caption": caption}
    if kind == "photo":
        extra["photo"] = [PhotoSize(file_id=f"PH-{n}", file_unique_id=f"u{n}", width=9,
                                    height=9)]
    else:
        extra["document"] = Document(file_id=f"DOC-{n}", file_unique_id=f"d{n}",
                                     file_name="a<b>&.pdf")
    message = Message(message_id=n, date=datetime.now(UTC), chat=p.chat, from_user=p.user,
                      **extra)
    return await p.feed(Update(update_id=n, message=message))


def _shown(p: Person) -> list[tuple[int, str, str, str]]:
    """(message id, text, data, label) of every button the person sees, newest first."""
    shown = p.bot.session.keyboards.get(p.user.id, {})
    return [
        (message_id, text, b.callback_data or "", b.text)
        for message_id, (text, row) in reversed(shown.items())
        for b in row
    ]


async def _tap(p: Person, index: int) -> list[TelegramMethod[Any]]:
    shown = _shown(p)
    if not shown:
        return []
    message_id, text, data, _label = shown[index % len(shown)]
    return await p.press(data, message_id=message_id, message_text=text)


async def _tap_where(p: Person, label: str = "", prefix: str = "", n: int = 0) -> list[Any]:
    found = [s for s in _shown(p) if label in s[3] and s[2].startswith(prefix)]
    if not found:
        return []
    message_id, text, data, _label = found[n % len(found)]
    return await p.press(data, message_id=message_id, message_text=text)


async def _join(world: World, code: str, name: str | None, sector: int) -> list[Any]:
    """The stranger's whole join dialog: a typed name, or their Telegram name (None)."""
    p = world.people[STRANGER]
    out = await p.send(f"/start {world.codes[code]}")
    out += await _tap_where(p, label=LANGUAGE_NAMES["en"])
    out += await p.send(name) if name else await _tap_where(p, prefix="name:")
    out += await _tap_where(p, prefix="sec:", n=sector)
    out += await _tap_where(p, label=I_AGREE["en"])
    return out


async def _walk(p: Person, moves: list[tuple[int, str]]) -> list[TelegramMethod[Any]]:
    out: list[TelegramMethod[Any]] = []
    for n, typed in moves:
        newest = p.bot.session.keyboards.get(p.user.id, {})
        if n % 2 == 0 and newest:
            message_id, (text, row) = list(newest.items())[-1]
            data = row[(n // 2) % len(row)].callback_data or ""
            out += await p.press(data, message_id=message_id, message_text=text)
        else:
            out += await p.send(typed)
    return out


async def play(world: World, step: Step, last: int) -> int:
    """One step, then every invariant; returns who acted."""
    kind, who, value = step
    actor = STRANGER if kind == "join" else (who or last)
    p = world.people[actor]
    if kind in ("join", "command"):
        world.grant(actor, value[0] if kind == "join" else value[1])
    before = await world.rights()
    if kind == "text":
        out = await p.send(value)
    elif kind == "command":
        name, arg = value
        arg = world.codes.get(arg, arg)
        out = await p.send(f"/{name} {arg}".rstrip())
    elif kind == "tap":
        out = await _tap(p, value)
    elif kind == "press":
        out = await p.press(value)
    elif kind == "media":
        out = await _media(p, *value)
    elif kind == "walk":
        out = await _walk(p, value)
    else:
        out = await _join(world, *value)
    sent = recipients(actor, out) + await world.flush()
    after = await world.rights()
    rights = {tg: before.get(tg, set()) | after.get(tg, set()) for tg in {*before, *after}}
    check_sent(world, sent, rights)
    return actor


async def finish(world: World) -> None:
    """The scheduled report notices, checked like the rest."""
    rights = await world.rights()
    check_sent(world, await world.notices(), rights)
