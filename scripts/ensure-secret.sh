#!/usr/bin/env bash
# A versioned random key in Key Vault: the password pepper and the audit
# chain key (internal/keyvault: each enabled version of the secret is a key
# version; the newest makes new password hashes or audit links).
#
#   scripts/ensure-secret.sh <vault> <secret>            create it if it has no enabled version
#   scripts/ensure-secret.sh <vault> <secret> --rotate   add a new version (then restart the app)
#
# The value is 48 random bytes in standard base64, from openssl (or
# /dev/urandom without it). It goes to Key Vault through a private temporary
# file: never on a command line, in the output or in the deployment history.
# Needs Key Vault Secrets Officer on the vault (the template's opsPrincipalId
# grants it, or az role assignment create). Right after a role assignment
# Key Vault may answer Forbidden for a few minutes; this retries meanwhile.
set -euo pipefail
vault=${1:?usage: ensure-secret.sh <vault> <secret> [--rotate]}
name=${2:?usage: ensure-secret.sh <vault> <secret> [--rotate]}
mode=${3:-ensure}
retry_for=${KEYVAULT_RETRY_SECONDS:-300}

die() { printf 'ensure-secret: %s\n' "$*" >&2; exit 1; }

# az with retries while the caller's access is still propagating.
kv() {
  local deadline=$((SECONDS + retry_for)) err
  err=$(mktemp)
  while true; do
    if az "$@" 2>"$err"; then rm -f "$err"; return 0; fi
    if grep -qiE 'Forbidden|not authorized|ForbiddenByRbac' "$err" && ((SECONDS < deadline)); then
      echo "ensure-secret: no access to $vault yet (role assignments take a few minutes); retrying" >&2
      sleep 15
      continue
    fi
    if grep -qiE 'Forbidden|ForbiddenByRbac' "$err"; then
      cat "$err" >&2
      rm -f "$err"
      die "you need the Key Vault Secrets Officer role on $vault (or set opsPrincipalId in the parameters)"
    fi
    cat "$err" >&2
    rm -f "$err"
    return 1
  done
}

enabled_versions() {
  # Lists ids only, never values. A secret that does not exist yet has no
  # versions; any other failure stops here rather than adding a version.
  local out err
  err=$(mktemp)
  if out=$(kv keyvault secret list-versions --vault-name "$vault" -n "$name" \
    --query '[?attributes.enabled] | length(@)' -o tsv 2>"$err"); then
    rm -f "$err"
    echo "${out:-0}"
    return 0
  fi
  if grep -qiE 'SecretNotFound|was not found' "$err"; then
    rm -f "$err"
    echo 0
    return 0
  fi
  if grep -qiE 'deleted but recoverable' "$err"; then
    rm -f "$err"
    die "$vault/$name is soft-deleted: recover it with az keyvault secret recover --vault-name $vault -n $name (its old versions are what existing password hashes or audit links were made with)"
  fi
  cat "$err" >&2
  rm -f "$err"
  die "could not list the versions of $vault/$name"
}

new_version() {
  local dir value
  dir=$(mktemp -d)
  chmod 700 "$dir"
  trap 'rm -rf "$dir"' RETURN
  if command -v openssl >/dev/null; then
    value=$(openssl rand -base64 48 | tr -d '\n')
  else
    value=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
  fi
  printf '%s' "$value" >"$dir/key"
  kv keyvault secret set --vault-name "$vault" -n "$name" --file "$dir/key" \
    --content-type 'application/octet-stream;base64' --output none
}

case $mode in
ensure)
  count=$(enabled_versions) || exit 1
  if [[ $count -gt 0 ]]; then
    echo "ensure-secret: $vault/$name has $count enabled version(s); not touched" >&2
  else
    new_version
    echo "ensure-secret: created $vault/$name (first version)" >&2
  fi
  ;;
--rotate)
  new_version
  echo "ensure-secret: added a new version of $vault/$name. Restart the app so it loads it:" >&2
  echo "  az functionapp restart -g <group> -n <app>" >&2
  ;;
*)
  die "unknown option $mode (use --rotate)"
  ;;
esac
