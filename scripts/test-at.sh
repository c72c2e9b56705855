#!/usr/bin/env bash
# The fast tiers (or the given pytest arguments) with the wall clock set to an instant, to catch tests
# and rules that depend on the hour, weekday, holiday or day boundary in Việt Nam (UTC+7):
#   scripts/test-at.sh "2026-12-05 16:59:30"              # 23:59:30 Saturday in Việt Nam, then Sunday
#   scripts/test-at.sh "2027-02-06 03:00:00" tests/unit    # Tết, 10:00 in Việt Nam
# The instant is UTC; the clock starts there and runs on. Only the test process and its children see
# it (libfaketime): PostgreSQL, Redis and Asterisk keep the real time, so use it on the fast tiers only.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
    echo "usage: $0 \"YYYY-MM-DD HH:MM:SS\" (UTC) [pytest args]" >&2
    exit 2
fi
at=$1
shift
lib=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -n1 || true)
if [ -z "$lib" ]; then
    echo "libfaketime is missing: apt-get install -y faketime" >&2
    exit 2
fi
[ $# -gt 0 ] || set -- tests/unit tests/component tests/integration tests/security
# Real monotonic time: asyncio's timers, thread waits and timeouts behave; only the wall clock moves.
export FAKETIME="@$at" FAKETIME_DONT_FAKE_MONOTONIC=1 TZ="${TZ:-UTC}"
export PYTHONPATH="$PWD/scripts/faketime${PYTHONPATH:+:$PYTHONPATH}"
LD_PRELOAD="$lib" exec "${PYTEST:-.venv/bin/pytest}" -q -p no:cacheprovider "$@"
