package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// The served contract is api/openapi.yaml byte for byte, and its JSON is
// the same document: a frontend that generates its types from the URL gets
// what the repository holds. Public: no session, and no header at all.
func TestServedDocumentIsTheFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	file, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}

	y := h.do(t, request{method: "GET", path: "/api/openapi.yaml"})
	if y.status != http.StatusOK {
		t.Fatalf("GET /api/openapi.yaml = %d: %s", y.status, y.body)
	}
	if !bytes.Equal(y.body, file) {
		t.Errorf("the served YAML differs from %s (%d bytes served, %d in the file)", openAPIFile, len(y.body), len(file))
	}
	if ct := y.header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("YAML Content-Type = %q, want application/yaml (RFC 9512)", ct)
	}
	validateHeaders(t, "GET", "/api/openapi.yaml", y.status, y.header)

	j := h.do(t, request{method: "GET", path: "/api/openapi.json"})
	if j.status != http.StatusOK {
		t.Fatalf("GET /api/openapi.json = %d: %s", j.status, j.body)
	}
	if ct := j.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("JSON Content-Type = %q, want application/json", ct)
	}
	validateResponse(t, "GET", "/api/openapi.json", j.status, j.header.Get("Content-Type"), j.body)
	validateHeaders(t, "GET", "/api/openapi.json", j.status, j.header)
	dec := json.NewDecoder(bytes.NewReader(j.body))
	dec.UseNumber()
	var served any
	if err := dec.Decode(&served); err != nil {
		t.Fatalf("the served JSON does not parse: %v", err)
	}
	var node yaml.Node
	if err := yaml.Unmarshal(file, &node); err != nil {
		t.Fatal(err)
	}
	want, err := jsonValue(&node)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, served); diff != "" {
		t.Errorf("the served JSON is not the YAML document (-file +served):\n%s", diff)
	}

	for _, r := range []response{y, j} {
		etag := r.header.Get("ETag")
		if len(etag) < 3 || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
			t.Errorf("ETag %q: want a strong entity tag", etag)
		}
		if cc := r.header.Get("Cache-Control"); cc != "public, no-cache" {
			t.Errorf("Cache-Control = %q, want public, no-cache (any cache, revalidated)", cc)
		}
	}
	if y.header.Get("ETag") == j.header.Get("ETag") {
		t.Error("the YAML and the JSON share an ETag: a strong tag names one representation")
	}
}

// A cache that holds the document revalidates it for a 304 and no body;
// a tag of another version, or of the other representation, gets the
// document.
func TestServedDocumentRevalidates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	for _, path := range []string{"/api/openapi.yaml", "/api/openapi.json"} {
		first := h.do(t, request{method: "GET", path: path})
		etag := first.header.Get("ETag")
		other := "/api/openapi.json"
		if path == other {
			other = "/api/openapi.yaml"
		}
		otherTag := h.do(t, request{method: "GET", path: other}).header.Get("ETag")

		for _, inm := range []string{etag, "W/" + etag, `"old", ` + etag, "*"} {
			r := h.do(t, request{method: "GET", path: path, header: map[string]string{"If-None-Match": inm}})
			if r.status != http.StatusNotModified || len(r.body) != 0 {
				t.Errorf("%s If-None-Match %s = %d with %d bytes, want 304 and no body", path, inm, r.status, len(r.body))
				continue
			}
			if r.header.Get("ETag") != etag {
				t.Errorf("%s 304 ETag = %q, want %q", path, r.header.Get("ETag"), etag)
			}
			validateResponse(t, "GET", path, r.status, r.header.Get("Content-Type"), r.body)
			validateHeaders(t, "GET", path, r.status, r.header)
		}
		for _, inm := range []string{`"old"`, otherTag, strings.Trim(etag, `"`)} {
			r := h.do(t, request{method: "GET", path: path, header: map[string]string{"If-None-Match": inm}})
			if r.status != http.StatusOK || !bytes.Equal(r.body, first.body) {
				t.Errorf("%s If-None-Match %s = %d, want 200 and the document", path, inm, r.status)
			}
		}
	}
}

// Serving the document widens nothing: it is read-only, and a browser on
// an origin the settings do not name gets no CORS grant for it (AUTHZ-1:
// the public allowlist is the only door without a session).
func TestServedDocumentIsReadOnlyAndKeepsCORS(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	for _, path := range []string{"/api/openapi.yaml", "/api/openapi.json"} {
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
			r := h.do(t, request{method: m, path: path, body: "{}"})
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET" {
				t.Errorf("%s %s = %d (Allow %q), want 405 and Allow: GET", m, path, r.status, r.header.Get("Allow"))
			}
		}
		r := h.do(t, request{method: "GET", path: path, header: map[string]string{"Origin": "https://evil.example"}})
		if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s from another origin = %d, ACAO %q: want the document and no CORS grant", path, r.status, r.header.Get("Access-Control-Allow-Origin"))
		}
		r = h.do(t, request{method: "GET", path: path, header: map[string]string{"Origin": testOrigin}})
		if r.header.Get("Access-Control-Allow-Origin") != testOrigin {
			t.Errorf("GET %s from the frontend's origin: ACAO %q, want %q", path, r.header.Get("Access-Control-Allow-Origin"), testOrigin)
		}
	}
}
