#!/usr/bin/env bash
# The multi-node topology on this machine (loopback only): two API replicas, Rasa, two voice
# workers and HAProxy in front, over the local PostgreSQL and Redis. Options: see
# `hotline cluster up --help` (e.g. --database-url, --redis-url, --no-rasa). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]] \
  || { echo "cluster: haproxy is not installed (bash scripts/setup_ops.sh)" >&2; exit 1; }
exec .venv/bin/hotline cluster up "$@"
