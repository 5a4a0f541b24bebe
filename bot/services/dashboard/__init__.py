"""The coordinators' dashboard (a Telegram Mini App, bot/dashboard/): who may look at
what (`scope`), the figures (`figures`), the report feed with review and export (`feed`)
and the nudge (`nudge`). Every function takes the signed-in `Viewer`, read from the
database on each call; the page's ids are checked here."""

from bot.services.dashboard.feed import detail, export, feed, review
from bot.services.dashboard.figures import (
    TREND_WEEKS,
    events,
    overview,
    participation,
    session_json,
    trends,
    weeks_param,
)
from bot.services.dashboard.gate import dashboard_gate, dashboard_slots
from bot.services.dashboard.menu import (
    DASHBOARD_TEXT,
    clear_menu_button,
    may_open,
    menu_targets,
    set_menu_button,
    sync_menu_buttons,
)
from bot.services.dashboard.nudge import nudge
from bot.services.dashboard.scope import (
    ALL,
    RTL_LOCALES,
    DashboardError,
    Scope,
    Viewer,
    ViewLog,
    pick_locale,
    scope,
    viewer,
    visible_networks,
)

__all__ = [
    "ALL",
    "DASHBOARD_TEXT",
    "RTL_LOCALES",
    "TREND_WEEKS",
    "DashboardError",
    "Scope",
    "ViewLog",
    "Viewer",
    "clear_menu_button",
    "dashboard_gate",
    "dashboard_slots",
    "detail",
    "events",
    "export",
    "feed",
    "may_open",
    "menu_targets",
    "nudge",
    "overview",
    "participation",
    "pick_locale",
    "review",
    "scope",
    "session_json",
    "set_menu_button",
    "sync_menu_buttons",
    "trends",
    "viewer",
    "visible_networks",
    "weeks_param",
]
