"""The bot's processes and their heartbeats (bot/heartbeat.py), for `prevnet status`.

A row per running process (`prevnet run`, `prevnet worker`), keyed by its process id
(bot/delivery/workers.py `process_id()`). The process writes ``last_seen`` every few
seconds and deletes its row on a clean stop; a row whose ``last_seen`` is old is a process
that died without stopping (it is pruned after a day).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class Process(Base):
    __tablename__ = "processes"
    __table_args__ = (Index("ix_processes_last_seen", "last_seen"),)

    # ``<host>/<boot>/<pid namespace>:<pid>:<random>``, the format of a worker id.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # run / worker
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
