"""Loaded only by scripts/test-at.sh (PYTHONPATH): make ``time.sleep`` work under libfaketime.

libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC=1 (needed: faked monotonic time hangs
``threading.Event.wait``) turns Python 3.11's ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`` into
EINVAL, so every ``time.sleep`` raises. ``select`` with a timeout sleeps the same on the real clock.
"""

from __future__ import annotations

import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


time.sleep = _sleep
