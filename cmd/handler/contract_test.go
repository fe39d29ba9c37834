package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// hostJSON is the part of host.json the handler depends on.
type hostJSON struct {
	Version         string
	ExtensionBundle struct{ ID, Version string }
	CustomHandler   struct {
		Description struct {
			DefaultExecutablePath string
			Arguments             []string
		}
		EnableProxyingHttpRequest bool
	}
	Extensions struct {
		HTTP struct {
			RoutePrefix *string
		}
	}
	FunctionTimeout string
}

type functionJSON struct {
	Bindings []struct {
		Type, Direction, Name, AuthLevel, Route string
		Methods                                 []string
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// The Functions host starts the binary the Makefile builds, proxies HTTP
// to it at the original path (/api/...), and gives the handler the whole
// API through one catch-all HTTP function.
func TestHostJSONRunsThisHandler(t *testing.T) {
	var h hostJSON
	readJSON(t, "../../host.json", &h)
	if h.Version != "2.0" || h.ExtensionBundle.ID != "Microsoft.Azure.Functions.ExtensionBundle" || h.ExtensionBundle.Version != "[4.*, 5.0.0)" {
		t.Errorf("host.json version/bundle = %q %+v", h.Version, h.ExtensionBundle)
	}
	if got, want := h.CustomHandler.Description.DefaultExecutablePath, "handler"; got != want {
		t.Errorf("defaultExecutablePath = %q, want %q (the Makefile stages the binary under that name)", got, want)
	}
	if len(h.CustomHandler.Description.Arguments) != 1 || h.CustomHandler.Description.Arguments[0] != "serve" {
		t.Errorf("arguments = %q, want [serve]", h.CustomHandler.Description.Arguments)
	}
	if !h.CustomHandler.EnableProxyingHttpRequest {
		t.Error("enableProxyingHttpRequest is off: the handler would not see requests at their original path")
	}
	if h.Extensions.HTTP.RoutePrefix == nil || *h.Extensions.HTTP.RoutePrefix != "api" {
		t.Error(`routePrefix must be "api": every route the handler serves starts with /api/`)
	}
	if !regexp.MustCompile(`^00:(0[1-9]|10):00$`).MatchString(h.FunctionTimeout) {
		t.Errorf("functionTimeout %q: keep it explicit and at most 10 minutes", h.FunctionTimeout)
	}
}

func TestHTTPFunctionIsOneProxiedCatchAll(t *testing.T) {
	var f functionJSON
	readJSON(t, filepath.Join("../../functions/HttpApi/function.json"), &f)
	// Proxying applies only to exactly one httpTrigger in and one http out.
	if len(f.Bindings) != 2 || f.Bindings[0].Type != "httpTrigger" || f.Bindings[0].Direction != "in" ||
		f.Bindings[1].Type != "http" || f.Bindings[1].Direction != "out" {
		t.Fatalf("bindings = %+v", f.Bindings)
	}
	in := f.Bindings[0]
	if in.Route != "{*path}" {
		t.Errorf("route = %q, want the catch-all {*path}", in.Route)
	}
	// The API authenticates with its own sessions; a function key would
	// only add a shared secret to the frontend.
	if in.AuthLevel != "anonymous" {
		t.Errorf("authLevel = %q, want anonymous", in.AuthLevel)
	}
	for _, m := range []string{"get", "post", "put", "patch", "delete", "options"} {
		found := false
		for _, x := range in.Methods {
			found = found || x == m
		}
		if !found {
			t.Errorf("method %s not routed to the handler", m)
		}
	}
}

// The handler lifts an invocation's write deadline to config.FunctionTimeout,
// and the sweep's budget stays below it: both must be host.json's
// functionTimeout, or the host and the handler disagree on how long an
// invocation may run.
func TestFunctionTimeoutMatchesHostJSON(t *testing.T) {
	var h hostJSON
	readJSON(t, "../../host.json", &h)
	var hh, mm, ss int
	if _, err := fmt.Sscanf(h.FunctionTimeout, "%d:%d:%d", &hh, &mm, &ss); err != nil {
		t.Fatalf("functionTimeout %q: %v", h.FunctionTimeout, err)
	}
	got := time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute + time.Duration(ss)*time.Second
	if got != config.FunctionTimeout {
		t.Errorf("host.json functionTimeout = %s, config.FunctionTimeout = %s", got, config.FunctionTimeout)
	}
	if got := defaultServeOptions().invocationTimeout; got != config.FunctionTimeout {
		t.Errorf("invocation write deadline %s, want the function timeout %s", got, config.FunctionTimeout)
	}
}

// In Azure the handler does not create its tables at start (a cold start
// spends no storage calls on them): the deployment does. So the Bicep must
// create every table the store uses.
func TestBicepCreatesEveryTable(t *testing.T) {
	raw, err := os.ReadFile("../../infra/modules/storage.bicep")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)var tableSuffixes = \[(.*?)\]`).FindSubmatch(raw)
	if block == nil {
		t.Fatal("storage.bicep: no tableSuffixes array")
	}
	var inBicep []string
	for _, m := range regexp.MustCompile(`'([a-z0-9]+)'`).FindAllSubmatch(block[1], -1) {
		inBicep = append(inBicep, "ua"+string(m[1]))
	}
	st, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionStringFor("http://127.0.0.1:1/devstoreaccount1"), "ua", testenv.AuditKeys())
	if err != nil {
		t.Fatal(err)
	}
	want := st.TableNames()
	slices.Sort(want)
	slices.Sort(inBicep)
	if diff := cmp.Diff(want, inBicep); diff != "" {
		t.Errorf("tables the store uses vs tables storage.bicep creates (-store +bicep):\n%s", diff)
	}
}
