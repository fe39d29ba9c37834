#!/usr/bin/env bash
# Runs a command with the local defaults from local.settings.example.json
# for every setting not already set in the environment. In Azure (or
# against it, for ops commands) set TABLES_ENDPOINT and the local storage
# and pepper defaults are left out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exports=$(node -e '
const values = require(process.argv[1]).Values;
const azure = !!process.env.TABLES_ENDPOINT;
const localOnly = new Set(["TABLES_CONNECTION_STRING", "PASSWORD_PEPPERS", "PASSWORD_PEPPER_CURRENT", "SMTP_SECURITY", "SMTP_HOST", "SMTP_PORT"]);
for (const [name, value] of Object.entries(values)) {
  if (process.env[name] !== undefined) continue;
  if (azure && localOnly.has(name)) continue;
  console.log("export " + name + "=\x27" + String(value).replace(/\x27/g, "\x27\\\x27\x27") + "\x27");
}' "$root/local.settings.example.json")
eval "$exports"
exec "$@"
