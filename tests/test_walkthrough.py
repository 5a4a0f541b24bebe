"""Walked as the users: a digest that counts today, reports told apart, lengths
typed as people type them, /newnetwork for admins, lists joined the way each language
joins them. Each through the real dispatcher with a controlled clock, in English and
Arabic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import select

from bot.callbacks import DigestSendCb, InviteCb, NewNetCb
from bot.delivery import DeliveryEngine
from storage.models import AuditEntry, Network, User
from storage.models.events import Event
from tests.events_helpers import add_people
from tests.helpers import make_network
from tests.people import ADMIN_ID, buttons, texts
from tests.test_digest import add_person, add_report

# Tuesday 1 December 2026, 10:00 in Beirut (UTC+2): a manual send on a weekday.
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
TODAY = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (
        "handlers.digests",
        "handlers.reports.filing",
        "handlers.reports.own",
        "handlers.reports.review",
        "handlers.reports.export",
        "handlers.reports.settings",
        "handlers.events.create",
        "handlers.events.listing",
        "handlers.events.manage",
        "bot.services.events.texts",
        "handlers.settings",
    ):
        monkeypatch.setattr(f"{module}.utcnow", lambda: NOW)


@pytest.fixture
def outbox(dp, bot, session_pool):  # type: ignore[no-untyped-def]
    engine = DeliveryEngine(bot, session_pool, rate=1000, per_chat_interval=0)
    dp["delivery"] = engine
    return engine


def data_of(out: list) -> list[str]:  # type: ignore[type-arg]
    return [d for _label, d in buttons(out)]


# ------------------------------------------------------------- 1. the digest's days


async def _saida_with_a_report_of_today(session):  # type: ignore[no-untyped-def]
    network = await make_network(session, "saida", name="Saida Network")
    network.created_at = NOW - timedelta(days=90)
    await add_person(session, network, 100, "Maya", role="coordinator")
    rana = await add_person(session, network, 101, "Rana")
    await add_person(session, network, 102, "Omar", language="ar")
    await add_person(session, network, 103, "Sami")
    await add_report(session, network, rana, day=TODAY, participants=40,
                     filed=NOW - timedelta(minutes=5))
    # Before the seven days (24 November) and filed then: not this week's.
    await add_report(session, network, rana, day=date(2026, 11, 24), participants=7,
                     filed=datetime(2026, 11, 24, 6, 0, tzinfo=UTC))
    await session.commit()
    return network


async def test_send_now_on_a_tuesday_counts_the_report_filed_minutes_ago(
    session, person, outbox, bot
):
    network = await _saida_with_a_report_of_today(session)
    maya = person(100)
    await maya.press(DigestSendCb(network_id=network.id).pack())
    out = await maya.tap("📤 Yes, send it now")
    assert "The digest of Saida Network is on its way to 4 people." in texts(out)
    await outbox.run_until_idle()
    got = {r.chat_id: r.text for r in bot.take_requests() if isinstance(r, SendMessage)}

    rana = got[101]
    assert "<i>Nov 25\u2009–\u2009Dec 1, 2026</i>" in rana
    assert "Nov 24" not in rana and "Nov 30" not in rana
    assert "📝 1 activity · 👥 40 participants reached" in rana
    assert "No activity was reported." not in rana
    assert "✍️ 1 of 3 members reported." in rana

    coordinator = got[100]
    assert "✅ Reported (1): Rana" in coordinator
    assert "⏳ Not reported yet (2): Omar and Sami" in coordinator

    omar = got[102]  # in Arabic
    assert "<i>25 نوفمبر – 1 ديسمبر 2026</i>" in omar
    assert "📝 نشاط واحد · 👥 الوصول إلى 40 مشاركًا" in omar
    assert "✍️ قدّم 1 من أصل 3 أعضاء تقاريرهم." in omar

    # Exactly once per network and week, as before: a second "send now" is refused.
    out = await maya.press(DigestSendCb(network_id=network.id).pack())
    assert "already went out" in texts(out)[0]


async def test_digest_preview_in_arabic_names_the_seven_days_to_today(session, person):
    network = await _saida_with_a_report_of_today(session)
    await add_person(session, network, 104, "Lina", role="coordinator", language="ar")
    await session.commit()
    out = await person(104).send("/digest")
    text = next(r.text for r in out if isinstance(r, SendMessage))
    assert "<i>25 نوفمبر – 1 ديسمبر 2026</i>" in text
    assert "✅ " in text and "Rana" in text
    assert "Omar وSami" in text  # not reported yet, joined the Arabic way


# ------------------------------------------------------ 2. reports told apart


async def _two_alike(session):  # type: ignore[no-untyped-def]
    network = await make_network(session, "saida", name="Saida Network")
    rana = await add_person(session, network, 101, "Rana", language="en")
    omar = await add_person(session, network, 102, "Omar", language="ar")
    for user in (rana, omar):
        await add_report(session, network, user, day=TODAY, kind="referral", participants=25,
                         filed=NOW - timedelta(hours=1),
                         description="Home visit to the <Haddad> family after the school "
                                     "incident, with the social worker")
        await add_report(session, network, user, day=TODAY, kind="referral", participants=25,
                         filed=NOW - timedelta(minutes=30),
                         description="Referred two brothers to the psycho-social centre")
    await session.commit()
    return rana, omar


async def test_myreports_shows_the_first_words_of_each_description(session, person):
    await _two_alike(session)
    out = await person(101).send("/myreports")
    text = texts(out)[0]
    assert text.splitlines()[1:3] == [
        "• <b>R-2</b> · Dec 1, 2026 · Referral or case support · 25 participants · "
        "“Referred two brothers to the…”",
        "• <b>R-1</b> · Dec 1, 2026 · Referral or case support · 25 participants · "
        "“Home visit to the &lt;Haddad&gt; family after…”",
    ]
    labels = [label for label, _d in buttons(out)]
    assert labels == ["✏️ R-2 · Referred two…", "🗑 R-2 · Referred two…",
                      "✏️ R-1 · Home visit to the…", "🗑 R-1 · Home visit to the…"]

    out = await person(101).tap("🗑 R-1 · Home visit to the…")
    assert texts(out)[0].startswith(
        "Withdraw report R-1 (“Home visit to the &lt;Haddad&gt; family after…”)? "
        "It will be deleted."
    )


async def test_myreports_in_arabic_quotes_the_words_with_guillemets(session, person):
    _rana, omar = await _two_alike(session)
    out = await person(102).send("/myreports")
    text = texts(out)[0]
    assert "25 مشاركًا · «Referred two brothers to the…»" in text
    assert "25 مشاركًا · «Home visit to the &lt;Haddad&gt; family after…»" in text
    assert "R-2" not in text  # Rana's
    out = await person(102).tap("🗑 R-3 · Home visit to the…")
    assert texts(out)[0].startswith(
        "سحب التقرير R-3 («Home visit to the &lt;Haddad&gt; family after…»)؟ سيُحذف."
    )
    assert omar.tg_id == 102


# ------------------------------------------------------------- 3. typed lengths


async def _until_length(session, person, language: str = "en"):  # type: ignore[no-untyped-def]
    network = await make_network(session, "saida", name="Saida Network")
    await add_people(session, network, [(100, "Hana", language, "coordinator")])
    hana = person(100)
    await hana.send("/newevent")
    await hana.press("nev:kind:meeting")
    await hana.send("Monthly meeting")
    out = await hana.send("٢٠٢٦-١٢-٠٣ ١٧:٠٠")  # Arabic-Indic digits for the start
    return hana, out


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("90", "⏱ 1 hour 30 minutes, until 6:30\u202fPM"),
        ("2", "⏱ 2 hours, until 7:00\u202fPM"),
        ("1.5h", "⏱ 1 hour 30 minutes, until 6:30\u202fPM"),
        ("1h30", "⏱ 1 hour 30 minutes, until 6:30\u202fPM"),
        ("ساعتان", "⏱ 2 hours, until 7:00\u202fPM"),
        ("٩٠", "⏱ 1 hour 30 minutes, until 6:30\u202fPM"),
        ("45", "⏱ 45 minutes, until 5:45\u202fPM"),
        ("19h30", "⏱ 2 hours 30 minutes, until 7:30\u202fPM"),  # a time, French style
    ],
)
async def test_a_bare_number_is_a_length_and_the_preview_shows_it(
    session, person, outbox, typed, shown
):
    hana, out = await _until_length(session, person)
    assert "How long will it last?" in texts(out)[0]
    out = await hana.send(typed)
    assert texts(out)[0].startswith(shown + "\n\nWhere?")
    await hana.send("Town hall")
    out = await hana.tap("No description")
    assert shown in texts(out)[0]
    await hana.tap("📣 Announce")
    event = await session.scalar(select(Event).execution_options(populate_existing=True))
    assert event is not None
    assert event.starts_at == datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


async def test_lengths_in_arabic(session, person, outbox):
    hana, _out = await _until_length(session, person, language="ar")
    out = await hana.send("٩٠")
    assert texts(out)[0].startswith("⏱ ساعة واحدة و30 دقيقة، حتى 6:30 م")


async def test_a_length_the_bot_cannot_read_says_what_it_takes(session, person):
    hana, _out = await _until_length(session, person)
    out = await hana.send("soon")
    assert texts(out) == [
        "Please type the end time as HH:MM, a length such as 90 (minutes), 2 (hours), 1h30 "
        "or 1.5h, or the end date and time as YYYY-MM-DD HH:MM."
    ]


# ------------------------------------------------------------- 4. /newnetwork


async def test_admin_creates_a_network_in_the_bot_and_invites_its_coordinator(
    session, person
):
    await make_network(session, "irbid-network", name="Irbid Network", country="JO",
                       timezone="Asia/Amman")
    admin = person(ADMIN_ID)
    out = await admin.send("/newnetwork")
    assert texts(out) == ["A new network. What is its name? For example: Saida Prevention "
                          "Network."]
    out = await admin.send("x" * 129)
    assert texts(out) == ["Please type a name of 1 to 128 characters."]
    out = await admin.send("Irbid  Network")  # its slug is taken: irbid-network-2
    assert data_of(out) == [NewNetCb(step="country", value="LB").pack(),
                            NewNetCb(step="country", value="JO").pack()]
    assert [label for label, _d in buttons(out)] == ["Lebanon (LB)", "Jordan (JO)"]
    out = await admin.send("lebanon")
    assert texts(out) == ["Please type the country as a two-letter code, such as LB or JO."]
    out = await admin.send("jo")
    assert data_of(out) == [NewNetCb(step="tz", value="Asia/Amman").pack()]
    out = await admin.send("Mars/Olympus")
    assert texts(out) == ["I do not know the time zone “Mars/Olympus”. Please type a name "
                          "such as Asia/Beirut, or choose a button."]
    out = await admin.tap("Asia/Amman")
    assert [label for label, _d in buttons(out)] == ["العربية", "English", "Français"]
    out = await admin.tap("العربية")
    assert texts(out) == ["Must a coordinator approve each person who joins?"]
    out = await admin.tap("Yes, coordinators approve each join")
    assert texts(out) == [
        "<b>New network</b>, please check:\n\nName: <b>Irbid Network</b>\n"
        "Short name: <code>irbid-network-2</code>\nCountry: Jordan (JO)\n"
        "Time zone: Asia/Amman\nLanguage: العربية\nJoining: a coordinator approves each join"
    ]
    out = await admin.tap("✏️ Change the short name")
    out = await admin.send("irbid-network")
    assert texts(out) == ["Another network already has the short name "
                          "<code>irbid-network</code>. Please type another."]
    out = await admin.send("Irbid North")
    assert texts(out)[0].startswith("The short name must be 2 to 32 lowercase letters")
    out = await admin.send("irbid-north")
    assert "Short name: <code>irbid-north</code>" in texts(out)[0]
    out = await admin.tap("✅ Create the network")
    network = await session.scalar(
        select(Network).where(Network.slug == "irbid-north")
        .execution_options(populate_existing=True)
    )
    assert network is not None
    assert (network.name, network.country, network.timezone, network.locale,
            network.require_approval) == ("Irbid Network", "JO", "Asia/Amman", "ar", True)
    assert texts(out) == [
        "The network <b>Irbid Network</b> is created (short name <code>irbid-north</code>). "
        "Invite its first coordinator now, or later with /invite."
    ]
    invite = InviteCb(network_id=network.id, role="coordinator").pack()
    assert data_of(out) == [invite]
    out = await admin.tap("✉️ Invite its first coordinator")
    assert texts(out) == ["How many people may use this invite?"]
    entry = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "network_add",
                                 AuditEntry.network_id == network.id)
    )
    assert entry is not None and entry.details["via"] == "bot"


async def test_newnetwork_in_arabic_and_refused_to_coordinators(session, person):
    saida = await make_network(session, "saida")
    await add_people(session, saida, [(100, "Hana", "ar", "coordinator")])
    out = await person(100).send("/newnetwork")
    assert texts(out) == ["يستطيع فريق البرنامج (المشرفون) فقط استخدام /newnetwork."]
    help_text = " ".join(texts(await person(100).send("/help")))
    assert "/newnetwork" not in help_text

    admin = person(ADMIN_ID, language_code="ar")
    assert "/newnetwork — إنشاء شبكة (للمشرفين)" in " ".join(texts(await admin.send("/help")))
    out = await admin.send("/newnetwork")
    assert texts(out) == ["شبكة جديدة. ما اسمها؟ مثلًا: شبكة الوقاية في صيدا."]
    out = await admin.send("شبكة الزرقاء")
    assert [label for label, _d in buttons(out)] == ["لبنان (LB)", "الأردن (JO)"]
    await admin.tap("الأردن (JO)")
    await admin.tap("Asia/Amman")
    await admin.tap("العربية")
    out = await admin.tap("لا، تكفي الدعوة")
    assert texts(out) == [
        "<b>شبكة جديدة</b>، يرجى التحقق:\n\nالاسم: <b>شبكة الزرقاء</b>\n"
        "الاسم المختصر: <code>network</code>\nالبلد: الأردن (JO)\n"
        "المنطقة الزمنية: Asia/Amman\nاللغة: العربية\nالانضمام: تكفي الدعوة"
    ]
    out = await admin.tap("✅ إنشاء الشبكة")
    assert texts(out)[0].startswith("تم إنشاء الشبكة <b>شبكة الزرقاء</b>")


# ------------------------------------------------------------ 5. lists, per language


async def test_settings_join_the_offsets_the_way_each_language_does(session, person):
    saida = await make_network(session, "saida")
    await add_people(session, saida, [(100, "Hana", "ar", "coordinator"),
                                      (101, "Paul", "fr", "coordinator"),
                                      (102, "Rana", "en", "coordinator")])
    ar = texts(await person(100).send("/settings"))[0]
    assert "يوم واحد وساعة واحدة" in ar and "يوم واحد, ساعة واحدة" not in ar
    fr = texts(await person(101).send("/settings"))[0]
    assert "1 jour et 1 heure" in fr
    en = texts(await person(102).send("/settings"))[0]
    assert "Event reminders: 1 day and 1 hour before the start." in en


async def test_a_report_of_last_digests_day_filed_after_it_counts_in_this_one(session):
    from tests.test_digest import build_one

    network = await _saida_with_a_report_of_today(session)
    rana = await session.scalar(select(User).where(User.tg_id == 101))
    # 24 November, filed at 11:00 in Beirut: after last Tuesday's 10:00 digest.
    await add_report(session, network, rana, day=date(2026, 11, 24), participants=3,
                     filed=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    await session.commit()
    d = await build_one(session, network, NOW)
    assert (d.window.start, d.window.end) == (date(2026, 11, 25), TODAY)
    assert (d.figures.activities, d.figures.participants) == (2, 43)
