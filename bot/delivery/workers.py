"""Worker ids: which process holds a claimed delivery, and whether it is gone
(docs/delivery.md, "Crash safety")."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _local_identity() -> str:
    """This machine and PID namespace: where a process id means the same process."""
    host = socket.gethostname()[:24].replace(":", "_")
    boot = _read("/proc/sys/kernel/random/boot_id")[:8]
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    return f"{host}/{boot}/{namespace}" if boot and namespace else ""


_LOCAL = _local_identity()
LIVE_WORKERS: set[str] = set()  # started engines of this process


def default_worker_id() -> str:
    """``<host>/<boot>/<pid namespace>:<pid>:<random>``: unique per engine, and telling
    which process held a claim, so a restart resumes a dead local process's rows at once
    instead of waiting for its lease."""
    return f"{_LOCAL or socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


_PROCESS_ID: list[str] = []


def process_id() -> str:
    """This process's id, in the format of a worker id: what logs, heartbeats and status
    show. A delivery engine has an id of its own (several may run in one process)."""
    if not _PROCESS_ID:
        _PROCESS_ID.append(default_worker_id())
    return _PROCESS_ID[0]


def is_dead_local_worker(worker_id: str) -> bool:
    """True when the worker ran in this machine and PID namespace and its process is gone
    (or is this process, but that engine is not running any more). False when unsure."""
    parts = worker_id.rsplit(":", 2)
    if not _LOCAL or len(parts) != 3 or parts[0] != _LOCAL or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return worker_id not in LIVE_WORKERS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
