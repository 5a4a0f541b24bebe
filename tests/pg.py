"""PostgreSQL for tests: start the local server if it is down, or skip with the reason."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

PG_HOST = os.environ.get("PREVNET_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}:5432/test"


async def _can_connect() -> str | None:
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_DSN), timeout=5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def _start_server() -> None:
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return
    versions = sorted(os.listdir("/etc/postgresql"))
    if versions:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
            capture_output=True,
            timeout=60,
        )


async def require_postgres() -> None:
    problem = await _can_connect()
    if problem is None:
        return
    await asyncio.to_thread(_start_server)
    for _ in range(20):
        problem = await _can_connect()
        if problem is None:
            return
        await asyncio.sleep(0.5)
    pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_DSN} and could not be started: "
                f"{problem}")


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new empty database; yields its SQLAlchemy URL and drops it afterwards."""
    import asyncpg

    await require_postgres()
    name = f"prevnet_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield f"postgresql+asyncpg://postgres@{PG_HOST}:5432/{name}"
    finally:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
