"""While the bot runs, `prevnet digest send` gives every member of the network exactly one
digest (the coordinator also the chart); a second call is refused; /digest previews it."""

from __future__ import annotations

from tests.e2e.conftest import User, button_data
from tests.e2e.test_registration_e2e import register


async def test_digest_send_while_the_bot_runs(prevnet, fake_api):
    await prevnet.make_network("irbid", name="Irbid Network", country="JO",
                               timezone="Asia/Amman")
    coordinator_code = await prevnet.invite("irbid", role="coordinator", uses=1)
    member_code = await prevnet.invite("irbid", uses=10)
    await prevnet.start()

    coordinator = User(fake_api, 8100, first_name="Maya")
    await register(coordinator, coordinator_code, "en", "Maya", sector="ngo")
    members = [User(fake_api, 8101 + i, language_code="ar" if i % 2 else "en") for i in range(3)]
    for i, m in enumerate(members):
        await register(m, member_code, "ar" if i % 2 else "en", f"Member {i}")
    blocked = User(fake_api, 8110)
    await register(blocked, member_code, "fr", "Blocked")

    # The coordinator's preview on demand: chart, text and the schedule buttons.
    before = coordinator.seen
    preview = await coordinator.say(
        "/digest", lambda m: any(d.startswith("dgsend:") for d in button_data(m))
    )
    assert "Irbid Network" in preview["text"] and "For coordinators" in preview["text"]
    assert any(m.get("photo") for m in fake_api.messages(coordinator.id)[before:])
    fake_api.set_blocked(blocked.id)  # (after the bot is done with their registration)

    seen = {u.id: u.seen for u in (coordinator, *members, blocked)}
    code, out, _err = await prevnet.cli("digest", "send", "--network", "irbid")
    assert code == 0 and "digest queued for" in out and "delivered" in out, out

    def digests_of(user: User) -> list[dict]:  # type: ignore[type-arg]
        return [m for m in fake_api.messages(user.id)[seen[user.id]:]
                if "Irbid Network" in (m.get("text") or m.get("caption") or "")]

    for user in (coordinator, *members):
        await user.wait(lambda m: "Irbid Network" in (m.get("text") or ""), after=seen[user.id])
    code, _out, err = await prevnet.cli("digest", "send", "--network", "irbid", check=False)
    assert code == 2 and "already went out" in err, err
    for i, m in enumerate(members):
        (got,) = digests_of(m)  # exactly one
        assert ("Next 7 days" in got["text"]) == (i % 2 == 0)  # English, or Arabic
    chart, text = digests_of(coordinator)
    assert chart.get("photo") and "Activities per week" in (chart.get("caption") or "")
    assert "Not reported yet (4)" in text["text"]
    assert digests_of(blocked) == []
    assert "digest of irbid for the week of" not in prevnet.log()  # the CLI sent it, not the bot
