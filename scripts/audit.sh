#!/usr/bin/env bash
# Known vulnerabilities in the locked dependency versions (pip-audit): the main venv as installed
# and the Rasa venv's lock file (nlu/requirements-rasa.lock, pins only, nothing installed).
# Fails on a vulnerability unless scripts/audit-ignore.txt lists its ID (or an alias) with a
# reason; prints "audit skipped: service unreachable" and passes when the vulnerability service
# (OSV by default, HOTLINE_AUDIT_SERVICE=pypi for PyPI's JSON API, HOTLINE_AUDIT_OSV_URL for an
# OSV mirror of one's own) cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICE="${HOTLINE_AUDIT_SERVICE:-osv}"
IGNORE=scripts/audit-ignore.txt
service_args=(--vulnerability-service "$SERVICE")
[[ -n "${HOTLINE_AUDIT_OSV_URL:-}" ]] && service_args+=(--osv-url "$HOTLINE_AUDIT_OSV_URL")
if [[ ! -x .venv/bin/pip-audit ]]; then
  echo "audit: pip-audit is missing; install the dev extra (bash scripts/setup.sh)" >&2
  exit 2
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

status=0
audit() {
  local name="$1" slug="$2"
  shift 2
  local rc=0
  .venv/bin/pip-audit "${service_args[@]}" --progress-spinner off --timeout 20 \
    --format json --output "$work/$slug.json" "$@" >/dev/null 2>"$work/$slug.err" || rc=$?
  .venv/bin/python scripts/audit_verdict.py "$name" "$work/$slug.json" "$work/$slug.err" "$rc" \
    "$IGNORE" || status=1
}

echo "dependency audit (pip-audit $(.venv/bin/pip-audit --version | cut -d' ' -f2), service: $SERVICE)"
audit "main venv (installed)" main --skip-editable
audit "Rasa lock (nlu/requirements-rasa.lock)" rasa \
  --requirement nlu/requirements-rasa.lock --no-deps --disable-pip
exit "$status"
