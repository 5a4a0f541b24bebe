"""Settings from the environment and `.env` (README.md, "Configuration")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Locale = Literal["ar", "en", "fr"]
SUPPORTED_LOCALES: tuple[str, ...] = ("ar", "en", "fr")
# Retention (README.md, "Retention"): the fewest days each RETAIN_* setting may keep,
# unless it is 0 (keep forever).
RETENTION_MINIMUMS: dict[str, int] = {
    "retain_attachment_days": 7,  # coordinators review new reports' files
    "retain_report_text_days": 30,  # the /reports lists and filters of the past month
    "retain_delivery_days": 7,  # the past week's digest and the broadcasts' progress
    "retain_audit_days": 30,
    "retain_update_ids_days": 2,  # Telegram redelivers updates within 24 hours
}


class MissingToken(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "BOT_TOKEN is not set: put the token from @BotFather in the environment or in .env"
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Required by `prevnet run`; commands that never talk to Telegram work without it.
    bot_token: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///data/prevnet.db"
    telegram_api_url: str | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    default_locale: Locale = "en"
    redis_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    # The coordinators' dashboard (a Telegram Mini App, bot/dashboard/): the public HTTPS
    # address Telegram opens (e.g. https://bot.example.org/app/); unset: no dashboard.
    webapp_url: str | None = None
    webapp_host: str = "127.0.0.1"  # polling mode: the dashboard's own listener
    webapp_port: int = Field(default=8081, ge=1, le=65535)
    # How old a sign-in (Telegram's initData auth_date) may be, in seconds.
    webapp_max_age: int = Field(default=86400, ge=60, le=30 * 86400)
    broadcast_rate: float = Field(default=25.0, gt=0, le=1000)
    # Replies to a member's own action are not held to BROADCAST_RATE; this optional cap
    # (per second) is for operators who want one. A 429 pauses everything either way.
    reply_rate: float | None = Field(default=None, gt=0, le=1000)
    # Database connections: unset means the backend's default (db_pool_defaults()).
    db_pool_size: int | None = Field(default=None, ge=1, le=500)
    db_max_overflow: int | None = Field(default=None, ge=0, le=500)
    db_pool_timeout: float = Field(default=30.0, gt=0, le=600)
    # Backpressure: updates handled at once; the rest wait in line (in order per chat).
    max_updates_in_flight: int = Field(default=256, ge=1, le=10_000)
    # Flood control: more than FLOOD_LIMIT updates from one person in FLOOD_WINDOW seconds
    # are dropped (one notice); 0 turns it off.
    flood_limit: int = Field(default=20, ge=0, le=10_000)
    flood_window: float = Field(default=10.0, gt=0, le=3600)
    log_level: str = "INFO"
    # Exports: the secret key of the members' pseudonyms in pseudonymised files
    # (HMAC-SHA256, bot/export.py pseudonym; at least 16 characters). Unset: the bot offers
    # no pseudonymised export, and `prevnet export reports --pseudonymise` refuses.
    export_pseudonym_key: SecretStr | None = None

    @field_validator("export_pseudonym_key", mode="before")
    @classmethod
    def _pseudonym_key(cls, value: object) -> object:
        if isinstance(value, str | SecretStr):
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not text.strip():
                return None
            if len(text.strip()) < 16:
                raise ValueError("EXPORT_PSEUDONYM_KEY must be at least 16 characters")
        return value

    def pseudonym_key(self) -> bytes | None:
        """The key of export pseudonyms, or None when EXPORT_PSEUDONYM_KEY is unset."""
        if self.export_pseudonym_key is None:
            return None
        return self.export_pseudonym_key.get_secret_value().strip().encode()
    # Retention: days each kind of data is kept (0 = forever); the daily purge, bot/services/
    # retention.py. Each is 0 or at least its RETENTION_MINIMUMS value.
    retain_attachment_days: int = Field(default=90, ge=0, le=36_500)
    retain_report_text_days: int = Field(default=365, ge=0, le=36_500)
    retain_delivery_days: int = Field(default=30, ge=0, le=36_500)
    retain_audit_days: int = Field(default=365, ge=0, le=36_500)
    retain_update_ids_days: int = Field(default=7, ge=0, le=36_500)

    @field_validator(*RETENTION_MINIMUMS)
    @classmethod
    def _retention_minimum(cls, value: int, info: ValidationInfo) -> int:
        least = RETENTION_MINIMUMS[str(info.field_name)]
        if 0 < value < least:
            raise ValueError(f"must be 0 (keep forever) or at least {least} days")
        return value
    # Encryption at rest (storage/crypto.py, README.md "Encryption at rest"): urlsafe
    # base64 of 32 random bytes; unset, the personal columns are stored as plaintext.
    data_key: SecretStr | None = None

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError as exc:
                raise ValueError("ADMIN_IDS must be comma-separated Telegram user ids") from exc
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator(
        "telegram_api_url",
        "redis_url",
        "webhook_url",
        "webapp_url",
        "reply_rate",
        "db_pool_size",
        "db_max_overflow",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("data_key", mode="before")
    @classmethod
    def _check_data_key(cls, value: object) -> object:
        from storage.crypto import BadKey, parse_key

        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise ValueError("must be a string")
        try:
            parse_key(value)
        except BadKey as exc:
            raise ValueError(str(exc)) from None
        return value.strip()

    def data_key_bytes(self) -> bytes | None:
        """The 32 bytes of DATA_KEY (checked at start), or None."""
        from storage.crypto import parse_key

        return parse_key(self.data_key.get_secret_value()) if self.data_key else None

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def require_token(self) -> str:
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise MissingToken()
        return self.bot_token.get_secret_value().strip()

    def db_pool_options(self) -> dict[str, float | int]:
        """Pool size, overflow and timeout for `storage.engine.create_engine`."""
        options: dict[str, float | int] = {"pool_timeout": self.db_pool_timeout}
        if self.db_pool_size is not None:
            options["pool_size"] = self.db_pool_size
        if self.db_max_overflow is not None:
            options["max_overflow"] = self.db_max_overflow
        return options

    def sqlite_path(self) -> Path | None:
        """The database file when the URL is a SQLite file URL, else None."""
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            rest = self.database_url[len(prefix) :].split("?", 1)[0]
            if rest and rest != ":memory:":
                return Path(rest)
        return None
