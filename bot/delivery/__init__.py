"""The outbox: every message sent to many people goes through `DeliveryEngine`.

payload.py renders what a job stores; engine.py queues, claims and sends; outcomes.py
turns Telegram's answers into row outcomes and records them; progress.py reports to the
author; ratelimit.py keeps to Telegram's limits for every request; workers.py tells
whose claim is dead. See docs/delivery.md.
"""

from bot.delivery.engine import DeliveryEngine
from bot.delivery.payload import METHODS, Recipient, build_method
from bot.delivery.progress import JobProgress
from bot.delivery.workers import default_worker_id
from storage.repositories.delivery import JobCounts, job_counts, record_ack

__all__ = [
    "METHODS",
    "DeliveryEngine",
    "JobCounts",
    "JobProgress",
    "Recipient",
    "build_method",
    "default_worker_id",
    "job_counts",
    "record_ack",
]
