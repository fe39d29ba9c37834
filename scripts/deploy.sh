#!/usr/bin/env bash
# From package to running app in one command (make deploy runs it after
# make package and make infra-check):
#
#   RG=<group> [LOCATION=<EU region>] [PARAMS=infra/main.bicepparam] scripts/deploy.sh
#
#  1. checks az (>= 2.60, logged in) and that LOCATION is an EU region;
#  2. creates the resource group if it does not exist (in LOCATION, default
#     westeurope; an existing group keeps its own region as the default);
#  3. deploys infra/main.bicep with PARAMS (location overridden);
#  4. creates the password pepper and the audit chain key in Key Vault if
#     they are missing (scripts/ensure-secret.sh) and checks every other secret the app
#     reads exists (SMTP password, SES credentials), stopping with the
#     command to create it if not;
#  5. publishes PACKAGE (build/app.zip) with az functionapp deployment, each
#     attempt bounded by PUBLISH_TIMEOUT (default 900 s), up to
#     PUBLISH_ATTEMPTS (default 5) attempts with growing waits between them
#     (DEPLOY_RETRY_WAIT_SECONDS, default 30: 30 s, 60 s, 90 s, ...);
#  6. changes one harmless app setting so that the platform fetches the
#     Key Vault references again;
#  7. polls https://<app>/api/health until it answers 200 (HEALTH_TIMEOUT,
#     default 600 s).
# Re-running is safe: the template is idempotent, the pepper and the audit
# chain key are only created when missing, the package replaces the previous one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

rg=${RG:?RG=<resource group> is required}
params=${PARAMS:-infra/main.bicepparam}
package=${PACKAGE:-build/app.zip}
location=${LOCATION:-}
health_timeout=${HEALTH_TIMEOUT:-600}
health_interval=${HEALTH_INTERVAL:-10}
publish_attempts=${PUBLISH_ATTEMPTS:-5}
publish_timeout=${PUBLISH_TIMEOUT:-900}
retry_wait=${DEPLOY_RETRY_WAIT_SECONDS:-30}
# EU regions where Flex Consumption runs: the same list as @allowed on
# `location` in infra/main.bicep.
eu_regions=(northeurope westeurope swedencentral germanywestcentral francecentral italynorth spaincentral)

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'deploy: %s\n' "$*" >&2; exit 1; }

[[ $publish_attempts =~ ^[1-9][0-9]*$ ]] || die "PUBLISH_ATTEMPTS=$publish_attempts: want a whole number, at least 1"
[[ $publish_timeout =~ ^[1-9][0-9]*$ ]] || die "PUBLISH_TIMEOUT=$publish_timeout: want whole seconds, at least 1"
[[ $retry_wait =~ ^[0-9]+$ ]] || die "DEPLOY_RETRY_WAIT_SECONDS=$retry_wait: want whole seconds"
command -v az >/dev/null || die "the Azure CLI (az) is not installed: https://learn.microsoft.com/cli/azure/install-azure-cli"
command -v node >/dev/null || die "node is not installed"
[[ -f $package ]] || die "$package is missing: run make package"
[[ -f $params ]] || die "parameter file $params not found"

az_version=$(az version --query '"azure-cli"' -o tsv)
node -e '
const [a, b] = [process.argv[1], "2.60.0"].map(v => v.split(".").map(Number));
for (let i = 0; i < 3; i++) { if ((a[i] || 0) > b[i]) process.exit(0); if ((a[i] || 0) < b[i]) process.exit(1); }
' "$az_version" || die "az $az_version is too old: Flex Consumption and .bicepparam need 2.60 or later (az upgrade)"
az account show --query '{subscription:name, id:id, user:user.name}' -o tsv >/dev/null 2>&1 || die "not logged in: run az login (and az account set -s <subscription>)"
say "Subscription: $(az account show --query 'name' -o tsv) as $(az account show --query 'user.name' -o tsv)"

if [[ $(az group exists -n "$rg") == true ]]; then
  rg_location=$(az group show -n "$rg" --query location -o tsv)
  location=${location:-$rg_location}
  in_eu=false
  for r in "${eu_regions[@]}"; do [[ $r == "$rg_location" ]] && in_eu=true; done
  $in_eu || die "resource group $rg is in $rg_location, outside the EU regions (P12); use a group in one of: ${eu_regions[*]}"
else
  location=${location:-westeurope}
fi
in_eu=false
for r in "${eu_regions[@]}"; do [[ $r == "$location" ]] && in_eu=true; done
$in_eu || die "LOCATION=$location is not allowed (P12): use one of ${eu_regions[*]}"

if [[ $(az group exists -n "$rg") != true ]]; then
  say "Creating resource group $rg in $location"
  az group create -n "$rg" -l "$location" --tags application=palvelumanuaali-useradmin -o none
fi

deployment="useradmin-$(date -u +%Y%m%d-%H%M%S)"
outputs=${DEPLOY_OUTPUTS:-build/deploy-outputs.json}
mkdir -p "$(dirname "$outputs")"
say "Deploying infra/main.bicep to $rg ($location) as deployment $deployment"
az deployment group create -g "$rg" -n "$deployment" \
  -f infra/main.bicep -p "$params" -p location="$location" \
  --query properties.outputs -o json >"$outputs"

out() { node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = o[process.argv[2]].value; console.log(Array.isArray(v) ? v.join("\n") : v)' "$outputs" "$1"; }
app=$(out appName)
host=$(out defaultHostName)
vault=$(out keyVaultName)
generated=$(out generatedSecrets)
echo "app $app, https://$host, vault $vault, Service Bus $(out serviceBusNamespace), storage $(out storageAccountName)" >&2

# The random keys the deployment makes itself: the pepper, the audit chain key.
while IFS= read -r secret; do
  [[ -z $secret ]] && continue
  say "Generated key $vault/$secret"
  scripts/ensure-secret.sh "$vault" "$secret"
done <<<"$generated"

missing=()
while IFS= read -r secret; do
  [[ -z $secret ]] && continue
  grep -qxF -- "$secret" <<<"$generated" && continue
  if [[ -z $(az keyvault secret list-versions --vault-name "$vault" -n "$secret" --query '[?attributes.enabled].id | [0]' -o tsv 2>/dev/null) ]]; then
    missing+=("$secret")
  fi
done < <(out requiredSecrets)
if ((${#missing[@]} > 0)); then
  {
    echo "deploy: these Key Vault secrets are referenced by app settings but do not exist yet:"
    for s in "${missing[@]}"; do
      echo "  az keyvault secret set --vault-name $vault -n $s --file /dev/stdin --output none   # type the value, then Ctrl-D"
    done
    echo "Create them (you need Key Vault Secrets Officer on the vault), then run make deploy again."
  } >&2
  exit 1
fi

# The first publish to a new app races its role assignments: the template
# has just given the app's identity Storage Blob Data Owner on the deployment
# container, and until that applies (minutes) the publish fails. So every
# attempt is bounded and a failed one is retried after a growing wait. az's
# own --timeout bounds only its wait for the deployment status (two thirds
# of the attempt here; az refuses less than 30 s); `timeout` bounds the
# whole attempt, the upload and the host check az makes afterwards included.
say "Publishing $package to $app (up to $publish_attempts attempts of at most ${publish_timeout}s)"
limit=()
if command -v timeout >/dev/null; then
  limit=(timeout --kill-after=30 "$publish_timeout")
elif command -v gtimeout >/dev/null; then
  limit=(gtimeout --kill-after=30 "$publish_timeout")
else
  echo "deploy: no timeout command (GNU coreutils): only az's --timeout bounds an attempt" >&2
fi
status_timeout=$((publish_timeout * 2 / 3))
((status_timeout >= 30)) || status_timeout=30
attempt=1
while true; do
  rc=0
  ${limit[@]+"${limit[@]}"} az functionapp deployment source config-zip -g "$rg" -n "$app" --src "$package" \
    --timeout "$status_timeout" -o none || rc=$?
  ((rc == 0)) && break
  why="exit status $rc"
  if ((${#limit[@]} > 0 && (rc == 124 || rc == 137))); then why="no result within ${publish_timeout}s"; fi
  echo "deploy: publish attempt $attempt of $publish_attempts failed ($why)" >&2
  if ((attempt >= publish_attempts)); then
    cat >&2 <<EOF
deploy: publishing $package to $app failed $publish_attempts times; the last attempt's error is above.
  - On a new app the role assignments may need longer than these attempts waited:
    run "make deploy" again in a few minutes (re-running is safe).
  - Otherwise the deployment log names the cause:
    az functionapp log deployment show -g $rg -n $app
EOF
    exit 1
  fi
  wait_s=$((attempt * retry_wait))
  echo "deploy: retrying in ${wait_s}s (a new app's role assignments take a few minutes to apply)" >&2
  sleep "$wait_s"
  attempt=$((attempt + 1))
done

# Key Vault references (SMTP_PASSWORD, the SES keys) that the platform could
# not resolve reach the app as their literal text and stay cached until the
# app settings change. The script cannot tell whether a referenced secret
# appeared since the platform last fetched them (the operator creates them
# between runs, and a template deployment that sets the same settings again
# need not count as a change), so every run that gets here, with every
# secret in place, changes one setting that nothing reads. It comes after
# the publish: once the publish goes through, the role assignments of the
# same template deployment (Key Vault Secrets User among them) have most
# likely applied, so this fetch is not refused as well. The restart it
# causes also makes the handler read the keys that ensure-secret.sh has
# just created. The next template deployment replaces the app settings and
# drops this one, which is a change too.
say "Refreshing the Key Vault references of $app"
if ! az functionapp config appsettings set -g "$rg" -n "$app" \
  --settings "KEYVAULT_REFERENCES_REFRESHED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)" -o none; then
  echo "deploy: warning: the app settings were not changed; if a Key Vault reference stays unresolved, run:" >&2
  echo "  az functionapp config appsettings set -g $rg -n $app --settings KEYVAULT_REFERENCES_REFRESHED_AT=\$(date -u +%s)" >&2
fi

health_url=${HEALTH_URL:-https://$host/api/health}
say "Waiting for $health_url (up to ${health_timeout}s)"
deadline=$((SECONDS + health_timeout))
status=000
while ((SECONDS < deadline)); do
  status=$(node -e '
fetch(process.argv[1], { signal: AbortSignal.timeout(10000), redirect: "manual" })
  .then((r) => console.log(r.status), () => console.log("000"));' "$health_url")
  [[ $status == 200 ]] && break
  echo "  health: $status, retrying" >&2
  sleep "$health_interval"
done
if [[ $status != 200 ]]; then
  cat >&2 <<EOF
deploy: $health_url did not answer 200 within ${health_timeout}s (last: $status).
  - A new app's role assignments can take a few minutes to apply; the host restarts the handler,
    so run "make deploy" again or wait and curl the health URL.
  - Start-up errors (a missing setting, no access to Key Vault or Storage) are in Application
    Insights: traces | where message contains "start" or severityLevel >= 3 | order by timestamp desc
EOF
  exit 1
fi

cat >&2 <<EOF

Deployed: https://$host/api (health 200).
Next, the first administrator (once):
  make bootstrap-admin RG=$rg EMAIL=<address> FIRST=<first> LAST=<last> LOCALE=fi
EOF
