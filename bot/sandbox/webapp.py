"""Opening a Web App (the menu button's page) as a Telegram client does: the page's address
with ``#tgWebAppData=<initData>&tgWebAppVersion=...``, initData signed with the bot's token
(https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode

WEBAPP_VERSION = "7.0"
# Telegram's light theme, as the web client passes it.
THEME: dict[str, str] = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#707579",
    "link_color": "#3390ec",
    "button_color": "#3390ec",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#f4f4f5",
    "header_bg_color": "#ffffff",
    "accent_text_color": "#3390ec",
    "section_bg_color": "#ffffff",
    "section_header_text_color": "#3390ec",
    "subtitle_text_color": "#707579",
    "destructive_text_color": "#e53935",
}


def data_check_string(fields: dict[str, str]) -> str:
    """The sorted ``key=value`` lines, every field but ``hash``."""
    return "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "hash")


def sign(fields: dict[str, str], token: str) -> str:
    """hex HMAC_SHA256(HMAC_SHA256("WebAppData", token), data_check_string)."""
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, data_check_string(fields).encode(), hashlib.sha256).hexdigest()


def init_data(token: str, user: dict[str, Any], *, auth_date: int | None = None,
              query_id: str | None = None) -> str:
    """The initData query string a Telegram client hands a Web App opened by this user."""
    person = {k: user[k] for k in ("id", "first_name", "last_name", "username",
                                   "language_code", "is_premium") if user.get(k) is not None}
    person["allows_write_to_pm"] = True
    fields = {
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
        "query_id": query_id or "AAF" + secrets.token_urlsafe(12),
        "user": json.dumps(person, ensure_ascii=False, separators=(",", ":")),
    }
    fields["hash"] = sign(fields, token)
    return urlencode(fields, quote_via=quote)


def launch_url(url: str, token: str, user: dict[str, Any]) -> str:
    """The Web App's address as a Telegram client opens it (its own fragment replaced)."""
    fragment = "&".join(
        (
            "tgWebAppData=" + quote(init_data(token, user), safe=""),
            "tgWebAppVersion=" + WEBAPP_VERSION,
            "tgWebAppPlatform=web",
            "tgWebAppThemeParams="
            + quote(json.dumps(THEME, separators=(",", ":")), safe=""),
        )
    )
    return url.split("#", 1)[0] + "#" + fragment
