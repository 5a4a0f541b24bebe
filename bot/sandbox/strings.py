"""Every text of the sandbox's chat page (bot/sandbox/static/index.html and sandbox.js), by key.

The page asks /sandbox/api/strings?lang=xx for them (bot/sandbox/page.py), once per language:
the page's own texts (the top bar, the pickers, the welcome, the errors) are in the page's
language (the picker in the top bar); what a phone shows around the bot's messages (START,
"Message", "edited", the menu) is in that person's language, as their Telegram app would.
Placeholders in braces ({n}, {role}, ...) are filled in by the page; numbers already formatted.
The keys ``err_<code>`` are the page's texts for the API's errors (``_bad("<code>", ...)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.i18n import N_
from bot.text.labels import LANGUAGE_NAMES, role_label
from storage.models import Role

if TYPE_CHECKING:
    from aiogram.utils.i18n import I18n

RTL_LOCALES = frozenset({"ar"})

STRINGS: dict[str, str] = {
    # The page (in the page's language)
    "page_title": N_("Prevnet sandbox"),
    "page_language": N_("Language of this page"),
    "invites_title": N_("Invite codes: a person's START button in their chat uses them"),
    "invite_role": N_("{role}:"),
    "invite_hint": N_("Send /start {code} in a chat, or press its START button"),
    "new_name": N_("New person's name"),
    "new_language": N_("Their language"),
    "add_person": N_("Add person"),
    "add_chat": N_("+ Chat"),
    "add_chat_title": N_("Show one more chat"),
    "welcome_title": N_("Talk to the bot as several people at once"),
    "welcome_add": N_(
        "Add a person above (a name and a language), then press START in their chat: with an "
        "invite code they join the network, as from a link in Telegram."
    ),
    "welcome_side": N_(
        "Up to three chats stand side by side: a coordinator and two members, say, to show a "
        "broadcast arriving and its \u201cunderstood\u201d count rising."
    ),
    "whose_phone": N_("Whose phone"),
    "close_chat": N_("Close this chat"),
    "no_network": N_("no network yet"),
    "limits": N_("Telegram's limits on · {sent} messages sent · {refused} refused (429)"),
    "offline": N_("The sandbox is not answering. Is prevnet sandbox still running?"),
    # The API's errors (in the page's language)
    "err_generic": N_("Something went wrong. Please try again."),
    "err_bad_request": N_("The sandbox did not understand this request."),
    "err_name_needed": N_("Write the new person's name first."),
    "err_bad_language": N_("Choose Arabic, English or French."),
    "err_too_many_people": N_("That is enough people for one sandbox."),
    "err_no_person": N_("This person is not in the sandbox any more. Reload the page."),
    "err_nothing_to_send": N_("Nothing to send."),
    "err_button_gone": N_("This button is gone: its message changed meanwhile."),
    "err_no_file": N_("No file was sent."),
    "err_empty_file": N_("The file is empty."),
    "err_not_web_app": N_("This is not a Web App address."),
    # A phone (in its person's language)
    "bot": N_("bot"),
    "menu": N_("Menu"),
    "message": N_("Message"),
    "start": N_("START"),
    "start_invite": N_("START with the invite ({role})"),
    "intro": N_("What can this bot do?"),
    "edited": N_("edited"),
    "commands": N_("Commands"),
    "attach": N_("Send a photo or a file"),
    "send": N_("Send"),
    "ok": N_("OK"),
    "copied": N_("Copied"),
    "unsupported_button": N_("This kind of button is not in the sandbox."),
    "photo": N_("Photo"),
    "spoiler": N_("Spoiler"),
    "size_b": N_("{n} B"),
    "size_kb": N_("{n} KB"),
    "size_mb": N_("{n} MB"),
}


def translated(i18n: I18n, locale: str) -> dict[str, str]:
    """The page's texts in one language (untranslated ones stay in English)."""
    return {key: i18n.gettext(msgid, locale=locale) for key, msgid in STRINGS.items()}


def page_texts(i18n: I18n, locale: str) -> dict[str, Any]:
    """What /sandbox/api/strings answers: the texts, the direction, the bot's own role labels
    (bot/text/labels.py) and each language's name for itself."""
    with i18n.context(), i18n.use_locale(locale):
        roles = {str(role): role_label(str(role)) for role in Role}
    return {
        "locale": locale,
        "dir": "rtl" if locale in RTL_LOCALES else "ltr",
        "strings": translated(i18n, locale),
        "roles": roles,
        "languages": dict(LANGUAGE_NAMES),
    }
