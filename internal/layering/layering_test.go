package layering_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/palvelumanuaali/useradmin/"

// The layers, innermost first. Every package of the module is in exactly
// one of them (TestEveryPackageHasALayer), so a new package must be placed
// before it can be built on.
var (
	// kernel is the vocabulary every layer shares: errors, field errors,
	// roles and the permission matrix. It imports only the standard
	// library.
	kernel = []string{"internal/kernel"}
	// domain is the rules: what an account, an organisation, the audit
	// trail, a notification and the lifecycle are, and the services that
	// keep them. It speaks to storage, queues and providers only through
	// interfaces it declares itself.
	domain = []string{
		"internal/accounts", "internal/organizations", "internal/audit", "internal/notify",
		"internal/relay", "internal/lifecycle", "internal/delivery", "internal/passwords", "internal/schedule",
		"internal/privacy",
		"internal/passkeys",
	}
	// adapters are the outside systems, one package each, implementing the
	// domain's interfaces: Table Storage, Service Bus, Key Vault, SES,
	// SMTP.
	adapters = []string{"internal/tablestore", "internal/servicebus", "internal/keyvault", "internal/ses", "internal/smtp"}
	// edge is HTTP: the routes, the problem+json mapping, the Functions
	// invocation envelope, and the contract it serves (api embeds
	// api/openapi.yaml).
	edge = []string{"handlers", "api"}
	// wiring reads the settings and puts the parts together: config and
	// the binary. Only here do the layers meet.
	wiring = []string{"internal/config", "cmd/handler"}
	// support is test and tool code that production code never imports.
	support = []string{"internal/testenv", "internal/notify/notifytest", "internal/passkeys/passkeystest", "internal/layering", "bench", "scripts/zipapp"}
)

// sdk reports whether an import is a cloud SDK.
func sdk(path string) bool {
	return strings.HasPrefix(path, "github.com/Azure/") || strings.HasPrefix(path, "github.com/aws/")
}

type pkg struct {
	ImportPath string
	Imports    []string
	GoFiles    []string
}

// packages lists the module's packages with their non-test imports.
func packages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "../../...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	all := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		all[strings.TrimPrefix(p.ImportPath, module)] = p
	}
	if len(all) < 10 {
		t.Fatalf("go list found %d packages: is the test run from its own folder?", len(all))
	}
	return all
}

func local(imports []string) []string {
	var out []string
	for _, i := range imports {
		if rest, ok := strings.CutPrefix(i, module); ok {
			out = append(out, rest)
		}
	}
	return out
}

func TestEveryPackageHasALayer(t *testing.T) {
	for name := range packages(t) {
		placed := 0
		for _, layer := range [][]string{kernel, domain, adapters, edge, wiring, support} {
			if slices.Contains(layer, name) {
				placed++
			}
		}
		if placed != 1 {
			t.Errorf("%s is in %d layers: place it in exactly one (layering_test.go)", name, placed)
		}
	}
}

func TestLayering(t *testing.T) {
	all := packages(t)
	for name, p := range all {
		mine := local(p.Imports)
		switch {
		case slices.Contains(kernel, name):
			// Rule 1: the kernel is the bottom: the standard library only.
			for _, i := range p.Imports {
				if strings.Contains(strings.SplitN(i, "/", 2)[0], ".") {
					t.Errorf("kernel %s imports %s: the kernel uses the standard library only", name, i)
				}
			}
		case slices.Contains(domain, name):
			// Rule 2: the domain knows no adapter, no HTTP and no cloud
			// SDK: it states what it needs as interfaces, and the wiring
			// plugs the adapters in.
			for _, i := range p.Imports {
				if i == "net/http" || sdk(i) {
					t.Errorf("domain %s imports %s", name, i)
				}
			}
			for _, i := range mine {
				if slices.Contains(adapters, i) || slices.Contains(edge, i) || slices.Contains(wiring, i) {
					t.Errorf("domain %s imports %s (an adapter, the edge or the wiring)", name, i)
				}
			}
		case slices.Contains(adapters, name):
			// Rule 3: an adapter stands alone: it implements the domain's
			// interfaces and never calls another adapter, the edge or the
			// wiring (those compose adapters, not the adapters themselves).
			for _, i := range mine {
				if i != name && (slices.Contains(adapters, i) || slices.Contains(edge, i) || slices.Contains(wiring, i)) {
					t.Errorf("adapter %s imports %s", name, i)
				}
			}
		case slices.Contains(edge, name):
			// Rule 4: the edge calls the domain, never an adapter or the
			// wiring directly.
			for _, i := range mine {
				if slices.Contains(adapters, i) || slices.Contains(wiring, i) {
					t.Errorf("edge %s imports %s", name, i)
				}
			}
		}
		// Rule 5: only the binary mounts the HTTP edge.
		if name != "cmd/handler" && slices.Contains(mine, "handlers") {
			t.Errorf("%s imports handlers: only cmd/handler may", name)
		}
		// Rule 6: the wiring composes adapters without touching a cloud
		// SDK: each adapter opens itself from settings and a credential of
		// its own making, so the SDKs stay behind the adapters.
		if slices.Contains(wiring, name) {
			for _, i := range p.Imports {
				if sdk(i) {
					t.Errorf("wiring %s imports %s: open the adapter instead", name, i)
				}
			}
		}
		// Rule 7: test support never ships.
		if !slices.Contains(support, name) && slices.Contains(mine, "internal/testenv") {
			t.Errorf("%s imports internal/testenv outside its tests", name)
		}
	}
}
