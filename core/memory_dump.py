"""``kill -USR2 <pid>``: what the node's memory holds, and what grew since the last dump.

Counts live objects by type (the garbage collector's view) and, when the process runs with
``PYTHONTRACEMALLOC=1`` (or ``-X tracemalloc``), the source lines whose allocations grew most. Send it
twice under steady traffic: a per-call leak shows as a type or a line that grows with the calls.
"""

from __future__ import annotations

import gc
import logging
import tracemalloc
from collections import Counter

log = logging.getLogger(__name__)

TOP = 15


class MemoryDump:
    def __init__(self) -> None:
        self._types: Counter[str] = Counter()
        self._snapshot: tracemalloc.Snapshot | None = None

    def __call__(self) -> None:
        gc.collect()
        types = Counter(type(o).__qualname__ for o in gc.get_objects())
        grew = Counter({k: n - self._types.get(k, 0) for k, n in types.items()})
        for name, n in types.most_common(TOP):
            log.warning("memory: %9d %s (%+d since the last dump)", n, name, grew[name])
        for name, d in grew.most_common(TOP):
            if d > 0 and self._types:
                log.warning("memory grew: %+9d %s", d, name)
        self._types = types
        if not tracemalloc.is_tracing():
            return
        snap = tracemalloc.take_snapshot()
        if self._snapshot is not None:
            for stat in snap.compare_to(self._snapshot, "lineno")[:TOP]:
                log.warning("memory by line: %s", stat)
        self._snapshot = snap
