#!/usr/bin/env bash
# Install everything the tests need (the main venv and the Rasa venv), make sure PostgreSQL and
# Redis are up, run lint and types, validate and score the Rasa project, then the whole test
# suite (slow, PostgreSQL and real-Rasa tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
bash scripts/setup_rasa.sh
bash scripts/setup_browser.sh
bash scripts/setup_voice.sh dev
bash scripts/services.sh
bash scripts/setup_ops.sh
.venv/bin/ruff check .
.venv/bin/mypy api knowledge_base nlu voice benchmarks
bash scripts/audit.sh  # known vulnerabilities in the locked versions, where a service answers
export HOTLINE_RASA_DIR="$PWD/var/rasa-test"
.venv/bin/hotline rasa test --out var/rasa-test/reports
HOTLINE_REQUIRE_RASA=1 .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
