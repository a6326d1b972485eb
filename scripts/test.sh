#!/usr/bin/env bash
# Install everything the tests need, make sure PostgreSQL and Redis are up, run lint, types and
# the whole test suite (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
.venv/bin/ruff check .
.venv/bin/mypy api knowledge_base nlu voice
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
