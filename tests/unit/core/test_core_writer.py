"""The background writer's rules: batches in order, retries transient errors, never sheds kept work,
sheds and coalesces sheddable work first, isolates a row the sink refuses, flushes or spills at stop."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from core.db import is_transient
from core.writer import Writer


class Sink:
    def __init__(self) -> None:
        self.rows: list[object] = []
        self.batches: list[list[object]] = []
        self.fail_next = 0  # transient failures to raise before succeeding
        self.refuse: set[object] = set()
        self.down = False
        self.gate = asyncio.Event()
        self.gate.set()

    async def write(self, batch: Sequence[object]) -> None:
        await self.gate.wait()
        if self.down or self.fail_next:
            self.fail_next = max(0, self.fail_next - 1)
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
        if self.refuse & set(batch):
            raise IntegrityError("INSERT", {}, Exception("duplicate"))
        self.batches.append(list(batch))
        self.rows.extend(batch)


async def test_batches_in_order_and_retries_a_locked_database() -> None:
    sink = Sink()
    sink.fail_next = 3
    w: Writer[object] = Writer("t", sink.write, batch=4, retry_min=0.001, retry_max=0.004)
    w.start()
    for n in range(10):
        w.submit(n)
    assert await w.flush(5)
    assert sink.rows == list(range(10))
    assert w.stats.retries == 3 and w.stats.written == 10 and w.healthy
    assert all(len(b) <= 4 for b in sink.batches)
    await w.stop()


async def test_kept_work_is_never_shed_sheddable_work_goes_first_and_coalesces() -> None:
    sink = Sink()
    sink.gate.clear()  # the sink is stuck: everything queues
    w: Writer[object] = Writer("t", sink.write, capacity=4, batch=100)
    w.start()
    w.submit("presence-a1", keep=False, key="a")
    w.submit("presence-a2", keep=False, key="a")  # supersedes a1 in place
    assert w.stats.coalesced == 1
    w.submit("presence-b", keep=False, key="b")
    for n in range(5):
        w.submit(f"call-{n}")
    assert w.stats.shed == 2  # both presences made room for calls
    assert w.stats.over_capacity == 1  # the fifth call, past the bound, is still kept
    w.submit("presence-c", keep=False, key="c")  # full of kept work: the new presence is shed
    assert w.stats.shed == 3
    sink.gate.set()
    assert await w.flush(5)
    assert sink.rows == [f"call-{n}" for n in range(5)]
    await w.stop()


async def test_the_newest_presence_is_written() -> None:
    sink = Sink()
    sink.gate.clear()
    w: Writer[object] = Writer("t", sink.write)
    w.start()
    w.submit("first", keep=False, key="a")
    await asyncio.sleep(0.01)  # "first" is in flight, stuck at the gate
    w.submit("second", keep=False, key="a")
    w.submit("third", keep=False, key="a")  # coalesces with the queued "second", not the in-flight one
    sink.gate.set()
    assert await w.flush(5)
    assert sink.rows == ["first", "third"]
    await w.stop()


async def test_a_refused_row_is_isolated_and_dead_lettered() -> None:
    sink = Sink()
    sink.refuse = {"bad"}
    dead: list[object] = []
    w: Writer[object] = Writer("t", sink.write, on_failed=lambda item, err: dead.append(item))
    w.start()
    for v in ("a", "bad", "b"):
        w.submit(v)
    assert await w.flush(5)
    assert sink.rows == ["a", "b"] and dead == ["bad"] and w.stats.failed == 1
    await w.stop()


async def test_stop_flushes_then_spills_what_the_sink_cannot_take() -> None:
    sink = Sink()
    w: Writer[object] = Writer("t", sink.write)
    w.start()
    w.submit("a")
    await w.stop(5)
    assert sink.rows == ["a"]

    sink.down = True
    spilled: list[object] = []
    w2: Writer[object] = Writer(
        "t2", sink.write, retry_min=0.01, on_failed=lambda item, err: spilled.append(item)
    )
    w2.start()
    w2.submit("b")
    w2.submit("c")
    assert await w2.write("d", timeout=0.05) is False  # still queued, not lost
    await w2.stop(0.3)
    assert sorted(map(str, spilled)) == ["b", "c", "d"] and w2.stats.spilled == 3
    assert not w2.healthy
    w2.submit("late")  # after stop: straight to the spill, never dropped
    assert spilled[-1] == "late"


def test_transient_database_errors() -> None:
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    no_table = OperationalError("INSERT", {}, sqlite3.OperationalError("no such table: calls"))
    assert is_transient(locked)
    assert not is_transient(no_table)
    assert is_transient(DBAPIError("INSERT", {}, Exception("connection was closed in the middle")))
    assert is_transient(InterfaceError("INSERT", {}, Exception("connection is closed")))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(TimeoutError())
    assert not is_transient(ValueError("a bug"))

    class PgError(Exception):
        def __init__(self, code: str) -> None:
            self.sqlstate = code

    assert is_transient(DBAPIError("INSERT", {}, PgError("57P01")))  # admin shutdown
    assert not is_transient(DBAPIError("INSERT", {}, PgError("22001")))  # value too long
