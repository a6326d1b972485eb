#!/usr/bin/env bash
# Debian tools the deployment tests use: HAProxy (the load balancer of deploy/), checked with
# `haproxy -c` against the shipped configuration.
set -euo pipefail
if ! command -v haproxy >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q haproxy >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q haproxy >/dev/null; }
fi
