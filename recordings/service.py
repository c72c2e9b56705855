"""Recording metadata, search, pause/resume, integrity check and retention.

MixMonitor is started in the dialplan (``tongdai-answered``, run on the agent leg when the agent
answers), so unanswered calls are never recorded. Its file name reaches us in the CDR
(``CDR(recording)``); when that CDR arrives the call is over and Asterisk has closed the file, and we
store its metadata: duration from the WAV header, size and sha256. Pausing for card numbers uses
``MixMonitorMute`` (silence keeps the timeline) and is audited. With ``recordings.encryption_key``
set, the file is then encrypted at rest (``recordings/crypto.py``) and only decrypted while streamed
to an authorised, audited listener; the sha256 stays that of the audio itself.

Filing runs on a background :class:`core.writer.Writer` (one recording at a time, in CDR order): the
bus handler returns at once, and a locked SQLite file or a PostgreSQL outage is retried with backoff
instead of costing the recording's metadata (``register`` is idempotent per call).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import Audit
from core.bus import BusEvent, EventBus
from core.config import LegalHold
from core.db import unit_of_work
from core.errors import NotFound, TongdaiError
from core.writer import Writer
from crm_bridge.models import Interaction
from recordings import crypto
from recordings.config import RecordingsConfig
from recordings.models import Recording, RecordingPause

log = logging.getLogger(__name__)

AmiAction = Callable[..., Awaitable[Any]]


class RecordingPathRefused(TongdaiError):
    """A recording path that would leave the recordings directory (absolute, ``..``, a link out)."""

    error_id = "recordings.path_refused"


@dataclass(frozen=True)
class FileFacts:
    size: int
    sha256: str
    duration: float


def inspect_file(path: Path) -> FileFacts:
    """Size, sha256 and audio duration (from the WAV header) of a recording."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    duration = 0.0
    try:
        with wave.open(str(path), "rb") as w:
            duration = w.getnframes() / float(w.getframerate() or 8000)
    except (wave.Error, EOFError):
        log.warning("recording %s is not a readable WAV file", path)
    return FileFacts(path.stat().st_size, h.hexdigest(), duration)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _ts(v: float | None) -> datetime | None:
    return datetime.fromtimestamp(v, UTC) if v else None


FILE_CONCURRENCY = 8
WAV_HEADER = 44  # bytes: a file this size holds no audio yet
HEADER_ONLY_STABLE = 1.0  # seconds a header-only file stays unchanged before it counts as closed


class RecordingService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], cfg: RecordingsConfig) -> None:
        self._sessions = sessions
        self.cfg = cfg
        self._calls: dict[str, dict[str, Any]] = {}  # ended calls waiting for their CDR
        # Filed FILE_CONCURRENCY at a time: each waits for its file to settle, and one slow file must
        # not hold every later call's recording behind it (filing is idempotent, so a batch retried
        # whole after a database error files nothing twice).
        self.writer: Writer[tuple[str, str]] = Writer(
            "recordings", self._file_batch, batch=FILE_CONCURRENCY, on_failed=self._not_filed
        )

    def attach(self, bus: EventBus) -> None:
        # Only this node's calls: another node's recording is not in this node's directory (waiting for
        # it cost a settle wait per foreign CDR), and that node files it.
        bus.subscribe("call.ended", self._on_call_ended, name="recordings-calls", local_only=True)
        bus.subscribe("cdr.posted", self._on_cdr, name="recordings-cdr", local_only=True)
        bus.on_drain(self.writer.flush)

    def start(self) -> None:
        self.writer.start()

    async def stop(self, timeout: float = 15.0) -> None:
        await self.writer.stop(timeout)

    @property
    def awaiting_cdr(self) -> int:
        """Ended calls whose facts wait here for their recording's CDR."""
        return len(self._calls)

    async def _on_call_ended(self, ev: BusEvent) -> None:
        # Only a call an agent answered is recorded (MixMonitor on the agent's leg): the others'
        # facts would wait here for a recording that never comes (most calls of a busy hour).
        if not (ev.data.get("recording") or ev.data.get("answered_at")):
            return
        self._calls[ev.call_id] = ev.data
        if len(self._calls) > 10_000:  # CDRs never came for these: forget the oldest
            for k in list(self._calls)[:1000]:
                self._calls.pop(k, None)

    async def _on_cdr(self, ev: BusEvent) -> None:
        rel = ev.data.get("Recording", "")
        if not rel:
            return
        self.writer.submit((ev.data.get("LinkedID") or ev.call_id, rel))

    async def _file_batch(self, batch: Sequence[tuple[str, str]]) -> None:
        results = await asyncio.gather(*(self._file(c, r) for c, r in batch), return_exceptions=True)
        for err in results:  # the others are filed; the writer retries (or isolates) the batch
            if isinstance(err, BaseException):
                raise err

    async def _file(self, call_id: str, rel: str) -> None:
        # The CDR can come before call.ended is handled: wait briefly for the call's facts.
        for _ in range(20):
            if call_id in self._calls:
                break
            await asyncio.sleep(0.05)
        try:
            await self.register(call_id, rel, self._calls.get(call_id, {}))
        except RecordingPathRefused as err:
            log.error("recording of call %s not registered: %s", call_id, err)
        self._calls.pop(call_id, None)  # kept until filed: a retry after a database error needs it

    def _not_filed(self, item: tuple[str, str], err: BaseException | None) -> None:
        # The file stays on disk and the CDR names it: `tongdai recordings check` lists it.
        log.error("recording %s of call %s not filed (%s)", item[1], item[0], err or "shutdown")

    def path_of(self, rel_path: str) -> Path:
        """``rel_path`` inside the recordings directory, resolved; anything that would leave it (an
        absolute path, ``..``, a symlink pointing out) is refused, so no CDR or database row can make
        us serve, encrypt or delete a file elsewhere."""
        root = self.cfg.dir.resolve()
        if not rel_path or "\x00" in rel_path or Path(rel_path).is_absolute():
            raise RecordingPathRefused(f"recording path {rel_path!r} is not relative to the recordings dir")
        path = (root / rel_path).resolve()
        if not path.is_relative_to(root) or path == root:
            raise RecordingPathRefused(f"recording path {rel_path!r} leaves the recordings directory")
        return path

    async def register(self, call_id: str, rel_path: str, call: dict[str, Any]) -> Recording:
        """Store the metadata of a finished recording (idempotent per call)."""
        async with self._sessions() as s:
            existing = await s.scalar(select(Recording).where(Recording.call_id == call_id))
        if existing is not None:
            return existing
        path = self.path_of(rel_path)
        facts = await self._wait_for_file(path)
        key = self.cfg.key()
        stored = rel_path
        if facts is not None and key is not None:
            stored = rel_path + crypto.SUFFIX
            await asyncio.to_thread(crypto.encrypt_file, path, self.path_of(stored), key)
        rec = Recording(
            call_id=call_id,
            path=stored,
            customer_id=call.get("customer_id") or None,
            caller_number=call.get("caller_number", ""),
            agent_id=call.get("agent_id", ""),
            queue=call.get("queue", ""),
            started_at=_ts(call.get("answered_at")) or datetime.now(UTC),
            ended_at=_ts(call.get("ended_at")),
            ivr_path_text=call.get("ivr_path_text", "")[:255],
            duration_seconds=facts.duration if facts else 0.0,
            size_bytes=facts.size if facts else 0,
            sha256=facts.sha256 if facts else "",
            format=path.suffix.lstrip(".") or "wav",
            status="ok" if facts else "missing",
        )
        async with unit_of_work(self._sessions) as s:
            existing = await s.scalar(select(Recording).where(Recording.call_id == call_id))
            if existing is not None:
                return existing
            s.add(rec)
        if stored != rel_path:  # the encrypted copy is on disk and in the metadata: drop the clear one
            await asyncio.to_thread(path.unlink, missing_ok=True)
        if facts is None:
            log.error("recording %s of call %s is missing", path, call_id)
        return rec

    async def _wait_for_file(self, path: Path) -> FileFacts | None:
        """Asterisk closes the file at hangup: wait until its size is stable, within settle_seconds.

        Audio is stable after two equal sizes 0.1 s apart; a bare WAV header (a call with no audio
        captured) after HEADER_ONLY_STABLE seconds unchanged, not the whole settle time: waiting
        longer tells nothing more and would hold the other recordings behind it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.settle_seconds
        last, since = -1, loop.time()
        while True:
            size = await asyncio.to_thread(_size, path)
            now = loop.time()
            if size is not None and size == last:
                if size > WAV_HEADER or now - since >= min(HEADER_ONLY_STABLE, self.cfg.settle_seconds):
                    return await asyncio.to_thread(inspect_file, path)
            else:
                last, since = (size if size is not None else -1), now
            if now > deadline:
                return await asyncio.to_thread(inspect_file, path) if size is not None else None
            await asyncio.sleep(0.1)

    # --- search and access ---------------------------------------------------------------------

    async def search(
        self,
        *,
        customer_id: str | None = None,
        agent_id: str | None = None,
        number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        queue: str | None = None,
        disposition: str | None = None,
        limit: int = 100,
    ) -> list[Recording]:
        q = select(Recording).order_by(Recording.started_at.desc()).limit(limit)
        if customer_id:
            q = q.where(Recording.customer_id == customer_id)
        if agent_id:
            q = q.where(Recording.agent_id == agent_id)
        if number:
            q = q.where(Recording.caller_number == number)
        if since:
            q = q.where(Recording.started_at >= since)
        if until:
            q = q.where(Recording.started_at < until)
        if queue:
            q = q.where(Recording.queue == queue)
        if disposition:  # the agent's wrap-up code, saved on the customer's history with the call
            coded = select(Interaction.call_id).where(Interaction.disposition == disposition)
            q = q.where(Recording.call_id.in_(coded))
        async with self._sessions() as s:
            return list(await s.scalars(q))

    async def dispositions_of(self, call_ids: Sequence[str]) -> dict[str, str]:
        """call id → the disposition the agent saved for it (the last one, if saved twice)."""
        if not call_ids:
            return {}
        q = (
            select(Interaction.call_id, Interaction.disposition)
            .where(Interaction.call_id.in_(call_ids), Interaction.disposition.is_not(None))
            .order_by(Interaction.at)
        )
        async with self._sessions() as s:
            return {str(c): str(d) for c, d in await s.execute(q)}

    async def pauses_of(self, recs: Sequence[Recording]) -> dict[str, list[tuple[float, float | None]]]:
        """call id → the spans its recording was muted, as (start, end) seconds into the file; an end
        of None: the call ended paused (silent to the end)."""
        by_call = {r.call_id: r for r in recs}
        if not by_call:
            return {}
        q = (
            select(RecordingPause)
            .where(RecordingPause.call_id.in_(list(by_call)))
            .order_by(RecordingPause.paused_at)
        )
        async with self._sessions() as s:
            rows = list(await s.scalars(q))
        spans: dict[str, list[tuple[float, float | None]]] = {}
        for p in rows:
            start = by_call[p.call_id].started_at
            begin = max(0.0, (_aware(p.paused_at) - _aware(start)).total_seconds())
            end = (_aware(p.resumed_at) - _aware(start)).total_seconds() if p.resumed_at else None
            spans.setdefault(p.call_id, []).append((round(begin, 2), None if end is None else round(end, 2)))
        return spans

    async def recording(self, call_id: str) -> Recording:
        async with self._sessions() as s:
            rec = await s.scalar(select(Recording).where(Recording.call_id == call_id))
        if rec is None:
            raise NotFound(f"no recording for call {call_id}")
        return rec

    async def open_for(
        self, call_id: str, who: str, role: str, audit: Audit, *, action: str = "play", detail: str = ""
    ) -> Path:
        """The file to play to ``who``: supervisors any call, agents only their own; always audited
        (``action`` play or download; ``detail`` e.g. the byte range a seek asked for)."""
        async with self._sessions() as s:
            rec = await s.scalar(select(Recording).where(Recording.call_id == call_id))
        if rec is None or rec.status != "ok":
            raise NotFound(f"no recording for call {call_id}")
        if role not in ("supervisor", "admin") and rec.agent_id != who:
            await audit(who, "recording.denied", "recording", call_id)
            raise PermissionError(f"agent {who} may only play their own calls")
        await audit(who, f"recording.{action}", "recording", call_id, detail)
        return self.path_of(rec.path)

    async def audio_chunks(self, path: Path) -> AsyncIterator[bytes]:
        """The audio of a file :meth:`open_for` returned, decrypted on the fly when encrypted at rest."""
        if path.suffix != crypto.SUFFIX:
            raise ValueError(f"{path.name} is not encrypted: serve the file itself")
        key = self.cfg.key()
        if key is None:
            raise crypto.RecordingKeyError("recording is encrypted but recordings.encryption_key is not set")
        chunks = crypto.decrypt_chunks(path, key)
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk

    async def audio_range(self, path: Path, first: int, last: int) -> AsyncIterator[bytes]:
        """Bytes ``first`` … ``last`` of an encrypted recording's audio, decrypted on the fly."""
        key = self.cfg.key()
        if key is None:
            raise crypto.RecordingKeyError("recording is encrypted but recordings.encryption_key is not set")
        chunks = crypto.decrypt_range(path, key, first, last)
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk

    async def set_paused(
        self, ami: AmiAction, channel: str, *, paused: bool, who: str, call_id: str, audit: Audit
    ) -> None:
        """Mute the recording (card numbers must not be recorded) or unmute it; audited."""
        await ami(
            "MixMonitorMute", {"Channel": channel, "Direction": "both", "State": "1" if paused else "0"}
        )
        # The span is marked once Asterisk muted (or unmuted) it: a refused action marks nothing.
        now = datetime.now(UTC)
        async with unit_of_work(self._sessions) as s:
            open_span = await s.scalar(
                select(RecordingPause).where(
                    RecordingPause.call_id == call_id, RecordingPause.resumed_at.is_(None)
                )
            )
            if paused and open_span is None:
                s.add(RecordingPause(call_id=call_id, paused_at=now, paused_by=who[:16]))
            elif not paused and open_span is not None:
                open_span.resumed_at = now
        await audit(who, "recording.pause" if paused else "recording.resume", "recording", call_id)

    # --- integrity and retention ---------------------------------------------------------------

    async def check(self) -> tuple[list[str], list[str]]:
        """(call ids whose file is missing, files with no metadata)."""
        async with self._sessions() as s:
            rows = [(cid, p) for cid, p in await s.execute(select(Recording.call_id, Recording.path))]
        return await asyncio.to_thread(self._compare, rows)

    def _compare(self, rows: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
        known = {p for _, p in rows}
        missing = [cid for cid, p in rows if not self._is_file(p)]
        files = [f for f in self.cfg.dir.rglob("*") if f.is_file()] if self.cfg.dir.is_dir() else []
        orphans = sorted(
            str(f.relative_to(self.cfg.dir)) for f in files if str(f.relative_to(self.cfg.dir)) not in known
        )
        return missing, orphans

    def _is_file(self, rel_path: str) -> bool:
        try:
            return self.path_of(rel_path).is_file()
        except RecordingPathRefused:
            return False

    async def purge(self, now: datetime | None = None, hold: LegalHold | None = None) -> int:
        """Delete recordings older than the retention period, except those flagged for a dispute and
        those under legal hold."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.cfg.retention_days)
        return await self.purge_before(cutoff, hold or LegalHold())

    async def purge_before(self, cutoff: datetime, hold: LegalHold) -> int:
        """Delete recordings (row and file) started before ``cutoff``, except disputed ones and those of
        a customer or call under legal hold (the retention scheduler's purge)."""
        q = select(Recording).where(
            Recording.started_at < cutoff, Recording.dispute.is_(False), Recording.legal_hold.is_(False)
        )
        if hold.calls or hold.customers:
            # coalesce: a recording without a customer must not drop out of the purge as NULL
            customer = func.coalesce(Recording.customer_id, "")
            held = or_(Recording.call_id.in_(hold.calls), customer.in_(hold.customers))
            q = q.where(~held)
        async with unit_of_work(self._sessions) as s:
            old = list(await s.scalars(q))
            for rec in old:
                try:
                    target = self.path_of(rec.path)
                except RecordingPathRefused as err:
                    log.error("purge: %s; row of call %s removed, no file touched", err, rec.call_id)
                    continue
                await asyncio.to_thread(target.unlink, missing_ok=True)
            if old:
                await s.execute(delete(Recording).where(Recording.id.in_([r.id for r in old])))
                await s.execute(
                    delete(RecordingPause).where(RecordingPause.call_id.in_([r.call_id for r in old]))
                )
        return len(old)

    async def flag_dispute(self, call_id: str, flagged: bool = True) -> None:
        async with unit_of_work(self._sessions) as s:
            rec = await s.scalar(select(Recording).where(Recording.call_id == call_id))
            if rec is None:
                raise NotFound(f"no recording for call {call_id}")
            rec.dispute = flagged

    async def set_legal_hold(self, call_id: str, held: bool, reason: str = "") -> Recording:
        """Place (or release) a legal hold: a held recording outlives retention and erasure."""
        async with unit_of_work(self._sessions) as s:
            rec = await s.scalar(select(Recording).where(Recording.call_id == call_id))
            if rec is None:
                raise NotFound(f"no recording for call {call_id}")
            rec.legal_hold = held
            rec.legal_hold_reason = reason[:200] if held else ""
        return rec

    async def erase_customer(self, customer_id: str) -> tuple[list[str], list[str]]:
        """A data subject's erasure: delete the customer's recordings (row and file) except those a
        dispute or a legal hold keeps. Returns (call ids erased, call ids kept)."""
        async with unit_of_work(self._sessions) as s:
            recs = list(await s.scalars(select(Recording).where(Recording.customer_id == customer_id)))
            kept = [r.call_id for r in recs if r.dispute or r.legal_hold]
            gone = [r for r in recs if not (r.dispute or r.legal_hold)]
            for rec in gone:
                try:
                    await asyncio.to_thread(self.path_of(rec.path).unlink, missing_ok=True)
                except RecordingPathRefused as err:
                    log.error("erasure: %s; row of call %s removed, no file touched", err, rec.call_id)
            if gone:
                await s.execute(delete(Recording).where(Recording.id.in_([r.id for r in gone])))
                await s.execute(
                    delete(RecordingPause).where(RecordingPause.call_id.in_([r.call_id for r in gone]))
                )
        return [r.call_id for r in gone], kept


def _aware(t: datetime) -> datetime:
    """SQLite hands timezone-aware columns back naive (in UTC)."""
    return t if t.tzinfo else t.replace(tzinfo=UTC)
