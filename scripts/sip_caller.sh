#!/usr/bin/env bash
# A real SIP call into the running demo: SIPp plays the carrier (trunk "demo-carrier", identified by
# 127.0.0.2 in config.yaml), calls the hotline with G.711 audio, keys 1 then 2 as RFC 4733 DTMF, talks
# and hangs up (tests/sip/scenarios/carrier_ivr_call.xml).
#
#   scripts/sip_caller.sh [CALLER [DID [ASTERISK_HOST:PORT]]]
#   e.g. scripts/sip_caller.sh +84912345678 +8418001090 127.0.0.1:5060
set -euo pipefail
cd "$(dirname "$0")/.."
caller=${1:-+84912345678}
did=${2:-+8418001090}
target=${3:-127.0.0.1:5060}
command -v sipp >/dev/null || { echo "sip_caller: sipp is not installed (Debian package sip-tester)" >&2; exit 1; }
exec sipp "$target" -sf tests/sip/scenarios/carrier_ivr_call.xml -i 127.0.0.2 -mi 127.0.0.2 \
  -s "$did" -key caller "$caller" -key cname "Demo SIP caller" -m 1 -nostdin >/dev/null
