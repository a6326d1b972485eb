#!/usr/bin/env bash
# Retrain the ranker shipped in knowledge_base/data from the shared catalogue (../shared/data),
# the shared citizen questions and the everyday development set. Needs ~3 minutes on 2 cores.
# Usage: bash scripts/train_ranker.sh [DATA_DIR]   (DATA_DIR holds the imported full catalogue)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared/data
[[ -d "$shared" ]] || { echo "train_ranker: $shared is absent" >&2; exit 1; }
export HOTLINE_DATA_DIR="${1:-var/full-catalogue}"
if [[ ! -f "$HOTLINE_DATA_DIR/hotline.db" ]]; then
  .venv/bin/hotline kb import "$shared/catalogue/dichvucong-2026-6-ministries.jsonl.gz" \
    "$shared/catalogue/bqp-2026.jsonl.gz"
fi
.venv/bin/hotline kb train-ranker --with-sample --force --output knowledge_base/data \
  --train tests/data/everyday_dev.jsonl \
  --train "$shared/eval/dvc-citizen-questions.csv:dvc-csv"
