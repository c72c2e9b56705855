"""Two nodes that act as one, as separate OS processes: two Asterisk 22 sandboxes (their own chroots,
ports and system names) and two ``tongdai serve`` processes, each pointed at its own Asterisk, sharing
one PostgreSQL database and one Redis (a channel and key prefix of this run's own).

Agents are configured on both nodes (either desktop logs them in, either wallboard names them); each
agent's queue membership is configured on one node only, the one whose Asterisk rings them: 1001 on
node A, 1002 and 1003 on node B. These tests never skip in CI: a missing sandbox, PostgreSQL or Redis
there is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml

from asterisk_conf.render import write_all
from core.ami import AmiClient
from ivr.prompts import generate_prompts
from tests.conftest import REDIS_URL, fresh_pg_database
from tests.support.settings import REPO, SIMPLE_IVR, base_config, deep_merge, free_port, make_settings
from tongdai.settings import Settings

SANDBOX = REPO / "asterisk_conf" / "sandbox.sh"
AMI_SECRET = "test-ami-secret"
_BASE = os.environ.get("TONGDAI_SANDBOX", "/var/tmp/tdast")
# The two chroots (copies of the one sandbox: `sandbox.sh clone` makes them when missing).
ROOTS = [Path(p) for p in os.environ.get("TONGDAI_MULTINODE_SANDBOXES", f"{_BASE}-a,{_BASE}-b").split(",")]

# The same queues on both nodes; members only on the node whose Asterisk has the agent.
_QUEUES: dict[str, list[tuple[str, str, list[str]]]] = {
    "a": [("mobile", "Di động", ["1001"]), ("internet", "Internet", []), ("care", "Tổng đài viên", [])],
    "b": [("mobile", "Di động", []), ("internet", "Internet", ["1002"]), ("care", "Tổng đài viên", ["1003"])],
}


def require(cond: bool, why: str) -> None:
    if cond:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the multinode tests must run in CI: {why}")
    pytest.skip(why)


def sandbox(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TONGDAI_SANDBOX": str(root)}
    return subprocess.run(
        [str(SANDBOX), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


@dataclass
class Node:
    key: str  # "a" or "b"
    root: Path
    config: dict[str, Any]
    settings: Settings
    dir: Path
    proc: asyncio.subprocess.Process | None = None
    token: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        return self.settings.node.name

    @property
    def system_name(self) -> str:
        return self.settings.asterisk.system_name

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.settings.web.port}"

    @property
    def log(self) -> Path:
        return self.dir / "serve.log"

    def ami(self) -> AmiClient:
        m = self.settings.asterisk.ami
        return AmiClient(m.host, m.port, m.username, AMI_SECRET, reconnect_min=0.2, reconnect_max=1)

    async def get(self, http: aiohttp.ClientSession, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with http.get(f"{self.base}{path}", headers=headers) as r:
            assert r.status == 200, (path, r.status, await r.text())
            return await r.json()

    async def metrics(self, http: aiohttp.ClientSession) -> dict[str, float]:
        async with http.get(f"{self.base}/metrics") as r:
            text = await r.text()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out


@dataclass
class Cluster:
    a: Node
    b: Node
    db_url: str
    redis_prefix: str

    @property
    def nodes(self) -> tuple[Node, Node]:
        return (self.a, self.b)


def node_config(key: str, root: Path, work: Path, *, db_url: str, run: str, token: str) -> dict[str, Any]:
    web = free_port()
    queues = [
        {"name": n, "label": label, "wrapup": 0, "members": [{"agent": m} for m in members]}
        for n, label, members in _QUEUES[key]
    ]
    over: dict[str, Any] = {
        "node": {"name": f"node-{key}", "data_dir": str(work / "var")},
        "asterisk": {
            "system_name": f"tdmn{key}",  # linkedids and CDR keys unique across the two Asterisks
            "ami": {"secret": AMI_SECRET, "ping_interval": 2, "port": free_port()},
            "agi": {"port": free_port()},
            "sip": {"port": free_port()},
        },
        "database": {"url": db_url},
        "redis": {"url": REDIS_URL, "channel": f"tongdai.mn.{run}", "key_prefix": f"tongdai-mn-{run}:"},
        "crm": {"cache": {"key_prefix": f"tongdai-mn-{run}:crm:"}},
        "web": {"port": web, "allowed_origins": [f"http://127.0.0.1:{web}"]},
        "desktop": {"api_tokens": [{"name": "mn", "token": token, "scopes": ["stats:read"]}]},
        "queues": queues,
        "recordings": {"dir": str(root / "var/spool/asterisk/monitor")},
        "cdr": {"csv_path": str(root / "var/log/asterisk/cdr-custom/tongdai.csv")},
    }
    data = deep_merge(base_config(), over)
    data["ivr"] = SIMPLE_IVR
    # Only these queues exist here: exits overflow nowhere (the default, a callback offer, stays).
    data["queue_exits"] = {"default": {"action": "callback"}}
    return data


@pytest.fixture(scope="session")
def multinode_sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sounds = tmp_path_factory.mktemp("mn-sounds")
    generate_prompts(make_settings().ivr, sounds)
    generate_prompts(make_settings(ivr=SIMPLE_IVR).ivr, sounds)
    return sounds


async def _wait_ready(node: Node, http: aiohttp.ClientSession, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        assert node.proc is not None
        if node.proc.returncode is not None:
            raise AssertionError(f"{node.name} exited {node.proc.returncode}:\n{tail(node.log)}")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"{node.base}/readyz", timeout=aiohttp.ClientTimeout(total=3)) as r:
                last = await r.text()
                if r.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{node.name} not ready in {timeout} s ({last}):\n{tail(node.log)}")


def tail(path: Path, n: int = 60) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


async def _start_bridge(node: Node) -> None:
    path = node.dir / "config.yaml"
    path.write_text(yaml.safe_dump(node.config, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TONGDAI_JSON_LOGS": ""}
    env = {k: v for k, v in env.items() if not k.startswith("TONGDAI__")}
    with node.log.open("wb") as out:
        node.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys; from tongdai.cli import main; sys.exit(main())",
            "-c",
            str(path),
            "serve",
            cwd=str(node.dir),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _stop_bridge(node: Node) -> None:
    if node.proc is None or node.proc.returncode is not None:
        return
    node.proc.terminate()
    try:
        await asyncio.wait_for(node.proc.wait(), 30)
    except TimeoutError:
        node.proc.kill()
        await node.proc.wait()


@pytest.fixture(scope="session")
def multinode_sandboxes(
    tmp_path_factory: pytest.TempPathFactory, multinode_sounds: Path
) -> Iterator[list[Path]]:
    """Both chroots built (cloned from the one sandbox if missing); started later, per cluster."""
    require(os.geteuid() == 0, "the Asterisk sandboxes need root (chroot)")
    for root in ROOTS:
        made = sandbox(root, "clone", _BASE, timeout=900)
        require(made.returncode == 0, f"sandbox {root} not available: {made.stderr[-2000:]}")
    yield ROOTS
    if not os.environ.get("TONGDAI_KEEP_ASTERISK"):
        for root in ROOTS:
            sandbox(root, "stop", timeout=60)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(
    multinode_sandboxes: list[Path], multinode_sounds: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    try:
        import asyncpg
        from redis.asyncio import Redis

        r = Redis.from_url(REDIS_URL)
        await r.ping()
        await r.aclose()
        conn = await asyncpg.connect(
            os.environ.get("TONGDAI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
        )
        await conn.close()
    except Exception as err:  # a missing dependency: skip locally, fail in CI
        require(False, f"PostgreSQL and Redis are needed: {err}")
    run = uuid.uuid4().hex[:10]
    token = secrets.token_urlsafe(32)
    async with fresh_pg_database() as db_url:
        nodes = []
        for key, root in zip(("a", "b"), multinode_sandboxes, strict=True):
            work = tmp_path_factory.mktemp(f"node-{key}")
            data = node_config(key, root, work, db_url=db_url, run=run, token=token)
            settings = Settings.model_validate(data)
            nodes.append(Node(key, root, data, settings, work, token=token))
        # Both Asterisks at once (each its own rendered configuration), then the bridges.
        for n in nodes:
            conf = n.dir / "asterisk-conf"
            write_all(n.settings, conf)
            n.settings.cdr.csv_path.parent.mkdir(parents=True, exist_ok=True)
            n.settings.cdr.csv_path.write_text("")  # each run starts from an empty CDR file
        results = await asyncio.gather(
            *(
                asyncio.to_thread(
                    sandbox, n.root, "restart", str(n.dir / "asterisk-conf"), str(multinode_sounds)
                )
                for n in nodes
            )
        )
        for n, res in zip(nodes, results, strict=True):
            assert res.returncode == 0, f"sandbox {n.root}: {res.stderr[-2000:]}"
        c = Cluster(nodes[0], nodes[1], db_url, f"tongdai-mn-{run}:")
        try:
            async with aiohttp.ClientSession() as http:
                # One after the other: the first migrates the shared database.
                for n in nodes:
                    await _start_bridge(n)
                    await _wait_ready(n, http)
            await _load_customers(db_url)
            yield c
        finally:
            await asyncio.gather(*(_stop_bridge(n) for n in nodes))
            from redis.asyncio import Redis

            r = Redis.from_url(REDIS_URL)
            keys = [k async for k in r.scan_iter(f"tongdai-mn-{run}:*")]
            if keys:
                await r.delete(*keys)
            await r.aclose()


async def _load_customers(db_url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from crm_bridge.demo_data import load_demo

    engine = create_async_engine(db_url)
    try:
        await load_demo(engine, 0)
    finally:
        await engine.dispose()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    c = getattr(item, "funcargs", {}).get("cluster")
    if isinstance(c, Cluster):
        for n in c.nodes:
            report.sections.append((f"{n.name} serve.log (tail)", tail(n.log)))
            report.sections.append(
                (f"{n.name} Asterisk messages.log (tail)", tail(n.root / "var/log/asterisk/messages.log", 40))
            )
