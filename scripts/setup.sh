#!/usr/bin/env bash
# All set-up on a fresh Debian (bookworm) machine, idempotent: system packages, PostgreSQL and Redis
# running, the Python virtualenv, the Asterisk 22 sandbox (a Debian sid chroot) and the IVR prompts.
# Run as root (apt-get, chroot). Re-running it is cheap: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "setup: run as root (apt-get, chroot): sudo $0" >&2; exit 1; }

PKGS=(python3 python3-venv python3-dev debootstrap espeak-ng sox postgresql redis-server chromium sip-tester
      ca-certificates)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# On machines where Python comes from elsewhere (pyenv), Debian's python3 packages are not needed.
if command -v python3.11 >/dev/null || python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  missing=("${missing[@]/python3-venv}"); missing=("${missing[@]/python3-dev}"); missing=("${missing[@]/python3}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PostgreSQL: running on 127.0.0.1:5432 with a database "test" the tests can reach as postgres.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  log "starting PostgreSQL"
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
fi
if ! psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null 2>&1; then
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  hba=/etc/postgresql/$ver/main/pg_hba.conf
  if ! grep -q 'tongdai-tests' "$hba"; then
    log "allowing the local postgres role over 127.0.0.1 (trust) for the tests"
    sed -i '1i host all postgres 127.0.0.1/32 trust # tongdai-tests\nhost all postgres ::1/128 trust # tongdai-tests' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
  fi
  su postgres -c "psql -tAc \"select 1 from pg_database where datname='test'\"" | grep -q 1 \
    || su postgres -c "createdb test"
fi

# Redis on 127.0.0.1:6379.
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/tongdai.log
  for _ in $(seq 1 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

# Python virtualenv with tongdai and its pinned dependencies.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.tongdai-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing Python dependencies"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi

# The Asterisk 22 sandbox (cached outside the checkout; about a minute the first time).
bash asterisk_conf/sandbox.sh build

# IVR prompts spoken by espeak-ng, 8 kHz for Asterisk.
.venv/bin/tongdai prompts build >/dev/null

log "ready"
