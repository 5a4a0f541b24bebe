"""A whole workshop at once, on the real process: 100 people open the invite link in the
same moment through a Bot API that answers in 100 ms and says 429 past 30 messages/s."""

from __future__ import annotations

import asyncio
import sqlite3

from bot.sandbox.telegram import FakeBotAPI
from tests.e2e.conftest import User, button_data

APOLOGY = "something went wrong"


async def register(user: User, code: str, name: str) -> dict:  # type: ignore[type-arg]
    wait = 90  # they all queue for the same 30 messages per second
    first = await user.say(f"/start {code}", lambda m: "lang:en" in button_data(m), wait)
    await user.tap(first, "lang:en", lambda m: "name" in (m.get("text") or ""), wait)
    sectors = await user.say(name, lambda m: "sec:teacher" in button_data(m), wait)
    consent = await user.tap(sectors, "sec:teacher", lambda m: "consent:1" in button_data(m),
                             wait)
    return await user.tap(consent, "consent:1", "Welcome to", wait)


async def test_a_hundred_people_register_at_once(prevnet, fake_api: FakeBotAPI):
    await prevnet.make_network("saida", name="Saida Network")
    code = await prevnet.invite("saida", uses=150)
    fake_api.configure(global_rate=30, retry_after=1)
    fake_api.set_delay("*", 0.1)
    await prevnet.start()

    people = [User(fake_api, 20_000 + i, first_name=f"P{i}") for i in range(100)]
    welcomes = await asyncio.gather(
        *(register(p, code, f"Member {i}") for i, p in enumerate(people))
    )

    assert all("Welcome to Saida Network" in w["text"] for w in welcomes)
    for p in people:
        texts = [m.get("text") or "" for m in fake_api.messages(p.id)]
        assert not any(APOLOGY in t for t in texts), texts
    with sqlite3.connect(prevnet.cwd / "e2e.db") as db:
        (joined,) = db.execute("SELECT count(*) FROM memberships").fetchone()
    assert joined == 100
    log = prevnet.log()
    assert " ERROR " not in log and "Traceback" not in log, log[-5000:]
    # The limit was really hit and honoured: 429s paused the bot, nobody was lost.
    assert fake_api.stats()["too_many_requests"] >= 1
    assert "send limiter paused" in log
