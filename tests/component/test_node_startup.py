"""The composition root: a node starts without Asterisk, and a start that fails part-way unwinds what it
had started (ports released, the database closed) so a retry in the same process works."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest

from tests.support.settings import free_port, make_settings
from tongdai.app import Node
from tongdai.settings import Settings


def settings(tmp_path: Path, web_port: int, agi_port: int) -> Settings:
    return make_settings(
        node={"name": "startup-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
        web={"port": web_port, "allowed_origins": [f"http://127.0.0.1:{web_port}"]},
        asterisk={"agi": {"port": agi_port}},
        redis={"url": None},
    )


async def test_a_failed_start_unwinds_what_it_started(tmp_path: Path) -> None:
    web_port, agi_port = free_port(), free_port()
    with socket.socket() as taken:  # the web port is taken: the start fails after FastAGI listens
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", web_port))
        taken.listen()
        node = Node(settings(tmp_path, web_port, agi_port))
        with pytest.raises(OSError):
            await node.start(connect_ami=False)
        assert node.acd is not None and node.agi is not None  # it got that far
    # FastAGI's port was released by the unwinding: a second node can listen on it.
    again = Node(settings(tmp_path, web_port, agi_port))
    await again.start(connect_ami=False)
    try:
        assert again.agi is not None and again.agi.port == agi_port
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{web_port}/healthz") as r:
            assert r.status == 200 and (await r.json())["status"] == "up"
        with socket.socket() as probe:  # and it really listens there
            probe.connect(("127.0.0.1", agi_port))
    finally:
        await again.stop()
    await again.stop()  # a second stop is harmless
