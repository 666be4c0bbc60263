#!/usr/bin/env bash
# `make airflow`: watch the example DAGs in the Airflow UI, everything local.
#
# Starts the bundled lakever server (quickstart: SQLite + local disk under
# .lakever/standalone/server), creates the examples' repository with today's and
# yesterday's orders committed on main, then runs `airflow standalone` (Airflow 3: API
# server + UI, scheduler, DAG processor, triggerer) with the provider, the DAGs folder
# example_dags/ and the connections lakever_default and spark_local. Ctrl-C stops both.
#
#   UI:     http://127.0.0.1:${AIRFLOW_PORT:-8080}   user admin, password lakever
#   server: http://127.0.0.1:${LAKEVER_PORT:-8000}   AKIAIOSFOLQUICKSTART / wJalrXUtnFEMI/...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
STATE="${LAKEVER_STANDALONE_DIR:-$ROOT/.lakever/standalone}"
LAKEVER_PORT="${LAKEVER_PORT:-8000}"
AIRFLOW_PORT="${AIRFLOW_PORT:-8080}"
AIRFLOW_PASSWORD="${AIRFLOW_PASSWORD:-lakever}"
KEY_ID="AKIAIOSFOLQUICKSTART"
SECRET="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

[[ -x "$PYTHON" ]] || { echo "no $PYTHON: run 'make venv' first" >&2; exit 1; }
mkdir -p "$STATE/server" "$STATE/airflow"

"$PYTHON" -m lakever_server.serve run --quickstart --data-dir "$STATE/server" \
  --host 127.0.0.1 --port "$LAKEVER_PORT" >"$STATE/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true' EXIT

# Wait for the health check (at most 60 s), then seed the repository the DAGs use.
"$PYTHON" - "$LAKEVER_PORT" "$KEY_ID" "$SECRET" "$ROOT/example_dags" <<'EOF'
import datetime as dt
import sys
import time
import urllib.request

port, key_id, secret, dags = sys.argv[1:5]
sys.path.insert(0, dags)
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/healthcheck", timeout=1):
            break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("lakever-server did not start; see the server.log of the standalone directory")
        time.sleep(0.2)

from lakefs_sdk import Configuration
from lakefs_sdk.client import LakeFSClient
from lakever_examples import DEFAULT_REPOSITORY
from lakever_examples.repository import ensure_repository, seed_orders

client = LakeFSClient(
    Configuration(host=f"http://127.0.0.1:{port}/api/v1", username=key_id, password=secret)
)
ensure_repository(client, DEFAULT_REPOSITORY)
today = dt.datetime.now(dt.UTC).date()
for day in (today - dt.timedelta(days=1), today):
    seed_orders(client, DEFAULT_REPOSITORY, day.isoformat())
print(f"repository {DEFAULT_REPOSITORY} ready with the orders of {today} and the day before")
EOF

export PATH="$ROOT/.venv/bin:$PATH"
export AIRFLOW_HOME="$STATE/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/example_dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__API__PORT="$AIRFLOW_PORT"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$AIRFLOW_PORT"
# Tasks report to the API server's execution API: on this port, not the default 8080.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$AIRFLOW_PORT/execution/"
# Every component shares one small machine here; the 5 s default fails tasks under load.
export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="${AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT:-30}"
export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="${AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT:-120}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
printf '{"admin": "%s"}\n' "$AIRFLOW_PASSWORD" >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
export AIRFLOW_CONN_LAKEVER_DEFAULT="{\"conn_type\": \"lakever\", \"host\": \"http://127.0.0.1:$LAKEVER_PORT\", \"login\": \"$KEY_ID\", \"password\": \"$SECRET\"}"
export AIRFLOW_CONN_SPARK_LOCAL='{"conn_type": "spark", "host": "local[1]"}'
export PYSPARK_PYTHON="$PYTHON"

echo "Airflow UI on http://127.0.0.1:$AIRFLOW_PORT (admin / $AIRFLOW_PASSWORD); Ctrl-C stops"
"$PYTHON" -m airflow standalone
