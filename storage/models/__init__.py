"""SQLAlchemy 2 models, one module per aggregate; `Base` is in `storage.models.base`.

Importing this package registers every table on `Base.metadata` (Alembic, the
repositories and the tests rely on that). The schema is changed only by migrations.
"""

from storage.models.audit import AuditEntry
from storage.models.base import NAMING, Base, UTCDateTime, utcnow
from storage.models.broadcasts import Broadcast, BroadcastNetwork
from storage.models.delivery import Delivery, DeliveryStatus, JobStatus, SendJob
from storage.models.digests import Digest, DigestSettings, DigestStatus
from storage.models.events import (
    DEFAULT_REMINDER_OFFSETS,
    Answer,
    Event,
    EventKind,
    EventReminder,
    EventRsvp,
    EventSettings,
    EventStatus,
    ReminderStatus,
)
from storage.models.feedback import EventFeedback
from storage.models.invites import Invite
from storage.models.members import Membership, MembershipStatus, Role, Sector, User
from storage.models.networks import Network
from storage.models.plans import ActionStatus, PlanAction, PlanMilestone, PlanResponsible
from storage.models.processes import Process
from storage.models.reports import (
    ActivityType,
    AgeGroup,
    AttachmentKind,
    Report,
    ReportNudge,
    ReportSettings,
    ReportStatus,
    reference,
)
from storage.models.retention import RetentionRun
from storage.models.runtime import FsmRecord, ProcessedUpdate

__all__ = [
    "DEFAULT_REMINDER_OFFSETS",
    "NAMING",
    "ActionStatus",
    "ActivityType",
    "AgeGroup",
    "Answer",
    "AttachmentKind",
    "AuditEntry",
    "Base",
    "Broadcast",
    "BroadcastNetwork",
    "Delivery",
    "DeliveryStatus",
    "Digest",
    "DigestSettings",
    "DigestStatus",
    "Event",
    "EventFeedback",
    "EventKind",
    "EventReminder",
    "EventRsvp",
    "EventSettings",
    "EventStatus",
    "FsmRecord",
    "Invite",
    "JobStatus",
    "Membership",
    "MembershipStatus",
    "Network",
    "PlanAction",
    "PlanMilestone",
    "PlanResponsible",
    "Process",
    "ProcessedUpdate",
    "ReminderStatus",
    "Report",
    "ReportNudge",
    "ReportSettings",
    "ReportStatus",
    "RetentionRun",
    "Role",
    "Sector",
    "SendJob",
    "UTCDateTime",
    "User",
    "reference",
    "utcnow",
]
