"""The coordinators' dashboard, a Telegram Mini App served by the bot (README "Dashboard"):
sign-in (`auth`), the page and its headers (`server`), the JSON API (`api`). The figures
and rules are in bot/services/dashboard; the page itself (static/, strings.py) is plain
files, with no build step."""

from bot.dashboard.api import Dashboard
from bot.dashboard.server import Assets, add_dashboard_routes, create_app, start_server

__all__ = ["Assets", "Dashboard", "add_dashboard_routes", "create_app", "start_server"]
