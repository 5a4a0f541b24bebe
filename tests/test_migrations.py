"""The schema is made only by migrations: they must match the models exactly, both ways."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.engine import create_engine
from storage.migrate import upgrade
from storage.models import Base
from tests.pg import fresh_database


async def _diff(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await upgrade(engine)  # nothing pending: a no-op
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()


async def test_migrations_match_models_on_sqlite(tmp_path) -> None:
    assert await _diff(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}") == []


@pytest.mark.postgres
async def test_migrations_match_models_on_postgres() -> None:
    async with fresh_database() as url:
        assert await _diff(url) == []
