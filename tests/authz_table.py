"""The authorisation matrix's table: every command, callback prefix and dialog step, and who
may do it (PRODUCT.md section 1). tests/test_authz_matrix.py runs it; a handler without a
row here fails there, by name.

A row's `allowed` is the set of actors for whom the action goes through. Everyone else
is refused, with the text `refusal(row, actor)` says: an actor whose role the handler's
router does not admit falls through to the catch-all (a command: "Only coordinators can
use /x." and the like; a button: "This button is no longer valid."; typed text: "Send
/help ..." or, to a stranger, "Please join ..."), and an actor whose role is enough but
who has no right to network B's object gets the service's refusal (`denied`, by default
"Sorry, you are not allowed to do that."). Callback data carry B's ids (forged for all
but B's coordinator and the admin); dialogs are entered with B's ids in their data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram.fsm.state import State

from bot.callbacks import (
    AckCb,
    ApproveCb,
    AttendCb,
    BcAudCb,
    BcCancelCb,
    BcNetCb,
    BcSecCb,
    BcStepCb,
    ConsentCb,
    DigestSendCb,
    DigestSetCb,
    EventCb,
    FbExportCb,
    FbRateCb,
    FbSkipCb,
    FbViewCb,
    InviteCb,
    LangCb,
    LeaveCb,
    NameCb,
    NewEventCb,
    NewNetCb,
    OffsetCb,
    PickNetCb,
    PlanActCb,
    PlanEditCb,
    PlanFormCb,
    PlanMsDoneCb,
    PlanMsEditCb,
    PlanMsNewCb,
    PlanNewCb,
    PlanRespCb,
    PlanShowCb,
    PlanStatusCb,
    RepActionCb,
    RepAgeCb,
    RepDateCb,
    RepExportCb,
    RepExportPseudoCb,
    RepFormCb,
    RepListCb,
    RepMineCb,
    RepNumCb,
    RepReviewCb,
    RepSetCb,
    RepStartCb,
    RepTypeCb,
    RepTypeMenuCb,
    RepViewCb,
    RevokeCb,
    RsvpCb,
    SectorCb,
)
from bot.services.access import Level
from handlers.broadcasts import Bc
from handlers.events.states import EditEvent, NewEvent
from handlers.feedback import FeedbackForm
from handlers.networks import NewNetwork
from handlers.plans import MilestoneForm, PlanEdit, PlanForm
from handlers.registration import Join
from handlers.reports.states import ExportRange, ReportForm, ReviewNote
from handlers.settings import NetworkSettings
from storage.models import Role, Sector
from storage.models.events import Answer
from tests.authz_world import (
    DENIED,
    HELP_HINT,
    JOIN_FIRST,
    LANGUAGE,
    NO_REPORTER,
    NOT_MEMBER,
    ONLY_ADMIN,
    ONLY_COORD,
    STALE,
    World,
    _future,
)

LEVEL = {"stranger": Level.STRANGER, "member_a": Level.MEMBER, "coord_a": Level.COORDINATOR,
         "coord_b": Level.COORDINATOR, "admin": Level.ADMIN}
ALL = frozenset(LEVEL)
MEMBERS = ALL - {"stranger"}
COORDS = frozenset({"coord_a", "coord_b", "admin"})
B_SIDE = frozenset({"coord_b", "admin"})
ONLY_B = frozenset({"coord_b"})  # a member's dialog: B's coordinator is B's member too
NOBODY: frozenset[str] = frozenset()
FB_NOT_ASKED = "This question is not for you: only those who took part are asked."

Make = Callable[[World, str], str]  # (world, actor) -> the text or the callback data


@dataclass(frozen=True)
class Row:
    kind: str  # "command", "callback" or "state"
    item: str  # the command, the callback prefix or the state ("Group:step")
    make: Make
    allowed: frozenset[str]
    level: Level = Level.STRANGER  # the lowest role the handler's router admits
    denied: str = DENIED  # the refusal of those the router admits but who have no right
    per_actor: dict[str, str] = field(default_factory=dict)  # a refusal of one actor
    button: bool = True  # a callback (else a typed message), for the states
    state: State | None = None
    data: Callable[[World], dict[str, Any]] | None = None  # the dialog's data, with B's ids
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or f"{self.kind} {self.item}"


def refusal(row: Row, actor: str) -> tuple[str, dict[str, str]]:
    """(msgid, format values) of the refusal `actor` must get."""
    if actor in row.per_actor:
        return row.per_actor[actor], {}
    level = LEVEL[actor]
    if level >= row.level:
        return row.denied, {}
    if row.kind == "command":
        if row.level == Level.ADMIN:
            return ONLY_ADMIN, {"command": row.item}
        if row.level == Level.COORDINATOR:
            return ONLY_COORD, {"command": row.item}
        return JOIN_FIRST, {}
    if row.button:
        return STALE, {}
    return (JOIN_FIRST if level == Level.STRANGER else HELP_HINT), {}


def _cmd(name: str, allowed: frozenset[str], level: Level, args: str = "",
         **kw: Any) -> Row:
    return Row("command", name, lambda w, a: f"/{name}{args}", allowed, level, **kw)


COMMANDS = [
    _cmd("start", ALL, Level.STRANGER),
    _cmd("join", ALL, Level.STRANGER),
    _cmd("help", ALL, Level.STRANGER),
    _cmd("language", ALL, Level.STRANGER),
    _cmd("cancel", ALL, Level.STRANGER),  # "/cancel leaves any dialog", the join dialog too
    # /mydata: one's own data only; a stranger is told nothing is stored (PRODUCT lists it
    # for members; the privacy notice promises it from the first step of joining).
    _cmd("mydata", ALL, Level.STRANGER),
    _cmd("events", MEMBERS, Level.MEMBER),
    _cmd("report", MEMBERS - {"admin"}, Level.MEMBER, per_actor={"admin": NO_REPORTER}),
    _cmd("myreports", MEMBERS, Level.MEMBER),
    _cmd("digest", MEMBERS, Level.MEMBER),
    _cmd("plan", MEMBERS, Level.MEMBER),  # members see their network's plan
    _cmd("leave", MEMBERS, Level.MEMBER),
    _cmd("invite", COORDS, Level.COORDINATOR),
    _cmd("members", COORDS, Level.COORDINATOR),
    _cmd("newevent", COORDS, Level.COORDINATOR),
    _cmd("broadcast", COORDS, Level.COORDINATOR),
    _cmd("broadcasts", COORDS, Level.COORDINATOR),
    _cmd("reports", COORDS, Level.COORDINATOR),
    _cmd("export", COORDS, Level.COORDINATOR),
    _cmd("dashboard", COORDS, Level.COORDINATOR),
    _cmd("feedback", COORDS, Level.COORDINATOR),
    _cmd("settings", COORDS, Level.COORDINATOR),
    _cmd("newnetwork", frozenset({"admin"}), Level.ADMIN),
    _cmd("audit", frozenset({"admin"}), Level.ADMIN),
]


def _cb(make: Callable[[World], Any], allowed: frozenset[str], level: Level = Level.STRANGER,
        label: str = "", **kw: Any) -> Row:
    def data(w: World, a: str) -> str:
        return str(make(w).pack())

    return Row("callback", "", data, allowed, level, label=label, **kw)


def _ids(key: str) -> Callable[[World], int]:
    return lambda w: w.ids[key]


nb, ev, rep = _ids("net_b"), _ids("event_b"), _ids("report_b")
M, C = Level.MEMBER, Level.COORDINATOR
# Outside their dialog, the dialogs' buttons reach no handler: stale for everyone.
_STALE_ALL = {a: STALE for a in ALL}

CALLBACKS = [
    Row("callback", "lang", lambda w, a: LangCb(code=LANGUAGE[a]).pack(), ALL),
    _cb(lambda w: NameCb(use_telegram=True), NOBODY, per_actor=_STALE_ALL),
    _cb(lambda w: SectorCb(sector=Sector.TEACHER), NOBODY, per_actor=_STALE_ALL),
    _cb(lambda w: ConsentCb(ok=True), NOBODY, per_actor=_STALE_ALL),
    *(
        _cb((lambda p: lambda w: PickNetCb(purpose=p, network_id=nb(w)))(purpose), B_SIDE, C,
            label=f"callback net:{purpose}")
        for purpose in ("invite", "members", "settings", "newevent", "reports", "export")
    ),
    _cb(lambda w: PickNetCb(purpose="leave", network_id=nb(w)), ONLY_B, M,
        denied=NOT_MEMBER, label="callback net:leave"),
    _cb(lambda w: PickNetCb(purpose="report", network_id=nb(w)), ONLY_B, M,
        label="callback net:report"),
    _cb(lambda w: PickNetCb(purpose="digest", network_id=nb(w)), B_SIDE, M,
        label="callback net:digest"),
    # Action plans: B's plan is seen by B's people (and admins), edited by B's coordinators.
    _cb(lambda w: PickNetCb(purpose="plan", network_id=nb(w)), B_SIDE, M,
        label="callback net:plan"),
    _cb(lambda w: PlanShowCb(network_id=nb(w)), B_SIDE, M),
    _cb(lambda w: PlanActCb(action_id=w.ids["action_b"]), B_SIDE, M),
    _cb(lambda w: PlanNewCb(network_id=nb(w)), B_SIDE, C),
    _cb(lambda w: PlanMsNewCb(action_id=w.ids["action_b"]), B_SIDE, C),
    _cb(lambda w: PlanMsDoneCb(milestone_id=w.ids["milestone_b"]), B_SIDE, C),
    _cb(lambda w: PlanStatusCb(action_id=w.ids["action_b"], status="done"), B_SIDE, C),
    _cb(lambda w: PlanRespCb(action_id=w.ids["action_b"]), B_SIDE, C),
    _cb(lambda w: PlanEditCb(action_id=w.ids["action_b"]), B_SIDE, C),
    *(
        _cb((lambda f: lambda w: PlanEditCb(action_id=w.ids["action_b"], what=f))(what),
            B_SIDE, C, label=f"callback ped:{what}")
        for what in ("title", "aim", "months")
    ),
    _cb(lambda w: PlanMsEditCb(milestone_id=w.ids["milestone_b"]), B_SIDE, C),
    *(
        _cb((lambda f: lambda w: PlanMsEditCb(milestone_id=w.ids["milestone_b"], what=f))(what),
            B_SIDE, C, label=f"callback pme:{what}")
        for what in ("text", "due", "remove")
    ),
    _cb(lambda w: PickNetCb(purpose="digest", network_id=0), frozenset({"admin"}), M,
        label="callback net:digest, all networks"),
    _cb(lambda w: PickNetCb(purpose="broadcast", network_id=nb(w)), NOBODY,
        per_actor=_STALE_ALL, label="callback net:broadcast, outside /broadcast"),
    _cb(lambda w: ApproveCb(membership_id=w.ids["pending_b"], ok=False), B_SIDE, C),
    _cb(lambda w: InviteCb(network_id=nb(w), role=Role.MEMBER), B_SIDE, C),
    _cb(lambda w: InviteCb(network_id=nb(w), role=Role.MEMBER, uses=5), B_SIDE, C,
        label="callback inv, made"),
    _cb(lambda w: InviteCb(network_id=w.ids["net_a"], role=Role.COORDINATOR, uses=5),
        frozenset({"admin"}), C, label="callback inv, a coordinator invite to A"),
    _cb(lambda w: RevokeCb(invite_id=w.ids["invite_b"]), B_SIDE, C),
    _cb(lambda w: LeaveCb(network_id=nb(w), ok=False), MEMBERS, M, label="callback leave, no"),
    *(
        _cb(make, NOBODY, per_actor=_STALE_ALL)
        for make in (
            lambda w: RepTypeCb(t="workshop"), lambda w: RepDateCb(days_ago=0),
            lambda w: RepNumCb(n=5), lambda w: RepAgeCb(a="none"),
            lambda w: RepFormCb(action="submit"), lambda w: RepActionCb(action_id=0),
            lambda w: PlanFormCb(step="skip"),
            lambda w: NewEventCb(step="kind", value="meeting"),
            lambda w: BcNetCb(network_id=nb(w)), lambda w: BcAudCb(audience="all"),
            lambda w: BcSecCb(sector=Sector.TEACHER), lambda w: BcStepCb(action="send"),
            lambda w: NewNetCb(step="country", value="LB"),
        )
    ),
    # A member's report button with B's id starts a report in their own network.
    _cb(lambda w: RepStartCb(network_id=nb(w)), MEMBERS - {"admin"}, M,
        per_actor={"admin": NO_REPORTER}),
    *(
        _cb((lambda act: lambda w: RepMineCb(report_id=rep(w), action=act))(action), NOBODY, M,
            label=f"callback rm:{action}")
        for action in ("edit", "withdraw", "confirm")
    ),
    _cb(lambda w: RepListCb(network_id=nb(w)), B_SIDE, C),
    _cb(lambda w: RepTypeMenuCb(network_id=nb(w)), B_SIDE, C),
    _cb(lambda w: RepViewCb(report_id=rep(w)), B_SIDE, C),
    _cb(lambda w: RepReviewCb(report_id=rep(w), action="ok"), B_SIDE, C),
    _cb(lambda w: RepReviewCb(report_id=rep(w), action="flag"), B_SIDE, C,
        label="callback rr:flag"),
    _cb(lambda w: RepExportCb(network_id=nb(w), period="all"), B_SIDE, C),
    _cb(lambda w: RepExportPseudoCb(network_id=nb(w), period="all"), B_SIDE, C),
    _cb(lambda w: RepSetCb(network_id=nb(w)), B_SIDE, C),
    _cb(lambda w: RepSetCb(network_id=nb(w), key="nudge", value=1), B_SIDE, C,
        label="callback rset, changed"),
    # RSVP: one's own answer, in a network one belongs to; the admin may answer anywhere
    # once stored (here: since the language button; with no row, "not allowed").
    _cb(lambda w: RsvpCb(event_id=ev(w), answer=Answer.GOING), B_SIDE),
    *(
        _cb((lambda act: lambda w: EventCb(action=act, event_id=ev(w)))(action), B_SIDE,
            label=f"callback ev:{action}")
        for action in ("show", "who", "attend", "edit", "time", "place", "cancel")
    ),
    _cb(lambda w: AttendCb(event_id=ev(w), user_id=w.ids["user_b"]), B_SIDE),
    # Training feedback: nobody was asked about B's event, so nobody may answer it (a
    # forged press gets the refusal); its answers and export are B's coordinators'.
    _cb(lambda w: FbRateCb(event_id=ev(w), n=4), NOBODY, M, denied=FB_NOT_ASKED),
    _cb(lambda w: FbSkipCb(event_id=ev(w), step="apply"), NOBODY, M, denied=FB_NOT_ASKED),
    _cb(lambda w: FbViewCb(event_id=ev(w)), B_SIDE, C),
    _cb(lambda w: FbExportCb(event_id=ev(w)), B_SIDE, C),
    _cb(lambda w: FbExportCb(event_id=0), COORDS, C, label="callback fbx:0, own networks"),
    _cb(lambda w: OffsetCb(network_id=nb(w), minutes=60), B_SIDE, C),
    _cb(lambda w: OffsetCb(network_id=nb(w), minutes=0), B_SIDE, C, label="callback remoff:0"),
    # "Understood" is the recipient's own: B's member's delivery is nobody else's.
    _cb(lambda w: AckCb(delivery_id=w.ids["delivery_b"]), NOBODY, per_actor=_STALE_ALL),
    _cb(lambda w: DigestSetCb(network_id=nb(w)), B_SIDE, C),
    _cb(lambda w: DigestSetCb(network_id=nb(w), key="day", value=3), B_SIDE, C,
        label="callback dgset, changed"),
    _cb(lambda w: DigestSendCb(network_id=nb(w)), B_SIDE, C),
    _cb(lambda w: DigestSendCb(network_id=nb(w), step="go"), B_SIDE, C,
        label="callback dgsend:go"),
    # Last: these end B's objects (the admin finds them already ended: still allowed).
    _cb(lambda w: PlanMsEditCb(milestone_id=w.ids["milestone_b"], what="remove_ok"), B_SIDE, C,
        label="callback pme:remove_ok"),
    _cb(lambda w: BcCancelCb(broadcast_id=w.ids["broadcast_b"]), B_SIDE, C),
    _cb(lambda w: EventCb(action="cancel_ok", event_id=ev(w)), B_SIDE,
        label="callback ev:cancel_ok"),
    _cb(lambda w: LeaveCb(network_id=nb(w), ok=True), ONLY_B, M,
        denied=NOT_MEMBER, label="callback leave, yes"),
]


def _prefix(row: Row) -> Row:
    """The callback's prefix, read from the data it sends."""
    if row.kind != "callback" or row.item:
        return row
    data = row.make(_PROBE, "admin")
    return Row(**{**row.__dict__, "item": data.split(":")[0]})


class _Probe(World):
    def __init__(self) -> None:
        super().__init__(people={}, ids=_ProbeIds())


class _ProbeIds(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> int:
        return 1


_PROBE = _Probe()
CALLBACKS = [_prefix(r) for r in CALLBACKS]


# ------------------------------------------------------------------------- dialogs


def _text(value: str | Callable[[], str]) -> Make:
    return lambda w, a: value if isinstance(value, str) else value()


def _press(make: Callable[[World], Any]) -> Make:
    return lambda w, a: str(make(w).pack())


def _lang(w: World, a: str) -> str:
    return LangCb(code=LANGUAGE[a]).pack()


def _st(state: State, make: Make, allowed: frozenset[str], level: Level,
        data: Callable[[World], dict[str, Any]], button: bool, **kw: Any) -> Row:
    return Row("state", state.state or "", make, allowed, level, button=button, state=state,
               data=data, **kw)


def _b_net(w: World) -> dict[str, Any]:
    return {"network_id": w.ids["net_b"], "tz": "Asia/Amman"}


def _b_bc(w: World) -> dict[str, Any]:
    return {"networks": [w.ids["net_b"]], "roles": None, "sectors": []}


def _b_bc_content(w: World) -> dict[str, Any]:
    return {**_b_bc(w), "content": {"kind": "text", "text": "Hi", "entities": None}}


def _join(w: World) -> dict[str, Any]:
    return {"code": w.b_code, "language": "en", "name": "Nadia", "sector": "teacher"}


def _event(w: World) -> dict[str, Any]:
    start = _future("Asia/Amman", 4).replace(" ", "T") + ":00+03:00"
    end = start.replace("18:00", "19:00")
    return {**_b_net(w), "kind": "meeting", "title": "T", "day": start[:10],
            "starts_at": start, "ends_at": end, "place": "Hall", "description": None}


def _report(w: World) -> dict[str, Any]:
    return {"network_id": w.ids["net_b"], "type": "workshop", "date": _future("UTC", 0)[:10],
            "participants": 5, "age": "", "description": "Done"}


def _plan(w: World) -> dict[str, Any]:
    return {"network_id": w.ids["net_b"], "title": "T", "aim": None, "responsible": [],
            "start": _future("UTC", 0)[:7]}


def _milestone(w: World) -> dict[str, Any]:
    return {"network_id": w.ids["net_b"], "action_id": w.ids["action_b"], "text": "M"}


def _plan_edit(w: World) -> dict[str, Any]:
    return {"network_id": w.ids["net_b"], "action_id": w.ids["action_b"]}


def _ms_edit(w: World) -> dict[str, Any]:
    return {**_plan_edit(w), "milestone_id": w.ids["milestone_b"]}


def _network_draft(w: World) -> dict[str, Any]:
    return {"name": "Net X", "country": "LB", "tz": "Asia/Beirut", "locale": "en",
            "approval": False, "slug": "net-x"}


# Every step of a dialog about a network checks the actor's right to the network in the
# dialog's data (bot/filters.py DialogNetwork), even steps that only ask the next question.

STATES = [
    _st(Join.language, _lang, ALL, Level.STRANGER, _join, True),
    _st(Join.name, _text("Nadia"), ALL, Level.STRANGER, _join, False),
    _st(Join.sector, _press(lambda w: SectorCb(sector=Sector.TEACHER)), ALL, Level.STRANGER, _join,
        True),
    _st(Join.consent, _press(lambda w: ConsentCb(ok=False)), ALL, Level.STRANGER, _join, True),
    _st(Bc.networks, _press(lambda w: PickNetCb(purpose="broadcast", network_id=nb(w))),
        B_SIDE, C, lambda w: {"networks": []}, True),
    _st(Bc.audience, _press(lambda w: BcAudCb(audience="all")), B_SIDE, C, _b_bc, True),
    _st(Bc.sectors, _press(lambda w: BcSecCb(sector=Sector.TEACHER)), B_SIDE, C, _b_bc, True),
    _st(Bc.content, _text("Hello all"), B_SIDE, C, _b_bc, False),
    _st(Bc.confirm, _press(lambda w: BcStepCb(action="schedule")), B_SIDE, C, _b_bc_content,
        True),
    _st(Bc.schedule, _text("2020-01-01 10:00"), B_SIDE, C, _b_bc_content, False),
    _st(NetworkSettings.offsets, _text("2h"), B_SIDE, Level.STRANGER, _b_net, False),
    _st(NewEvent.kind, _press(lambda w: NewEventCb(step="kind", value="meeting")),
        B_SIDE, Level.STRANGER, _b_net, True),
    _st(NewEvent.title, _text("A title"), B_SIDE, Level.STRANGER, _event, False),
    _st(NewEvent.start, _text(lambda: _future("Asia/Amman", 5)), B_SIDE, Level.STRANGER, _event,
        False),
    _st(NewEvent.start_time, _press(lambda w: NewEventCb(step="hour", value="1800")),
        B_SIDE, Level.STRANGER, _event, True),
    _st(NewEvent.end, _press(lambda w: NewEventCb(step="len", value="60")), B_SIDE, Level.STRANGER,
        _event, True),
    _st(NewEvent.place, _text("Hall"), B_SIDE, Level.STRANGER, _event, False),
    _st(NewEvent.description, _text("About it"), B_SIDE, Level.STRANGER, _event, False),
    _st(NewEvent.preview, _press(lambda w: NewEventCb(step="confirm", value="1")), B_SIDE,
        Level.STRANGER, _event, True),
    _st(EditEvent.start, _text(lambda: _future("Asia/Amman", 6)), B_SIDE, Level.STRANGER,
        lambda w: {"event_id": ev(w), "tz": "Asia/Amman"}, False),
    _st(EditEvent.place, _text("Other hall"), B_SIDE, Level.STRANGER,
        lambda w: {"event_id": ev(w), "tz": "Asia/Amman"}, False),
    _st(ReportForm.type, _press(lambda w: RepTypeCb(t="workshop")), ONLY_B, M,
        _report, True),
    _st(ReportForm.date, _press(lambda w: RepDateCb(days_ago=0)), ONLY_B, M,
        _report, True),
    _st(ReportForm.participants, _press(lambda w: RepNumCb(n=5)), ONLY_B, M, _report,
        True),
    _st(ReportForm.age, _press(lambda w: RepAgeCb(a="none")), ONLY_B, M, _report, True),
    _st(ReportForm.action, _press(lambda w: RepActionCb(action_id=0)), ONLY_B, M, _report,
        True),
    _st(ReportForm.description, _text("We met"), ONLY_B, M, _report, False),
    _st(ReportForm.attachment, _press(lambda w: RepFormCb(action="skip_file")),
        ONLY_B, M, _report, True),
    _st(ReportForm.preview, _press(lambda w: RepFormCb(action="submit")),
        ONLY_B, M, _report, True),
    _st(FeedbackForm.apply, _text("Role plays"), NOBODY, M, lambda w: {"event_id": ev(w)},
        False, denied=FB_NOT_ASKED),
    _st(FeedbackForm.missing, _text("More time"), NOBODY, M, lambda w: {"event_id": ev(w)},
        False, denied=FB_NOT_ASKED),
    _st(ReviewNote.note, _text("Which school?"), B_SIDE, C,
        lambda w: {"report_id": rep(w)}, False),
    _st(ExportRange.dates, _text("2026-01-01 2026-01-31"), B_SIDE, C, _b_net, False),
    _st(PlanForm.title, _text("A title"), B_SIDE, C, _plan, False),
    _st(PlanForm.aim, _press(lambda w: PlanFormCb(step="skip")), B_SIDE, C, _plan, True),
    _st(PlanForm.responsible, _press(lambda w: PlanFormCb(step="resp_done")), B_SIDE, C, _plan,
        True),
    _st(PlanForm.start, _press(lambda w: PlanFormCb(step="start", value=_future("UTC", 0)[:7])),
        B_SIDE, C, _plan, True),
    _st(PlanForm.end, _press(lambda w: PlanFormCb(step="end", value=_future("UTC", 40)[:7])),
        B_SIDE, C, _plan, True),
    _st(PlanEdit.responsible, _press(lambda w: PlanFormCb(step="resp_done")), B_SIDE, C,
        lambda w: {**_milestone(w), "responsible": []}, True),
    _st(PlanEdit.title, _text("A new title"), B_SIDE, C, _plan_edit, False),
    _st(PlanEdit.aim, _text("A new aim"), B_SIDE, C, _plan_edit, False),
    _st(PlanEdit.aim, _press(lambda w: PlanFormCb(step="aim_clear")), B_SIDE, C, _plan_edit,
        True, label="dialog state PlanEdit:aim, cleared"),
    _st(PlanEdit.start, _press(lambda w: PlanFormCb(step="start", value=_future("UTC", 0)[:7])),
        B_SIDE, C, _plan_edit, True),
    _st(PlanEdit.end, _press(lambda w: PlanFormCb(step="end", value=_future("UTC", 40)[:7])),
        B_SIDE, C, lambda w: {**_plan_edit(w), "start": _future("UTC", 0)[:7]}, True),
    _st(PlanEdit.ms_text, _text("Hall booked again"), B_SIDE, C, _ms_edit, False),
    _st(PlanEdit.ms_due, _text(lambda: _future("UTC", 12)[:10]), B_SIDE, C, _ms_edit, False),
    _st(PlanEdit.ms_due, _press(lambda w: PlanFormCb(step="due", value=_future("UTC", 14)[:10])),
        B_SIDE, C, _ms_edit, True, label="dialog state PlanEdit:ms_due, tapped"),
    _st(MilestoneForm.text, _text("Hall booked"), B_SIDE, C, _milestone, False),
    _st(MilestoneForm.due, _text(lambda: _future("UTC", 9)[:10]), B_SIDE, C, _milestone, False),
    _st(NewNetwork.name, _text("Net X"), frozenset({"admin"}), Level.ADMIN, _network_draft,
        False),
    _st(NewNetwork.country, _press(lambda w: NewNetCb(step="country", value="LB")),
        frozenset({"admin"}), Level.ADMIN, _network_draft, True),
    _st(NewNetwork.timezone, _text("Asia/Beirut"), frozenset({"admin"}), Level.ADMIN,
        _network_draft, False),
    _st(NewNetwork.language, _press(lambda w: NewNetCb(step="lang", value="en")),
        frozenset({"admin"}), Level.ADMIN, _network_draft, True),
    _st(NewNetwork.approval, _press(lambda w: NewNetCb(step="approval", value="0")),
        frozenset({"admin"}), Level.ADMIN, _network_draft, True),
    _st(NewNetwork.preview, _press(lambda w: NewNetCb(step="slug")), frozenset({"admin"}),
        Level.ADMIN, _network_draft, True),
    _st(NewNetwork.slug, _text("net-y"), frozenset({"admin"}), Level.ADMIN, _network_draft,
        False),
]
