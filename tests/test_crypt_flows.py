"""Existing handler tests run again with DATA_KEY set (storage/crypto.py): registration
(Arabic names), reports, review notes, /reports, /export, /mydata, /leave, digests and
`prevnet status` (the outbox's texts, on SQLite and PostgreSQL) give
the same results, and afterwards every value of every encrypted column in the test's
database files is ciphertext under that key (nothing stored in plaintext)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import crypto
from storage.rekey import encrypted_columns

# Imported test functions run here again, under the autouse fixture below.
from tests.test_digest import (  # noqa: F401
    i18n,
    test_coordinators_digest_names_reviews_and_blocked,
    test_members_digest_counts_events_and_broadcasts,
)
from tests.test_export import (  # noqa: F401
    test_cli_export,
    test_export_in_the_bot_in_arabic,
    test_export_service_one_network_only_and_audited,
)
from tests.test_registration import *  # noqa: F403
from tests.test_reports_review import *  # noqa: F403
from tests.test_roles_privacy import (  # noqa: F401
    test_leave_erases_personal_data,
    test_leave_one_of_two_networks_keeps_the_person,
    test_members_list_escapes_names,
    test_mydata_sends_everything,
)
from tests.test_status import test_the_command_prints_them  # noqa: F401

KEY = crypto.generate_key()


@pytest.fixture(autouse=True)
def data_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """DATA_KEY for the test (the settings and the command line read it from the
    environment); then every stored value of an encrypted column is under it."""
    monkeypatch.setenv("DATA_KEY", KEY)
    crypto.use_keys(crypto.parse_key(KEY))
    try:
        yield
        _assert_all_encrypted(tmp_path)
    finally:
        crypto.use_keys(None)


def _assert_all_encrypted(tmp_path: Path) -> None:
    kid = crypto.key_id(crypto.parse_key(KEY))
    for db in tmp_path.rglob("*.db"):
        conn = sqlite3.connect(db)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            for table, column in encrypted_columns():
                if table.name not in tables:
                    continue
                is_json = isinstance(column.type, crypto.EncryptedJSON)
                for (value,) in conn.execute(
                    f"SELECT {column.name} FROM {table.name} WHERE {column.name} IS NOT NULL"
                ):
                    stored = json.loads(value) if is_json else value
                    if stored not in (None, ""):  # (JSON null; "" stays "")
                        assert crypto.stored_key_id(stored) == kid, (db.name, column, value)
        finally:
            conn.close()
