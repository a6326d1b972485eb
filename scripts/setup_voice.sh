#!/usr/bin/env bash
# Debian tools for the phone line: espeak-ng (Vietnamese TTS); with "dev", for the loopback SIP
# tests, also baresip (the caller), sipp and sox.
set -euo pipefail
tools=(espeak-ng:espeak-ng)
[[ "${1:-}" == "dev" ]] && tools+=(baresip:baresip-core sipp:sip-tester sox:sox)
need=()
for tool in "${tools[@]}"; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
fi
