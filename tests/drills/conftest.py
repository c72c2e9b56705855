"""Fault drills: the bridge as its own OS process (``python -m tongdai.cli serve`` with a config file
written here), the sandbox's real Asterisk (the session fixture of tests/asterisk), a throwaway
PostgreSQL cluster and, where a drill needs it, a redis-server of its own. Each drill breaks one of
them under traffic and then checks that nothing was lost and nothing doubled.

Like the Asterisk tier these never skip in CI: a missing sandbox, PostgreSQL or redis-server there is
a failure. Every wait polls a real outcome within a deadline (the machine may be loaded).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest
import yaml
from sqlalchemy import func, select

from billing.models import CdrRecord
from core.ami import AmiClient, AmiEvent
from core.db import create_engine, session_factory
from core.models import CallRecord
from crm_bridge.demo_data import load_demo
from recordings.models import Recording
from tests.asterisk.conftest import (  # noqa: F401  (fixtures shared with the Asterisk tier)
    AMI_SECRET,
    AsteriskSandbox,
    ami,
    asterisk_sandbox,
    eventually,
    pytest_runtest_makereport,
)
from tests.support.pg_cluster import PgCluster, pg_cluster
from tests.support.settings import REPO, SIMPLE_IVR, TEST_QUEUES, deep_merge, free_port
from tongdai.schema import upgrade_to_head

API_TOKEN = "drill-wallboard-token-0123456789abcdef"


def require(cond: bool, why: str) -> None:
    if cond:
        return
    if os.environ.get("CI"):
        pytest.fail(f"fault drills must run in CI: {why}")
    pytest.skip(why)


# --- the bridge as a process ----------------------------------------------------------------------


@dataclass
class BridgeProcess:
    """One ``tongdai serve`` process; :meth:`kill` is ``kill -9``, :meth:`start` starts it again
    on the same config (same database, same spool)."""

    config: dict[str, Any]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def web_port(self) -> int:
        return int(self.config["web"]["port"])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        path = self.workdir / "config.yaml"
        path.write_text(yaml.safe_dump(self.config, allow_unicode=True), encoding="utf-8")
        self.starts += 1
        log = self.workdir / f"bridge-{self.starts}.log"
        self.logs.append(log)
        env = {**os.environ, "PYTHONPATH": str(REPO), "TONGDAI_JSON_LOGS": ""}
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tongdai.cli", "-c", str(path), "serve"],
                cwd=self.workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self, lines: int = 60) -> str:
        out = []
        for p in self.logs:
            if p.exists():
                out.append(f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)

    async def get(self, path: str, *, timeout: float = 5) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
            http.get(self.base + path, headers=headers) as r,
        ):
            body: Any = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, body

    async def wait_ready(self, timeout: float = 90, *, idle_agents: bool = True) -> None:
        """Until /readyz says every dependency answers and the agents are known (and, with
        ``idle_agents``, ready: logged in and on no call)."""

        async def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"the bridge exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                status, _ = await self.get("/readyz")
                if status != 200:
                    return False
                _, board = await self.get("/api/wallboard")
            except (aiohttp.ClientError, TimeoutError):
                return False
            agents = {
                a["agent_id"] for a in board.get("agents", []) if a["status"] == "ready" or not idle_agents
            }
            return {"1001", "1002"} <= agents

        try:
            await eventually(ready, timeout=timeout, interval=0.3)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{self.log_tail()}") from None

    async def metrics(self) -> str:
        status, text = await self.get("/metrics")
        assert status == 200
        return str(text)


def bridge_config(sandbox: AsteriskSandbox, workdir: Path, db_url: str, **over: Any) -> dict[str, Any]:
    """The config file of a drill's bridge: what the sandbox's Asterisk was configured for (as
    AsteriskSandbox.settings_for builds it for in-process bridges), in demo mode on loopback."""
    from tests.support.settings import base_config

    web_port = free_port()
    base: dict[str, Any] = {
        "node": {"name": "tongdai-drill", "data_dir": str(workdir / "var")},
        "asterisk": {
            "system_name": "tdtest",
            "ami": {"secret": AMI_SECRET, "ping_interval": 2, "port": sandbox.ami_port},
            "agi": {"port": sandbox.agi_port},
            "sip": {"port": sandbox.sip_port},
        },
        "database": {"url": db_url},
        "redis": {"url": None},
        "web": {"port": web_port, "allowed_origins": [f"http://127.0.0.1:{web_port}"]},
        "desktop": {"api_tokens": [{"name": "drill", "token": API_TOKEN, "scopes": ["stats:read"]}]},
        "queues": TEST_QUEUES,
        "recordings": {"dir": str(sandbox.root / "var/spool/asterisk/monitor")},
        "cdr": {"csv_path": str(sandbox.settings.cdr.csv_path)},
    }
    data = deep_merge(deep_merge(base_config(), base), over)
    data["ivr"] = SIMPLE_IVR
    return data


# --- throwaway PostgreSQL and Redis ---------------------------------------------------------------


@pytest.fixture(scope="session")
def pg() -> Iterator[PgCluster]:
    require(os.geteuid() == 0, "the throwaway PostgreSQL needs root (runs as the postgres user)")
    require(Path("/usr/lib/postgresql").is_dir(), "PostgreSQL server binaries are not installed")
    with pg_cluster() as cluster:
        yield cluster


@pytest.fixture
async def drill_db(pg: PgCluster) -> str:
    """A fresh database on the throwaway cluster, migrated, with the demo customers."""
    name = f"drill_{uuid.uuid4().hex[:10]}"
    await asyncio.to_thread(pg.create_database, name)
    url = pg.url(name)
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        await load_demo(engine, 0)
    finally:
        await engine.dispose()
    return url


@dataclass
class RedisServer:
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def wait_up(self, timeout: float = 20) -> None:
        import redis.asyncio as aioredis

        async def up() -> bool:
            client = aioredis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
            try:
                return bool(await client.ping())
            except (OSError, aioredis.RedisError):
                return False
            finally:
                await client.aclose()

        await eventually(up, timeout=timeout, interval=0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a hung server must be able to exit
            self.proc.terminate()
            self.proc.wait(20)

    def hang(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = RedisServer(free_port(), tmp_path)
    server.start()
    try:
        await server.wait_up()
        yield server
    finally:
        server.stop()


class NewBridge(Protocol):
    def __call__(self, db_url: str, **over: Any) -> BridgeProcess: ...


@pytest.fixture
def new_bridge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewBridge]:
    """Makes the drill's bridge process (not yet started); each is stopped (SIGTERM) at the end."""
    sandbox: AsteriskSandbox = request.getfixturevalue("asterisk_sandbox")
    procs: list[BridgeProcess] = []

    def make(db_url: str, **over: Any) -> BridgeProcess:
        work = tmp_path / f"bridge{len(procs)}"
        work.mkdir()
        procs.append(BridgeProcess(bridge_config(sandbox, work, db_url, **over), work))
        return procs[-1]

    yield make
    for p in procs:
        p.stop()


@pytest.fixture
async def watch(ami: AmiClient) -> AsyncIterator[CallWatch]:  # noqa: F811  (the fixture above)
    """The drill's callers; any still up at the end are hung up."""
    w = CallWatch(ami)
    yield w
    await w.hang_up_rest()


# --- traffic and what Asterisk says happened -------------------------------------------------------


class CallWatch:
    """Placed callers (each with its own Linkedid, Originate's ChannelId) and the AMI events of them."""

    def __init__(self, client: AmiClient) -> None:
        self.ami = client
        self.tag = uuid.uuid4().hex[:8]
        self.ids: list[str] = []
        self.answered: set[str] = set()
        self.hung_up: set[str] = set()
        self.channels: dict[str, set[str]] = {}
        self._n = 0
        self.seen: set[str] = set()  # calls Asterisk created (an Originate can fail in an outage)
        client.on_event(self._seen)

    async def _seen(self, ev: AmiEvent) -> None:
        cid = ev.get("Linkedid")
        if cid not in self.channels:
            return
        if ev.name == "Newchannel":
            self.channels[cid].add(ev.get("Uniqueid"))
            self.seen.add(cid)
        elif ev.name == "AgentConnect":
            self.answered.add(cid)
        elif ev.name == "Hangup":
            self.channels[cid].discard(ev.get("Uniqueid"))
            if not self.channels[cid]:
                self.hung_up.add(cid)

    async def place(self, caller: str, dtmf: str, stay: float) -> str:
        self._n += 1
        cid = f"drill-{self.tag}-{self._n}"
        self.ids.append(cid)
        self.channels[cid] = set()
        reply = await self.ami.action(
            "Originate",
            {
                "Channel": "Local/18001090@tongdai-hotline",
                "Context": "tongdai-callsim",
                "Exten": "s",
                "Priority": "1",
                "CallerID": caller,
                "ChannelId": cid,  # the caller's channel is the call's first: its Linkedid
                "OtherChannelId": f"{cid}.2",
                "Variable": [f"TONGDAI_DTMF={dtmf}", f"TONGDAI_STAY={stay}", "TONGDAI_DTMF_DELAY=0.5"],
                "Async": "true",
            },
        )
        assert reply.ok, reply
        return cid

    async def hang_up(self, cid: str) -> None:
        """The caller hangs up (their channel, found by its uniqueid: the call's Linkedid)."""
        reply = await self.ami.action("Hangup", {"Channel": cid})
        assert reply.ok or cid in self.hung_up, reply

    def all_ended(self) -> bool:
        return self.hung_up >= set(self.ids)

    async def queued_in_asterisk(self) -> int:
        """Callers of ours Asterisk has waiting in a queue now (QueueStatus)."""
        status = await self.ami.action("QueueStatus", multi=True, timeout=10)
        mine = {u for cid in self.ids for u in self.channels.get(cid, ())}
        return sum(1 for e in status.events if e.name == "QueueEntry" and e.get("Uniqueid") in mine)

    async def hang_up_rest(self) -> None:
        """After a failed drill: no caller of it may hold an agent for the next one."""
        for cid in set(self.ids) - self.hung_up:
            with contextlib.suppress(Exception):
                await self.ami.action("Hangup", {"Channel": cid})

    def forget_unseen(self) -> None:
        """Drop the calls Asterisk never created (their Originate failed): there is nothing to record."""
        self.ids = [c for c in self.ids if c in self.seen]


class Traffic:
    """Callers placed one after another into mobile and internet (short stays), until stopped. An
    Originate refused while Asterisk is away is skipped: that caller never existed."""

    CALLERS = ("0912345678", "0987654321", "0333333333", "0912000001", "0912000002")

    def __init__(self, watch: CallWatch, every: float = 1.0, stay: float = 3.0) -> None:
        self.watch, self.every, self.stay = watch, every, stay
        self.placed = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        n = 0
        while True:
            caller = self.CALLERS[n % len(self.CALLERS)]
            try:
                await self.watch.place(caller, "12"[n % 2], self.stay)
                self.placed += 1
            except Exception:  # AMI down (Asterisk restarting): the call was never placed
                self.watch.ids.pop()
            n += 1
            await asyncio.sleep(self.every)

    def __enter__(self) -> Traffic:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    async def until(self, placed: int, timeout: float = 60) -> None:
        await eventually(lambda: self.placed >= placed, timeout=timeout, interval=0.2)


def asterisk_cdrs(csv_path: Path, linkedids: set[str]) -> list[tuple[str, int]]:
    """Asterisk's own CDR file (cdr_custom): (uniqueid, sequence) of every CDR of these calls."""
    out = []
    with open(csv_path, newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.reader(f):
            if len(row) > 2 and row[1] in linkedids:
                out.append((row[0], int(row[2] or 0)))
    return out


async def stored(db_url: str, linkedids: set[str]) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """The bridge's database: CDR keys of these calls, and call records per call id."""
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s:
            cdrs = [
                (u, q)
                for u, q in await s.execute(
                    select(CdrRecord.uniqueid, CdrRecord.sequence).where(CdrRecord.linkedid.in_(linkedids))
                )
            ]
            calls = {
                cid: n
                for cid, n in await s.execute(
                    select(CallRecord.call_id, func.count())
                    .where(CallRecord.call_id.in_(linkedids))
                    .group_by(CallRecord.call_id)
                )
            }
    finally:
        await engine.dispose()
    return cdrs, calls


async def call_rows(db_url: str, linkedids: set[str]) -> dict[str, CallRecord]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s:
            rows = await s.scalars(select(CallRecord).where(CallRecord.call_id.in_(linkedids)))
            return {r.call_id: r for r in rows}
    finally:
        await engine.dispose()


def metric(text: str, name: str) -> float:
    """One sample's value from Prometheus text (``name`` with its labels, as printed)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


async def assert_nothing_lost_or_doubled(
    db_url: str, csv_path: Path, watch: CallWatch, *, timeout: float = 40
) -> None:
    """Every CDR Asterisk wrote for these calls is stored exactly once, and every call has one record."""
    ids = set(watch.ids)
    assert ids, "no call was placed"

    async def complete() -> bool:
        expected = sorted(asterisk_cdrs(csv_path, ids))
        cdrs, calls = await stored(db_url, ids)
        return bool(expected) and sorted(cdrs) == expected and set(calls) == ids

    try:
        await eventually(complete, timeout=timeout, interval=0.5)
    except AssertionError:
        expected = sorted(asterisk_cdrs(csv_path, ids))
        cdrs, calls = await stored(db_url, ids)
        missing = sorted(set(expected) - set(cdrs))
        doubled = sorted({k for k in cdrs if cdrs.count(k) > 1})
        raise AssertionError(
            f"CDRs: {len(expected)} in Asterisk's CSV, {len(cdrs)} stored; missing {missing}, doubled "
            f"{doubled}; calls without a record: {sorted(ids - set(calls))}"
        ) from None
    cdrs, calls = await stored(db_url, ids)
    assert len(cdrs) == len(set(cdrs)), "a CDR stored twice"
    assert all(n == 1 for n in calls.values())


async def assert_recordings_filed(db_url: str, watch: CallWatch, *, timeout: float = 30) -> None:
    """Every recording a stored CDR of these calls names is filed (a ``recordings`` row), once."""
    ids = set(watch.ids)
    engine = create_engine(db_url)
    try:

        async def rows() -> tuple[set[str], list[str]]:
            async with session_factory(engine)() as s:
                named = set(
                    await s.scalars(
                        select(CdrRecord.linkedid).where(
                            CdrRecord.linkedid.in_(ids), CdrRecord.recording != ""
                        )
                    )
                )
                filed = list(await s.scalars(select(Recording.call_id).where(Recording.call_id.in_(ids))))
            return named, filed

        async def complete() -> bool:
            named, filed = await rows()
            return bool(named) and named <= set(filed)

        try:
            await eventually(complete, timeout=timeout, interval=0.5)
        except AssertionError:
            named, filed = await rows()
            raise AssertionError(f"recordings not filed: {sorted(named - set(filed))}") from None
        _, filed = await rows()
        assert len(filed) == len(set(filed)), "a recording filed twice"
    finally:
        await engine.dispose()
