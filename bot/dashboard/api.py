"""The dashboard's JSON API under /app/api/ (docs: /work/notes/dash_contract.md's shapes,
README "Dashboard"). Every call but /strings signs in again (bot/dashboard/auth.py) and
reads the person's role from the database (bot/services/dashboard); errors are
{"error": code, "message": translated text} and never carry anything of a network."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SUPPORTED_LOCALES, Settings
from bot.dashboard.auth import FailedSignIns, SignInFailed, init_data_of, verify
from bot.dashboard.strings import translated
from bot.delivery import DeliveryEngine
from bot.services import dashboard as service
from bot.services.access import AccessDenied
from bot.services.dashboard import DashboardError, Viewer
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.dashboard.server import Assets

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


@dataclass
class Dashboard:
    """What the dashboard's requests need, built once per process."""

    settings: Settings
    session_pool: async_sessionmaker[AsyncSession]
    bot: Bot
    i18n: I18n
    delivery: DeliveryEngine
    static_dir: Path = STATIC_DIR
    clock: Callable[[], datetime] = utcnow
    sign_ins: FailedSignIns = field(default_factory=FailedSignIns)
    views: service.ViewLog = field(default_factory=service.ViewLog)
    assets: Assets | None = None
    # At most a share of the database pool for the dashboard (bot/services/dashboard/gate.py).
    gate: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        if self.gate is None:
            self.gate = service.dashboard_gate(self.session_pool)

    @classmethod
    def of(cls, dp: Dispatcher, bot: Bot, **options: Any) -> Dashboard:
        """From the dispatcher's long-lived services (bot/factory.py)."""
        return cls(
            settings=dp["settings"],
            session_pool=dp["session_pool"],
            bot=bot,
            i18n=dp["i18n"],
            delivery=dp["delivery"],
            **options,
        )

    @property
    def token(self) -> str:
        return self.settings.require_token()


DASHBOARD_KEY = web.AppKey("dashboard", Dashboard)

ERRORS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    429: "too_many",
    500: "error",
}


def _message(status: int, code: str) -> str:
    """The text of an error, in the current locale."""
    if code == "already_nudged":
        return _("This member was already nudged today.")
    if code == "not_silent":
        return _("This member reported in the last seven days.")
    if code == "unreachable":
        return _("This member has blocked the bot.")
    if status == 400:
        return _("This request is not valid.")
    if status == 401:
        return _("Your sign-in has expired. Open the dashboard again from the bot.")
    if status == 403:
        return _("Only coordinators can open the dashboard.")
    if status == 404:
        return _("This is no longer here.")
    if status == 429:
        return _("Too many attempts. Wait a minute, then try again.")
    return _("Something went wrong. Please try again.")


def _error(
    dashboard: Dashboard,
    status: int,
    code: str | None = None,
    message: str | None = None,
    locale: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    code = code or ERRORS.get(status, "error")
    if message is None:
        i18n = dashboard.i18n
        with i18n.context(), i18n.use_locale(locale or dashboard.settings.default_locale):
            message = _message(status, code)
    return web.json_response(
        {"error": code, "message": message},
        status=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def client_address(request: web.Request) -> str:
    """The address failed sign-ins are counted by: the peer, or behind a proxy on this
    machine (nginx, README "Dashboard") the last address of X-Forwarded-For."""
    peer = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _is_loopback(peer):
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:64]
    return peer


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


Handler = Callable[[web.Request, AsyncSession, Viewer], Awaitable[Any]]


def signed_in(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler for a signed-in coordinator or admin, in their language, with a
    database session; its result is the JSON body."""
    async def endpoint(request: web.Request) -> web.StreamResponse:
        dashboard = request.app[DASHBOARD_KEY]
        address = client_address(request)
        wait = dashboard.sign_ins.retry_after(address, time.monotonic())
        if wait is not None:
            return _error(dashboard, 429, headers={"Retry-After": str(wait)})
        try:
            init_data = init_data_of(request.headers.get("Authorization"))
            who = verify(
                dashboard.token,
                init_data,
                max_age=dashboard.settings.webapp_max_age,
                now=dashboard.clock(),
            )
        except SignInFailed as exc:
            dashboard.sign_ins.failed(address, time.monotonic())
            log.info("dashboard: a sign-in was refused (%s)", exc.reason)
            return _error(dashboard, 401)
        locale = service.pick_locale(None, who.language_code, dashboard.settings.default_locale)
        i18n = dashboard.i18n
        assert dashboard.gate is not None
        async with dashboard.gate, dashboard.session_pool() as session:
            try:
                viewer = await service.viewer(
                    session,
                    who.tg_id,
                    who.language_code,
                    dashboard.settings.admin_ids,
                    dashboard.settings.default_locale,
                )
            except AccessDenied:
                return _error(dashboard, 403, locale=locale)
            locale = viewer.locale
            try:
                with i18n.context(), i18n.use_locale(locale):
                    body = await handler(request, session, viewer)
            except AccessDenied:
                await session.rollback()
                return _error(dashboard, 403, message=_forbidden(i18n, locale))
            except DashboardError as exc:
                await session.rollback()
                return _error(dashboard, exc.status, exc.code, exc.message, locale)
            except (TelegramAPIError, OSError):
                log.exception("dashboard: %s failed on a Telegram call", request.path)
                return _error(dashboard, 500, locale=locale)
            except Exception:  # a bug: logged with its context, a short answer to the page
                log.exception("dashboard: %s failed", request.path)
                await session.rollback()
                return _error(dashboard, 500, locale=locale)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    return endpoint


def _forbidden(i18n: I18n, locale: str) -> str:
    with i18n.context(), i18n.use_locale(locale):
        return _("Sorry, you are not allowed to do that.")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise DashboardError(400, "bad_request") from None
    if not isinstance(body, dict):
        raise DashboardError(400, "bad_request")
    return body


def _dash(request: web.Request) -> Dashboard:
    return request.app[DASHBOARD_KEY]


async def strings(request: web.Request) -> web.StreamResponse:
    dashboard = _dash(request)
    lang = request.query.get("lang", "")
    locale = lang if lang in SUPPORTED_LOCALES else dashboard.settings.default_locale
    return web.json_response(
        {
            "locale": locale,
            "dir": "rtl" if locale in service.RTL_LOCALES else "ltr",
            "strings": translated(dashboard.i18n, locale),
        },
        headers={"Cache-Control": "no-cache"},
    )


@signed_in
async def session_(request: web.Request, session: AsyncSession, viewer: Viewer) -> Any:
    networks = await service.visible_networks(session, viewer)
    return service.session_json(viewer, networks)


async def _scope(
    request: web.Request, session: AsyncSession, viewer: Viewer, screen: str
) -> service.Scope:
    scope = await service.scope(session, viewer, request.query.get("net"))
    await _dash(request).views.record(session, viewer, screen, scope)
    return scope


@signed_in
async def overview(request: web.Request, session: AsyncSession, viewer: Viewer) -> Any:
    scope = await _scope(request, session, viewer, "overview")
    return await service.overview(session, scope, _dash(request).clock())


@signed_in
async def participation(request: web.Request, session: AsyncSession, viewer: Viewer) -> Any:
    weeks = service.weeks_param(request.query.get("weeks"), range(1, 53), 4)
    scope = await _scope(request, session, viewer, "participation")
    return await service.participation(session, scope, _dash(request).clock(), weeks)


@signed_in
async def events(request: web.Request, session: AsyncSession, viewer: Viewer) -> Any:
    scope = await _scope(request, session, viewer, "events")
    return await service.events(session, scope, _dash(request).clock())


@signed_in
async def trends(request: web.Request, session: AsyncSession, viewer: Viewer) -> Any:
    weeks = service.weeks_param(request.query.get("weeks"), service.TREND_WEEKS, 8)
    scope = await _scope(request, session, viewer, "trends")
    return await service.trends(session, scope, _dash(request).clock(), weeks)


@signed_in
async def reports(request: web.Request, session: AsyncSession, viewer: Viewer) -> Any:
    scope = await _scope(request, session, viewer, "reports")
    return await service.feed(session, scope, viewer, request.query)


def _report_id(request: web.Request) -> int:
    value = request.match_info["report_id"]
    if not value.isdigit() or len(value) > 12:
        raise DashboardError(404, "not_found")
    return int(value)


@signed_in
async def report(request: web.Request, session: AsyncSession, viewer: Viewer) -> Any:
    body = await service.detail(session, viewer, _report_id(request))
    scope = await service.scope(session, viewer, str(body["report"]["network"]["id"]))
    await _dash(request).views.record(session, viewer, "report", scope, report=body["report"]["id"])
    return body


@signed_in
async def review(request: web.Request, session: AsyncSession, viewer: Viewer) -> Any:
    body = await _json_body(request)
    dashboard = _dash(request)
    return await service.review(
        session,
        dashboard.bot,
        dashboard.i18n,
        viewer,
        _report_id(request),
        body.get("status", ""),
        body.get("note"),
        dashboard.clock(),
    )


@signed_in
async def nudge(request: web.Request, session: AsyncSession, viewer: Viewer) -> Any:
    body = await _json_body(request)
    member = body.get("member")
    if not isinstance(member, int) or isinstance(member, bool) or member <= 0:
        raise DashboardError(400, "bad_request")
    dashboard = _dash(request)
    return await service.nudge(
        session, dashboard.delivery, dashboard.i18n, viewer, member, dashboard.clock()
    )


@signed_in
async def export(request: web.Request, session: AsyncSession, viewer: Viewer) -> Any:
    body = await _json_body(request)
    net = body.get("net")
    scope = await service.scope(session, viewer, None if net is None else str(net))
    params = {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
              for k, v in body.items()}
    dashboard = _dash(request)
    return await service.export(session, dashboard.bot, viewer, scope, params, dashboard.clock())


async def not_found(request: web.Request) -> web.StreamResponse:
    return _error(_dash(request), 404)


def add_api_routes(app: web.Application, prefix: str) -> None:
    router = app.router
    router.add_get(prefix + "/strings", strings)
    router.add_get(prefix + "/session", session_)
    router.add_get(prefix + "/overview", overview)
    router.add_get(prefix + "/participation", participation)
    router.add_get(prefix + "/events", events)
    router.add_get(prefix + "/trends", trends)
    router.add_get(prefix + "/reports", reports)
    router.add_get(prefix + "/reports/{report_id}", report)
    router.add_post(prefix + "/reports/{report_id}/review", review)
    router.add_post(prefix + "/nudge", nudge)
    router.add_post(prefix + "/export", export)
    router.add_route("*", prefix + "/{tail:.*}", not_found)
