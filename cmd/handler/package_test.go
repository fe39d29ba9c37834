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
	return runInfraCheck(t, filepath.Join(root, "scripts/infra-check.mjs"), dir)
}

// runInfraCheck runs the infra-check.mjs at script on dir; the script reads
// tools/ and local.settings.example.json from the folder above its own.
func runInfraCheck(t *testing.T, script, dir string) (int, string) {
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
	cmd := exec.CommandContext(ctx, node, script, dir)
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

// appBaseURLSetting is an app setting line of functionapp.bicep that the
// cases below add a setting after.
const appBaseURLSetting = "  { name: 'APP_BASE_URL', value: appBaseUrl }\n"

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
		{"standalone CORS setting", "modules/functionapp.bicep", appBaseURLSetting, appBaseURLSetting + "  { name: 'ALLOWED_ORIGINS', value: join(corsAllowedOrigins, ',') }\n",
			"app setting ALLOWED_ORIGINS must not be set in Azure (local only; in Azure: siteConfig.cors"},
		{"setting Flex refuses", "modules/functionapp.bicep", "  { name: 'TABLE_PREFIX', value: tablePrefix }\n", "  { name: 'TABLE_PREFIX', value: tablePrefix }\n  { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'custom' }\n",
			"app setting FUNCTIONS_WORKER_RUNTIME must not be set in Azure"},
		{"plain SMTP password", "modules/functionapp.bicep", "'@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${smtpPasswordSecretName}/)'", "smtpUsername",
			"app setting SMTP_PASSWORD must be a Key Vault reference"},
		{"syntax error", "modules/alerts.bicep", "param location string\n", "param location string = \n",
			"syntax error"},

		// Names the Functions platform owns and sets itself: one case per prefix.
		{"CORS_ setting", "modules/functionapp.bicep", appBaseURLSetting, appBaseURLSetting + "  { name: 'CORS_ALLOWED_ORIGINS', value: join(corsAllowedOrigins, ',') }\n",
			"app setting CORS_ALLOWED_ORIGINS: names starting with CORS_ belong to the Functions platform"},
		{"WEBSITE_ setting", "modules/functionapp.bicep", appBaseURLSetting, appBaseURLSetting + "  { name: 'WEBSITE_FOO', value: 'bar' }\n",
			"app setting WEBSITE_FOO: names starting with WEBSITE_ belong to the Functions platform"},
		{"FUNCTIONS_ setting", "modules/functionapp.bicep", appBaseURLSetting, appBaseURLSetting + "  { name: 'FUNCTIONS_CUSTOMHANDLER_PORT', value: '8080' }\n",
			"app setting FUNCTIONS_CUSTOMHANDLER_PORT: names starting with FUNCTIONS_ belong to the Functions platform"},
		{"AzureWebJobs setting", "modules/functionapp.bicep", appBaseURLSetting, appBaseURLSetting + "  { name: 'AzureWebJobsFeatureFlags', value: 'EnableWorkerIndexing' }\n",
			"app setting AzureWebJobsFeatureFlags: names starting with AzureWebJobs belong to the Functions platform"},
		{"SCM_ setting in lower case", "modules/functionapp.bicep", appBaseURLSetting, appBaseURLSetting + "  { name: 'scm_command_idle_timeout', value: '600' }\n",
			"app setting scm_command_idle_timeout: names starting with SCM_ belong to the Functions platform"},
		{"APPSETTING_ setting", "modules/functionapp.bicep", appBaseURLSetting, appBaseURLSetting + "  { name: 'APPSETTING_ORIGINS', value: 'x' }\n",
			"app setting APPSETTING_ORIGINS: names starting with APPSETTING_ belong to the Functions platform"},

		// Browser origins: only siteConfig.cors, only from a parameter.
		{"no platform CORS", "modules/functionapp.bicep", "      cors: {\n        allowedOrigins: corsAllowedOrigins\n        supportCredentials: false\n      }\n", "",
			"siteConfig.cors.allowedOrigins must be set from a parameter"},
		{"platform CORS emptied", "modules/functionapp.bicep", "allowedOrigins: corsAllowedOrigins", "allowedOrigins: []",
			"siteConfig.cors.allowedOrigins must be a parameter, used as it is"},
		{"platform CORS behind a condition", "modules/functionapp.bicep", "allowedOrigins: corsAllowedOrigins", "allowedOrigins: empty(appBaseUrl) ? [] : corsAllowedOrigins",
			"siteConfig.cors.allowedOrigins must be a parameter, used as it is"},
		{"wildcard origin in siteConfig", "modules/functionapp.bicep", "allowedOrigins: corsAllowedOrigins", "allowedOrigins: concat(corsAllowedOrigins, [\n          '*'\n        ])",
			"'*' as a CORS origin in siteConfig.cors"},
		{"origins passed to the module behind a condition", "main.bicep", "    corsAllowedOrigins: corsAllowedOrigins\n", "    corsAllowedOrigins: empty(appBaseUrl) ? [] : corsAllowedOrigins\n",
			"module param corsAllowedOrigins (param corsAllowedOrigins, which feeds siteConfig.cors.allowedOrigins) must be passed a parameter, used as it is"},
		{"origins may be empty", "main.bicep", "@minLength(1)\nparam corsAllowedOrigins", "param corsAllowedOrigins",
			"needs @minLength(1)"},
		{"wildcard origin as the default", "main.bicep", "param corsAllowedOrigins string[]\n", "param corsAllowedOrigins string[] = [\n  '*'\n]\n",
			"'*' as a CORS origin in the default of param corsAllowedOrigins"},
		{"wildcard origin in the parameters", "main.bicepparam", "  'https://palvelumanuaali.example.fi'\n]", "  '*'\n]",
			"'*' as a CORS origin in param corsAllowedOrigins"},
		{"no origins in the parameters", "main.bicepparam", "param corsAllowedOrigins = [\n  'https://palvelumanuaali.example.fi'\n]", "param corsAllowedOrigins = []",
			"param corsAllowedOrigins is an empty list"},

		// Log alerts on App Insights tables that do not exist yet.
		{"log alert validates its query", "modules/alerts.bicep", "    skipQueryValidation: true\n", "",
			"properties.skipQueryValidation must be true"},
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

// A setting local.settings.example.json lists for Azure under a name the
// platform owns is reported there, not asked of the template: the template
// cannot set it, and in Azure the handler would read the platform's value.
// Local-only names (FUNCTIONS_WORKER_RUNTIME,
// AzureWebJobsStorage) stay allowed. The check runs a copy of the script
// next to an edited copy of the example.
func TestInfraCheckRefusesPlatformNamesInSettings(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "local.settings.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "scripts/infra-check.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, example []byte) (int, string) {
		t.Helper()
		fake := t.TempDir()
		if err := os.MkdirAll(filepath.Join(fake, "scripts"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fake, "scripts/infra-check.mjs"), script, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(root, "tools"), filepath.Join(fake, "tools")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fake, "local.settings.example.json"), example, 0o644); err != nil {
			t.Fatal(err)
		}
		return runInfraCheck(t, filepath.Join(fake, "scripts/infra-check.mjs"), copyInfra(t))
	}

	t.Run("as it is", func(t *testing.T) {
		if code, out := check(t, raw); code != 0 {
			t.Fatalf("exit %d with the repository's example:\n%s", code, out)
		}
	})
	t.Run("CORS_ALLOWED_ORIGINS", func(t *testing.T) {
		const anchor = `"APP_BASE_URL": "http://localhost:3000",`
		if !bytes.Contains(raw, []byte(anchor)) {
			t.Fatalf("local.settings.example.json no longer contains %s: update this test", anchor)
		}
		edited := bytes.Replace(raw, []byte(anchor), []byte(anchor+"\n    \"CORS_ALLOWED_ORIGINS\": \"http://localhost:3000\","), 1)
		code, out := check(t, edited)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		want := regexp.MustCompile(`local\.settings\.example\.json:\d+:\d+: CORS_ALLOWED_ORIGINS is read in Azure but its name starts with CORS_`)
		if !want.MatchString(out) {
			t.Errorf("output does not match %v:\n%s", want, out)
		}
		if strings.Contains(out, "app setting CORS_ALLOWED_ORIGINS missing") {
			t.Errorf("the template is asked for a setting it must not set:\n%s", out)
		}
	})
}

// fakeAz is an az stand-in for the deploy script tests: it logs every call
// and keeps the resource group, the Key Vault secrets and the publish
// attempts as files. FAKE_AZ_PUBLISH_FAILURES=n fails the first n publish
// attempts (as a publish that races its role assignment does);
// FAKE_AZ_PUBLISH_HANGS=n makes the first n attempts never answer.
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
"functionapp deployment")
  attempt=$(($(cat "$FAKE_AZ_STATE/publish-attempts" 2>/dev/null || echo 0) + 1))
  echo "$attempt" >"$FAKE_AZ_STATE/publish-attempts"
  if ((attempt <= ${FAKE_AZ_PUBLISH_HANGS:-0})); then exec sleep 120; fi
  if ((attempt <= ${FAKE_AZ_PUBLISH_FAILURES:-0})); then
    echo "ERROR: An error occured during deployment. Status Code: 403, Details: fake refusal $attempt" >&2
    exit 1
  fi
  touch "$FAKE_AZ_STATE/published" ;;
"functionapp config")
  [[ ${3:-} == appsettings && ${4:-} == set ]] || { echo "fake az: unexpected: $*" >&2; exit 1; }
  touch "$FAKE_AZ_STATE/appsettings" ;;
*) echo "fake az: unexpected: $*" >&2; exit 1 ;;
esac
`

// deployHarness runs scripts/deploy.sh offline: az is fakeAz on PATH, the
// health URL is a local server, and retries do not wait.
type deployHarness struct {
	t            *testing.T
	root         string
	state, azLog string
	pkg          string
	env          []string
	limit        time.Duration // one run of the script
}

func newDeployHarness(t *testing.T, health http.HandlerFunc) *deployHarness {
	t.Helper()
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
		"keyVaultName": "kv-usera-x", "pepperSecretName": "password-pepper", "auditKeySecretName": "audit-chain-key",
		"serviceBusNamespace": "sb-useradmin-x.servicebus.windows.net", "storageAccountName": "stuseradminx",
		"generatedSecrets": []string{"password-pepper", "audit-chain-key"},
		"requiredSecrets":  []string{"password-pepper", "audit-chain-key", "smtp-password"},
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
	if health == nil {
		health = func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ok"}`)) }
	}
	azLog := filepath.Join(dir, "az.log")
	return &deployHarness{t: t, root: root, state: state, azLog: azLog, pkg: pkg, limit: time.Minute, env: []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"RG=rg-useradmin-test", "PACKAGE=" + pkg, "PARAMS=infra/main.bicepparam",
		"DEPLOY_OUTPUTS=" + filepath.Join(dir, "deploy-outputs.json"),
		"HEALTH_URL=" + httptestServer(t, health) + "/api/health", "HEALTH_INTERVAL=0", "HEALTH_TIMEOUT=30",
		"DEPLOY_RETRY_WAIT_SECONDS=0",
		"FAKE_AZ_LOG=" + azLog, "FAKE_AZ_STATE=" + state, "FAKE_AZ_OUTPUTS=" + outputsFile,
	}}
}

// deploy runs the script; extra environment entries come last and win.
func (h *deployHarness) deploy(extra ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "scripts/deploy.sh")
	cmd.Dir = h.root
	cmd.Env = append(append(os.Environ(), h.env...), extra...)
	// A fake az left behind by a killed script must not hold the output open.
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// calls is every az command line so far, one a line.
func (h *deployHarness) calls() string {
	b, _ := os.ReadFile(h.azLog)
	return string(b)
}

// secret puts a Key Vault secret in place, as an operator would.
func (h *deployHarness) secret(name string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.state, "secret-"+name), []byte("x"), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// published reports whether a publish went through.
func (h *deployHarness) published() bool {
	_, err := os.Stat(filepath.Join(h.state, "published"))
	return err == nil
}

const publishCall = "functionapp deployment source config-zip"

// make deploy's script, offline against a fake az: it refuses a non-EU
// region before touching Azure, creates the pepper only when missing and
// never on a command line, stops before publishing while a referenced
// secret is missing, then publishes and waits for /api/health.
func TestPackageDeployScript(t *testing.T) {
	var healthCalls atomic.Int32
	h := newDeployHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if healthCalls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	})

	// P12: a region outside the EU stops everything before az deploys.
	if out, err := h.deploy("LOCATION=uksouth"); err == nil || !strings.Contains(out, "LOCATION=uksouth is not allowed") {
		t.Fatalf("LOCATION=uksouth: %v\n%s", err, out)
	}
	if strings.Contains(h.calls(), "deployment group create") || strings.Contains(h.calls(), "group create") {
		t.Fatalf("az was asked to create something for a non-EU region:\n%s", h.calls())
	}

	// First run: the pepper is created; the SMTP password is missing, so
	// nothing is published and the operator is told how to create it.
	out, err := h.deploy()
	if err == nil || !strings.Contains(out, "az keyvault secret set --vault-name kv-usera-x -n smtp-password") {
		t.Fatalf("first deploy without the SMTP secret: %v\n%s", err, out)
	}
	if h.published() || strings.Contains(h.calls(), publishCall) {
		t.Fatal("published although a referenced secret is missing")
	}
	if strings.Contains(h.calls(), "appsettings set") {
		t.Errorf("app settings changed while a referenced secret is missing (the platform would only cache the failure again):\n%s", h.calls())
	}
	pepper, err := os.ReadFile(filepath.Join(h.state, "secret-password-pepper"))
	if err != nil {
		t.Fatalf("pepper not created: %v\n%s", err, out)
	}
	// LOG-3, CONF-3: the audit chain key is generated the same way.
	auditKey, err := os.ReadFile(filepath.Join(h.state, "secret-audit-chain-key"))
	if err != nil {
		t.Fatalf("audit chain key not created: %v\n%s", err, out)
	}
	if bytes.Equal(auditKey, pepper) {
		t.Fatal("the audit chain key is the pepper")
	}
	for name, value := range map[string][]byte{"pepper": pepper, "audit chain key": auditKey} {
		if key, err := base64.StdEncoding.Strict().DecodeString(string(value)); err != nil || len(key) < 32 {
			t.Fatalf("%s is not standard base64 of at least 32 bytes (%d bytes, %v)", name, len(key), err)
		}
		if strings.Contains(h.calls(), string(value)) || strings.Contains(out, string(value)) {
			t.Fatalf("the %s value appeared on an az command line or in the output", name)
		}
	}
	if !strings.Contains(h.calls(), "deployment group create -g rg-useradmin-test") || !strings.Contains(h.calls(), "location=westeurope") {
		t.Errorf("deployment not created in westeurope:\n%s", h.calls())
	}

	// Second run, with the secret in place: the pepper is left alone, the
	// package is published and the script waits for health.
	h.secret("smtp-password")
	out, err = h.deploy()
	if err != nil {
		t.Fatalf("second deploy: %v\n%s", err, out)
	}
	if n := strings.Count(h.calls(), "keyvault secret set"); n != 2 {
		t.Errorf("keyvault secret set called %d times over two deploys, want 2 (the pepper and the audit key exist the second time)", n)
	}
	again, _ := os.ReadFile(filepath.Join(h.state, "secret-password-pepper"))
	if !bytes.Equal(again, pepper) {
		t.Error("the second deploy replaced the pepper")
	}
	// az's own wait for the deployment status: two thirds of the default
	// 900 s attempt.
	if !strings.Contains(h.calls(), publishCall+" -g rg-useradmin-test -n func-useradmin-x --src "+h.pkg+" --timeout 600") {
		t.Errorf("package not published with config-zip and --timeout 600:\n%s", h.calls())
	}
	if healthCalls.Load() < 3 || !strings.Contains(out, "health 200") {
		t.Errorf("health polled %d times; output:\n%s", healthCalls.Load(), out)
	}
}

// The first publish to a new app races its role assignments, so a failed
// or silent attempt is retried after a growing wait, and the script gives
// up with a clear message after the last one.
func TestPackageDeployScriptRetriesPublish(t *testing.T) {
	t.Run("fails twice, then succeeds", func(t *testing.T) {
		h := newDeployHarness(t, nil)
		h.secret("smtp-password")
		out, err := h.deploy("FAKE_AZ_PUBLISH_FAILURES=2", "DEPLOY_RETRY_WAIT_SECONDS=1")
		if err != nil {
			t.Fatalf("deploy: %v\n%s", err, out)
		}
		if n := strings.Count(h.calls(), publishCall); n != 3 || !h.published() {
			t.Fatalf("%d publish calls (published: %v), want 3:\n%s", n, h.published(), h.calls())
		}
		for _, want := range []string{
			"fake refusal 1", "deploy: publish attempt 1 of 5 failed (exit status 1)", "retrying in 1s",
			"fake refusal 2", "deploy: publish attempt 2 of 5 failed (exit status 1)", "retrying in 2s",
			"health 200",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output does not say %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "attempt 3 of 5 failed") {
			t.Errorf("the third attempt succeeded but was reported as failed:\n%s", out)
		}
	})

	t.Run("always fails", func(t *testing.T) {
		h := newDeployHarness(t, nil)
		h.secret("smtp-password")
		out, err := h.deploy("FAKE_AZ_PUBLISH_FAILURES=99")
		if err == nil {
			t.Fatalf("deploy succeeded although every publish failed:\n%s", out)
		}
		if n := strings.Count(h.calls(), publishCall); n != 5 {
			t.Errorf("%d publish calls, want 5 (the default PUBLISH_ATTEMPTS):\n%s", n, h.calls())
		}
		for _, want := range []string{"fake refusal 5", "deploy: publish attempt 5 of 5 failed (exit status 1)",
			"deploy: publishing " + h.pkg + " to func-useradmin-x failed 5 times"} {
			if !strings.Contains(out, want) {
				t.Errorf("output does not say %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "health 200") || strings.Contains(h.calls(), "appsettings set") {
			t.Errorf("the script went on after the last failed publish:\n%s", out)
		}
	})

	t.Run("an attempt that never answers", func(t *testing.T) {
		if _, err := exec.LookPath("timeout"); err != nil {
			t.Skip("no timeout command: deploy.sh relies on az's --timeout alone")
		}
		h := newDeployHarness(t, nil)
		h.limit = 20 * time.Second
		h.secret("smtp-password")
		started := time.Now()
		out, err := h.deploy("FAKE_AZ_PUBLISH_HANGS=1", "PUBLISH_TIMEOUT=2")
		if err != nil {
			t.Fatalf("deploy: %v\n%s", err, out)
		}
		if elapsed := time.Since(started); elapsed > 15*time.Second {
			t.Errorf("deploy took %v: the silent attempt was not cut off after 2 s", elapsed)
		}
		if n := strings.Count(h.calls(), publishCall); n != 2 || !h.published() {
			t.Errorf("%d publish calls (published: %v), want 2:\n%s", n, h.published(), h.calls())
		}
		if !strings.Contains(out, "deploy: publish attempt 1 of 5 failed (no result within 2s)") {
			t.Errorf("output does not name the timeout:\n%s", out)
		}
		// az refuses a --timeout below 30 s.
		if !strings.Contains(h.calls(), "--timeout 30 ") {
			t.Errorf("az's --timeout not raised to its minimum of 30:\n%s", h.calls())
		}
	})
}

// Key Vault references the platform could not resolve stay cached until the
// app settings change: once every secret exists, here after the
// pepper was created, the script changes one setting, after the publish.
func TestPackageDeployScriptRefreshesKeyVaultReferences(t *testing.T) {
	h := newDeployHarness(t, nil)
	h.secret("smtp-password")
	out, err := h.deploy()
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(h.state, "secret-password-pepper")); err != nil {
		t.Fatalf("pepper not created: %v\n%s", err, out)
	}
	calls := h.calls()
	refresh := regexp.MustCompile(`(?m)^functionapp config appsettings set -g rg-useradmin-test -n func-useradmin-x --settings KEYVAULT_REFERENCES_REFRESHED_AT=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ -o none$`)
	at := refresh.FindStringIndex(calls)
	if at == nil {
		t.Fatalf("no app settings change after the pepper was created:\n%s", calls)
	}
	if created := strings.Index(calls, "keyvault secret set"); created < 0 || created > at[0] {
		t.Errorf("the app settings changed before the pepper was created:\n%s", calls)
	}
	if published := strings.LastIndex(calls, publishCall); published < 0 || published > at[0] {
		t.Errorf("the app settings changed before the publish (role assignments may not have applied yet):\n%s", calls)
	}
	if n := len(refresh.FindAllStringIndex(calls, -1)); n != 1 {
		t.Errorf("%d app settings changes, want 1:\n%s", n, calls)
	}
	if !strings.Contains(out, "health 200") {
		t.Errorf("deploy did not wait for health after the change:\n%s", out)
	}
}

func httptestServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
