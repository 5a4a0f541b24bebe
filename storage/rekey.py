"""Re-encrypt every encrypted column under one key: `prevnet rotate-key` (bot/cli_crypt.py).

The keyring given reads the old key (and plaintext written before DATA_KEY was set) and
encrypts with the new one. Each column is walked in primary-key order, ``batch`` rows per
transaction; a value already under the new key is skipped, so a run cut off by a crash
is finished by running it again. Each row is written only if it still holds the value
read (compare and set), so a value changed meanwhile is never overwritten with an old one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Table, Text, bindparam, cast, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.models  # noqa: F401  (registers every table on Base.metadata)
from storage.crypto import PREFIX, EncryptedJSON, EncryptedText, Keyring, stored_key_id
from storage.models.base import Base

BATCH = 500


@dataclass(frozen=True, slots=True)
class ColumnRekey:
    column: str  # "table.column"
    changed: int  # values written under the new key (plaintext ones included)
    plaintext: int  # of which were plaintext
    kept: int  # already under the new key


def encrypted_columns() -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) typed `EncryptedText` or `EncryptedJSON`, in a stable order."""
    return [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText | EncryptedJSON)
    ]


async def rekey(engine: AsyncEngine, ring: Keyring, *, batch: int = BATCH) -> list[ColumnRekey]:
    """Bring every encrypted value under ``ring``'s current key; what changed per column."""
    if ring.current_id is None:
        raise ValueError("rekey needs a key to encrypt with")
    return [await _rekey_column(engine, ring, t, c, batch) for t, c in encrypted_columns()]


def _stored(raw: str, is_json: bool) -> tuple[str | None, Any]:
    """(the encrypted string, None) or (None, the plaintext value) of a stored value."""
    value = json.loads(raw) if is_json else raw
    if isinstance(value, str) and stored_key_id(value) is not None:
        return value, None
    return None, value


async def _rekey_column(
    engine: AsyncEngine, ring: Keyring, table: Table, column: Column[Any], batch: int
) -> ColumnRekey:
    assert isinstance(column.type, EncryptedText | EncryptedJSON)
    purpose = column.type.purpose
    is_json = isinstance(column.type, EncryptedJSON)
    (pk,) = table.primary_key.columns
    # The stored text, neither decrypted nor encrypted (JSON: its text, as storage/copy.py).
    raw = cast(column, Text) if is_json else type_coerce(column, Text)
    write = (
        update(table)
        .where(pk == bindparam("b_pk"), raw == bindparam("b_old", type_=Text()))
        .values({column.name: bindparam("b_new", type_=JSON() if is_json else Text())})
        .execution_options(synchronize_session=False)
    )
    changed = plaintext = kept = 0
    last: object = None
    while True:
        async with engine.begin() as conn:
            query = select(pk, raw).where(column.is_not(None)).order_by(pk).limit(batch)
            if last is not None:
                query = query.where(pk > last)
            rows = (await conn.execute(query)).all()
            if not rows:
                break
            writes = []
            for key, value in rows:
                sealed, plain = _stored(value, is_json)
                if sealed is None and plain in (None, ""):
                    continue  # JSON null or an empty text: nothing to hide
                if sealed is not None and stored_key_id(sealed) == ring.current_id:
                    kept += 1
                    continue
                if sealed is None:
                    plaintext += 1
                    text = json.dumps(plain, ensure_ascii=False, separators=(",", ":")) \
                        if is_json else plain
                else:
                    text = ring.decrypt(sealed, purpose)
                writes.append({"b_pk": key, "b_old": value, "b_new": ring.encrypt(text, purpose)})
            if writes:
                await conn.execute(write, writes)
                changed += len(writes)
            last = rows[-1][0]
    return ColumnRekey(f"{table.name}.{column.name}", changed, plaintext, kept)


async def key_problem(engine: AsyncEngine, ring: Keyring) -> str | None:
    """Why the keyring cannot read this database (encrypted values under a key it lacks),
    in one line; None when it can. One query per column, stopping at the first such value."""
    for table, column in encrypted_columns():
        is_json = isinstance(column.type, EncryptedJSON)
        raw = cast(column, Text) if is_json else type_coerce(column, Text)
        quote = '"' if is_json else ""
        query = select(raw).where(raw.like(f"{quote}{PREFIX}%"))
        for kid in ring.key_ids:
            query = query.where(raw.not_like(f"{quote}{PREFIX}{kid}:%"))
        async with engine.connect() as conn:
            value = await conn.scalar(query.limit(1))
        if value is None:
            continue
        found = stored_key_id(json.loads(value) if is_json else value)
        where = f"{table.name}.{column.name}"
        if not ring.key_ids:
            return (f"the database holds encrypted values ({where}, key {found}) but DATA_KEY "
                    "is not set")
        return (f"DATA_KEY does not read the database: {where} holds values under key {found} "
                "(the wrong key, or a `prevnet rotate-key` not finished)")
    return None
