"""/plan, editing, through the real dispatcher: a coordinator changes an action's title,
aim and months and a milestone's text and due date, and removes a milestone; /cancel
leaves it all unchanged; overlong texts are refused with the limit in the person's
language (Babel writes Arabic numbers with 0-9, as the rest of the bot); a member and a
coordinator of another network change nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.services import plans as service
from handlers.plans import PlanEdit
from storage.models import AuditEntry, utcnow
from storage.models.plans import PlanAction, PlanMilestone
from tests.authz_world import set_dialog
from tests.helpers import member_of
from tests.people import buttons, texts
from tests.test_plans import DENIED, STALE, _world, create_action

LEAGUE = "Youth sports league"


async def _action(session) -> PlanAction:  # type: ignore[no-untyped-def]
    action = await session.scalar(select(PlanAction))
    assert action is not None
    await session.refresh(action)
    return action


async def _audit(session) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def _add_milestone(coordinator, text: str, button: str = "In a week"):  # type: ignore[no-untyped-def]
    await coordinator.tap("➕ Milestone")
    await coordinator.send(text)
    return await coordinator.tap(button, contains=True)


async def test_edit_the_title_aim_and_months_of_an_action(session, person):
    _saida, coordinator, _member, _outsider = await _world(session, person)
    await create_action(coordinator)
    action = await _action(session)
    start, end = action.start_month, action.end_month

    out = await coordinator.tap("✏️ Edit")
    assert texts(out)[-1] == f"What do you want to change in <b>{LEAGUE}</b>?"
    assert [label for label, _d in buttons(out)] == ["Title", "Aim", "Months", "⬅️ Back"]
    out = await coordinator.tap("Title")
    assert f"The title now: <b>{LEAGUE}</b>" in texts(out)[-1]
    out = await coordinator.send("x" * 81)
    assert texts(out) == ["Your text has 81 characters; the limit is 80. Please shorten it "
                          "and send it again."]
    out = await coordinator.send("  Youth   football league ")
    card = texts(out)[-1]
    assert card.startswith("Changed.\n\n") and "<b>Youth football league</b>" in card
    assert (await _action(session)).title == "Youth football league"

    # The months: the same buttons as when creating it, the last not before the first.
    await coordinator.tap("✏️ Edit")
    out = await coordinator.tap("Months")
    assert "In which month does it start?" in texts(out)[-1]
    assert service.month_label(start, "en") in [label for label, _d in buttons(out)]
    new_start = service.rules.add_months(start, 1)
    out = await coordinator.tap(service.month_label(new_start, "en"))
    assert texts(out)[-1] == "And its last month?"
    labels = [label for label, _d in buttons(out)]
    assert labels[0] == service.month_label(new_start, "en") and len(labels) == 12
    forged = await coordinator.press(f"pf:end:{service.month_key(start)}")
    assert texts(forged) == ["The last month must not be before the first one."]
    assert (await _action(session)).end_month == end
    new_end = service.rules.add_months(new_start, 5)
    out = await coordinator.tap(service.month_label(new_end, "en"))
    assert texts(out)[-1].startswith("Changed.")
    action = await _action(session)
    assert (action.start_month, action.end_month) == (new_start, new_end)

    # The aim: cleared by its button; the same months again change nothing.
    await coordinator.tap("✏️ Edit")
    out = await coordinator.tap("Aim")
    assert "The aim now: Weekly football for 14-18 year olds" in texts(out)[-1]
    out = await coordinator.tap("Clear the aim")
    assert texts(out)[-1].startswith("Changed.") and "🎯 Weekly" not in texts(out)[-1]
    assert (await _action(session)).aim is None
    await coordinator.tap("✏️ Edit")
    out = await coordinator.tap("Aim")
    assert "has no aim yet" in texts(out)[-1] and buttons(out) == []
    await coordinator.send("Girls and boys play every week")
    assert (await _action(session)).aim == "Girls and boys play every week"

    entries = [e for e in await _audit(session) if e.action.startswith("plan_action_")]
    edits = [(e.action, e.details) for e in entries if e.action != "plan_action_add"]
    assert edits == [
        ("plan_action_edit", {"plan_action": action.id, "field": "title"}),
        ("plan_action_months", {
            "plan_action": action.id,
            "old": f"{start:%Y-%m}/{end:%Y-%m}",
            "new": f"{new_start:%Y-%m}/{new_end:%Y-%m}",
        }),
        ("plan_action_edit", {"plan_action": action.id, "field": "aim_cleared"}),
        ("plan_action_edit", {"plan_action": action.id, "field": "aim"}),
    ]
    # The typed texts stay out of the log (they are encrypted in their tables).
    assert not any("football" in str(e.details) for e in entries)


async def test_change_a_milestones_text_and_date_and_remove_one(session, person):
    _saida, coordinator, _member, _outsider = await _world(session, person)
    await create_action(coordinator)
    await _add_milestone(coordinator, "Pitch booked")
    await _add_milestone(coordinator, "First match", "In two weeks")
    pitch, match = (await session.scalars(select(PlanMilestone).order_by(PlanMilestone.id))).all()
    pitch.reminded_on = utcnow().date()
    await session.commit()

    out = await coordinator.tap("✏️ Edit")
    assert "Or tap a milestone" in texts(out)[-1]
    out = await coordinator.tap("🏁 Pitch booked")
    assert "⬜ Pitch booked" in texts(out)[-1]
    assert [label for label, _d in buttons(out)] == ["✏️ Text", "📅 Due date", "🗑 Remove",
                                                     "⬅️ Back"]
    out = await coordinator.tap("📅 Due date")
    assert "Pitch booked: due on" in texts(out)[-1] and "YYYY-MM-DD" in texts(out)[-1]
    out = await coordinator.send("2001-01-01")
    assert texts(out) == ["This date is in the past. Please choose today or a later day."]
    due = (utcnow() + timedelta(days=40)).date()
    out = await coordinator.send(due.isoformat())
    assert texts(out)[-1].startswith("Changed.")
    await session.refresh(pitch)
    assert pitch.due_date == due and pitch.reminded_on is None  # reminded again if late

    # By a button, as when adding one.
    await coordinator.tap("✏️ Edit")
    await coordinator.tap("🏁 Pitch booked")
    await coordinator.tap("📅 Due date")
    await coordinator.tap("In a month", contains=True)
    await session.refresh(pitch)
    assert pitch.due_date > utcnow().date()

    await coordinator.tap("✏️ Edit")
    await coordinator.tap("🏁 Pitch booked")
    out = await coordinator.tap("✏️ Text")
    assert "The milestone now: Pitch booked" in texts(out)[-1]
    out = await coordinator.send("Pitch booked for the season")
    assert "⬜ Pitch booked for the season" in texts(out)[-1]

    # Removing asks first; "No" keeps it.
    await coordinator.tap("✏️ Edit")
    await coordinator.tap("🏁 First match")
    out = await coordinator.tap("🗑 Remove")
    assert texts(out)[-1].endswith("Remove this milestone? This cannot be undone.")
    out = await coordinator.tap("No, keep it")
    assert "What do you want to change in this milestone?" in texts(out)[-1]
    assert await session.get(PlanMilestone, match.id, populate_existing=True) is not None
    await coordinator.tap("🗑 Remove")
    out = await coordinator.tap("🗑 Yes, remove it")
    card = texts(out)[-1]
    assert card.startswith("Milestone removed.") and "First match" not in card
    assert "Pitch booked for the season" in card
    ids = (await session.scalars(select(PlanMilestone.id))).all()
    assert ids == [pitch.id]
    out = await coordinator.press(f"pme:{match.id}:remove_ok")  # pressed twice
    assert texts(out) == ["This milestone no longer exists."]

    actions = [(e.action, e.details.get("milestone")) for e in await _audit(session)
               if e.action in ("plan_milestone_due", "plan_milestone_edit",
                               "plan_milestone_remove")]
    assert actions == [("plan_milestone_due", pitch.id), ("plan_milestone_due", pitch.id),
                       ("plan_milestone_edit", pitch.id), ("plan_milestone_remove", match.id)]


async def test_a_member_and_another_networks_coordinator_change_nothing(session, person, dp):
    _saida, coordinator, member, outsider = await _world(session, person)
    await create_action(coordinator)
    await _add_milestone(coordinator, "Pitch booked")
    action = await _action(session)
    milestone = await session.scalar(select(PlanMilestone))
    assert milestone is not None
    due = milestone.due_date
    entries = await session.scalar(select(func.count()).select_from(AuditEntry))
    forged = [f"ped:{action.id}:menu", f"ped:{action.id}:title", f"ped:{action.id}:months",
              f"pme:{milestone.id}:menu", f"pme:{milestone.id}:due",
              f"pme:{milestone.id}:remove", f"pme:{milestone.id}:remove_ok"]
    out = await member.send("/plan")
    out = await member.tap("🗓 Youth sports league")
    assert "✏️ Edit" not in [label for label, _d in buttons(out)]
    for data in forged:
        assert texts(await member.press(data)) == [STALE], data
        assert texts(await outsider.press(data)) == [DENIED], data
    # A step of the dialog, forged into the outsider's state with Saida's ids, is refused.
    for state, data, typed in (
        (PlanEdit.title, {"network_id": action.network_id, "action_id": action.id}, "Mine"),
        (PlanEdit.ms_text, {"network_id": action.network_id, "action_id": action.id,
                            "milestone_id": milestone.id}, "Mine"),
        (PlanEdit.ms_due, {"network_id": action.network_id, "action_id": action.id,
                           "milestone_id": milestone.id},
         (utcnow() + timedelta(days=60)).date().isoformat()),
    ):
        await set_dialog(dp, outsider.user.id, state, data)
        assert texts(await outsider.send(typed)) == [DENIED], state
    action = await _action(session)
    assert action.title == LEAGUE
    await session.refresh(milestone)
    assert (milestone.text, milestone.due_date) == ("Pitch booked", due)
    assert await session.scalar(select(func.count()).select_from(AuditEntry)) == entries


async def test_cancel_mid_edit_leaves_it_unchanged(session, person):
    _saida, coordinator, _member, _outsider = await _world(session, person)
    await create_action(coordinator)
    await _add_milestone(coordinator, "Pitch booked")
    before = await _action(session)
    start, end = before.start_month, before.end_month
    milestone = await session.scalar(select(PlanMilestone))
    assert milestone is not None
    due = milestone.due_date

    await coordinator.tap("✏️ Edit")
    await coordinator.tap("Title")
    out = await coordinator.send("/cancel")
    assert texts(out) == ["Cancelled. Nothing was changed."]
    out = await coordinator.send("A title typed after /cancel")
    assert "A title typed" not in " ".join(texts(out))

    await coordinator.send("/plan")
    await coordinator.tap("🗓 Youth sports league")
    await coordinator.tap("✏️ Edit")
    await coordinator.tap("Months")
    await coordinator.tap(service.month_label(service.rules.add_months(start, 1), "en"))
    out = await coordinator.send("next spring")
    assert texts(out) == ["Please tap a month above, or send /cancel to keep the months."]
    out = await coordinator.send("/cancel")
    assert texts(out) == ["Cancelled. Nothing was changed."]

    await coordinator.send("/plan")
    await coordinator.tap("🗓 Youth sports league")
    await coordinator.tap("✏️ Edit")
    await coordinator.tap("🏁 Pitch booked")
    await coordinator.tap("📅 Due date")
    await coordinator.send("/cancel")
    out = await coordinator.send((utcnow() + timedelta(days=50)).date().isoformat())
    assert not any(t.startswith("Changed.") for t in texts(out))

    action = await _action(session)
    assert (action.title, action.start_month, action.end_month) == (LEAGUE, start, end)
    await session.refresh(milestone)
    assert milestone.due_date == due and milestone.text == "Pitch booked"
    audited = {e.action for e in await _audit(session)}
    assert not audited & {"plan_action_edit", "plan_action_months", "plan_milestone_due"}


async def test_overlong_texts_are_refused_with_the_limit_in_arabic(session, person):
    saida, coordinator, _member, _outsider = await _world(session, person)
    await create_action(coordinator)
    await _add_milestone(coordinator, "Pitch booked")
    huda = person(8, language_code="ar")
    await member_of(session, huda, saida, role="coordinator", name="Huda", lang="ar")
    await huda.send("/plan")
    await huda.tap("🗓 Youth sports league")
    out = await huda.tap("✏️ تعديل")
    assert "ماذا تريد أن تغيّر في <b>Youth sports league</b>؟" in texts(out)[-1]
    await huda.tap("🏁 Pitch booked")
    out = await huda.tap("✏️ النص")
    assert "(حتى 200 حرفًا)" in texts(out)[-1]
    out = await huda.send("م" * 201)
    assert texts(out) == ["عدد أحرف نصّك 201، والحد الأقصى 200. يُرجى اختصاره وإرساله مرة أخرى."]
    await huda.send("/cancel")
    await huda.send("/plan")
    await huda.tap("🗓 Youth sports league")
    await huda.tap("✏️ تعديل")
    await huda.tap("الهدف")
    out = await huda.send("ه" * 301)
    assert texts(out) == ["عدد أحرف نصّك 301، والحد الأقصى 300. يُرجى اختصاره وإرساله مرة أخرى."]
    milestone = await session.scalar(select(PlanMilestone))
    assert milestone is not None and milestone.text == "Pitch booked"
    assert (await _action(session)).aim == "Weekly football for 14-18 year olds"
