#!/usr/bin/env bash
# The real-Asterisk tiers (Asterisk, SIP, browser, drills, two nodes) N times in a row (default 5) on a
# fresh copy of the sandbox, as CI runs them (CI=true: nothing skips). Stops at the first red run; prints
# one line per run. A flaky test is a bug: this is how one is caught before CI does.
#
#   bash scripts/repeat-real.sh            # 5 runs
#   bash scripts/repeat-real.sh 3 -x       # 3 runs, extra pytest arguments after the count
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
built=${TONGDAI_SANDBOX:-/var/tmp/tdast}
export CI=true TONGDAI_SANDBOX="$built-repeat"
logs=${TONGDAI_REPEAT_LOGS:-/tmp/tongdai-repeat}
mkdir -p "$logs"
for root in "$TONGDAI_SANDBOX" "$TONGDAI_SANDBOX-a" "$TONGDAI_SANDBOX-b"; do
  TONGDAI_SANDBOX="$root" bash asterisk_conf/sandbox.sh stop >/dev/null 2>&1 || true
  rm -rf "$root"
done
bash asterisk_conf/sandbox.sh clone "$built"
tiers=(tests/asterisk tests/sip tests/browser tests/drills tests/multinode)
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if .venv/bin/pytest -q -p no:cacheprovider "${tiers[@]}" "$@" >"$logs/run-$i.log" 2>&1; then
    echo "run $i of $runs: $(tail -n 1 "$logs/run-$i.log") ($(( $(date +%s) - start )) s)"
  else
    echo "run $i of $runs FAILED: $(tail -n 1 "$logs/run-$i.log"); see $logs/run-$i.log" >&2
    exit 1
  fi
done
