package main

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// functionFolder is one folder under functions/: an Azure Function whose
// name is the folder's.
type functionFolder struct {
	name     string
	raw      []byte
	bindings []map[string]any
}

// trigger is the function's trigger binding (the one whose type ends in
// "Trigger").
func (f functionFolder) trigger() map[string]any {
	for _, b := range f.bindings {
		if typ, _ := b["type"].(string); strings.HasSuffix(typ, "Trigger") {
			return b
		}
	}
	return nil
}

// proxied reports whether the host proxies the function's HTTP requests to
// the handler as they are: exactly one httpTrigger in and one http out.
func (f functionFolder) proxied() bool {
	return len(f.bindings) == 2 && f.bindings[0]["type"] == "httpTrigger" && f.bindings[0]["direction"] == "in" &&
		f.bindings[1]["type"] == "http" && f.bindings[1]["direction"] == "out"
}

// functionFolders reads every folder under functions/. An empty folder is
// skipped: git does not carry it, so it is never in a clone, and the
// Makefile stages function.json files only.
func functionFolders(t *testing.T) []functionFolder {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "functions")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []functionFolder
	for _, e := range entries {
		if !e.IsDir() {
			t.Errorf("functions/%s: only folders belong in functions/ (one per function)", e.Name())
			continue
		}
		inside, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(inside) == 0 {
			t.Logf("functions/%s is empty: ignored (not in git, not staged)", e.Name())
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), "function.json"))
		if err != nil {
			t.Errorf("functions/%s has no function.json: the host would not load it", e.Name())
			continue
		}
		var fj struct{ Bindings []map[string]any }
		if err := json.Unmarshal(raw, &fj); err != nil {
			t.Errorf("functions/%s/function.json: %v", e.Name(), err)
			continue
		}
		out = append(out, functionFolder{name: e.Name(), raw: raw, bindings: fj.Bindings})
	}
	if len(out) == 0 {
		t.Fatal("no functions under functions/")
	}
	return out
}

// Every function is either the proxied HTTP catch-all or a trigger that
// reaches the handler through the invocation protocol (POST /{FunctionName}).
func TestContractFunctionFolders(t *testing.T) {
	var httpFns, invoked []string
	for _, f := range functionFolders(t) {
		trig := f.trigger()
		if trig == nil {
			t.Errorf("functions/%s: no trigger binding", f.name)
			continue
		}
		switch typ := trig["type"]; {
		case typ == "httpTrigger":
			if !f.proxied() {
				t.Errorf("functions/%s: an HTTP function must be exactly httpTrigger in + http out, or the host does not proxy it to the handler", f.name)
			}
			httpFns = append(httpFns, f.name)
		case typ == "serviceBusTrigger" || typ == "timerTrigger":
			invoked = append(invoked, f.name)
		default:
			t.Errorf("functions/%s: trigger %v: the handler has no invocation endpoint for it", f.name, typ)
		}
	}
	if len(httpFns) != 1 {
		t.Errorf("HTTP functions %v: want exactly one proxied catch-all", httpFns)
	}
	t.Logf("proxied: %v, invocation protocol: %v", httpFns, invoked)
}

// Every %SETTING% a function.json names, and the identity-based connection
// it uses, is a setting the handler documents and the Bicep template sets:
// a binding that names a missing setting stops the function in Azure.
func TestContractFunctionSettingsAreDeployed(t *testing.T) {
	root := repoRoot(t)
	var example struct{ Values map[string]string }
	readJSON(t, filepath.Join(root, "local.settings.example.json"), &example)
	bicep, err := os.ReadFile(filepath.Join(root, "infra/modules/functionapp.bicep"))
	if err != nil {
		t.Fatal(err)
	}
	deployed := func(name string) bool {
		return bytes.Contains(bicep, []byte("name: '"+name+"'"))
	}
	percent := regexp.MustCompile(`%([A-Za-z0-9_]+)%`)
	for _, f := range functionFolders(t) {
		var names []string
		for _, m := range percent.FindAllSubmatch(f.raw, -1) {
			names = append(names, string(m[1]))
		}
		for _, b := range f.bindings {
			if conn, _ := b["connection"].(string); conn != "" {
				// Identity-based: <connection>__fullyQualifiedNamespace.
				names = append(names, conn+"__fullyQualifiedNamespace")
			}
		}
		for _, n := range names {
			if _, ok := example.Values[n]; !ok {
				t.Errorf("functions/%s uses %s, which local.settings.example.json does not list", f.name, n)
			}
			if !deployed(n) {
				t.Errorf("functions/%s uses %s, which infra/modules/functionapp.bicep does not set", f.name, n)
			}
		}
	}
}

// The handler answers every non-HTTP function at POST /{FunctionName} with
// the protocol's JSON (Outputs, Logs), not the API's 404: the folders are
// read here, so a new function without its endpoint fails this test.
func TestContractInvocationEndpoints(t *testing.T) {
	s := startFunctionsStack(t, nil)
	for _, f := range functionFolders(t) {
		if f.trigger() == nil || f.trigger()["type"] == "httpTrigger" {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.baseURL+"/"+f.name, strings.NewReader(`{"Data":{},"Metadata":{}}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
				t.Fatalf("POST /%s: %d %s: the handler has no invocation endpoint for this function", f.name, resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("POST /%s: Content-Type %q, want application/json", f.name, ct)
			}
			var answer map[string]json.RawMessage
			if err := json.Unmarshal(body, &answer); err != nil {
				t.Fatalf("POST /%s: %d, not the protocol's JSON: %s", f.name, resp.StatusCode, body)
			}
			for _, key := range []string{"Outputs", "Logs"} {
				if _, ok := answer[key]; !ok {
					t.Errorf("POST /%s: answer has no %s: %s", f.name, key, body)
				}
			}
		})
	}
}

// make package builds the zip that az deploys: host.json at the root, one
// folder per function with its function.json, and the handler binary that
// host.json starts, executable, static, linux/amd64.
func TestPackageZip(t *testing.T) {
	root := repoRoot(t)
	makeCmd, err := exec.LookPath("make")
	if err != nil {
		t.Fatal("make is not installed: make package builds the deploy zip")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, makeCmd, "--no-print-directory", "package")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	checkPackage(t, root, filepath.Join(root, "build/app.zip"))

	// Without the zip program, make package falls back to scripts/zipapp,
	// which must keep the execute bit just the same.
	t.Run("fallback zipper", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "app.zip")
		cmd := exec.CommandContext(ctx, "go", "run", "./scripts/zipapp", "build/app", out)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go run ./scripts/zipapp: %v\n%s", err, b)
		}
		checkPackage(t, root, out)
	})
}

func checkPackage(t *testing.T, root, zipPath string) {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()

	var host hostJSON
	readJSON(t, filepath.Join(root, "host.json"), &host)
	binary := host.CustomHandler.Description.DefaultExecutablePath
	if binary == "" || strings.ContainsAny(binary, `/\`) {
		t.Fatalf("host.json defaultExecutablePath %q: want a file name at the app root", binary)
	}

	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "/") || strings.HasPrefix(f.Name, "./") || slices.Contains(strings.Split(f.Name, "/"), "..") {
			t.Errorf("entry %q: paths must be relative to the app root", f.Name)
		}
		entries[f.Name] = f
	}
	read := func(name string) []byte {
		t.Helper()
		f := entries[name]
		if f == nil {
			t.Fatalf("%s: no %s in the package", filepath.Base(zipPath), name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	want, err := os.ReadFile(filepath.Join(root, "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read("host.json"), want) {
		t.Error("host.json in the package differs from the repository's")
	}
	allowed := map[string]bool{"host.json": true, binary: true}
	for _, fn := range functionFolders(t) {
		allowed[fn.name] = true
		if !bytes.Equal(read(fn.name+"/function.json"), fn.raw) {
			t.Errorf("%s/function.json in the package differs from functions/%s/function.json", fn.name, fn.name)
		}
	}
	for name := range entries {
		top, _, _ := strings.Cut(name, "/")
		if !allowed[top] {
			t.Errorf("unexpected entry %q: the package holds host.json, %s and the function folders only", name, binary)
		}
	}

	// The host runs the binary named in host.json: it must be there and
	// executable (zip's Unix mode), or the app cannot start.
	bin := entries[binary]
	if bin == nil {
		t.Fatalf("no %s in the package: host.json's defaultExecutablePath must match the binary the Makefile stages", binary)
	}
	if mode := bin.Mode(); !mode.IsRegular() || mode.Perm() != 0o755 {
		t.Errorf("%s mode %v, want -rwxr-xr-x (without the execute bit the host cannot start it)", binary, mode)
	}

	// Static linux/amd64: no dynamic loader, no shared libraries.
	exe, err := elf.NewFile(bytes.NewReader(read(binary)))
	if err != nil {
		t.Fatalf("%s is not an ELF binary: %v", binary, err)
	}
	if exe.Class != elf.ELFCLASS64 || exe.Machine != elf.EM_X86_64 || exe.Type != elf.ET_EXEC {
		t.Errorf("%s: %v %v %v, want a 64-bit x86-64 executable", binary, exe.Class, exe.Machine, exe.Type)
	}
	for _, p := range exe.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: not statically linked (CGO_ENABLED=0)", binary, p.Type)
		}
	}
	if libs, err := exe.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", binary, libs)
	}
}

// infraCheck runs scripts/infra-check.mjs on dir and returns its exit code
// and output. Node and the npm tools are required, not optional: make test
// installs them.
func infraCheck(t *testing.T, dir string) (int, string) {
	t.Helper()
	root := repoRoot(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: make infra-check needs Node.js (see README)")
	}
	for _, p := range []string{"tools/node_modules/web-tree-sitter/tree-sitter.js", "tools/node_modules/tree-sitter-bicep/tree-sitter-bicep.wasm"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Fatalf("%s is missing: run make tools", p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "scripts/infra-check.mjs"), dir)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("infra-check: %v\n%s", err, out)
		return -1, ""
	}
}

func TestInfraCheckPassesOnInfra(t *testing.T) {
	code, out := infraCheck(t, filepath.Join(repoRoot(t), "infra"))
	if code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("infra-check on infra/: exit %d\n%s", code, out)
	}
}

// copyInfra copies infra/ into a temporary folder for a broken variant.
func copyInfra(t *testing.T) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), "infra")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// Each broken template is refused, with a message that names the rule.
func TestInfraCheckRefusesBrokenTemplates(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"non-EU region allowed", "main.bicep", "  'spaincentral'\n])", "  'spaincentral'\n  'uksouth'\n])",
			`non-EU region "uksouth" in @allowed of param location`},
		{"resource outside the location param", "modules/storage.bicep", "  location: location\n", "  location: 'eastus'\n",
			"location must use the location param"},
		{"hard-coded EU location", "modules/keyvault.bicep", "  location: location\n", "  location: 'westeurope'\n",
			"location must use the location param"},
		{"non-EU location in the parameters", "main.bicepparam", "param location = 'westeurope'", "param location = 'norwayeast'",
			"non-EU region 'norwayeast'"},
		{"role assignment without principalType", "modules/roles.bicep", "    principalType: 'ServicePrincipal'\n", "",
			"without principalType"},
		{"role assignment with a random name", "modules/roles.bicep", "name: guid(storage.id, appPrincipalId, roleIds.storageBlobDataOwner)", "name: 'blob-owner'",
			"name must be guid("},
		{"shared keys on", "modules/storage.bicep", "allowSharedKeyAccess: false", "allowSharedKeyAccess: true",
			"allowSharedKeyAccess must be false"},
		{"public blobs", "modules/storage.bicep", "allowBlobPublicAccess: false", "allowBlobPublicAccess: true",
			"allowBlobPublicAccess must be false"},
		{"old TLS on storage", "modules/storage.bicep", "minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'",
			"minimumTlsVersion must be 'TLS1_2'"},
		{"Service Bus local auth", "modules/servicebus.bicep", "disableLocalAuth: true", "disableLocalAuth: false",
			"disableLocalAuth must be true"},
		{"Service Bus Basic", "modules/servicebus.bicep", "name: 'Standard'\n    tier: 'Standard'", "name: 'Basic'\n    tier: 'Basic'",
			"sku must be Standard or Premium"},
		{"no duplicate detection", "modules/servicebus.bicep", "requiresDuplicateDetection: true", "requiresDuplicateDetection: false",
			"requiresDuplicateDetection must be true"},
		{"short duplicate window", "modules/servicebus.bicep", "duplicateDetectionHistoryTimeWindow: 'PT1H'", "duplicateDetectionHistoryTimeWindow: 'PT10M'",
			"at least PT1H"},
		{"no dead-lettering on expiry", "modules/servicebus.bicep", "deadLetteringOnMessageExpiration: true", "deadLetteringOnMessageExpiration: false",
			"deadLetteringOnMessageExpiration must be true"},
		{"vault with access policies", "modules/keyvault.bicep", "enableRbacAuthorization: true", "enableRbacAuthorization: false",
			"enableRbacAuthorization must be true"},
		{"vault without purge protection", "modules/keyvault.bicep", "    enablePurgeProtection: true\n", "",
			"enablePurgeProtection must be true"},
		{"pepper in the template", "modules/keyvault.bicep", "output vaultName", "resource pepper 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {\n  parent: vault\n  name: 'password-pepper'\n  properties: {\n    value: 'bm90LWEtc2VjcmV0'\n  }\n}\n\noutput vaultName",
			"sets a value in the template"},
		{"connection string", "modules/functionapp.bicep", "{ name: 'TABLES_ENDPOINT', value: tablesEndpoint }", "{ name: 'TABLES_ENDPOINT', value: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=eA==' }",
			"'AccountKey=' connection string"},
		{"HTTP allowed", "modules/functionapp.bicep", "httpsOnly: true", "httpsOnly: false",
			"httpsOnly must be true"},
		{"TLS 1.0 on the app", "modules/functionapp.bicep", "      minTlsVersion: '1.2'\n", "      minTlsVersion: '1.0'\n",
			"siteConfig.minTlsVersion must be '1.2'"},
		{"not the custom handler", "modules/functionapp.bicep", "name: 'custom'", "name: 'node'",
			"runtime.name must be 'custom'"},
		{"setting missing", "modules/functionapp.bicep", "  { name: 'KEY_VAULT_URL', value: keyVaultUri }\n", "",
			"app setting KEY_VAULT_URL missing"},
		{"local-only setting", "modules/functionapp.bicep", "  { name: 'TABLE_PREFIX', value: tablePrefix }\n", "  { name: 'TABLE_PREFIX', value: tablePrefix }\n  { name: 'PASSWORD_PEPPERS', value: 'v1:eA==' }\n",
			"app setting PASSWORD_PEPPERS must not be set in Azure"},
		{"setting Flex refuses", "modules/functionapp.bicep", "  { name: 'TABLE_PREFIX', value: tablePrefix }\n", "  { name: 'TABLE_PREFIX', value: tablePrefix }\n  { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'custom' }\n",
			"app setting FUNCTIONS_WORKER_RUNTIME must not be set in Azure"},
		{"plain SMTP password", "modules/functionapp.bicep", "'@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${smtpPasswordSecretName}/)'", "smtpUsername",
			"app setting SMTP_PASSWORD must be a Key Vault reference"},
		{"syntax error", "modules/alerts.bicep", "param location string\n", "param location string = \n",
			"syntax error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := copyInfra(t)
			path := filepath.Join(dir, c.file)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(c.old)) {
				t.Fatalf("infra/%s no longer contains %q: update this case to the template", c.file, c.old)
			}
			if err := os.WriteFile(path, bytes.Replace(b, []byte(c.old), []byte(c.new), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := infraCheck(t, dir)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("output does not say %q:\n%s", c.want, out)
			}
			if !regexp.MustCompile(regexp.QuoteMeta(filepath.Base(c.file)) + `:\d+:\d+: `).MatchString(out) {
				t.Errorf("no file:line:col for %s in:\n%s", c.file, out)
			}
		})
	}
}

// fakeAz is an az stand-in for TestPackageDeployScript: it logs every call
// and keeps the resource group and Key Vault secrets as files.
const fakeAz = `#!/usr/bin/env bash
set -euo pipefail
printf '%s\n' "$*" >>"$FAKE_AZ_LOG"
name="" file=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in -n | --name) name=${args[i + 1]} ;; --file) file=${args[i + 1]} ;; esac
done
case "$1 ${2:-}" in
"version "*) echo 2.67.0 ;;
"account show") echo "Test subscription" ;;
"group exists") if [[ -f $FAKE_AZ_STATE/group ]]; then echo true; else echo false; fi ;;
"group show") echo westeurope ;;
"group create") touch "$FAKE_AZ_STATE/group" ;;
"deployment group") cat "$FAKE_AZ_OUTPUTS" ;;
"keyvault secret")
  case $3 in
  list-versions)
    if [[ ! -f $FAKE_AZ_STATE/secret-$name ]]; then
      echo "ERROR: (SecretNotFound) A secret with (name/id) $name was not found in this key vault." >&2
      exit 1
    fi
    if [[ "$*" == *'length(@)'* ]]; then echo 1; else echo "https://kv.vault.azure.net/secrets/$name/0123"; fi ;;
  set) cp "$file" "$FAKE_AZ_STATE/secret-$name" ;;
  *) exit 1 ;;
  esac ;;
"functionapp deployment") touch "$FAKE_AZ_STATE/published" ;;
*) echo "fake az: unexpected: $*" >&2; exit 1 ;;
esac
`

// make deploy's script, offline against a fake az: it refuses a non-EU
// region before touching Azure, creates the pepper only when missing and
// never on a command line, stops before publishing while a referenced
// secret is missing, then publishes and waits for /api/health.
func TestPackageDeployScript(t *testing.T) {
	root := repoRoot(t)
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed: scripts/deploy.sh needs it")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	state := filepath.Join(dir, "state")
	for _, d := range []string{bin, state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "az"), []byte(fakeAz), 0o755); err != nil {
		t.Fatal(err)
	}
	outputs := map[string]any{}
	for k, v := range map[string]any{
		"appName": "func-useradmin-x", "defaultHostName": "func-useradmin-x.azurewebsites.net",
		"keyVaultName": "kv-usera-x", "pepperSecretName": "password-pepper",
		"serviceBusNamespace": "sb-useradmin-x.servicebus.windows.net", "storageAccountName": "stuseradminx",
		"requiredSecrets": []string{"password-pepper", "smtp-password"},
	} {
		outputs[k] = map[string]any{"type": "String", "value": v}
	}
	outputsFile := filepath.Join(dir, "outputs.json")
	b, _ := json.Marshal(outputs)
	if err := os.WriteFile(outputsFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(dir, "app.zip")
	if err := os.WriteFile(pkg, []byte("PK"), 0o644); err != nil {
		t.Fatal(err)
	}
	var healthCalls atomic.Int32
	health := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if healthCalls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	})
	azLog := filepath.Join(dir, "az.log")
	deploy := func(extra ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "scripts/deploy.sh")
		cmd.Dir = root
		cmd.Env = append(os.Environ(),
			"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"RG=rg-useradmin-test", "PACKAGE="+pkg, "PARAMS=infra/main.bicepparam",
			"DEPLOY_OUTPUTS="+filepath.Join(dir, "deploy-outputs.json"),
			"HEALTH_URL="+health+"/api/health", "HEALTH_INTERVAL=0", "HEALTH_TIMEOUT=30",
			"FAKE_AZ_LOG="+azLog, "FAKE_AZ_STATE="+state, "FAKE_AZ_OUTPUTS="+outputsFile)
		cmd.Env = append(cmd.Env, extra...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	calls := func() string {
		b, _ := os.ReadFile(azLog)
		return string(b)
	}

	// P12: a region outside the EU stops everything before az deploys.
	if out, err := deploy("LOCATION=uksouth"); err == nil || !strings.Contains(out, "LOCATION=uksouth is not allowed") {
		t.Fatalf("LOCATION=uksouth: %v\n%s", err, out)
	}
	if strings.Contains(calls(), "deployment group create") || strings.Contains(calls(), "group create") {
		t.Fatalf("az was asked to create something for a non-EU region:\n%s", calls())
	}

	// First run: the pepper is created; the SMTP password is missing, so
	// nothing is published and the operator is told how to create it.
	out, err := deploy()
	if err == nil || !strings.Contains(out, "az keyvault secret set --vault-name kv-usera-x -n smtp-password") {
		t.Fatalf("first deploy without the SMTP secret: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(state, "published")); err == nil {
		t.Fatal("published although a referenced secret is missing")
	}
	pepper, err := os.ReadFile(filepath.Join(state, "secret-password-pepper"))
	if err != nil {
		t.Fatalf("pepper not created: %v\n%s", err, out)
	}
	if key, err := base64.StdEncoding.Strict().DecodeString(string(pepper)); err != nil || len(key) < 32 {
		t.Fatalf("pepper is not standard base64 of at least 32 bytes (%d bytes, %v)", len(key), err)
	}
	if strings.Contains(calls(), string(pepper)) || strings.Contains(out, string(pepper)) {
		t.Fatal("the pepper value appeared on an az command line or in the output")
	}
	if !strings.Contains(calls(), "deployment group create -g rg-useradmin-test") || !strings.Contains(calls(), "location=westeurope") {
		t.Errorf("deployment not created in westeurope:\n%s", calls())
	}

	// Second run, with the secret in place: the pepper is left alone, the
	// package is published and the script waits for health.
	if err := os.WriteFile(filepath.Join(state, "secret-smtp-password"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = deploy()
	if err != nil {
		t.Fatalf("second deploy: %v\n%s", err, out)
	}
	if n := strings.Count(calls(), "keyvault secret set"); n != 1 {
		t.Errorf("keyvault secret set called %d times over two deploys, want 1 (the pepper exists the second time)", n)
	}
	again, _ := os.ReadFile(filepath.Join(state, "secret-password-pepper"))
	if !bytes.Equal(again, pepper) {
		t.Error("the second deploy replaced the pepper")
	}
	if !strings.Contains(calls(), "functionapp deployment source config-zip -g rg-useradmin-test -n func-useradmin-x --src "+pkg) {
		t.Errorf("package not published with config-zip:\n%s", calls())
	}
	if healthCalls.Load() < 3 || !strings.Contains(out, "health 200") {
		t.Errorf("health polled %d times; output:\n%s", healthCalls.Load(), out)
	}
}

func httptestServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
