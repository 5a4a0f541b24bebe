"""A coordinator broadcasts from a phone; every member gets it once; acks and blocks count."""

from __future__ import annotations

from tests.e2e.conftest import User, button_data
from tests.e2e.test_registration_e2e import register


async def test_broadcast_reaches_everyone_once(prevnet, fake_api):
    await prevnet.make_network("tripoli", name="Tripoli Network")
    coordinator_code = await prevnet.invite("tripoli", role="coordinator", uses=1)
    member_code = await prevnet.invite("tripoli", uses=10)
    await prevnet.start()

    coordinator = User(fake_api, 8000, first_name="Maya")
    await register(coordinator, coordinator_code, "en", "Maya", sector="ngo")
    members = [User(fake_api, 8001 + i, language_code="ar" if i % 2 else "en") for i in range(5)]
    for i, m in enumerate(members):
        await register(m, member_code, "ar" if i % 2 else "en", f"Member {i}")
    blocked = members[-1]
    fake_api.set_blocked(blocked.id)

    menu = await coordinator.say("/broadcast", lambda m: "bcaud:all" in button_data(m))
    await coordinator.tap(menu, "bcaud:all", "Now send the message")
    summary = await coordinator.say(
        "Meeting moved to Thursday, 5 pm <room 2> & bring the forms",
        lambda m: "bcgo:send" in button_data(m),
    )
    assert "It will reach 6 people" in summary["text"]
    progress_index = coordinator.seen
    await coordinator.tap(summary, "bcgo:send")

    text = "Meeting moved to Thursday, 5 pm <room 2> & bring the forms"
    for m in members[:-1]:
        got = await m.wait(text)
        assert got["text"] == text
    first = members[0]
    got = first.api.last_message(first.id)
    assert got is not None
    ack = next(d for d in button_data(got) if d.startswith("ack:"))
    answered = len(fake_api.callback_answers(first.id))
    fake_api.press_button(first.id, got["message_id"], ack)
    answer = await fake_api.wait_for_callback_answer(first.id, after=answered)
    assert answer["text"] == "Thank you!"

    final = await coordinator.wait(
        lambda m: (m.get("text") or "").startswith("Broadcast sent."), after=progress_index,
        timeout=30,
    )
    assert "Delivered: 5 of 6" in final["text"] and "Blocked the bot: 1" in final["text"]
    history = await coordinator.say("/broadcasts", "Recent broadcasts")
    assert "understood 1" in history["text"] and "blocked 1" in history["text"]
    for m in (coordinator, *members[:-1]):  # the coordinator also saw the preview
        copies = [x for x in fake_api.messages(m.id) if x.get("text") == text]
        assert len(copies) == (2 if m is coordinator else 1), m.id
    assert not [x for x in fake_api.messages(blocked.id) if x.get("text") == text]
