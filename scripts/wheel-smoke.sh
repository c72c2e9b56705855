#!/usr/bin/env bash
# The wheel runs on its own: build it, install it in a fresh virtualenv OUTSIDE the checkout, and from
# there validate a configuration, migrate a fresh SQLite database and start `tongdai serve` without an
# Asterisk to reach (/healthz answers), then stop it with SIGTERM. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "wheel-smoke: $*"; }

say "building the wheel"
# From a copy of the files git knows (tracked or new, not ignored): the build leaves nothing in the
# checkout, and nothing untracked slips into the wheel.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$work/src"
.venv/bin/pip wheel -q --no-deps "$work/src" -w "$work/dist"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/dist/tongdai-*.whl
cd "$work"  # nothing of the checkout on the path from here on
"$work/venv/bin/python" - "$work" <<'PY'
import sys, tongdai, core, agent_desktop
for m in (tongdai, core, agent_desktop):
    assert m.__file__.startswith(sys.argv[1] + "/venv/"), f"{m.__name__} imported from {m.__file__}"
PY

free_port() { "$work/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
web_port=$(free_port); agi_port=$(free_port); ami_port=$(free_port)  # nothing listens on the AMI port
cp "$repo/config.yaml" "$work/config.yaml"
export TONGDAI__NODE__DATA_DIR="$work/var"
export TONGDAI__DATABASE__URL="sqlite+aiosqlite:///$work/var/tongdai.db"
export TONGDAI__WEB__PORT=$web_port TONGDAI__ASTERISK__AGI__PORT=$agi_port TONGDAI__ASTERISK__AMI__PORT=$ami_port
export TONGDAI__CDR__CSV_PATH="$work/var/no-cdr.csv"
# The shipped config holds demo secrets: a node accepts them only in demo mode, on loopback (as here).
export TONGDAI__DEMO=1
tongdai="$work/venv/bin/tongdai -c $work/config.yaml"

$tongdai check-config
$tongdai db upgrade
"$work/venv/bin/python" - "$work/var/tongdai.db" <<'PY'
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as c:
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    head = c.execute("SELECT version_num FROM alembic_version").fetchall()
missing = {"calls", "audit_log", "crm_customers", "cdrs", "alembic_version"} - tables
assert not missing and head, f"migration incomplete: missing {missing}, head {head}"
print(f"wheel-smoke: {len(tables)} tables, schema at {head[0][0]}")
PY

say "starting tongdai serve (no Asterisk reachable)"
$tongdai serve > "$work/serve.log" 2>&1 &
pid=$!
"$work/venv/bin/python" - "$web_port" "$pid" <<'PY'
import json, os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            body = json.load(r)
            # No Asterisk to reach: the node is up, its AMI link down, so "degraded" is the truth.
            assert r.status == 200 and body == {"status": "degraded"}, body
            print(f"wheel-smoke: /healthz answered {body}")
        break
    except OSError:
        os.kill(pid, 0)  # raises if serve died
        if time.monotonic() > deadline:
            raise SystemExit("wheel-smoke: /healthz did not answer within 60 s")
        time.sleep(0.5)
# The package data came along: a page from the templates and a static file.
for path in ("/login", "/static/desktop.css"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        assert r.status == 200 and r.read(), path
print("wheel-smoke: /login and /static/desktop.css served from the installed package")
PY
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=""
if [ "$rc" -ne 0 ]; then
  cat "$work/serve.log"
  say "serve exited with $rc after SIGTERM"; exit 1
fi
say "ok"
