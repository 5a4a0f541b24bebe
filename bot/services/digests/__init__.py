"""Weekly digests: weeks and windows, building, sending (one row per network and week),
the admins' digest, the schedule and catch-up, and what people ask for."""

from bot.services.digests.admin import (
    admin_rows,
    send_admin_digest,
)
from bot.services.digests.building import (
    build,
    build_all_texts,
    is_coordinator,
    locale_of,
    text_payload,
)
from bot.services.digests.queries import (
    Preview,
    SendOffer,
    change_schedule,
    offer_send_now,
    preview,
    refusal_of,
    schedule_of,
    send_now,
)
from bot.services.digests.schedule import (
    catch_up,
    plan,
    replan,
    setup_jobs,
    sync,
)
from bot.services.digests.sender import (
    ADMIN_HOUR,
    ADMIN_JOB_ID,
    ADMIN_WEEKDAY,
    ADMIN_ZONE,
    CRON_DAYS,
    KIND_ADMIN,
    KIND_CHART,
    KIND_TEXT,
    KIND_XLSX,
    LEASE,
    SYNC_JOB_ID,
    SYNC_SECONDS,
    DigestSender,
    Outcome,
    SendResult,
    network_job_id,
)
from bot.services.digests.sending import (
    send_network_digest,
)
from bot.services.digests.texts import (
    schedule_label,
    sent_label,
)
from bot.services.digests.weeks import (
    admin_week,
    current_week,
    due_at,
    next_due,
    week_of,
    window_for,
)
from bot.text.times import network_zone as zone

__all__ = [
    "ADMIN_HOUR",
    "ADMIN_JOB_ID",
    "ADMIN_WEEKDAY",
    "ADMIN_ZONE",
    "CRON_DAYS",
    "KIND_ADMIN",
    "KIND_CHART",
    "KIND_TEXT",
    "KIND_XLSX",
    "LEASE",
    "SYNC_JOB_ID",
    "SYNC_SECONDS",
    "DigestSender",
    "Outcome",
    "Preview",
    "SendOffer",
    "SendResult",
    "admin_rows",
    "admin_week",
    "build",
    "build_all_texts",
    "catch_up",
    "change_schedule",
    "current_week",
    "due_at",
    "is_coordinator",
    "locale_of",
    "network_job_id",
    "next_due",
    "offer_send_now",
    "plan",
    "preview",
    "refusal_of",
    "replan",
    "schedule_label",
    "schedule_of",
    "send_admin_digest",
    "send_network_digest",
    "send_now",
    "sent_label",
    "setup_jobs",
    "sync",
    "text_payload",
    "week_of",
    "window_for",
    "zone",
]
