"""``/metrics`` (the node's own registry: two nodes in one process do not mix) and ``/readyz`` (200 when
AMI, the database and Redis answer; 503 naming what is down) on a real node."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from core.ami import AmiEvent
from tests.support.settings import free_port, make_settings
from tongdai.app import Node
from tongdai.settings import Settings


def settings(tmp_path: Path, name: str, ami_port: int | None = None) -> Settings:
    web = free_port()
    return make_settings(
        node={"name": name, "data_dir": str(tmp_path / name)},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / name}.db"},
        web={"port": web, "allowed_origins": [f"http://127.0.0.1:{web}"]},
        asterisk={"ami": {"port": ami_port or free_port(), "reconnect_min": 0.1, "reconnect_max": 0.2}},
        redis={"url": None},
        cdr={"csv_path": str(tmp_path / "none.csv")},
    )


async def get(node: Node, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{node.web_port}{path}") as r:
        return r.status, await r.text()


async def test_metrics_are_per_node_and_describe_live_calls(tmp_path: Path) -> None:
    a, b = Node(settings(tmp_path, "a")), Node(settings(tmp_path, "b"))
    await a.start(connect_ami=False)
    await b.start(connect_ami=False)
    try:
        t = a.tracker
        a.tracker.annotate("c1", acd_tier="vip")
        await t.handle(
            AmiEvent("Newchannel", {"Linkedid": "c1", "Uniqueid": "c1.1", "Context": "tongdai-hotline"})
        )
        await t.handle(AmiEvent("QueueCallerJoin", {"Linkedid": "c1", "Uniqueid": "c1.1", "Queue": "mobile"}))
        await t.handle(
            AmiEvent("Newchannel", {"Linkedid": "c2", "Uniqueid": "c2.1", "Context": "tongdai-hotline"})
        )
        await t.handle(AmiEvent("Hangup", {"Linkedid": "c2", "Uniqueid": "c2.1"}))
        await a.bus.drain()
        status, text = await get(a, "/metrics")
        assert status == 200
        assert "tongdai_calls_in_progress 1.0" in text
        assert 'tongdai_calls_waiting{queue="mobile",tier="vip"} 1.0' in text
        assert 'tongdai_calls_ended_total{disposition="ended"} 1.0' in text
        assert 'tongdai_writer_written_total{writer="calls"} 1.0' in text
        assert 'tongdai_writer_queue_depth{writer="cdrs"} 0.0' in text
        assert "tongdai_cdr_spool_depth 0.0" in text
        assert 'tongdai_dependency_up{dependency="database"} 1.0' in text
        assert "tongdai_fastagi_decision_seconds" in text and "tongdai_ami_event_lag_seconds" in text
        assert "tongdai_retention_purged" in text
        _, other = await get(b, "/metrics")
        assert "tongdai_calls_in_progress 0.0" in other  # b's registry knows nothing of a's calls
        assert "tongdai_calls_ended_total{" not in other

        status, body = await get(a, "/readyz")
        assert status == 200 and '"checked": ["database"]' in body
    finally:
        await a.stop()
        await b.stop()


async def test_readyz_names_ami_when_asterisk_is_unreachable(tmp_path: Path) -> None:
    node = Node(settings(tmp_path, "n", ami_port=free_port()))  # nothing listens there
    await node.start()
    try:
        status, body = await get(node, "/readyz")
        assert status == 503
        assert '"ami": "not connected' in body and '"database"' not in body.split('"down"')[1].split("}")[0]
        _, text = await get(node, "/metrics")
        assert 'tongdai_dependency_up{dependency="ami"} 0.0' in text
    finally:
        await node.stop()
