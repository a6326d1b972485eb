#!/usr/bin/env bash
# Create the project-local virtual environment (.venv) and install the project into it: what
# running needs, or with "dev" also what the tests need (torch, Playwright, pjsua2, linters).
# Idempotent: re-running only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${HOTLINE_PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
[[ -n "$PYTHON" ]] || { echo "setup: Python 3.11 or 3.12 is required" >&2; exit 1; }

if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
target="."
stamp=.venv/.hotline-installed
if [[ "${1:-}" == "dev" ]]; then
  target=".[dev]"
  stamp=.venv/.hotline-installed-dev
fi
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e "$target"
  touch "$stamp"
fi
