"""A probe of the database pool for bench/dashboard.py, loaded by Python itself at start-up
(``sitecustomize``) in the real `prevnet run` when this folder is on its PYTHONPATH and
PREVNET_POOL_PROBE names a file. The bot's code is not changed: SQLAlchemy's QueuePool
``_do_get`` (where a request waits for a connection) is timed, and once every half second
a JSON line goes to the file: the pool's capacity (size + overflow), the most connections
checked out at once, the checkouts, those that found every connection taken and waited,
the longest wait (ms), and pool timeouts.
"""

from __future__ import annotations

import json
import os
import threading
import time

_PATH = os.environ.get("PREVNET_POOL_PROBE")


def _install(path: str) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from sqlalchemy.pool.impl import QueuePool

    lock = threading.Lock()
    stats = {"capacity": 0, "in_use": 0, "gets": 0, "full": 0, "max_wait_ms": 0.0,
             "timeouts": 0}
    original = QueuePool._do_get

    def _do_get(self: QueuePool):  # type: ignore[no-untyped-def]
        capacity = self.size() + max(0, self._max_overflow)
        full = self.checkedout() >= capacity
        started = time.perf_counter()
        try:
            entry = original(self)
        except PoolTimeout:
            with lock:
                stats["timeouts"] += 1
            raise
        waited = (time.perf_counter() - started) * 1000
        with lock:
            stats["capacity"] = max(stats["capacity"], capacity)
            stats["in_use"] = max(stats["in_use"], self.checkedout())
            stats["gets"] += 1
            if full:
                stats["full"] += 1
                stats["max_wait_ms"] = max(stats["max_wait_ms"], waited)
        return entry

    QueuePool._do_get = _do_get  # type: ignore[method-assign]

    def dump() -> None:
        with open(path, "a", encoding="utf-8") as out:
            while True:
                time.sleep(0.5)
                with lock:
                    line = {"t": time.time(), **stats}
                    stats.update(in_use=0, gets=0, full=0, max_wait_ms=0.0, timeouts=0)
                out.write(json.dumps(line) + "\n")
                out.flush()

    threading.Thread(target=dump, name="pool-probe", daemon=True).start()


if _PATH:
    _install(_PATH)
