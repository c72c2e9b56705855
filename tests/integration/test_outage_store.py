"""The outage notice store on SQLite and PostgreSQL: known areas from the customers' provinces, the live
notices the IVR reads, one winner when two people expire a notice at once, heard counts that add up."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from core.db import create_engine, session_factory
from crm_bridge.demo_data import load_demo
from ivr.outage_store import AlreadyOver, OutageStore, UnknownArea
from tongdai.schema import upgrade_to_head


async def test_post_expire_live_and_heard(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade_to_head(engine)
        await load_demo(engine, 0)
        store = OutageStore(session_factory(engine), extra_areas=["hn-caugiay"])
        known = await store.known_areas()
        assert known["ha noi"] == "Hà Nội" and known["hn caugiay"] == "hn-caugiay"
        with pytest.raises(UnknownArea, match="Hà Nam"):
            await store.create("Hà Nam", "x", message_en=None, starts_at=None, ends_at=_in(1), by="9000")

        now = await store.create(
            "HA NOI", "Sự cố.", message_en=None, starts_at=None, ends_at=_in(2), by="9000"
        )
        later = await store.create(
            "Đà Nẵng", "Bảo trì.", message_en="Maintenance.", starts_at=_in(1), ends_at=_in(3), by="api:noc"
        )
        assert (now.area, now.area_key) == ("Hà Nội", "ha noi")
        assert [v.id for v in await store.live()] == [now.id, later.id]
        assert [v.id for v in await store.listing("active")] == [now.id]
        assert [v.id for v in await store.listing("upcoming")] == [later.id]

        # Two nodes' counts add up on the row.
        await store.add_heard(Counter({now.id: 2}))
        await store.add_heard(Counter({now.id: 1, later.id: 4}))
        heard = {v.id: v.heard for v in await store.listing("all")}
        assert heard == {now.id: 3, later.id: 4}

        results = await asyncio.gather(
            store.expire(now.id, "9000"), store.expire(now.id, "9001"), return_exceptions=True
        )
        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0], AlreadyOver)
        assert won[0].expired_by in {"9000", "9001"} and won[0].expired_at is not None
        assert [v.id for v in await store.live()] == [later.id]
    finally:
        await engine.dispose()


def _in(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)
