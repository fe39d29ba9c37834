#!/usr/bin/env bash
# The whole system on this machine: Azurite (Table Storage), MailDev (SMTP
# catcher; web UI and REST API on http://localhost:1080) and the handler in
# standalone mode on http://localhost:7071, and the API reference page
# (api/openapi.yaml rendered by Redoc, scripts/api-reference.mjs) on
# http://localhost:7072. Ctrl-C stops all four. Table
# data persists in .run/azurite between runs; delete that folder to start over.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/tools/node_modules/.bin"
mkdir -p "$root/.run/azurite"

wait_for_port() {
  local name=$1 port=$2
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "run-local: $name did not open port $port" >&2
  return 1
}
for port in 10002 1025 1080 7071 7072; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run-local: port $port is already in use (is make run already running?)" >&2
    exit 1
  fi
done

trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM
"$bin/azurite-table" --disableTelemetry --silent --tableHost 127.0.0.1 --tablePort 10002 \
  --location "$root/.run/azurite" &
"$bin/maildev" --ip 127.0.0.1 --smtp 1025 --web 1080 --silent &
node "$root/scripts/api-reference.mjs" 7072 &
wait_for_port Azurite 10002
wait_for_port MailDev 1025
wait_for_port "MailDev web" 1080
wait_for_port "API reference" 7072
echo "run-local: Azurite on :10002, MailDev on :1025 (UI http://localhost:1080), API on http://localhost:7071/api" >&2
echo "run-local: API reference on http://localhost:7072; the document itself on http://localhost:7071/api/openapi.yaml (and .json)" >&2
"$root/scripts/with-local-env.sh" "$root/build/handler" serve &
wait -n
