"""Wiring of crm_bridge from its config section: the directory, its cache and the external CRM.

The lead's app factory calls :func:`build` once at start-up and :meth:`CrmComponent.close` at shutdown;
nothing here runs at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_bridge.cache import ProfileCache, ProfileCacheLike
from crm_bridge.config import CrmConfig
from crm_bridge.directory import CustomerDirectory
from crm_bridge.external import ExternalCrm, ProfileService
from crm_bridge.memory_cache import MemoryProfileCache

__all__ = ["CrmComponent", "build"]


@dataclass
class CrmComponent:
    directory: CustomerDirectory  # lookups, search, writes
    profiles: ProfileService  # what the screen pop calls (local + external CRM under a deadline)
    cache: ProfileCacheLike | None
    external: ExternalCrm | None

    async def close(self) -> None:
        if self.external is not None:
            await self.external.close()


def build(
    config: CrmConfig, sessions: async_sessionmaker[AsyncSession], redis: Redis | None = None
) -> CrmComponent:
    """Assemble the CRM bridge; without ``redis`` the cache is in-process (one node)."""
    cache: ProfileCacheLike | None = None
    if not config.cache.enabled:
        pass
    elif redis is None:
        cache = MemoryProfileCache(
            ttl_seconds=config.cache.memory_ttl_seconds,
            negative_ttl_seconds=min(config.cache.negative_ttl_seconds, config.cache.memory_ttl_seconds),
            max_profiles=config.cache.memory_max_profiles,
        )
    else:
        cache = ProfileCache(
            redis,
            prefix=config.cache.key_prefix,
            ttl_seconds=config.cache.ttl_seconds,
            negative_ttl_seconds=config.cache.negative_ttl_seconds,
        )
    directory = CustomerDirectory(
        sessions,
        config.tiers,
        cache,
        recent_interactions=config.recent_interactions,
        id_format=config.customer_id.format(),
    )
    external = None
    if config.external.enabled and config.external.base_url is not None:
        external = ExternalCrm(str(config.external.base_url), timeout_seconds=config.external.timeout_seconds)
    return CrmComponent(directory, ProfileService(directory, external), cache, external)
