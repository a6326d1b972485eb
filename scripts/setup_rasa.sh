#!/usr/bin/env bash
# Create the Rasa virtual environment (.venv-rasa, Python 3.10) from the frozen lock file and
# turn Rasa's telemetry off. Idempotent: re-running installs only when the lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${HOTLINE_RASA_PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  candidates=()
  command -v pyenv >/dev/null 2>&1 && candidates+=("$(pyenv root)"/versions/3.10.*/bin/python)
  candidates+=("$HOME"/.pyenv/versions/3.10.*/bin/python python3.10)
  for candidate in "${candidates[@]}"; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      PYTHON="$candidate"; break
    fi
  done
fi
[[ -n "$PYTHON" ]] || { echo "setup_rasa: Rasa 3.6 needs Python 3.10 (set HOTLINE_RASA_PYTHON)" >&2; exit 1; }

if [[ ! -x .venv-rasa/bin/python ]]; then
  "$PYTHON" -m venv .venv-rasa
fi
stamp=.venv-rasa/.hotline-installed
if [[ ! -f "$stamp" || nlu/requirements-rasa.lock -nt "$stamp" ]]; then
  .venv-rasa/bin/python -m pip install --quiet --upgrade pip
  .venv-rasa/bin/python -m pip install --quiet -r nlu/requirements-rasa.lock
  RASA_TELEMETRY_ENABLED=false .venv-rasa/bin/rasa telemetry disable >/dev/null 2>&1 || true
  touch "$stamp"
fi
