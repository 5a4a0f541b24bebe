"""Activity reports in the chat: the /report dialog (filing), /myreports (own),
coordinators' /reports (review), /export, and the reports settings.

Each module registers its handlers on the `members` or `coordinators` router of `states`
when imported; the first matching handler wins, so the order below is the order of
registration: keep it.
"""

# isort: off
from handlers.reports.states import ExportRange, ReportForm, ReviewNote, router
from handlers.reports import filing, own, review, export, settings

# isort: on

__all__ = [
    "ExportRange",
    "ReportForm",
    "ReviewNote",
    "export",
    "filing",
    "own",
    "review",
    "router",
    "settings",
]
