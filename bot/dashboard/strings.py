"""Every text of the dashboard page (bot/dashboard/static/app.js), by key.

The page asks /app/api/strings for them in its language; placeholders in braces
({n}, {name}, {date}, ...) are filled in by the page, numbers and dates already formatted.
Texts that count things keep a neutral form ("Reports: {n}"): the page has no plural rules.
The lower-case tallies ("going", ...) follow a number ("8 going") and are not the bot's
first-person RSVP buttons ("Going" = "I am going").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.i18n import N_

if TYPE_CHECKING:
    from aiogram.utils.i18n import I18n

STRINGS: dict[str, str] = {
    # The frame
    "app_title": N_("Dashboard"),
    "loading": N_("Loading…"),
    "retry": N_("Try again"),
    "cancel": N_("Cancel"),
    "back": N_("Back"),
    "network": N_("Network"),
    "all_networks": N_("All networks"),
    "nav_overview": N_("This week"),
    "nav_people": N_("People"),
    "nav_events": N_("Events"),
    "nav_trends": N_("Trends"),
    "nav_reports": N_("Reports"),
    # Errors and states without data
    "err_offline": N_("No connection. Check your network and try again."),
    "err_unauthorized": N_("Your sign-in has expired. Open the dashboard again from the bot."),
    "err_forbidden": N_("Only coordinators can open the dashboard."),
    "err_no_init": N_("Open this from the bot's Dashboard button."),
    "err_too_many": N_("Too many attempts. Wait a minute, then try again."),
    "err_not_found": N_("This is no longer here."),
    "err_generic": N_("Something went wrong. Please try again."),
    "no_networks": N_("You do not coordinate a network yet."),
    # Overview
    "week_of": N_("Week of {start} to {end}"),
    "activities": N_("Activities"),
    "participants": N_("Participants reached"),
    "reporters": N_("Members who reported"),
    "reporters_of": N_("{n} of {total}"),
    "rate": N_("Reporting rate"),
    "last_week": N_("Last week: {value}"),
    "same_as_last_week": N_("Same as last week"),
    "more_than_last_week": N_("{n} more than last week"),
    "fewer_than_last_week": N_("{n} fewer than last week"),
    "next_events": N_("Next events"),
    "no_events_planned": N_("No events planned. Create one in the bot with /newevent."),
    "quiet_week": N_("No reports yet this week. They appear here as members send them."),
    "see_who_reported": N_("See who reported"),
    "see_all_events": N_("All events"),
    # Participation
    "period": N_("From {start} to {end}"),
    "weeks_4": N_("4 weeks"),
    "weeks_8": N_("8 weeks"),
    "weeks_26": N_("6 months"),
    "weeks_52": N_("1 year"),
    "everyone": N_("Everyone"),
    "last_report": N_("Last report: {date}"),
    "no_report_yet": N_("No report yet"),
    "reports_n": N_("Reports: {n}"),
    "attended_n": N_("Attended: {n}"),
    "silent": N_("Silent"),
    "silent_n": N_("Silent: {n}"),
    "nudge": N_("Nudge"),
    "nudge_confirm": N_("Send {name} a gentle reminder to report?"),
    "send": N_("Send"),
    "nudge_sent": N_("Reminder sent"),
    "nudged_today": N_("Reminded today"),
    "unreachable": N_("Cannot be reached: has blocked the bot"),
    "no_members": N_("No members in this network yet. Invite them with /invite."),
    "nobody_silent": N_("Everyone reported in this period. Well done!"),
    "rsvp": N_("Answers to invitations"),
    # Events
    "upcoming": N_("Upcoming"),
    "past": N_("Past"),
    "going": N_("going"),
    "maybe": N_("maybe"),
    "not_going": N_("not going"),
    "no_answer": N_("no answer"),
    "attended": N_("came"),
    "no_shows": N_("no-shows"),
    "not_marked": N_("Attendance not marked"),
    "no_upcoming": N_("Nothing planned yet. Create an event in the bot with /newevent."),
    "no_past": N_("No past events yet."),
    # Trends
    "activities_per_week": N_("Activities per week"),
    "participants_per_week": N_("Participants per week"),
    "total_n": N_("Total: {n}"),
    "no_trend": N_("No reports in this period yet. The charts fill as members report."),
    "few_weeks": N_("Only a few weeks have reports so far; the trend gets clearer with time."),
    "chart_week": N_("Week of {date}: {n}"),
    # Report feed
    "filters": N_("Filters"),
    "type": N_("Type"),
    "all_types": N_("All types"),
    "status": N_("Status"),
    "any_status": N_("Any status"),
    "member": N_("Member"),
    "all_members": N_("All members"),
    "since": N_("From"),
    "until": N_("To"),
    "clear_filters": N_("Clear filters"),
    "load_more": N_("Load more"),
    "no_reports": N_("No reports yet. They appear here as members send them with /report."),
    "no_matching_reports": N_("No reports match these filters."),
    "participants_n": N_("Participants: {n}"),
    "by_name": N_("By {name}"),
    "description": N_("Description"),
    "review_note": N_("Review note"),
    "reviewed_by": N_("Reviewed by {name}, {date}"),
    "mark_reviewed": N_("Mark reviewed"),
    "flag": N_("Flag"),
    "flag_note": N_("What needs a second look?"),
    "flag_note_needed": N_("Write a few words first: what needs a second look?"),
    "flag_send": N_("Flag the report"),
    "saved": N_("Saved"),
    "cannot_review": N_("You can read this report but not review it."),
    # Export
    "export": N_("Export"),
    "export_hint": N_("The reports of these filters, as a file sent to your chat with the bot."),
    "export_csv": N_("CSV"),
    "export_xlsx": N_("Excel (XLSX)"),
    "export_sending": N_("Sending…"),
    "export_sent": N_("Sent to your chat. Reports: {n}"),
}


def translated(i18n: I18n, locale: str) -> dict[str, str]:
    """The page's texts in one language (untranslated ones stay in English)."""
    return {key: i18n.gettext(msgid, locale=locale) for key, msgid in STRINGS.items()}
