"""Every button press is answered exactly once (bot/callback_answer.py), with the same
toasts and alerts as the handlers gave by hand; an error is apologised for once."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.methods import AnswerCallbackQuery, SendMessage

from bot.callbacks import BcStepCb, PickNetCb, PlanShowCb, RepSetCb
from bot.services import digests, events, registration
from tests.helpers import make_network, member_of
from tests.people import ADMIN_ID, Person

APOLOGY = "Sorry, something went wrong on my side. Please try again."
DENIED = "Sorry, you are not allowed to do that."
STALE = "This button is no longer valid."


def answers(out: list[Any]) -> list[AnswerCallbackQuery]:
    return [r for r in out if isinstance(r, AnswerCallbackQuery)]


def messages(out: list[Any]) -> list[str]:
    return [r.text for r in out if isinstance(r, SendMessage)]


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the database is on fire")


@pytest.fixture
async def saida(session, person):  # type: ignore[no-untyped-def]
    """A network with a member (2) and a coordinator (3), and one more network (Tripoli)."""
    network = await make_network(session)
    tripoli = await make_network(session, "tripoli")
    await member_of(session, person(2), network, name="Rana")
    await member_of(session, person(3), network, role="coordinator", name="Omar")
    return network, tripoli


async def press_once(p: Person, data: str) -> tuple[AnswerCallbackQuery, list[Any]]:
    out = await p.press(data)
    got = answers(out)
    assert len(got) == 1, got  # Telegram refuses a second answer; none leaves it spinning
    return got[0], out


async def test_every_press_is_answered_once_whatever_the_handler_does(  # type: ignore[no-untyped-def]
    saida, person, monkeypatch
) -> None:
    network, tripoli = saida
    member, coordinator = person(2), person(3)
    # answered after the handler: a screen, a forged button, a refusal
    answer, _ = await press_once(coordinator, PickNetCb(purpose="settings",
                                                        network_id=network.id).pack())
    assert answer.text is None
    answer, _ = await press_once(person(77), "nosuch:1")
    assert (answer.text, answer.show_alert) == (STALE, True)
    answer, _ = await press_once(coordinator, PickNetCb(purpose="invite",
                                                        network_id=tripoli.id).pack())
    assert (answer.text, answer.show_alert) == (DENIED, True)
    # answered before its slow work (`callback_answer.now()`), and before the handler (pre)
    answer, out = await press_once(coordinator, PickNetCb(purpose="members",
                                                          network_id=network.id).pack())
    assert out[0] is answer and answer.text is None
    answer, out = await press_once(member, PickNetCb(purpose="digest",
                                                     network_id=network.id).pack())
    assert out[0] is answer and answer.text is None

    # A crash before the answer: the apology is the one answer, as an alert.
    monkeypatch.setattr(events, "reminder_settings", boom)
    answer, out = await press_once(coordinator, PickNetCb(purpose="settings",
                                                          network_id=network.id).pack())
    assert (answer.text, answer.show_alert) == (APOLOGY, True) and not messages(out)
    # A crash after the answer: the apology comes as a message, never as a second answer.
    monkeypatch.setattr(registration, "members_of", boom)
    answer, out = await press_once(coordinator, PickNetCb(purpose="members",
                                                          network_id=network.id).pack())
    assert answer.text is None and messages(out) == [APOLOGY]
    monkeypatch.setattr(digests, "preview", boom)
    answer, out = await press_once(member, PickNetCb(purpose="digest",
                                                     network_id=network.id).pack())
    assert answer.text is None and messages(out) == [APOLOGY]


async def test_alerts_and_toasts_arrive_as_before(saida, person) -> None:  # type: ignore[no-untyped-def]
    network, _tripoli = saida
    # an alert, in the person's language
    answer, _ = await press_once(person(78, language_code="fr"), "nosuch:1")
    assert (answer.text, answer.show_alert) == ("Ce bouton n'est plus valide.", True)
    # an alert from a dialog step
    admin = person(ADMIN_ID)
    await admin.send("/broadcast")
    answer, out = await press_once(admin, BcStepCb(action="networks_done").pack())
    assert (answer.text, answer.show_alert) == ("Choose at least one network.", True)
    assert out == [answer]  # nothing else happens
    # a toast (no alert), given before the settings are shown again
    coordinator = person(3)
    on = RepSetCb(network_id=network.id, key="nudge", value=1).pack()
    answer, out = await press_once(coordinator, on)
    assert (answer.text, answer.show_alert) == ("Saved.", None)
    assert out[0] is answer and "Reminders are <b>on</b>" in out[-1].text


async def test_a_press_answered_too_late_is_only_logged(saida, person, bot, caplog) -> None:  # type: ignore[no-untyped-def]
    bot.session.add_error(
        400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    answer, out = await press_once(person(79), "nosuch:1")
    assert out == [answer]  # no apology attempted for it
    assert "could not answer callback query" in caplog.text


NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup of "
                "the message")


async def test_a_button_pressed_twice_quickly_is_thanked_twice_never_apologised(  # type: ignore[no-untyped-def]
    saida, person, delivery, bot
) -> None:
    """Both presses carry the message as it was, buttons and all: the second edit changes
    nothing, and Telegram says so; that is no error."""
    member, coordinator = person(2), person(3)
    await coordinator.send("/broadcast")
    await coordinator.tap("Everyone")
    await coordinator.send("Training on Sunday")
    await coordinator.tap("Send now")
    await delivery.run_until_idle()
    (sent,) = [r for r in bot.take_requests()
               if isinstance(r, SendMessage) and r.chat_id == member.user.id]
    markup = sent.reply_markup
    data = markup.inline_keyboard[0][0].callback_data
    out = await member.press(data, reply_markup=markup)
    assert [type(r).__name__ for r in out] == ["EditMessageReplyMarkup", "AnswerCallbackQuery"]
    assert answers(out)[0].text == "Thank you!"
    bot.session.add_error(400, NOT_MODIFIED)  # the buttons went with the first press
    out = await member.press(data, reply_markup=markup)
    (second,) = answers(out)
    assert (second.text, second.show_alert) == ("Thank you!", None)
    assert messages(out) == []


async def test_a_screen_shown_again_is_not_sent_a_second_time(saida, person, bot) -> None:  # type: ignore[no-untyped-def]
    network, _tripoli = saida
    member = person(2)
    bot.session.add_error(400, NOT_MODIFIED)  # the plan is already on that message
    answer, out = await press_once(member, PlanShowCb(network_id=network.id).pack())
    assert answer.text is None
    assert [type(r).__name__ for r in out] == ["EditMessageText", "AnswerCallbackQuery"]
