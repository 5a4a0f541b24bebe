"""Calendar files (.ics, RFC 5545) for events, built with the `icalendar` library.

One VEVENT per file with a stable UID (an update replaces the entry in the phone's
calendar), SEQUENCE raised on each change, and METHOD:CANCEL with STATUS:CANCELLED when the
event is called off. Times carry the network's TZID with its VTIMEZONE (only the
transitions around the event, so the file stays small), so calendars show the right wall
time whatever daylight saving does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

PRODID = "-//prevnet//Prevention Network bot//EN"
MIME_TYPE = "text/calendar"


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    uid: str
    sequence: int
    title: str
    place: str
    description: str | None
    starts_at: datetime  # aware
    ends_at: datetime  # aware
    timezone: str  # IANA name, e.g. Asia/Beirut
    kind: str = "meeting"


def build_ics(event: CalendarEvent, *, now: datetime, cancelled: bool = False) -> bytes:
    """The .ics file of one event (a cancellation when ``cancelled``)."""
    zone = ZoneInfo(event.timezone)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    start = event.starts_at.astimezone(zone)
    end = event.ends_at.astimezone(zone)
    cal.add_component(_vtimezone(zone, event.timezone, start.date(), end.date()))

    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", now)
    vevent.add("dtstart", start)
    vevent.add("dtend", end)
    vevent.add("summary", event.title)
    vevent.add("location", event.place)
    if event.description:
        vevent.add("description", event.description)
    vevent.add("categories", [event.kind.upper()])
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    vevent.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    cal.add_component(vevent)
    return cal.to_ical()


def _vtimezone(zone: ZoneInfo, tzid: str, first: date, last: date) -> icalendar.Timezone:
    # A year either side covers the event and any edit of it; older rules are not needed.
    year = timedelta(days=366)
    return icalendar.Timezone.from_tzinfo(
        zone, tzid=tzid, first_date=first - year, last_date=last + year
    )


def filename(kind: str, starts_at: datetime, timezone: str) -> str:
    """An ASCII file name such as ``training-2026-03-03.ics``."""
    local = starts_at.astimezone(ZoneInfo(timezone))
    safe_kind = re.sub(r"[^a-z]+", "", kind.lower()) or "event"
    return f"{safe_kind}-{local:%Y-%m-%d}.ics"
