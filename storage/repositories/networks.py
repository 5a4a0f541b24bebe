from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Network


async def create(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    country: str,
    timezone: str,
    locale: str,
    require_approval: bool = False,
) -> Network:
    network = Network(
        slug=slug,
        name=name,
        country=country,
        timezone=timezone,
        locale=locale,
        require_approval=require_approval,
    )
    session.add(network)
    await session.flush()
    return network


async def get(session: AsyncSession, network_id: int) -> Network | None:
    return await session.get(Network, network_id)


async def get_by_slug(session: AsyncSession, slug: str) -> Network | None:
    return await session.scalar(select(Network).where(Network.slug == slug))


async def list_all(session: AsyncSession) -> Sequence[Network]:
    return (await session.scalars(select(Network).order_by(Network.slug))).all()


async def list_by_ids(session: AsyncSession, ids: Sequence[int]) -> Sequence[Network]:
    if not ids:
        return []
    return (
        await session.scalars(select(Network).where(Network.id.in_(ids)).order_by(Network.name))
    ).all()
