#!/usr/bin/env bash
# Build, start, stop and query the local Asterisk 22 sandbox (a Debian sid chroot).
#
# Debian bookworm ships no Asterisk; sid has Asterisk 22. The root is built once and cached
# outside the checkout (TONGDAI_SANDBOX, default /var/tmp/tdast: short on purpose, the control
# socket path has a length limit). Needs root (chroot, debootstrap).
#
#   sandbox.sh build    build the chroot if it is not built yet (idempotent)
#   sandbox.sh start [CONF_DIR [SOUNDS_DIR]]   copy rendered config (and IVR prompts) in, start asterisk -f
#   sandbox.sh stop | status | cli "command"
#   sandbox.sh clone SRC   make this root a copy of the built sandbox SRC if it is not built yet
#                          (a second Asterisk beside the first: tests/multinode)
set -euo pipefail

ROOT=${TONGDAI_SANDBOX:-/var/tmp/tdast}
APT_OPTS=(-o Acquire::Check-Valid-Until=false -o Acquire::Retries=3)

log() { printf 'sandbox: %s\n' "$*" >&2; }

# The Debian mirror this machine already uses (never hard-coded: it is the machine's choice).
mirror() {
  local uri
  uri=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
        | grep -v security | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hE '^\s*deb\s' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' \
          | grep -v security | head -n1 || true)
  fi
  [ -n "$uri" ] || { log "no Debian mirror found in /etc/apt"; exit 1; }
  printf '%s\n' "$uri"
}

ensure_host_tools() {
  command -v debootstrap >/dev/null && return
  log "installing debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

build() {
  if [ -x "$ROOT/usr/sbin/asterisk" ] && [ -f "$ROOT/.tongdai-built" ]; then
    log "reusing $ROOT"; return
  fi
  [ "$(id -u)" = 0 ] || { log "building the sandbox needs root"; exit 1; }
  ensure_host_tools
  local m; m=$(mirror)
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  log "debootstrap sid into $ROOT"
  debootstrap --variant=minbase sid "$ROOT" "$m" >"$ROOT.debootstrap.log" 2>&1 \
    || { tail -n 30 "$ROOT.debootstrap.log" >&2; exit 1; }
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  log "installing asterisk in the chroot"
  chroot "$ROOT" apt-get "${APT_OPTS[@]}" update -qq
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -qq \
    --no-install-recommends asterisk asterisk-modules asterisk-core-sounds-en-gsm >/dev/null
  chroot "$ROOT" apt-get clean
  touch "$ROOT/.tongdai-built"
  log "built $(chroot "$ROOT" asterisk -V)"
}

clone() {
  local src=${1:?clone needs the source root}
  if [ -x "$ROOT/usr/sbin/asterisk" ] && [ -f "$ROOT/.tongdai-built" ]; then
    log "reusing $ROOT"; return
  fi
  TONGDAI_SANDBOX="$src" "$0" build
  log "copying $src to $ROOT"
  rm -rf "$ROOT"; cp -a "$src" "$ROOT"
  # The source may be running: its pid file and control socket must not make this one look started.
  rm -f "$ROOT/run/asterisk/"*
}

# var/run in the chroot is an absolute symlink to /run: seen from outside it would point at the
# host's /run, so always go through $ROOT/run.
RUN="$ROOT/run/asterisk"

pidof_ast() {
  local f="$RUN/asterisk.pid"
  [ -f "$f" ] || return 1
  local pid; pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

start() {
  local conf=${1:-} sounds=${2:-}
  build
  if pidof_ast >/dev/null; then log "already running"; return; fi
  # Without /etc/hosts every call resolves the hostname over DNS during RTP setup: PJSIP stalls.
  printf '127.0.0.1 localhost %s\n::1 localhost\n' "$(hostname)" >"$ROOT/etc/hosts"
  mkdir -p "$RUN" "$ROOT/var/lib/asterisk/keys" "$ROOT/usr/share/asterisk/moh" "$ROOT/var/log/asterisk/cdr-csv" "$ROOT/var/log/asterisk/cdr-custom" "$ROOT/var/spool/asterisk/monitor"
  if [ -n "$conf" ]; then
    cp "$conf"/*.conf "$ROOT/etc/asterisk/"
  fi
  if [ -n "$sounds" ] && [ -d "$sounds/tongdai" ]; then
    rm -rf "$ROOT/usr/share/asterisk/sounds/tongdai"
    cp -r "$sounds/tongdai" "$ROOT/usr/share/asterisk/sounds/tongdai"
  fi
  : >"$ROOT/var/log/asterisk/tongdai-console.log"
  : >"$ROOT/var/log/asterisk/messages.log"
  # -f: stay in the foreground of our background job; never -c without a terminal (it spins a core).
  setsid chroot "$ROOT" /usr/sbin/asterisk -f -n >>"$ROOT/var/log/asterisk/tongdai-console.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 200); do
    pidof_ast >/dev/null && { log "started (pid $(pidof_ast))"; return; }
    sleep 0.05
  done
  log "asterisk did not start; console log:"; tail -n 40 "$ROOT/var/log/asterisk/tongdai-console.log" >&2
  exit 1
}

stop() {
  local pid
  if pid=$(pidof_ast); then
    chroot "$ROOT" asterisk -rx 'core stop now' >/dev/null 2>&1 || kill "$pid" || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$RUN/asterisk.pid"
    log "stopped"
  else
    log "not running"
  fi
}

status() {
  if pid=$(pidof_ast); then echo "running pid=$pid root=$ROOT"; else echo "stopped root=$ROOT"; return 3; fi
}

case "${1:-}" in
  build) build ;;
  start) start "${2:-}" "${3:-}" ;;
  stop) stop ;;
  restart) stop; start "${2:-}" "${3:-}" ;;
  status) status ;;
  cli) shift; chroot "$ROOT" asterisk -rx "$*" ;;
  root) echo "$ROOT" ;;
  clone) clone "${2:-}" ;;
  *) echo "usage: $0 build|start [CONF_DIR [SOUNDS_DIR]]|stop|restart [CONF_DIR [SOUNDS_DIR]]|status|cli CMD|root|clone SRC" >&2; exit 2 ;;
esac
