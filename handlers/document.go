package handlers

import (
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"

	"github.com/palvelumanuaali/useradmin/api"
)

// document is one representation of the API contract as served: its
// bytes, media type and strong entity tag.
type document struct {
	body        []byte
	contentType string
	etag        string
}

// documents are the contract's two representations, built once when the
// server is made.
type documents struct {
	yaml, json document
}

func newDocuments(log *slog.Logger) documents {
	d := documents{yaml: newDocument(api.YAML(), "application/yaml")}
	raw, err := api.JSON()
	if err != nil {
		// Cannot happen for a document the tests parse; the JSON route
		// answers 500 rather than half a document.
		log.Error("the API document has no JSON form", "error", err.Error())
		return d
	}
	d.json = newDocument(raw, "application/json")
	return d
}

// newDocument tags body with a strong ETag: a hash of its bytes, so two
// instances of one deployment agree and a new document gets a new tag.
func newDocument(body []byte, contentType string) document {
	sum := sha256.Sum256(body)
	return document{body: body, contentType: contentType, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
}

// handleDocument serves the API contract (api/openapi.yaml), as YAML or
// converted to JSON. It is public: it holds no personal data, only what
// the frontend is built against. Unlike every other answer it may be
// cached; "no-cache" makes a cache ask again each time, so a deployment's
// new document is seen at once and an unchanged one costs a 304.
func (s *server) handleDocument(asJSON bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := s.docs.yaml
		if asJSON {
			d = s.docs.json
		}
		if d.body == nil {
			writeProblem(w, r, http.StatusInternalServerError, codeInternal, nil)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "public, no-cache")
		h.Set("ETag", d.etag)
		if noneMatch(r.Header.Values("If-None-Match"), d.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", d.contentType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(d.body)
	})
}

// noneMatch reports whether an If-None-Match field names etag: "*" or a
// list of entity tags compared weakly (RFC 9110 §13.1.2), so a cache that
// weakened the tag still revalidates.
func noneMatch(fields []string, etag string) bool {
	for _, f := range fields {
		for _, tag := range strings.Split(f, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}
