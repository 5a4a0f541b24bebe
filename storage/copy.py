"""Copy every table of one database into another: `prevnet db copy --to URL`.

Typically from the SQLite file of a small deployment to PostgreSQL (README.md, "Running
at scale"). Run it with the bot stopped: what the bot writes during the copy is not
copied, and a source that changed meanwhile makes the copy roll back.

Both databases are migrated to the newest schema first, so the tables of
`Base.metadata` are exactly theirs. The target must hold no rows (or `replace=True`
empties it first); the tables are copied in foreign-key order, in batches, in one
transaction on the target: it holds the whole copy or, after any problem, nothing new.
Then PostgreSQL's sequences are set past the largest ids, so the rows the bot adds next
do not collide with the copied ones, and the row counts are checked table by table.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    select,
    text,
    type_coerce,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidRequestError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import storage.models  # noqa: F401  (registers every table on Base.metadata)
from storage.crypto import EncryptedJSON, EncryptedText
from storage.engine import create_engine
from storage.migrate import upgrade
from storage.models.base import Base

log = logging.getLogger(__name__)

BATCH = 1000
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}


class CopyRefused(Exception):
    """Why the copy did not happen (or was rolled back), in one line without secrets."""


@dataclass(frozen=True, slots=True)
class TableCopy:
    table: str
    rows: int


def masked(url: str | URL) -> str:
    """The URL as it may be shown: its password as ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(not a database URL)"


def tables() -> list[Table]:
    """Every table of the schema, parents before children (alembic_version is not one)."""
    return [t for t in Base.metadata.sorted_tables if t.name != "alembic_version"]


async def copy_database(
    source_url: str, target_url: str, *, replace: bool = False, batch: int = BATCH
) -> list[TableCopy]:
    """Copy every table of ``source_url`` into ``target_url``; the rows per table."""
    source, target = _parse(source_url, "the source (DATABASE_URL)"), _parse(target_url, "--to")
    secrets = [u.password for u in (source, target) if u.password]
    if _same_url(source, target):
        raise CopyRefused(f"the target {masked(target)} is the source database itself")
    _require_file(source)
    src_engine = _engine(source, "source", secrets)
    dst_engine = _engine(target, "target", secrets)
    try:
        src_id = await _identity(src_engine, source, "source", secrets)
        dst_id = await _identity(dst_engine, target, "target", secrets)
        if src_id == dst_id:
            raise CopyRefused(f"the target {masked(target)} is the source database itself")
        await _migrate(src_engine, source, "source", secrets)
        await _migrate(dst_engine, target, "target", secrets)
        return await _copy(src_engine, dst_engine, target, replace=replace, batch=batch,
                           secrets=secrets)
    finally:
        await src_engine.dispose()
        await dst_engine.dispose()


def summary(copied: Sequence[TableCopy], target_url: str) -> str:
    """The table of rows per table that `prevnet db copy` prints."""
    width = max([len("table"), len("total"), *(len(c.table) for c in copied)])
    total = sum(c.rows for c in copied)
    digits = max(len("rows"), len(f"{total:,}"))
    lines = [f"{'table':<{width}}  {'rows':>{digits}}", f"{'-' * width}  {'-' * digits}"]
    lines += [f"{c.table:<{width}}  {c.rows:>{digits},}" for c in copied]
    lines += [f"{'-' * width}  {'-' * digits}", f"{'total':<{width}}  {total:>{digits},}"]
    lines.append(f"copied {len(copied)} tables to {masked(target_url)}; every count checked")
    return "\n".join(lines)


# ------------------------------------------------------------------ the databases


def _parse(url: str, what: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise CopyRefused(
            f"{what} is not a database URL (e.g. postgresql+asyncpg://USER@HOST:5432/NAME)"
        ) from None
    backend = parsed.get_backend_name()
    driver = ASYNC_DRIVERS.get(backend)
    if driver is None:
        raise CopyRefused(f"{what}: {backend} databases are not supported "
                          "(SQLite and PostgreSQL are)")
    if parsed.get_driver_name() != driver:
        raise CopyRefused(f"{what} must name the {driver} driver: {backend}+{driver}://...")
    if backend == "sqlite" and (not parsed.database or parsed.database == ":memory:"):
        raise CopyRefused(f"{what} is an in-memory SQLite database: give a file")
    return parsed


def _require_file(source: URL) -> None:
    """A source SQLite file that is not there would be created, empty: refused instead."""
    if source.get_backend_name() == "sqlite" and not os.path.isfile(source.database or ""):
        raise CopyRefused(f"the source {source.database} does not exist: DATABASE_URL must "
                          "name the database to copy")


def _same_url(a: URL, b: URL) -> bool:
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return os.path.realpath(a.database or "") == os.path.realpath(b.database or "")
    return (a.host or "localhost", a.port or 5432, a.database) == (
        b.host or "localhost", b.port or 5432, b.database
    )


def _canonical(path: str) -> str:
    """A file's path with links and dots resolved (a few system calls, no waiting)."""
    return os.path.realpath(path)


def _engine(url: URL, role: str, secrets: list[str]) -> AsyncEngine:
    try:
        return create_engine(url.render_as_string(hide_password=False))
    except (ArgumentError, InvalidRequestError, ImportError) as exc:
        raise CopyRefused(f"cannot open the {role} {masked(url)}: "
                          f"{_reason(exc, secrets)}") from None


async def _identity(
    engine: AsyncEngine, url: URL, role: str, secrets: list[str]
) -> tuple[Any, ...]:
    """What tells two databases apart, however their URLs are spelled."""
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                rows = (await conn.execute(text("PRAGMA database_list"))).all()
                path = next((r[2] for r in rows if r[1] == "main"), "")
                return ("sqlite", _canonical(path))
            row = (await conn.execute(text(
                "SELECT current_database(), inet_server_port(), "
                "CAST(pg_postmaster_start_time() AS text)"
            ))).one()
            return ("postgresql", *row)
    except (OSError, SQLAlchemyError) as exc:
        raise CopyRefused(f"cannot connect to the {role} {masked(url)}: "
                          f"{_reason(exc, secrets)}") from None


async def _migrate(engine: AsyncEngine, url: URL, role: str, secrets: list[str]) -> None:
    try:
        await upgrade(engine)
    except (OSError, SQLAlchemyError) as exc:
        raise CopyRefused(f"cannot bring the {role} {masked(url)} to the newest schema: "
                          f"{_reason(exc, secrets)}") from None


def _reason(exc: BaseException, secrets: Sequence[str]) -> str:
    """The first line of a driver's complaint, with any password taken out."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    reason = (lines[0] if lines else "") or type(cause).__name__
    for secret in secrets:
        reason = reason.replace(secret, "***")
    return reason


# ---------------------------------------------------------------------- the copy


async def _copy(
    src_engine: AsyncEngine,
    dst_engine: AsyncEngine,
    target: URL,
    *,
    replace: bool,
    batch: int,
    secrets: list[str],
) -> list[TableCopy]:
    schema = tables()
    async with src_engine.connect() as src:
        if src.dialect.name == "postgresql":  # one snapshot of every table
            await src.execution_options(isolation_level="REPEATABLE READ")
        before = await _counts(src, schema)
        if not any(before.values()):
            raise CopyRefused(f"the source {masked(src_engine.url)} holds no rows: is "
                              "DATABASE_URL the database to copy?")
        try:
            async with dst_engine.begin() as dst:
                held = {name: n for name, n in (await _counts(dst, schema)).items() if n}
                if held and not replace:
                    shown = ", ".join(f"{name}: {n}" for name, n in list(held.items())[:3])
                    more = ", ..." if len(held) > 3 else ""
                    raise CopyRefused(
                        f"the target {masked(target)} already holds rows ({shown}{more}); "
                        "add --replace to empty its tables first"
                    )
                if held:
                    for table in reversed(schema):
                        await dst.execute(delete(table))
                copied: list[TableCopy] = []
                for table in schema:
                    rows = await _copy_table(src, dst, table, batch, secrets)
                    log.debug("copied %s: %d rows", table.name, rows)
                    copied.append(TableCopy(table.name, rows))
                if dst.dialect.name == "postgresql":
                    await _reset_sequences(dst, schema)
                await _verify(dst, schema, before, copied)
                after = await _counts(src, schema)
                if after != before:
                    raise CopyRefused(
                        "the source changed during the copy (is the bot running?): stop it "
                        "and run the copy again; nothing was written"
                    )
        except DBAPIError as exc:
            raise CopyRefused(f"the copy failed and was rolled back: "
                              f"{_reason(exc, secrets)}") from None
    return copied


async def _counts(conn: AsyncConnection, schema: Sequence[Table]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in schema:
        counts[table.name] = int(await conn.scalar(select(func.count()).select_from(table)) or 0)
    return counts


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON | EncryptedJSON)


def _is_encrypted(table: Table, name: str) -> bool:
    """Encrypted columns (storage/crypto.py) are copied as stored: ciphertext as is."""
    return isinstance(table.c[name].type, EncryptedText)


async def _copy_table(
    src: AsyncConnection, dst: AsyncConnection, table: Table, batch: int, secrets: list[str]
) -> int:
    """Copy one table in batches of ``batch`` rows, in primary-key order.

    JSON columns are read as their text, so SQL NULL and JSON null stay apart (the
    application's JSON columns write a Python None as either, column by column), and
    encrypted columns as stored, so the copy reads with the same DATA_KEY."""
    names = [c.name for c in table.columns]
    columns = [cast(table.c[n], Text).label(n) if _is_json(table, n)
               else type_coerce(table.c[n], Text).label(n) if _is_encrypted(table, n)
               else table.c[n]
               for n in names]
    order = list(table.primary_key.columns) or list(table.columns)
    insert = table.insert().values({
        n: bindparam(f"v_{n}", type_=JSON(none_as_null=True) if _is_json(table, n)
                     else Text() if _is_encrypted(table, n) else table.c[n].type)
        for n in names
    })
    json_names = [n for n in names if _is_json(table, n)]
    result = await src.stream(select(*columns).order_by(*order))
    count = 0
    async for part in result.partitions(batch):
        rows = []
        for row in part:
            values = dict(zip(names, row, strict=True))
            for n in json_names:
                values[n] = _json_value(values[n])
            rows.append({f"v_{n}": v for n, v in values.items()})
        try:
            await dst.execute(insert, rows)
        except DBAPIError as exc:
            raise CopyRefused(f"cannot copy the rows of {table.name}: "
                              f"{_reason(exc, secrets)}; nothing was written") from None
        count += len(rows)
    return count


def _json_value(raw: str | None) -> Any:
    if raw is None:
        return None  # SQL NULL (none_as_null)
    value = json.loads(raw)
    return JSON.NULL if value is None else value


async def _reset_sequences(dst: AsyncConnection, schema: Sequence[Table]) -> None:
    """Each serial or identity column's sequence: next value max(column) + 1."""
    for table in schema:
        for column in table.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = await dst.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            )
            if sequence is None:
                continue
            quoted = dst.dialect.identifier_preparer
            await dst.execute(
                text(
                    f"SELECT setval(CAST(:sequence AS regclass), "
                    f"COALESCE((SELECT MAX({quoted.quote(column.name)}) "
                    f"FROM {quoted.format_table(table)}), 0) + 1, false)"
                ),
                {"sequence": sequence},
            )


async def _verify(
    dst: AsyncConnection,
    schema: Sequence[Table],
    source_counts: dict[str, int],
    copied: Sequence[TableCopy],
) -> None:
    landed = await _counts(dst, schema)
    for entry in copied:
        expected = source_counts[entry.table]
        if not (entry.rows == expected == landed[entry.table]):
            raise CopyRefused(
                f"{entry.table}: the source has {expected} rows, {entry.rows} were read and "
                f"the target holds {landed[entry.table]}; rolled back, nothing was written"
            )
