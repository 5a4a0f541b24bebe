"""Opening the dashboard from the bot: /dashboard, the "Dashboard" menu button for
coordinators and admins (per chat, in their language), the default one for members, and
the start-up pass over existing coordinators and admins."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.methods import SendMessage, SetChatMenuButton
from aiogram.types import MenuButtonDefault, MenuButtonWebApp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from bot.i18n import create_i18n
from bot.services.dashboard import sync_menu_buttons
from tests.events_helpers import add_people
from tests.helpers import join, make_invite, make_network
from tests.mocked_bot import MockedBot
from tests.people import ADMIN_ID, Person, texts

URL = "https://dash.example.org/app/"
COORD, MEMBER, OTHER = 500, 501, 502


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webapp_url": URL})


@pytest.fixture
def web_dp(
    web_settings: Settings, session_pool: async_sessionmaker[AsyncSession], bot: MockedBot
) -> Dispatcher:
    return create_dispatcher(web_settings, session_pool, bot)


async def _world(session: AsyncSession) -> int:
    network = await make_network(session, "irbid", timezone="Asia/Amman")
    await add_people(
        session, network, ((COORD, "Hana", "ar", "coordinator"), (MEMBER, "Rana", "en", "member"))
    )
    return network.id


def menu_buttons(requests: list[Any]) -> list[SetChatMenuButton]:
    return [r for r in requests if isinstance(r, SetChatMenuButton)]


async def test_dashboard_gives_coordinators_a_web_app_button(
    web_dp: Dispatcher, bot: MockedBot, session: AsyncSession
) -> None:
    await _world(session)
    out = await Person(web_dp, bot, COORD, language_code="ar").send("/dashboard")
    sent = [r for r in out if isinstance(r, SendMessage)]
    assert len(sent) == 1
    button = sent[0].reply_markup.inline_keyboard[0][0]  # type: ignore[union-attr]
    assert button.web_app is not None and button.web_app.url == URL
    assert "لوحة المتابعة" in button.text  # Hana's Arabic
    (menu,) = menu_buttons(out)
    assert menu.chat_id == COORD
    assert isinstance(menu.menu_button, MenuButtonWebApp)
    assert menu.menu_button.text == "لوحة المتابعة" and menu.menu_button.web_app.url == URL


async def test_dashboard_is_refused_to_members_and_says_when_it_is_not_set_up(
    dp: Dispatcher, web_dp: Dispatcher, bot: MockedBot, session: AsyncSession
) -> None:
    await _world(session)
    out = await Person(web_dp, bot, MEMBER).send("/dashboard")
    assert texts(out) == ["Only coordinators can use /dashboard."]
    assert menu_buttons(out) == []
    out = await Person(dp, bot, COORD).send("/dashboard")  # WEBAPP_URL unset
    assert len(texts(out)) == 1 and "WEBAPP_URL" in texts(out)[0]
    assert menu_buttons(out) == []
    out = await Person(dp, bot, COORD).send("/start")
    assert menu_buttons(out) == []


async def test_start_sets_the_button_by_role(
    web_dp: Dispatcher, bot: MockedBot, session: AsyncSession
) -> None:
    await _world(session)
    (menu,) = menu_buttons(await Person(web_dp, bot, COORD).send("/start"))
    assert isinstance(menu.menu_button, MenuButtonWebApp)
    (menu,) = menu_buttons(await Person(web_dp, bot, MEMBER).send("/start"))
    assert isinstance(menu.menu_button, MenuButtonDefault)


async def test_joining_as_coordinator_sets_the_button_and_a_member_gets_none(
    web_dp: Dispatcher, bot: MockedBot, session: AsyncSession
) -> None:
    network = await make_network(session, "saida")
    invite = await make_invite(session, network.id, role="coordinator")
    out = await join(Person(web_dp, bot, OTHER), invite.code, lang="fr", name="Karim")
    (menu,) = menu_buttons(out)
    assert isinstance(menu.menu_button, MenuButtonWebApp)
    assert menu.menu_button.text == "Tableau de bord"
    invite = await make_invite(session, network.id, role="member")
    out = await join(Person(web_dp, bot, 503), invite.code, name="Nour")
    assert [type(m.menu_button) for m in menu_buttons(out)] == [MenuButtonDefault]


async def test_leaving_the_coordinated_network_gives_the_default_button(
    web_dp: Dispatcher, bot: MockedBot, session: AsyncSession
) -> None:
    irbid = await _world(session)
    saida = await make_network(session, "saida")
    await add_people(session, saida, ((COORD, "Hana", "ar", "member"),))
    hana = Person(web_dp, bot, COORD)
    await hana.send("/leave")
    out = await hana.press(f"leave:{irbid}:1")
    assert [type(m.menu_button) for m in menu_buttons(out)] == [MenuButtonDefault], out


async def test_start_up_sets_the_button_of_every_coordinator_and_admin(
    web_settings: Settings, session_pool: async_sessionmaker[AsyncSession], bot: MockedBot,
    session: AsyncSession,
) -> None:
    await _world(session)
    await add_people(
        session, await make_network(session, "saida"), ((ADMIN_ID, "Adel", "fr", "member"),)
    )
    done = await sync_menu_buttons(bot, session_pool, create_i18n("en"), web_settings, gap=0)
    calls = menu_buttons(bot.take_requests())
    assert done == 2
    assert {c.chat_id: c.menu_button.text for c in calls} == {  # type: ignore[union-attr]
        COORD: "لوحة المتابعة",
        ADMIN_ID: "Tableau de bord",
    }
    # Telegram refusing one chat is logged, and the others still get theirs.
    bot.session.add_error(400, "Bad Request: chat not found")
    done = await sync_menu_buttons(bot, session_pool, create_i18n("en"), web_settings, gap=0)
    assert done == 1
    unset = web_settings.model_copy(update={"webapp_url": None})
    assert await sync_menu_buttons(bot, session_pool, create_i18n("en"), unset, gap=0) == 0
