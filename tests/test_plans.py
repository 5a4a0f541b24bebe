"""/plan through the real dispatcher: a coordinator creates an action with a milestone and
changes its status, a member sees the plan and their own actions but cannot edit it, a
coordinator of another network can neither see nor edit it."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.services import plans as service
from bot.services.access import Actor
from storage.models import AuditEntry, utcnow
from storage.models.plans import PlanAction, PlanMilestone, PlanResponsible
from tests.helpers import make_network, member_of
from tests.people import ADMIN_ID, buttons, texts

DENIED = "Sorry, you are not allowed to do that."
STALE = "This button is no longer valid."


async def _world(session, person):  # type: ignore[no-untyped-def]
    saida = await make_network(session, "saida", name="Saida Network")
    other = await make_network(session, "irbid", name="Irbid Network", country="JO",
                               timezone="Asia/Amman")
    coordinator, member, outsider = person(2), person(3), person(4)
    await member_of(session, coordinator, saida, role="coordinator", name="Omar")
    await member_of(session, member, saida, name="Rana")
    await member_of(session, outsider, other, role="coordinator", name="Lina")
    return saida, coordinator, member, outsider


async def create_action(coordinator, title="Youth sports league", responsible="Rana"):  # type: ignore[no-untyped-def]
    out = await coordinator.send("/plan")
    assert "action plan" in texts(out)[-1]
    await coordinator.tap("➕ New action")
    out = await coordinator.send(title)
    assert "aim" in texts(out)[-1]
    out = await coordinator.send("Weekly football for 14-18 year olds")
    assert "Who is responsible" in texts(out)[-1]
    out = await coordinator.tap(responsible)
    assert any(label == f"✅ {responsible}" for label, _d in buttons(out))
    out = await coordinator.tap("Continue")
    assert "In which month does it start?" in texts(out)[-1]
    month = service.start_months(utcnow().date())[service.rules.MONTHS_BACK]
    out = await coordinator.tap(service.month_label(month, "en"))
    assert "last month" in texts(out)[-1]
    end = service.rules.add_months(month, 2)
    return await coordinator.tap(service.month_label(end, "en"))


async def test_create_an_action_with_a_milestone_and_change_its_status(session, person):
    saida, coordinator, _member, _outsider = await _world(session, person)
    out = await create_action(coordinator)
    card = texts(out)[-1]
    assert card.startswith("Saved.") and "<b>Youth sports league</b>" in card
    assert "Responsible: Rana" in card and "Planned" in card
    action = await session.scalar(select(PlanAction))
    assert action is not None and action.network_id == saida.id and action.status == "planned"
    assert action.aim == "Weekly football for 14-18 year olds"
    assert action.end_month == service.rules.add_months(action.start_month, 2)
    links = (await session.scalars(select(PlanResponsible))).all()
    assert len(links) == 1

    out = await coordinator.tap("Under way")
    assert "▶️ <b>Youth sports league</b> · Under way" in texts(out)[-1]
    await session.refresh(action)
    assert action.status == "under_way"

    out = await coordinator.tap("➕ Milestone")
    assert "A milestone of <b>Youth sports league</b>" in texts(out)[-1]
    out = await coordinator.send("Pitch booked for the season")
    assert "When is it due?" in texts(out)[-1]
    out = await coordinator.send("2001-01-01")
    assert texts(out) == ["This date is in the past. Please choose today or a later day."]
    out = await coordinator.send("in a while")
    assert "YYYY-MM-DD" in texts(out)[-1]
    due = (utcnow() + timedelta(days=20)).date()
    out = await coordinator.send(due.isoformat())
    assert texts(out)[-1].startswith("Milestone added.")
    assert "⬜ Pitch booked for the season" in texts(out)[-1]
    milestone = await session.scalar(select(PlanMilestone))
    assert milestone is not None and milestone.due_date == due and not milestone.done
    out = await coordinator.tap("⬜ Pitch booked for the season")
    assert "☑️ Pitch booked for the season" in texts(out)[-1]
    await session.refresh(milestone)
    assert milestone.done
    out = await coordinator.tap("⬅️ The plan")
    overview = texts(out)[-1]
    assert "🏁 1 of 1 milestone done" in overview and "days left" in overview

    # Who is responsible changes from the card.
    await coordinator.tap("▶️ Youth sports league")
    await coordinator.tap("👤 Responsible")
    await coordinator.tap("Omar")
    await coordinator.tap("✅ Rana")
    out = await coordinator.tap("Continue")
    assert "Responsible: Omar" in texts(out)[-1] and "Rana" not in texts(out)[-1]
    await coordinator.tap("⬅️ The plan")

    # A milestone by the buttons.
    await coordinator.tap("▶️ Youth sports league")
    await coordinator.tap("➕ Milestone")
    await coordinator.send("First match")
    out = await coordinator.tap("In a week", contains=True)
    assert "⬜ First match" in texts(out)[-1]

    actions = [e.action for e in (await session.scalars(select(AuditEntry))).all()]
    assert actions.count("plan_action_add") == 1 and actions.count("plan_milestone_add") == 2
    assert "plan_action_status" in actions and "plan_milestone_done" in actions
    assert "plan_action_responsible" in actions


async def test_a_member_sees_the_plan_and_their_actions_but_cannot_edit(session, person):
    _saida, coordinator, member, _outsider = await _world(session, person)
    await create_action(coordinator)
    await create_action(coordinator, "Parents evenings", responsible="Omar")
    out = await member.send("/plan")
    text = texts(out)[-1]
    assert "🎯 <b>Saida Network</b>: action plan" in text
    assert "Youth sports league" in text and "Parents evenings" in text
    assert text.count("⭐ You are responsible for this action.") == 1
    labels = [label for label, _d in buttons(out)]
    assert "➕ New action" not in labels
    out = await member.tap("🗓 Youth sports league")
    assert "⭐ You are responsible for this action." in texts(out)[-1]
    assert [label for label, _d in buttons(out)] == ["⬅️ The plan"]
    action = await session.scalar(select(PlanAction).order_by(PlanAction.id))
    assert action is not None
    # Forged edit buttons reach no handler for a member.
    for data in (f"pst:{action.id}:done", f"pmn:{action.id}", f"pnew:{action.network_id}"):
        out = await member.press(data)
        assert texts(out) == [STALE]
    await session.refresh(action)
    assert action.status == "planned"


async def test_a_coordinator_of_another_network_cannot_see_or_edit(session, person):
    saida, coordinator, _member, outsider = await _world(session, person)
    await create_action(coordinator)
    action = await session.scalar(select(PlanAction))
    assert action is not None
    out = await outsider.send("/plan")
    assert "Youth sports league" not in texts(out)[-1]
    for data in (f"pl:{saida.id}", f"pa:{action.id}", f"pst:{action.id}:done",
                 f"pmn:{action.id}", f"pnew:{saida.id}", f"net:plan:{saida.id}"):
        out = await outsider.press(data)
        assert texts(out) == [DENIED], data
    await session.refresh(action)
    assert action.status == "planned"


async def test_mydata_shows_the_actions_and_leave_removes_the_links(session, person):
    saida, coordinator, member, _outsider = await _world(session, person)
    other = await make_network(session, "tyre", name="Tyre Network")
    await member_of(session, member, other, name="Rana")
    await create_action(coordinator)
    out = await member.send("/mydata")
    doc = next(r for r in out if hasattr(r, "document"))
    mine = json.loads(doc.document.data)["responsible_for_actions"]
    assert [(a["network"], a["action"], a["status"]) for a in mine] == [
        ("Saida Network", "Youth sports league", "planned")
    ]
    out = await member.press(f"leave:{saida.id}:1")
    assert (await session.scalars(select(PlanResponsible))).all() == []
    assert await session.scalar(select(PlanAction)) is not None  # the network's plan stays
    out = await coordinator.send("/plan")
    assert "Youth sports league" in texts(out)[-1]
    out = await coordinator.tap("🗓 Youth sports league")
    assert "Nobody is responsible yet." in texts(out)[-1]


async def test_the_plan_queries_on_both_backends(pool):
    """The repository on SQLite and PostgreSQL: progress, overdue milestones, the
    once-a-day claim, actions by status, the report rows' action title, leaving."""
    from datetime import date

    from storage.models import Membership, Network, User
    from storage.models.reports import Report
    from storage.repositories import plans as repo
    from storage.repositories import reports as reports_repo

    async with pool() as session:
        net = Network(slug="zarqa", name="Zarqa", country="JO", timezone="Asia/Amman",
                      locale="ar")
        user = User(tg_id=700, display_name="Rana", language="en")
        session.add_all([net, user])
        await session.flush()
        session.add(Membership(user_id=user.id, network_id=net.id, role="member",
                               status="active", sector="teacher"))
        march = date(2026, 3, 1)
        league = await repo.create_action(session, network_id=net.id, title="League",
                                          start_month=march, end_month=march,
                                          status="under_way")
        await repo.create_action(session, network_id=net.id, title="Later",
                                 start_month=march, end_month=march, status="planned")
        await repo.set_responsible(session, league.id, [user.id])
        late = await repo.add_milestone(session, action_id=league.id, text="Pitch",
                                        due_date=date(2026, 3, 5))
        await repo.add_milestone(session, action_id=league.id, text="Kits",
                                 due_date=date(2026, 3, 5), done=True)
        for people in (20, 30):
            session.add(Report(network_id=net.id, author_id=user.id, author_sector="teacher",
                               activity_type="culture", activity_date=march,
                               participants=people, description="d", action_id=league.id))
        await session.commit()

        view = (await repo.views(session, [league]))[0]
        assert (view.progress.reports, view.progress.participants) == (2, 50)
        assert (view.progress.milestones, view.progress.milestones_done) == (2, 1)
        assert view.responsible == [(user.id, "Rana")]
        today = date(2026, 3, 9)
        assert [o.milestone_id for o in await repo.overdue(session, net.id, today)] == [late.id]
        assert await repo.claim_reminder(session, late.id, today, today)
        assert not await repo.claim_reminder(session, late.id, today, today)
        await session.commit()
        assert await repo.status_counts(session, [net.id]) == {
            net.id: {"under_way": 1, "planned": 1}
        }
        rows, _total = await reports_repo.page(session, net.id, offset=0, limit=5)
        assert {r.action_title for r in rows} == {"League"}
        assert [a.title for a, _n in await repo.responsible_for(session, user.id)] == ["League"]
        assert await repo.remove_responsible(session, user.id, net.id) == 1
        await session.commit()
        assert await repo.responsible_for(session, user.id) == []


async def test_the_plan_in_arabic(session, person):
    saida, coordinator, _member, _outsider = await _world(session, person)
    await create_action(coordinator)
    reader = person(7, language_code="ar")
    await member_of(session, reader, saida, name="Huda", lang="ar")
    out = await reader.send("/plan")
    text = texts(out)[-1]
    assert "🎯 <b>Saida Network</b>: خطة العمل" in text
    assert "مخطط" in text and "لا تقارير" in text and "Planned" not in text
    out = await reader.tap("🗓 Youth sports league")
    assert "المسؤولون: Rana" in texts(out)[-1] and "المراحل" in texts(out)[-1]


async def test_a_full_plan_fits_in_one_message_and_the_limit_holds(session, person):
    from bot.text.formats import utf16_len
    from storage.models.plans import ACTIONS_MAX, TITLE_MAX

    saida, coordinator, _member, _outsider = await _world(session, person)
    admin = Actor(tg_id=ADMIN_ID, user=None, is_admin=True)
    month = f"{utcnow():%Y-%m}"
    for i in range(ACTIONS_MAX):
        title = f"{i:02d} " + "ع" * (TITLE_MAX - 3)
        await service.create_action(session, admin, {"network_id": saida.id, "title": title,
                                                     "start": month, "end": month}, utcnow())
    out = await coordinator.send("/plan")
    text = texts(out)[-1]
    assert utf16_len(text) <= 4096 and text.endswith("…")
    out = await coordinator.tap("➕ New action")
    assert texts(out) == [f"There are already {ACTIONS_MAX} of them; that is the limit."]


async def test_an_admin_edits_every_networks_plan(session, person):
    saida, _coordinator, _member, _outsider = await _world(session, person)
    admin = person(ADMIN_ID)
    await admin.send("/start")
    out = await admin.send("/plan")
    assert texts(out)[-1] == "Which network?"
    assert {label for label, _d in buttons(out)} == {"Saida Network", "Irbid Network"}
    out = await admin.tap("Saida Network")
    assert "➕ New action" in [label for label, _d in buttons(out)]
    await admin.tap("➕ New action")
    await admin.send("Admin's action")
    await admin.tap("Skip")
    await admin.tap("Continue")
    month = service.start_months(utcnow().date())[service.rules.MONTHS_BACK]
    await admin.tap(service.month_label(month, "en"))
    out = await admin.tap(service.month_label(month, "en"))
    assert texts(out)[-1].startswith("Saved.")
    action = await session.scalar(select(PlanAction))
    assert action is not None and action.network_id == saida.id and action.aim is None


def test_a_done_or_dropped_action_shows_no_days_left(dp) -> None:  # type: ignore[no-untyped-def]
    """Found on a walk: a finished action's card still counted the days to its end."""
    from datetime import date

    from bot.services.plans.actions import PlanView
    from bot.services.plans.texts import action_text
    from storage.models import Network
    from storage.models.plans import ActionStatus, PlanAction
    from storage.repositories.plans import ActionView, Progress

    network = Network(id=1, slug="irbid", name="Irbid", country="JO", timezone="Asia/Amman")
    today = date(2026, 12, 4)
    for status, shown in ((ActionStatus.UNDER_WAY, True), (ActionStatus.PLANNED, True),
                          (ActionStatus.DONE, False), (ActionStatus.DROPPED, False)):
        action = PlanAction(id=7, network_id=1, title="League", start_month=date(2026, 11, 1),
                            end_month=date(2027, 1, 1), status=status)
        view = ActionView(action=action, progress=Progress())
        plan = PlanView(network=network, actions=[view], editable=True, mine=frozenset(),
                        today=today)
        i18n = dp["i18n"]
        with i18n.context(), i18n.use_locale("en"):
            assert ("⏳" in action_text(plan, view, "en")) is shown, status
