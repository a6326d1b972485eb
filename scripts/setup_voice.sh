#!/usr/bin/env bash
# Debian tools for the phone line: espeak-ng (Vietnamese TTS), and for the loopback SIP tests
# baresip (the caller), sipp and sox.
set -euo pipefail
need=()
for tool in espeak-ng:espeak-ng baresip:baresip-core sipp:sip-tester sox:sox; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
fi
