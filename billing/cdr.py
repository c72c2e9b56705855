"""CDR ingestion that loses nothing.

CDRs arrive as AMI ``Cdr`` events (``cdr.posted`` on the bus). Each is stored once, keyed on
(system name, uniqueid, sequence), so a replay or a reconciliation never duplicates a row. When the
database is unreachable the CDR is appended to a spool file (one JSON line each, fsynced) and
drained when the database is back. The bus handler only queues the CDR on a background
:class:`core.writer.Writer`, so a slow or locked database never backs the bus up (a full bus queue
drops events); what is still queued at shutdown goes to the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.models import CdrRecord, RatedCall
from billing.rating import CallToRate, Direction, RatedLine, Rater, UnratableCall
from core.bus import BusEvent, EventBus
from core.config import LegalHold
from core.db import is_transient, sqlstate, unit_of_work
from core.models import CallRecord
from core.writer import Writer

log = logging.getLogger(__name__)

# Columns of the CSV that cdr_custom writes (asterisk_conf/templates/cdr_custom.conf.j2), named like
# the AMI Cdr event's headers so both paths share one parser.
CSV_COLUMNS = (
    "UniqueID", "LinkedID", "Sequence", "Source", "Destination", "DestinationContext", "CallerID",
    "Channel", "DestinationChannel", "LastApplication", "LastData", "StartTime", "AnswerTime", "EndTime",
    "Duration", "BillableSeconds", "BillableSecondsExact", "Disposition", "AccountCode", "UserField",
    "Recording", "Dialled",
)  # fmt: skip


class CdrConfig(BaseModel):
    """config.yaml section ``cdr:``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Asterisk's own CDR file (cdr_custom), read at start so calls that ended while the bridge was
    # down are recovered.
    csv_path: Path = Path("/var/log/asterisk/cdr-custom/tongdai.csv")


def _time(v: str) -> datetime | None:
    v = (v or "").strip()
    if not v:
        return None
    # cdr_manager formats "%Y-%m-%d %T" in Asterisk's local time; the sandbox and our
    # deployments run Asterisk in UTC.
    return datetime.strptime(v, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _int(v: str | None) -> int:
    try:
        return int(float(v or 0))
    except ValueError:
        return 0


def cdr_from_ami(h: Mapping[str, str], default_system: str) -> CdrRecord:
    """Build a CdrRecord from a Cdr event's headers (cdr_manager.conf maps LinkedID/Sequence)."""
    uniqueid = h.get("UniqueID", "")
    system = uniqueid.rsplit("-", 1)[0] if "-" in uniqueid else default_system
    exact = h.get("BillableSecondsExact", "")
    start = _time(h.get("StartTime", "")) or datetime.now(UTC)
    return CdrRecord(
        system_name=system,
        uniqueid=uniqueid,
        sequence=_int(h.get("Sequence")),
        linkedid=h.get("LinkedID", "") or uniqueid,
        src=h.get("Source", ""),
        dst=h.get("Destination", ""),
        dcontext=h.get("DestinationContext", ""),
        clid=h.get("CallerID", ""),
        channel=h.get("Channel", ""),
        dstchannel=h.get("DestinationChannel", ""),
        lastapp=h.get("LastApplication", ""),
        lastdata=h.get("LastData", ""),
        start=start,
        answer=_time(h.get("AnswerTime", "")),
        end=_time(h.get("EndTime", "")),
        duration=_int(h.get("Duration")),
        billsec=_int(h.get("BillableSeconds")),
        billsec_exact=float(exact) if exact.replace(".", "", 1).isdigit() else None,
        disposition=h.get("Disposition", ""),
        accountcode=h.get("AccountCode", ""),
        userfield=h.get("UserField", ""),
        recording=h.get("Recording", ""),
        dialled=h.get("Dialled", ""),
    )


def _read_csv(path: Path) -> list[dict[str, str]] | None:
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return [dict(zip(CSV_COLUMNS, r, strict=False)) for r in csv.reader(f) if r]


def call_to_rate(cdr: CdrRecord) -> CallToRate | None:
    """The billing view of a CDR: only the leg that carries the dialled number is billed: the hotline
    leg of an inbound call, the trunk leg of an outbound one (dialled in a ``tongdai-route-*``
    context, rendered from config.yaml ``trunks.outbound``)."""
    if not cdr.dialled:
        return None
    direction: Direction = "outbound" if cdr.dcontext.startswith("tongdai-route-") else "inbound"
    answered = cdr.disposition == "ANSWERED" and cdr.answer is not None
    seconds = cdr.billsec_exact if cdr.billsec_exact is not None else float(cdr.billsec)
    start = cdr.answer or cdr.start
    if start.tzinfo is None:  # SQLite hands stored times back naive; they were written in UTC
        start = start.replace(tzinfo=UTC)
    return CallToRate(
        call_id=cdr.linkedid,
        direction=direction,
        caller=cdr.src,
        callee=cdr.dialled,
        start=start,
        answered_seconds=seconds if answered else 0.0,
        answered=answered,
    )


def rated_row(cdr_id: int, line: RatedLine) -> RatedCall:
    return RatedCall(
        cdr_id=cdr_id,
        call_id=line.call_id,
        account=line.account,
        direction=line.call.direction,
        caller=line.call.caller,
        callee=line.call.callee,
        answered_at=line.call.start,
        plan_id=line.plan_id,
        destination=line.destination,
        prefix=line.prefix,
        charged_party=line.charged_party,
        band=line.band,
        exact_us=line.exact_us,
        billed_seconds=line.billed_seconds,
        blocks=line.blocks,
        amount=line.amount,
        vat=line.vat,
        total=line.total,
        explanation=line.explanation(),
        rated_at=datetime.now(UTC),
    )


def database_unavailable(err: BaseException) -> bool:
    """Whether ``err`` means "the database cannot be reached now" (spool and retry) rather than "this
    CDR cannot be stored" (quarantine). Any disconnect class counts: asyncpg's dropped connections
    arrive as a bare ``DBAPIError``, a refused connect as ``OSError``; only a value the schema rejects
    is the CDR's fault."""
    if isinstance(err, IntegrityError | DataError):
        return False
    # asyncpg's errors all arrive as a bare DBAPIError; its SQLSTATE tells them apart. Classes 22 (data
    # exception) and 23 (integrity) are the CDR's values; 08 (connection), 57 (shutdown) and the rest are
    # the server's state, worth retrying.
    if sqlstate(err)[:2] in ("22", "23"):
        return False
    # Broader than core.db.is_transient on purpose: spooling is lossless and retried, so any database
    # error that is not the CDR's own values waits in the spool rather than in quarantine.
    return is_transient(err) or isinstance(
        err, SQLAlchemyError | OSError | ConnectionError | asyncio.TimeoutError
    )


class CdrIngest:
    """Stores CDRs idempotently; spools them to disk while the database is down.

    Nothing is lost: a CDR the database cannot take now goes to the fsynced spool (drained in order
    when the database is back); one it can never take (a value the schema refuses) goes to the
    quarantine file beside it, with the reason, for an operator to fix; a CDR whose rating fails is
    stored unrated and rated later (:meth:`rate_pending`, and ``tongdai billing rerate``).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        spool_dir: Path,
        system_name: str,
        rater: Rater | None = None,
    ) -> None:
        self._sessions = sessions
        self._rater = rater
        self.unratable = 0
        self._spool = spool_dir / "cdr-spool.jsonl"
        self.quarantine_path = spool_dir / "cdr-quarantine.jsonl"
        self.quarantined = 0
        spool_dir.mkdir(parents=True, exist_ok=True)
        self._system = system_name
        self._lock = asyncio.Lock()
        self.stored = 0
        self.duplicates = 0
        self.spooled = 0
        self.spool_depth = self._count_spool()
        self._spool_task: asyncio.Task[None] | None = None
        # One CDR per batch: ingest() is one transaction per CDR and never raises for the database.
        self.writer: Writer[dict[str, str]] = Writer(
            "cdrs", self._ingest_batch, batch=1, on_failed=self._spill
        )

    def _count_spool(self) -> int:
        try:
            with open(self._spool, encoding="utf-8") as f:
                return sum(1 for line in f if line.strip())
        except FileNotFoundError:
            return 0

    def attach(self, bus: EventBus) -> None:
        # Only CDRs of this node's Asterisk: another node stores its own (and reconciles its own CSV).
        bus.subscribe("cdr.posted", self.on_cdr, name="cdr-ingest", local_only=True)
        bus.on_drain(self.writer.flush)

    def start(self, retry_spool_every: float = 5.0) -> None:
        """Start the writer, and a task that drains the spool once the database is back even when no
        new CDR arrives to trigger it."""
        self.writer.start()
        self._spool_task = asyncio.get_running_loop().create_task(
            self._retry_spool(retry_spool_every), name="cdr-spool-retry"
        )

    async def _retry_spool(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            if self.spool_depth and not self._lock.locked():
                try:
                    await self.drain_spool()
                except Exception:
                    log.exception("CDR spool retry failed")

    async def stop(self, timeout: float = 10.0) -> None:
        """Store what is queued; what the database cannot take in ``timeout`` goes to the spool."""
        if self._spool_task is not None:
            self._spool_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._spool_task
            self._spool_task = None
        await self.writer.stop(timeout)

    async def on_cdr(self, ev: BusEvent) -> None:
        self.writer.submit(dict(ev.data))

    async def _ingest_batch(self, batch: Sequence[dict[str, str]]) -> None:
        for headers in batch:
            await self.ingest(headers)

    def _spill(self, headers: dict[str, str], err: BaseException | None) -> None:
        self._append_spool(headers, "ami", err or RuntimeError("unwritten at shutdown"))

    async def ingest(self, headers: Mapping[str, str], source: str = "ami") -> bool:
        """Store one CDR; return False if it was already stored. Spools instead of failing."""
        async with self._lock:
            if self._spool.exists():
                await self._drain_locked()
            try:
                return await self._store(headers, source)
            except Exception as err:
                if not database_unavailable(err):
                    self._quarantine(headers, source, err)
                    return True
                self._append_spool(headers, source, err)
                return True

    async def _store(self, headers: Mapping[str, str], source: str) -> bool:
        rec = cdr_from_ami(headers, self._system)
        rec.source = source
        try:
            async with unit_of_work(self._sessions) as s:
                s.add(rec)
                await s.flush()
                self._rate_into(s, rec)
        except IntegrityError:
            self.duplicates += 1
            return False
        self.stored += 1
        return True

    def _rate_into(self, s: AsyncSession, rec: CdrRecord) -> bool:
        """Add the CDR's rated line; False when it stays unrated (no rater, not billed, or rating failed)."""
        if self._rater is None:
            return False
        try:
            call = call_to_rate(rec)
            if call is None:
                return False
            s.add(rated_row(rec.id, self._rater.rate(call)))
            return True
        except UnratableCall as err:
            # Kept as a CDR without a price: it shows up in `tongdai billing rerate` once a tariff covers it.
            self.unratable += 1
            log.error("CDR %s not rated: %s", rec.uniqueid, err)
        except Exception:
            # A rating bug must never cost the CDR: store it unrated; rate_pending() retries it.
            self.unratable += 1
            log.exception("CDR %s not rated (rating failed); stored unrated", rec.uniqueid)
        return False

    async def reconcile_csv(self, path: Path) -> int:
        """Store every CDR in Asterisk's CSV that we do not have yet; return how many were recovered."""
        rows = await asyncio.to_thread(_read_csv, path)
        if rows is None:
            log.info("no CDR CSV at %s: nothing to reconcile", path)
            return 0
        have: set[tuple[str, int]] = set()
        keys = [(r.get("UniqueID", ""), _int(r.get("Sequence"))) for r in rows]
        async with self._sessions() as s:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                found = await s.execute(
                    select(CdrRecord.uniqueid, CdrRecord.sequence).where(
                        tuple_(CdrRecord.uniqueid, CdrRecord.sequence).in_(chunk)
                    )
                )
                have.update((u, q) for u, q in found)
        recovered = 0
        for row, key in zip(rows, keys, strict=True):
            if key in have:
                continue
            if await self.ingest(row, source="csv"):
                recovered += 1
            have.add(key)
        if recovered:
            log.warning("recovered %d CDRs from %s that ended while the bridge was away", recovered, path)
        return recovered

    async def rerate(self, rater: Rater, since: datetime, until: datetime) -> int:
        """Re-rate every billing CDR answered or started in [since, until) with ``rater``."""
        n = 0
        async with unit_of_work(self._sessions) as s:
            cdrs = list(
                await s.scalars(select(CdrRecord).where(CdrRecord.start >= since, CdrRecord.start < until))
            )
            ids = [c.id for c in cdrs]
            for i in range(0, len(ids), 500):
                old = await s.scalars(select(RatedCall).where(RatedCall.cdr_id.in_(ids[i : i + 500])))
                for row in old:
                    await s.delete(row)
            await s.flush()
            for c in cdrs:
                call = call_to_rate(c)
                if call is None:
                    continue
                try:
                    s.add(rated_row(c.id, rater.rate(call)))
                    n += 1
                except UnratableCall as err:
                    log.error("CDR %s still not rated: %s", c.uniqueid, err)
        return n

    def _rewrite_spool(self, rest: list[str]) -> None:
        tmp = self._spool.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(r + "\n" for r in rest))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self._spool)

    def _quarantine(self, headers: Mapping[str, str], source: str, err: BaseException) -> None:
        line = json.dumps({"source": source, "headers": dict(headers)}, ensure_ascii=False)
        self._quarantine_line(line, err)

    def _quarantine_line(self, line: str, err: BaseException) -> None:
        log.error("CDR cannot be stored (%s): kept in %s", err, self.quarantine_path)
        entry = json.dumps({"error": str(err)[:500], "line": line}, ensure_ascii=False) + "\n"
        with open(self.quarantine_path, "a", encoding="utf-8") as f:
            f.write(entry)
            f.flush()
            os.fsync(f.fileno())
        self.quarantined += 1

    async def rate_pending(self) -> int:
        """Rate the billing CDRs stored without a rated line (rating failed, or no rater then)."""
        if self._rater is None:
            return 0
        n = 0
        async with unit_of_work(self._sessions) as s:
            rated = select(RatedCall.cdr_id)
            pending = await s.scalars(
                select(CdrRecord).where(CdrRecord.dialled != "", CdrRecord.id.not_in(rated))
            )
            for rec in pending:
                n += self._rate_into(s, rec)
        return n

    def _append_spool(self, headers: Mapping[str, str], source: str, err: BaseException) -> None:
        log.error(
            "database unavailable (%s): CDR %s spooled to %s", err, headers.get("UniqueID"), self._spool
        )
        line = json.dumps({"source": source, "headers": dict(headers)}, ensure_ascii=False) + "\n"
        with open(self._spool, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.spooled += 1
        self.spool_depth += 1

    async def drain_spool(self) -> int:
        async with self._lock:
            return await self._drain_locked()

    async def _drain_locked(self) -> int:
        """Move spooled CDRs into the database; keep the spool if the database is still down."""
        if not self._spool.exists():
            return 0
        lines = self._spool.read_text(encoding="utf-8").splitlines()
        done = 0
        for line in lines:
            try:
                item: dict[str, Any] = json.loads(line)
                await self._store(item["headers"], item.get("source", "ami"))
            except Exception as err:
                if database_unavailable(err):
                    log.warning("CDR spool drain stopped after %d of %d: %s", done, len(lines), err)
                    self._rewrite_spool(lines[done:])
                    self.spool_depth = len(lines) - done
                    return done
                # This line can never be stored (a torn write, a value the schema refuses): set it
                # aside with its reason so the rest of the spool is not held up behind it.
                self._quarantine_line(line, err)
            done += 1
        with contextlib.suppress(FileNotFoundError):
            self._spool.unlink()
        self.spool_depth = 0
        log.info("CDR spool drained: %d records", done)
        return done

    async def for_call(self, linkedid: str) -> list[CdrRecord]:
        async with self._sessions() as s:
            rows = await s.scalars(
                select(CdrRecord).where(CdrRecord.linkedid == linkedid).order_by(CdrRecord.id)
            )
            return list(rows)

    async def purge(self, cutoff: datetime, hold: LegalHold) -> int:
        """Delete CDRs (and their rated lines) that started before ``cutoff``, except those of a call
        or customer under legal hold (a customer's calls are found in the ``calls`` table)."""
        keep = []
        if hold.calls:
            keep.append(CdrRecord.linkedid.in_(hold.calls))
        if hold.customers:
            held_calls = select(CallRecord.call_id).where(CallRecord.customer_id.in_(hold.customers))
            keep.append(CdrRecord.linkedid.in_(held_calls))
        old = select(CdrRecord.id).where(CdrRecord.start < cutoff)
        if keep:
            old = old.where(~or_(*keep))
        async with unit_of_work(self._sessions) as s:
            ids = list(await s.scalars(old))
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                await s.execute(delete(RatedCall).where(RatedCall.cdr_id.in_(chunk)))
                await s.execute(delete(CdrRecord).where(CdrRecord.id.in_(chunk)))
        return len(ids)
