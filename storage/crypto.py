"""Encryption at rest of the personal columns (README.md, "Encryption at rest").

With ``DATA_KEY`` set, the columns typed `EncryptedText` (members' display names, report
descriptions, review notes, report attachments' Telegram file ids, the action plans'
titles, aims and milestone texts) and `EncryptedJSON`
(the outbox's messages, which quote names, and dialog drafts) are stored as

    enc:1:<key id>:<urlsafe base64 of nonce || ciphertext || tag>

AES-256-GCM with a fresh 96-bit random nonce per value, and the column's name
(``users.display_name``) as associated data, so a value moved to another column does not
decrypt either. (AES-GCM rather than Fernet: a 256-bit key, 28 bytes added per value
rather than Fernet's 57 plus padding, no clear timestamp in each value, and the column
bound in as associated data, which Fernet has no place for.) ``<key id>`` is 8 hex
digits of a hash of the key: `prevnet rotate-key` tells values under the new key from
the old ones by it, and a value without the prefix is plaintext written before
``DATA_KEY`` was set (it still reads, and rotate-key encrypts it).

The key reaches the column type through this module's keyring, which the bot sets at
start from its settings (`use_keys`); storage imports nothing of bot/. Without a key the
values pass through unchanged, as before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

PREFIX = "enc:1:"
NONCE_BYTES = 12
KEY_BYTES = 32
_STORED = re.compile(r"enc:1:([0-9a-f]{8}):([A-Za-z0-9_-]{38,})\Z")


class CryptoError(Exception):
    """A value that cannot be decrypted, in one line (never the value or the key)."""


class BadKey(ValueError):
    """A DATA_KEY that is not urlsafe base64 of 32 bytes."""


def parse_key(text: str) -> bytes:
    """The 32 key bytes of a DATA_KEY (urlsafe base64, padding optional)."""
    raw = text.strip()
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise BadKey(
            "must be urlsafe base64 of 32 random bytes (make one with "
            "`prevnet rotate-key --generate`)"
        ) from None
    if len(key) != KEY_BYTES:
        raise BadKey(
            f"must be urlsafe base64 of {KEY_BYTES} random bytes, not {len(key)} "
            "(make one with `prevnet rotate-key --generate`)"
        )
    return key


def generate_key() -> str:
    """A new DATA_KEY: urlsafe base64 of 32 random bytes."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def key_id(key: bytes) -> str:
    """8 hex digits naming a key in each of its ciphertexts (a hash: it reveals nothing)."""
    return hashlib.sha256(b"prevnet data key id\x00" + key).hexdigest()[:8]


def stored_key_id(value: str) -> str | None:
    """The key id of an encrypted stored value; None for plaintext."""
    match = _STORED.match(value)
    return match.group(1) if match else None


class Keyring:
    """The key new values are encrypted with, and every key values may be read with."""

    def __init__(self, current: bytes | None = None, others: Iterable[bytes] = ()) -> None:
        self.current_id = key_id(current) if current is not None else None
        self._ciphers = {key_id(k): AESGCM(k) for k in [*others, *([current] if current else [])]}

    @property
    def enabled(self) -> bool:
        return self.current_id is not None

    @property
    def key_ids(self) -> list[str]:
        """The ids of every key this keyring reads."""
        return sorted(self._ciphers)

    def encrypt(self, plaintext: str, purpose: str) -> str:
        # The empty string stays empty: it hides nothing, and a purged report's text ("")
        # must stay comparable in SQL (storage/repositories/retention.py).
        if self.current_id is None or plaintext == "":
            return plaintext
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current_id].encrypt(
            nonce, plaintext.encode("utf-8"), purpose.encode("ascii")
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{PREFIX}{self.current_id}:{body}"

    def decrypt(self, stored: str, purpose: str) -> str:
        match = _STORED.match(stored)
        if match is None:
            return stored  # plaintext written before DATA_KEY was set
        kid, body = match.groups()
        cipher = self._ciphers.get(kid)
        if cipher is None:
            if not self._ciphers:
                raise CryptoError(f"{purpose} is encrypted (key {kid}) but DATA_KEY is not set")
            raise CryptoError(f"{purpose} is encrypted under another key ({kid}) than DATA_KEY")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode("ascii"))
        except (InvalidTag, binascii.Error):
            raise CryptoError(
                f"{purpose}: a stored value fails its authentication check (altered, "
                "or not written for this column)"
            ) from None
        return plain.decode("utf-8")


_keyring = Keyring()


def use_keys(current: bytes | None, others: Iterable[bytes] = ()) -> None:
    """Encrypt from now on with ``current`` (None: store plaintext), read with any."""
    global _keyring
    _keyring = Keyring(current, others)


def keyring() -> Keyring:
    return _keyring


def enabled() -> bool:
    return _keyring.enabled


class EncryptedText(TypeDecorator[str]):
    """Text encrypted with the keyring's key; ``purpose`` (``table.column``) is bound in.

    ``length`` keeps the column's declared length where the database ignores it (SQLite);
    on PostgreSQL the column is TEXT (migration 0009), as ciphertext is longer.
    Never filter, sort or search by such a column in SQL: compare in Python.
    """

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str, length: int | None = None) -> None:
        super().__init__()
        self.purpose = purpose
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if self.length is not None and dialect.name != "postgresql":
            return String(self.length)
        return Text()

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _keyring.encrypt(value, self.purpose)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _keyring.decrypt(value, self.purpose)

    @property
    def python_type(self) -> type[str]:
        return str


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON column whose whole value is stored as one encrypted JSON string.

    Used where texts that quote the encrypted columns are kept: the outbox's messages
    (a coordinators' digest names members) and dialog drafts (a name being typed in).
    A stored value that is not an encrypted string (plaintext before DATA_KEY) reads as is.
    """

    impl = JSON
    cache_ok = True

    def __init__(self, purpose: str, none_as_null: bool = False) -> None:
        super().__init__(none_as_null=none_as_null)
        self.purpose = purpose
        self.none_as_null = none_as_null

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or value is JSON.NULL or not _keyring.enabled:
            return value
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return _keyring.encrypt(plain, self.purpose)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and _STORED.match(value):
            return json.loads(_keyring.decrypt(value, self.purpose))
        return value
