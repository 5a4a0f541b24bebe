"""A newcomer's path, on the real process: invite, deep link, dialog, language, data, leave."""

from __future__ import annotations

import json

from bot.callbacks import NameCb
from tests.e2e.conftest import ADMIN_ID, User, button_data


async def register(user: User, code: str, lang: str, name: str, sector: str = "teacher"):  # type: ignore[no-untyped-def]
    first = await user.say(f"/start {code}", lambda m: f"lang:{lang}" in button_data(m))
    ask_name = await user.tap(first, f"lang:{lang}")
    assert NameCb(use_telegram=True).pack() in button_data(ask_name)
    sectors = await user.say(name, lambda m: f"sec:{sector}" in button_data(m))
    consent = await user.tap(sectors, f"sec:{sector}", lambda m: "consent:1" in button_data(m))
    return await user.tap(consent, "consent:1")


async def test_join_in_arabic_then_data_language_and_leave(prevnet, fake_api):
    await prevnet.make_network("saida", name="شبكة صيدا")
    code = await prevnet.invite("saida", uses=3)
    await prevnet.start()

    sara = User(fake_api, 5001, language_code="ar", first_name="Sara")
    welcome = await register(sara, code, "ar", "سارة <b>")
    assert "شبكة صيدا" in welcome["text"]
    assert welcome["text"] != welcome["raw_text"] or "<b>" in welcome["raw_text"]

    # /mydata: a JSON file with what is stored
    doc = await sara.say("/mydata", lambda m: m.get("document") is not None)
    data = json.loads(fake_api.file_content(doc["document"]["file_id"]))
    assert data["display_name"] == "سارة <b>" and data["language"] == "ar"
    assert data["memberships"][0]["network"] == "شبكة صيدا"

    # switch to English, and it is remembered
    menu = await sara.say("/language", lambda m: "lang:en" in button_data(m))
    switched = await sara.tap(menu, "lang:en")
    assert "English" in switched["text"]
    help_ = await sara.say("/help", "Here is what you can do")
    assert "/leave" in help_["text"] and "/invite" not in help_["text"]
    chat_menu = fake_api.get_commands("chat:5001")
    assert any(c["command"] == "leave" for c in chat_menu)

    # leave: personal data erased
    confirm = await sara.say(
        "/leave", lambda m: any(d.startswith("leave:") for d in button_data(m))
    )
    yes = next(d for d in button_data(confirm) if d.endswith(":1"))
    gone = await sara.tap(confirm, yes)
    assert "erased" in gone["text"]
    # her language choice went with her data: Telegram's language (Arabic) again
    nothing = await sara.say("/mydata")
    assert nothing["text"] == "لا أحتفظ بأي بيانات عنك."


async def test_english_join_with_approval_and_coordinator_notice(prevnet, fake_api):
    await prevnet.make_network("irbid", name="Irbid Network", country="JO",
                               timezone="Asia/Amman", approval="1")
    coordinator_code = await prevnet.invite("irbid", role="coordinator", uses=1)
    member_code = await prevnet.invite("irbid", uses=2)
    await prevnet.start()

    lina = User(fake_api, 6001, first_name="Lina")
    welcome = await register(lina, coordinator_code, "en", "Lina")
    assert "Welcome to Irbid Network" in welcome["text"]

    omar = User(fake_api, 6002, first_name="Omar")
    pending = await register(omar, member_code, "en", "Omar", sector="police")
    assert "sent to its coordinator" in pending["text"]
    notice = await lina.wait(lambda m: "asks to join" in (m.get("text") or ""))
    approve = next(d for d in button_data(notice) if d.endswith(":1"))
    await lina.tap(notice, approve, "is now a member")
    approved = await omar.wait(lambda m: "was approved" in (m.get("text") or ""))
    assert "Irbid Network" in approved["text"]

    # the coordinator sees the member list; a used-up code gets a clear answer
    members = await lina.say("/members", "2 members")
    assert "Omar" in members["text"]
    late = User(fake_api, 6003)
    await late.say(f"/join {coordinator_code}", "already been used")


async def test_duplicate_update_and_errors_do_not_stop_the_bot(prevnet, fake_api):
    await prevnet.start()
    user = User(fake_api, 6101)
    update = fake_api.send_message(user.id, "/help")
    await user.wait("To join your Prevention Network")
    await fake_api.wait_for_updates_confirmed()
    count = user.seen
    fake_api.inject_raw_update(update)  # Telegram redelivers the same update_id
    await fake_api.wait_for_updates_confirmed()
    await user.say("/start", "Hello")
    assert user.seen == count + 1  # the duplicate was not answered

    # an HTML-ish unknown code is answered, escaped, and the bot keeps going
    await user.say("/join <b>&", "I do not know this code")
    admin = User(fake_api, ADMIN_ID)
    await admin.say("/invite", "There are no networks yet")
