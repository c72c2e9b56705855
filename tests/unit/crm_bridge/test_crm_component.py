"""Wiring from the config section."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from core.db import create_engine, session_factory
from crm_bridge.cache import ProfileCache
from crm_bridge.component import build
from crm_bridge.config import CrmConfig
from crm_bridge.memory_cache import MemoryProfileCache


async def test_build_from_config(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    sessions = session_factory(engine)
    plain = build(CrmConfig(), sessions)
    # One node without Redis: profiles are cached in process, short-lived.
    assert isinstance(plain.cache, MemoryProfileCache) and plain.cache.ttl == 60
    assert plain.external is None
    assert build(CrmConfig.model_validate({"cache": {"enabled": False}}), sessions).cache is None
    assert plain.directory.rules.large_min_vnd == 1_000_000

    cfg = CrmConfig.model_validate(
        {
            "tiers": {"months": 6},
            "cache": {"ttl_seconds": 42, "key_prefix": "t:"},
            "external": {"enabled": True, "base_url": "http://127.0.0.1:9/crm", "timeout_seconds": 0.1},
            "recent_interactions": 3,
        }
    )
    redis = Redis.from_url("redis://127.0.0.1:6379/15")
    full = build(cfg, sessions, redis)
    assert isinstance(full.cache, ProfileCache) and full.cache.ttl == 42 and full.cache.prefix == "t:"
    assert full.external is not None and full.external.timeout == 0.1
    assert full.external.base_url == "http://127.0.0.1:9/crm"
    assert full.directory.rules.months == 6 and full.directory.recent_limit == 3
    assert full.profiles.external is full.external
    await full.close()
    await redis.aclose()
    await engine.dispose()
