"""Typed callback data (at most 64 bytes each). A forged value does not unpack, so no handler
sees it; ids that do unpack are still checked against the actor by the services."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from storage.models import Role, Sector


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
    network_id: int


class ApproveCb(CallbackData, prefix="appr"):
    membership_id: int
    ok: bool


class InviteCb(CallbackData, prefix="inv"):
    network_id: int
    role: Role
    uses: int = 0


class RevokeCb(CallbackData, prefix="invrev"):
    invite_id: int


class LeaveCb(CallbackData, prefix="leave"):
    network_id: int
    ok: bool
