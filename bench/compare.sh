#!/usr/bin/env bash
# Drive the sse-starlette broadcaster with the same harness: bench/compare.sh [harness args...]
# Needs bench/requirements.txt installed (e.g. in a virtualenv: STARLETTE_PYTHON=.../python).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
py="${STARLETTE_PYTHON:-python}"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
python -c "import sys; sys.path.insert(0, '.'); from g6app.bench.server import StatusWriter; StatusWriter('$work/status.json').write(0)"
"$py" bench/starlette_broadcaster.py --status-file "$work/status.json" > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "Listening at" "$work/log" && break; sleep 0.1; done
url="$(grep -o 'http://[0-9.:]*' "$work/log" | head -1)"
python -m g6app bench --url "$url" --status-file "$work/status.json" --pid "$pid" "$@"
