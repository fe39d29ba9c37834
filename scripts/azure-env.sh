#!/usr/bin/env bash
# Runs a command with the deployed Function App's settings, so that ops
# commands (bootstrap-admin, sweep, audit verify) work on the same tables, vault and queue
# as the app in Azure, with your own az login (DefaultAzureCredential picks
# up the Azure CLI credential):
#
#   scripts/azure-env.sh <resource group> <command> [args...]
#   make bootstrap-admin RG=<group> EMAIL=...       (the Makefile does this)
#   make sweep RG=<group> DRY_RUN=1
#   make audit-verify RG=<group>
#
# Exported: every app setting the handler reads (TABLES_ENDPOINT,
# TABLE_PREFIX, KEY_VAULT_URL, ServiceBusConnection__fullyQualifiedNamespace,
# the account and lifecycle rules, ...), unless already set in your
# environment. Left out: the host's own settings, Key Vault references
# (SMTP_PASSWORD, AWS_*) together with SMTP_USERNAME, because with Service
# Bus configured the command only queues notifications; the deployed
# SendNotification function sends them with the real provider settings.
#
# Your account needs, on the deployed resources: Storage Table Data
# Contributor (storage account), Key Vault Secrets User or Officer (vault),
# Azure Service Bus Data Sender (queue): the template's opsPrincipalId
# grants these to an ops group.
set -euo pipefail
rg=${1:?usage: azure-env.sh <resource group> <command> [args...]}
shift
[[ $# -gt 0 ]] || { echo "usage: azure-env.sh <resource group> <command> [args...]" >&2; exit 2; }
command -v az >/dev/null || { echo "azure-env: the Azure CLI (az) is not installed" >&2; exit 1; }

app=${APP:-$(az functionapp list -g "$rg" --query '[].name' -o tsv)}
if [[ -z $app || $app == *$'\n'* ]]; then
  echo "azure-env: expected exactly one Function App in $rg, found: ${app:-none}; set APP=<name>" >&2
  exit 1
fi

exports=$(az functionapp config appsettings list -g "$rg" -n "$app" -o json | node -e '
let input = "";
process.stdin.on("data", (c) => (input += c)).on("end", () => {
  const skip = (name, value) =>
    /^(APPLICATIONINSIGHTS_|AzureWebJobs|WEBSITE_|FUNCTIONS_|SCM_|AWS_)/.test(name) ||
    name === "SMTP_PASSWORD" || name === "SMTP_USERNAME" ||
    String(value).startsWith("@Microsoft.KeyVault(") ||
    !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
  const quote = (v) => "\x27" + String(v).replace(/\x27/g, "\x27\\\x27\x27") + "\x27";
  for (const { name, value } of JSON.parse(input)) {
    if (skip(name, value) || process.env[name] !== undefined) continue;
    console.log("export " + name + "=" + quote(value ?? ""));
  }
});')
eval "$exports"

for required in TABLES_ENDPOINT KEY_VAULT_URL ServiceBusConnection__fullyQualifiedNamespace; do
  if [[ -z ${!required:-} ]]; then
    echo "azure-env: $app has no $required setting; is it the app deployed by infra/main.bicep?" >&2
    exit 1
  fi
done
echo "azure-env: using the settings of $app ($rg): tables $TABLES_ENDPOINT, queue via $ServiceBusConnection__fullyQualifiedNamespace" >&2
exec "$@"
