"""Typed callback data (at most 64 bytes each). A forged value does not unpack, so no handler
sees it; ids that do unpack are still checked against the actor by the services."""

from __future__ import annotations

from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from storage.models import Role, Sector
from storage.models.events import Answer

# Every number a button carries fits the database's INTEGER columns: a forged
# "ack:100000000000000000000" does not unpack (it made SQLite raise OverflowError).
Int = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


class LangCb(CallbackData, prefix="lang"):
    code: str


class NameCb(CallbackData, prefix="name"):
    use_telegram: bool


class SectorCb(CallbackData, prefix="sec"):
    sector: Sector


class ConsentCb(CallbackData, prefix="consent"):
    ok: bool


class PickNetCb(CallbackData, prefix="net"):
    """A network chosen for a command: `purpose` names the command that asked."""

    purpose: str
    network_id: Int


class ApproveCb(CallbackData, prefix="appr"):
    membership_id: Int
    ok: bool


class InviteCb(CallbackData, prefix="inv"):
    network_id: Int
    role: Role
    uses: Int = 0


class RevokeCb(CallbackData, prefix="invrev"):
    invite_id: Int


class LeaveCb(CallbackData, prefix="leave"):
    network_id: Int
    ok: bool


# Reports. Short prefixes: these carry ids and filters within 64 bytes.
class RepTypeCb(CallbackData, prefix="rt"):
    """Activity type chosen in the report dialog."""

    t: str


class RepDateCb(CallbackData, prefix="rd"):
    days_ago: Int


class RepNumCb(CallbackData, prefix="rn"):
    n: Int


class RepAgeCb(CallbackData, prefix="ra"):
    """Age group chosen; "none" skips the question."""

    a: str


class RepFormCb(CallbackData, prefix="rf"):
    """A step of the report dialog: skip the file, submit, cancel, or change one field."""

    action: str


class RepStartCb(CallbackData, prefix="rnew"):
    """Starts /report (the nudge's button), in a given network (0: ask if several)."""

    network_id: Int = 0


class RepMineCb(CallbackData, prefix="rm"):
    """A member's own report: edit, withdraw, confirm the withdrawal, keep it."""

    report_id: Int
    action: str


class RepListCb(CallbackData, prefix="rl"):
    """A coordinator's list: network, page, type filter ("" all), period in days (0 all)."""

    network_id: Int
    page: Int = 0
    t: str = ""
    days: Int = 0


class RepTypeMenuCb(CallbackData, prefix="rtm"):
    """The type filter's choices for a coordinator's list."""

    network_id: Int
    days: Int = 0


class RepViewCb(CallbackData, prefix="rv"):
    report_id: Int


class RepReviewCb(CallbackData, prefix="rr"):
    """Mark a report reviewed ("ok") or flag it with a note ("flag")."""

    report_id: Int
    action: str


class RepExportCb(CallbackData, prefix="rx"):
    """Export a network's reports for a period ("" asks which one)."""

    network_id: Int
    period: str = ""


class RepExportPseudoCb(CallbackData, prefix="rxp"):
    """As RepExportCb, the files with pseudonyms instead of the authors' names."""

    network_id: Int
    period: str = ""


class RepSetCb(CallbackData, prefix="rset"):
    """Report settings of a network: a key and its new value ("show" just shows them)."""

    network_id: Int
    key: str = "show"
    value: Int = 0


# Events (handlers/events.py, bot/services/events.py).
class RsvpCb(CallbackData, prefix="rsvp"):
    event_id: Int
    answer: Answer


class EventCb(CallbackData, prefix="ev"):
    """An action on one event: show, who, edit, time, place, cancel, cancel_ok, attend."""

    action: str
    event_id: Int


class AttendCb(CallbackData, prefix="att"):
    event_id: Int
    user_id: Int


class NewEventCb(CallbackData, prefix="nev"):
    """A button of the /newevent dialog: kind, day, hour, length, skip, confirm."""

    step: str
    value: str = ""


class OffsetCb(CallbackData, prefix="remoff"):
    """Toggle one reminder offset (minutes) of a network; 0 asks to type them."""

    network_id: Int
    minutes: Int


class AckCb(CallbackData, prefix="ack"):
    """"Understood" under a broadcast: the delivery row's id."""

    delivery_id: Int


# The outbox fills in each delivery's id (bot/delivery/ payload buttons).
ACK_TEMPLATE = "ack:{delivery_id}"


class BcNetCb(CallbackData, prefix="bcnet"):
    """An admin toggles a network in a multi-network broadcast."""

    network_id: Int


class BcAudCb(CallbackData, prefix="bcaud"):
    audience: str  # all / coordinators / sectors


class BcSecCb(CallbackData, prefix="bcsec"):
    sector: Sector


class BcStepCb(CallbackData, prefix="bcgo"):
    action: str  # networks_done / sectors_done / send / schedule / cancel


class BcCancelCb(CallbackData, prefix="bccan"):
    broadcast_id: Int


# Weekly digest (handlers/digests.py).
class DigestSetCb(CallbackData, prefix="dgset"):
    """A network's "Weekly digest" screen: "show" it, or set its "day" (0 = Monday) or
    "hour" (0-23)."""

    network_id: Int
    key: str = "show"
    value: Int = 0


class DigestSendCb(CallbackData, prefix="dgsend"):
    """"Send now": "ask" to confirm, "go" to send, "force" (admins) to send a second time."""

    network_id: Int
    step: str = "ask"


# /newnetwork (admins).
class NewNetCb(CallbackData, prefix="nn"):
    """A step of the new-network dialog: country, tz, lang, approval, go, slug, cancel."""

    step: str
    value: str = ""


# Action plans (handlers/plans.py).
class PlanShowCb(CallbackData, prefix="pl"):
    """A network's plan."""

    network_id: Int


class PlanActCb(CallbackData, prefix="pa"):
    """One action of a plan: its card and milestones."""

    action_id: Int


class PlanNewCb(CallbackData, prefix="pnew"):
    """A coordinator starts a new action in a network."""

    network_id: Int


class PlanStatusCb(CallbackData, prefix="pst"):
    """A coordinator sets an action's status (planned, under_way, done, dropped)."""

    action_id: Int
    status: str


class PlanMsNewCb(CallbackData, prefix="pmn"):
    """A coordinator adds a milestone to an action."""

    action_id: Int


class PlanMsDoneCb(CallbackData, prefix="pmd"):
    """A coordinator marks a milestone done (or not done again)."""

    milestone_id: Int


class PlanFormCb(CallbackData, prefix="pf"):
    """A button of the plan dialogs: skip, resp (a member), resp_done, start, end, due,
    aim_clear (editing an action's aim)."""

    step: str
    value: str = ""


class RepActionCb(CallbackData, prefix="ract"):
    """The report dialog's "Which action is this part of?" (0: none)."""

    action_id: Int


class PlanRespCb(CallbackData, prefix="pres"):
    """A coordinator changes who is responsible for an action."""

    action_id: Int


class PlanEditCb(CallbackData, prefix="ped"):
    """A coordinator edits an action: the menu, or one field (title, aim, months)."""

    action_id: Int
    what: str = "menu"


class PlanMsEditCb(CallbackData, prefix="pme"):
    """A coordinator edits a milestone: the menu, text, due, remove (asks), remove_ok."""

    milestone_id: Int
    what: str = "menu"
# Training feedback (handlers/feedback.py).
class FbRateCb(CallbackData, prefix="fbr"):
    """A member's 1-5 "how useful was it" after a training or workshop."""

    event_id: Int
    n: Int


class FbSkipCb(CallbackData, prefix="fbs"):
    """Skip one of the two optional questions: "apply" or "missing"."""

    event_id: Int
    step: str


class FbViewCb(CallbackData, prefix="fbv"):
    """A coordinator's view of one event's feedback."""

    event_id: Int


class FbExportCb(CallbackData, prefix="fbx"):
    """CSV and XLSX of one event's feedback (0: of every network the actor coordinates)."""

    event_id: Int = 0
