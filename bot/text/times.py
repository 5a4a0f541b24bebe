"""A network's time zone: every local time (events, reports, digests) is read in it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from storage.models import Network


def network_zone(network: Network) -> ZoneInfo:
    return ZoneInfo(network.timezone)
