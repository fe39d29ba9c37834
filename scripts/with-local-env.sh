#!/usr/bin/env bash
# Runs a command with the local defaults from local.settings.example.json
# for every setting not already set in the environment. In Azure (or
# against it, for ops commands) set TABLES_ENDPOINT and the local storage,
# pepper, audit key, SMTP and Service Bus defaults are left out; against Azure the
# command must also reach the deployed queue
# (ServiceBusConnection__fullyQualifiedNamespace), so that emails are sent
# by the deployed app, never from this machine. scripts/azure-env.sh sets
# all of these from the deployed app's settings.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exports=$(node -e '
const values = require(process.argv[1]).Values;
const azure = !!process.env.TABLES_ENDPOINT;
const localOnly = new Set(["TABLES_CONNECTION_STRING", "PASSWORD_PEPPERS", "PASSWORD_PEPPER_CURRENT", "AUDIT_KEYS", "AUDIT_KEY_CURRENT", "MFA_KEYS", "MFA_KEY_CURRENT", "SMTP_SECURITY", "SMTP_HOST", "SMTP_PORT", "SERVICEBUS_CONNECTION_STRING"]);
for (const [name, value] of Object.entries(values)) {
  if (process.env[name] !== undefined) continue;
  if (azure && localOnly.has(name)) continue;
  console.log("export " + name + "=\x27" + String(value).replace(/\x27/g, "\x27\\\x27\x27") + "\x27");
}' "$root/local.settings.example.json")
eval "$exports"
if [[ -n ${TABLES_ENDPOINT:-} && -z ${ServiceBusConnection__fullyQualifiedNamespace:-} ]]; then
  echo "with-local-env: TABLES_ENDPOINT points at Azure; set ServiceBusConnection__fullyQualifiedNamespace (and KEY_VAULT_URL) too, or use RG=<group> (scripts/azure-env.sh)" >&2
  exit 2
fi
exec "$@"
