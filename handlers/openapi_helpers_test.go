package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// The OpenAPI document (api/openapi.yaml) is the frontend's contract. The
// helpers here load it once, compile its schemas with a JSON Schema 2020-12
// validator, and check real answers against it.

// openAPIFile is the document, relative to this package's directory.
const openAPIFile = "../api/openapi.yaml"

// openAPIURL names the document for the schema compiler; the document is
// added as a resource under it, so nothing is ever fetched.
const openAPIURL = "https://palvelumanuaali.fi/api/openapi.json"

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// apiDoc is the parsed document: JSON-shaped values (map[string]any,
// []any, string, bool, json.Number, nil) and a compiler that holds the
// whole document, so any schema in it can be compiled by its location.
type apiDoc struct {
	root any

	mu       sync.Mutex // guards compiler and compiled
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

var (
	openAPIOnce sync.Once
	openAPIDoc  *apiDoc
	openAPIErr  error
)

// loadOpenAPI returns the document, parsed once per test binary.
func loadOpenAPI(t *testing.T) *apiDoc {
	t.Helper()
	openAPIOnce.Do(func() { openAPIDoc, openAPIErr = parseOpenAPI(openAPIFile) })
	if openAPIErr != nil {
		t.Fatalf("load %s: %v", openAPIFile, openAPIErr)
	}
	return openAPIDoc
}

func parseOpenAPI(path string) (*apiDoc, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var node yaml.Node
	if err := yaml.Unmarshal(raw, &node); err != nil {
		return nil, err
	}
	root, err := jsonValue(&node)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(openAPIURL, root); err != nil {
		return nil, err
	}
	return &apiDoc{root: root, compiler: c, compiled: map[string]*jsonschema.Schema{}}, nil
}

// jsonValue turns a YAML node into the value JSON would give. YAML's own
// readings that JSON lacks are refused or undone: an unquoted date stays
// the string it was written as, and a key given twice is an error rather
// than a silent overwrite (two operations under one path would otherwise
// hide each other).
func jsonValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: want one document", n.Line)
		}
		return jsonValue(n.Content[0])
	case yaml.AliasNode:
		return jsonValue(n.Alias)
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key must be a scalar", k.Line)
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q given twice", k.Line, k.Value)
			}
			val, err := jsonValue(v)
			if err != nil {
				return nil, err
			}
			out[k.Value] = val
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := jsonValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			return b, nil
		case "!!int", "!!float":
			var num json.Number
			if json.Unmarshal([]byte(n.Value), &num) == nil {
				return num, nil
			}
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			// Re-encode so that forms YAML allows and JSON does not (0x1F,
			// 1_000, .5) reach the validator as plain JSON numbers.
			if err := json.Unmarshal([]byte(strconv.FormatFloat(f, 'g', -1, 64)), &num); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			return num, nil
		case "!!str", "!!timestamp":
			return n.Value, nil
		}
		return nil, fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, n.ShortTag())
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// escapePointer escapes one JSON Pointer token (RFC 6901).
func escapePointer(token string) string {
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}

// pointer joins tokens onto a JSON Pointer fragment such as "#/paths".
func pointer(base string, tokens ...string) string {
	for _, tok := range tokens {
		base += "/" + escapePointer(tok)
	}
	return base
}

// lookup returns the value at a JSON Pointer fragment ("#/a/b").
func (d *apiDoc) lookup(ptr string) (any, bool) {
	rest, ok := strings.CutPrefix(ptr, "#")
	if !ok {
		return nil, false
	}
	v := d.root
	if rest == "" {
		return v, true
	}
	if !strings.HasPrefix(rest, "/") {
		return nil, false
	}
	for _, tok := range strings.Split(rest[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// resolve follows $ref from the object at ptr until it reaches one without
// a $ref, and returns that object and where it lives.
func (d *apiDoc) resolve(ptr string) (map[string]any, string, error) {
	for hops := 0; hops < 10; hops++ {
		v, ok := d.lookup(ptr)
		if !ok {
			return nil, ptr, fmt.Errorf("%s does not exist", ptr)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, ptr, fmt.Errorf("%s is not an object", ptr)
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return obj, ptr, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, ptr, fmt.Errorf("%s: $ref %q is not local to the document", ptr, ref)
		}
		ptr = ref
	}
	return nil, ptr, fmt.Errorf("%s: $ref chain too long", ptr)
}

// schema compiles the schema at ptr (a JSON Pointer fragment into the
// document), once.
func (d *apiDoc) schema(ptr string) (*jsonschema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.compiled[ptr]; ok {
		return s, nil
	}
	s, err := d.compiler.Compile(openAPIURL + ptr)
	if err != nil {
		return nil, err
	}
	d.compiled[ptr] = s
	return s, nil
}

// operation is one (method, path) of the document.
type operation struct {
	method, path string // "GET", "/api/users/{id}"
	ptr          string // where the operation object lives
	op           map[string]any
}

func (o operation) String() string { return o.method + " " + o.path }

// operations lists every operation of the document, sorted.
func (d *apiDoc) operations() []operation {
	paths, _ := d.root.(map[string]any)["paths"].(map[string]any)
	var out []operation
	for path, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range httpMethods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			out = append(out, operation{method: strings.ToUpper(m), path: path, ptr: pointer("#/paths", path, m), op: op})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// operation finds the operation for method and a path template.
func (d *apiDoc) operation(method, path string) (operation, bool) {
	for _, o := range d.operations() {
		if o.method == method && o.path == path {
			return o, true
		}
	}
	return operation{}, false
}

// validateValue checks a decoded JSON value against the schema at ptr.
func (d *apiDoc) validateValue(ptr string, v any) error {
	s, err := d.schema(ptr)
	if err != nil {
		return fmt.Errorf("compile %s: %w", ptr, err)
	}
	return s.Validate(v)
}

// validateResponse checks one answer against the document: the operation
// (method and route template, such as /api/users/{id}) must list the
// status, the status must document the answer's media type (or no body
// when it documents none), and the body must match that media type's
// schema.
func validateResponse(t *testing.T, method, routePath string, status int, contentType string, body []byte) {
	t.Helper()
	if err := loadOpenAPI(t).checkResponse(method, routePath, status, contentType, body); err != nil {
		t.Errorf("%s %s answered %d: %v\nbody: %s", method, routePath, status, err, body)
	}
}

func (d *apiDoc) checkResponse(method, routePath string, status int, contentType string, body []byte) error {
	op, ok := d.operation(method, routePath)
	if !ok {
		return fmt.Errorf("the document has no operation %s %s", method, routePath)
	}
	responses, _ := op.op["responses"].(map[string]any)
	code := strconv.Itoa(status)
	if _, ok := responses[code]; !ok {
		listed := make([]string, 0, len(responses))
		for k := range responses {
			listed = append(listed, k)
		}
		sort.Strings(listed)
		return fmt.Errorf("status %d is not documented (documented: %s)", status, strings.Join(listed, ", "))
	}
	resp, respPtr, err := d.resolve(pointer(op.ptr, "responses", code))
	if err != nil {
		return err
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(bytes.TrimSpace(body)) != 0 {
			return fmt.Errorf("the document says status %d has no body", status)
		}
		return nil
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("Content-Type %q: %v", contentType, err)
	}
	if _, ok := content[mediaType]; !ok {
		documented := make([]string, 0, len(content))
		for k := range content {
			documented = append(documented, k)
		}
		sort.Strings(documented)
		return fmt.Errorf("media type %q is not documented for status %d (documented: %s)", mediaType, status, strings.Join(documented, ", "))
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("the body is not JSON: %v", err)
	}
	if err := d.validateValue(pointer(respPtr, "content", mediaType, "schema"), instance); err != nil {
		return fmt.Errorf("the body does not match the documented schema:\n%v", err)
	}
	return nil
}

// validateProblem checks a problem+json answer that belongs to no
// operation (an unknown path, a method the path lacks) against the
// document's Problem schema.
func validateProblem(t *testing.T, status int, contentType string, body []byte) {
	t.Helper()
	d := loadOpenAPI(t)
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/problem+json" {
		t.Errorf("status %d: Content-Type %q, want application/problem+json", status, contentType)
		return
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("status %d: the body is not JSON: %v\nbody: %s", status, err, body)
		return
	}
	if err := d.validateValue("#/components/schemas/Problem", instance); err != nil {
		t.Errorf("status %d: the body is not a documented Problem:\n%v\nbody: %s", status, err, body)
	}
}

// statusText is the reason phrase a problem's title carries.
func statusText(code string) string {
	n, err := strconv.Atoi(code)
	if err != nil {
		return ""
	}
	return http.StatusText(n)
}

// validateHeaders checks that an answer carries every header the document
// lists for its operation and status (X-Request-ID, ETag, Location,
// Retry-After...).
func validateHeaders(t *testing.T, method, routePath string, status int, header http.Header) {
	t.Helper()
	d := loadOpenAPI(t)
	op, ok := d.operation(method, routePath)
	if !ok {
		t.Errorf("the document has no operation %s %s", method, routePath)
		return
	}
	resp, _, err := d.resolve(pointer(op.ptr, "responses", strconv.Itoa(status)))
	if err != nil {
		t.Errorf("%s %s %d: %v", method, routePath, status, err)
		return
	}
	for _, name := range keys(asMap(resp["headers"])) {
		if header.Get(name) == "" {
			t.Errorf("%s %s answered %d without the documented %s header", method, routePath, status, name)
		}
	}
}
