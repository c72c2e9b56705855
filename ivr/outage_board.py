"""The live outage notices of this node's IVR: in memory, so a call never waits on the database.

Refreshed every ``ivr.outage_notices.refresh_seconds`` and at once when any node posts or expires one
(``outage.changed`` on the bus). Each notice's text is made into audio (espeak-ng + sox, as the
prompts are: :func:`ivr.prompts.speak_texts`) under the sounds directory Asterisk plays from, in a
thread; a notice whose file could not be made is read with the generic prompt. Callers who heard a
notice are counted: ``tongdai_ivr_outage_notices_heard_total{area}`` on ``/metrics`` at once, and the
notice's ``heard`` column, added in batches off the call path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from core.errors import TongdaiError
from ivr.config import OutageNotices
from ivr.outage_store import NoticeView, OutageStore
from ivr.outages import SOUND_DIR, Notice
from ivr.prompts import SOUND_ROOT, speak_texts

log = logging.getLogger(__name__)

CHANGED = "outage.changed"  # bus event: a notice was posted or expired on some node
_MANIFEST = f"{SOUND_ROOT}/{SOUND_DIR}.manifest.json"


class OutageBoard:
    def __init__(
        self,
        store: OutageStore,
        cfg: OutageNotices,
        sounds_dir: Path | None,
        languages: Sequence[str],
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.sounds_dir = sounds_dir
        self.languages = tuple(languages)
        self._notices: tuple[Notice, ...] = ()
        self._areas: dict[int, str] = {}
        self._spoken: set[tuple[int, str]] = set()  # (notice, lang) whose file is made
        self._unheard: Tally[int] = Tally()  # heard, not yet added to the database
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.heard_total = Counter(
            "tongdai_ivr_outage_notices_heard",
            "Callers who heard an outage notice, by the notice's area (folded)",
            ["area"],
            registry=registry or CollectorRegistry(auto_describe=True),
        )

    def notices(self) -> tuple[Notice, ...]:
        """The live notices (in force or to start); the IVR picks those of the caller's area."""
        return self._notices

    def audio_of(self, notice_id: int) -> list[str]:
        """The languages in which the notice is read from its own audio."""
        return [lang for lang in self.languages if (notice_id, lang) in self._spoken]

    async def refresh(self) -> None:
        """Read the live notices; make the audio that is missing (the notices are published before and
        after, so a slow voice never holds a new notice back)."""
        async with self._lock:
            views = await self.store.live()
            self._publish(views)
            todo = [
                (v.id, lang, text)
                for v in views
                for lang, text in (("vi", v.message_vi), ("en", v.message_en))
                if text and lang in self.languages and (v.id, lang) not in self._spoken
            ]
            if todo and self.sounds_dir is not None:
                self._spoken |= await asyncio.to_thread(self._speak, self.sounds_dir, todo)
                self._publish(views)

    def _publish(self, views: Iterable[NoticeView]) -> None:
        notices = []
        for v in views:
            audio = frozenset(lang for lang in self.languages if (v.id, lang) in self._spoken)
            notices.append(Notice(v.id, v.area_key, v.starts_at, v.ends_at, audio))
            self._areas[v.id] = v.area_key
        self._notices = tuple(notices)

    @staticmethod
    def _speak(out: Path, todo: list[tuple[int, str, str]]) -> set[tuple[int, str]]:
        made: set[tuple[int, str]] = set()
        for notice_id, lang, text in todo:
            rel = f"{SOUND_ROOT}/{lang}/{SOUND_DIR}/n{notice_id}.wav"
            try:
                speak_texts(out, [(rel, lang, text)], _MANIFEST)
            except (TongdaiError, OSError) as err:
                log.warning(
                    "outage notice %d (%s): no audio, the generic prompt is read: %s", notice_id, lang, err
                )
                continue
            made.add((notice_id, lang))
        return made

    def heard(self, notice_ids: Iterable[int]) -> None:
        """One caller heard these notices (each once)."""
        for notice_id in set(notice_ids):
            self._unheard[notice_id] += 1
            self.heard_total.labels(self._areas.get(notice_id, "?")).inc()

    async def flush(self) -> None:
        """Add the counts heard since the last flush to the notices' rows (kept for the next try on
        a database error)."""
        counts, self._unheard = self._unheard, Tally()
        try:
            await self.store.add_heard(counts)
        except Exception:
            self._unheard.update(counts)
            raise

    def changed(self) -> None:
        """A notice was posted or expired somewhere: refresh now."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outage-board")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.flush()
        except Exception:
            log.exception("outage notices: heard counts not written at stop")

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outage notices: refresh failed; the last ones read stay in use")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.cfg.refresh_seconds):
                    await self._wake.wait()
            self._wake.clear()
