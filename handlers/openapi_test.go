package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// TestOpenAPIListsExactlyTheRoutes keeps the document and the router in
// step: every operation the router serves is documented, and the document
// promises nothing the router does not serve. Public operations are the
// ones the document marks with an empty security list.
func TestOpenAPIListsExactlyTheRoutes(t *testing.T) {
	t.Parallel()
	d := loadOpenAPI(t)

	var documented, documentedPublic []string
	for _, o := range d.operations() {
		documented = append(documented, o.String())
		if sec, ok := o.op["security"].([]any); ok && len(sec) == 0 {
			documentedPublic = append(documentedPublic, o.String())
		}
	}
	// table only builds handler values; none of them touches the server's
	// fields until a request arrives.
	var served, servedPublic []string
	for _, rt := range (&server{}).table() {
		served = append(served, rt.method+" "+rt.path)
		if rt.public {
			servedPublic = append(servedPublic, rt.method+" "+rt.path)
		}
	}
	for _, l := range [][]string{documented, documentedPublic, served, servedPublic} {
		sort.Strings(l)
	}

	if undocumented := missingFrom(documented, served); len(undocumented) > 0 {
		t.Errorf("the router serves %d operations the document lacks:\n\t%s", len(undocumented), strings.Join(undocumented, "\n\t"))
	}
	if unserved := missingFrom(served, documented); len(unserved) > 0 {
		t.Errorf("the document has %d operations the router does not serve:\n\t%s", len(unserved), strings.Join(unserved, "\n\t"))
	}
	if diff := cmp.Diff(documentedPublic, servedPublic); diff != "" {
		t.Errorf("public operations differ (-document +router):\n%s", diff)
	}
}

// missingFrom lists what is in have but not in list.
func missingFrom(list, have []string) []string {
	var out []string
	for _, h := range have {
		if !slices.Contains(list, h) {
			out = append(out, h)
		}
	}
	return out
}

// problemTypeBase is where the problem types live; each code has its own.
const problemTypeBase = "https://palvelumanuaali.fi/problems/"

// TestOpenAPIDocumentIsValid checks the document itself: its structure,
// that every reference resolves, that every schema compiles as JSON Schema
// 2020-12, and that every example is valid against its schema and tells
// the truth about what the server sends.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	d := loadOpenAPI(t)
	root := d.root.(map[string]any)

	t.Run("it is OpenAPI 3.1.0 with our title and version", func(t *testing.T) {
		if got, want := root["openapi"], any("3.1.0"); got != want {
			t.Errorf("openapi = %v, want %v", got, want)
		}
		info, _ := root["info"].(map[string]any)
		if got, want := info["title"], any("Palvelumanuaali user administration API"); got != want {
			t.Errorf("info.title = %v, want %v", got, want)
		}
		if got, want := info["version"], any("1.0.0"); got != want {
			t.Errorf("info.version = %v, want %v", got, want)
		}
		if desc, _ := info["description"].(string); desc == "" {
			t.Errorf("info.description is empty")
		}
		scheme, _ := root["components"].(map[string]any)["securitySchemes"].(map[string]any)["bearerAuth"].(map[string]any)
		if scheme["type"] != "http" || scheme["scheme"] != "bearer" {
			t.Errorf("securitySchemes.bearerAuth = %v, want an http bearer scheme", scheme)
		}
	})

	t.Run("every reference resolves", func(t *testing.T) {
		walkDoc(d.root, "#", func(ptr string, obj map[string]any) {
			ref, ok := obj["$ref"]
			if !ok {
				return
			}
			s, ok := ref.(string)
			if !ok || !strings.HasPrefix(s, "#/") {
				t.Errorf("%s: $ref %v is not a local reference", ptr, ref)
				return
			}
			if _, ok := d.lookup(s); !ok {
				t.Errorf("%s: $ref %s does not resolve", ptr, s)
			}
		})
	})

	t.Run("every component is used", func(t *testing.T) {
		used := map[string]bool{}
		walkDoc(d.root, "#", func(_ string, obj map[string]any) {
			if s, ok := obj["$ref"].(string); ok {
				used[s] = true
			}
		})
		components, _ := root["components"].(map[string]any)
		for _, kind := range []string{"schemas", "responses", "parameters", "headers", "examples"} {
			byName, _ := components[kind].(map[string]any)
			for name := range byName {
				if ptr := pointer("#/components", kind, name); !used[ptr] {
					t.Errorf("%s is never referenced", ptr)
				}
			}
		}
	})

	t.Run("every component schema compiles", func(t *testing.T) {
		schemas, _ := root["components"].(map[string]any)["schemas"].(map[string]any)
		if len(schemas) == 0 {
			t.Fatal("components.schemas is empty")
		}
		for name := range schemas {
			if _, err := d.schema(pointer("#/components/schemas", name)); err != nil {
				t.Errorf("schema %s: %v", name, err)
			}
		}
	})

	t.Run("every object schema refuses unknown properties", func(t *testing.T) {
		walkDoc(d.root, "#", func(ptr string, obj map[string]any) {
			if obj["type"] == "object" && obj["additionalProperties"] != false {
				t.Errorf("%s: an object schema without additionalProperties: false", ptr)
			}
		})
	})

	t.Run("every operation is complete", func(t *testing.T) {
		tags := map[string]bool{}
		for _, tag := range asList(root["tags"]) {
			name, _ := tag.(map[string]any)["name"].(string)
			tags[name] = true
		}
		public := map[string]bool{}
		for _, p := range publicRoutes {
			public[p] = true
		}
		ids := map[string]string{}
		for _, o := range d.operations() {
			checkOperation(t, d, o, public[o.String()], tags, ids)
		}
	})

	t.Run("every example matches its schema", func(t *testing.T) {
		n := 0
		walkDoc(d.root, "#", func(ptr string, obj map[string]any) {
			if _, ok := obj["schema"]; ok {
				// A media type, parameter or header: example or examples.
				for name, value := range d.examplesOf(t, ptr, obj) {
					n++
					if err := d.validateValue(ptr+"/schema", value); err != nil {
						t.Errorf("%s: example %s does not match the schema:\n%v", ptr, name, err)
					}
				}
				return
			}
			// A schema's own examples (JSON Schema keyword: a list).
			if list, ok := obj["examples"].([]any); ok {
				for i, value := range list {
					n++
					if err := d.validateValue(ptr, value); err != nil {
						t.Errorf("%s: examples[%d] does not match the schema:\n%v", ptr, i, err)
					}
				}
			}
		})
		if n == 0 {
			t.Error("no examples found")
		}
	})

	t.Run("problem examples say what the server says", func(t *testing.T) {
		for _, o := range d.operations() {
			responses, _ := o.op["responses"].(map[string]any)
			for code := range responses {
				resp, respPtr, err := d.resolve(pointer(o.ptr, "responses", code))
				if err != nil {
					continue // reported by "every reference resolves"
				}
				content, _ := resp["content"].(map[string]any)
				mt, ok := content["application/problem+json"].(map[string]any)
				if !ok {
					continue
				}
				mtPtr := pointer(respPtr, "content", "application/problem+json")
				for name, ex := range d.examplesOf(t, mtPtr, mt) {
					checkProblemExample(t, fmt.Sprintf("%s %s example %s", o, code, name), code, ex)
				}
			}
		}
	})

	t.Run("the error codes are exactly the ones the server sends", func(t *testing.T) {
		enum, _ := d.lookup("#/components/schemas/ErrorCode/enum")
		var documented []string
		for _, c := range asList(enum) {
			s, _ := c.(string)
			documented = append(documented, s)
		}
		sent := []string{codeInvalidJSON, codeInvalidField, codeUnknownField, codeTooLarge, codeUnsupportedMedia, codeMethodNotAllowed, codeInternal, codeRateLimited}
		for _, e := range errorStatus {
			if !slices.Contains(sent, e.code) {
				sent = append(sent, e.code)
			}
		}
		sort.Strings(documented)
		sort.Strings(sent)
		if diff := cmp.Diff(documented, sent); diff != "" {
			t.Errorf("ErrorCode enum differs from the codes in problem.go (-document +server):\n%s", diff)
		}
	})
}

// checkOperation checks one operation: names, tags, security, parameters
// and the responses every operation of its kind must document.
func checkOperation(t *testing.T, d *apiDoc, o operation, public bool, tags map[string]bool, ids map[string]string) {
	t.Helper()
	id, _ := o.op["operationId"].(string)
	switch {
	case id == "":
		t.Errorf("%s has no operationId", o)
	case ids[id] != "":
		t.Errorf("%s: operationId %q is also used by %s", o, id, ids[id])
	default:
		ids[id] = o.String()
	}
	if s, _ := o.op["summary"].(string); s == "" {
		t.Errorf("%s has no summary", o)
	}
	opTags := asList(o.op["tags"])
	if len(opTags) == 0 {
		t.Errorf("%s has no tags", o)
	}
	for _, tag := range opTags {
		if s, _ := tag.(string); !tags[s] {
			t.Errorf("%s: tag %v is not declared in the top-level tags", o, tag)
		}
	}

	responses, _ := o.op["responses"].(map[string]any)
	if len(responses) == 0 {
		t.Errorf("%s has no responses", o)
	}
	for code := range responses {
		if n, err := strconv.Atoi(code); err != nil || n < 100 || n > 599 {
			t.Errorf("%s: response key %q is not a status code", o, code)
		}
	}
	want := []string{"500", "503"}

	security, hasSecurity := o.op["security"]
	if public {
		if list, ok := security.([]any); !hasSecurity || !ok || len(list) != 0 {
			t.Errorf("%s is public: want security: [], have %v", o, security)
		}
	} else {
		bearer := false
		for _, req := range asList(security) {
			if _, ok := req.(map[string]any)["bearerAuth"]; ok {
				bearer = true
			}
		}
		if !bearer {
			t.Errorf("%s needs a session: want security bearerAuth, have %v", o, security)
		}
		want = append(want, "401")
	}

	if _, ok := o.op["requestBody"]; ok {
		want = append(want, "400", "413", "415")
		body, bodyPtr, err := d.resolve(o.ptr + "/requestBody")
		if err == nil {
			content, _ := body["content"].(map[string]any)
			if len(content) != 1 || content["application/json"] == nil {
				t.Errorf("%s: the request body must be application/json only, have %v", o, keys(content))
			}
			d.checkMediaTypes(t, o.String()+" request body", bodyPtr, content)
		}
	}
	for _, code := range want {
		if _, ok := responses[code]; !ok {
			t.Errorf("%s does not document status %s", o, code)
		}
	}
	for code := range responses {
		resp, respPtr, err := d.resolve(pointer(o.ptr, "responses", code))
		if err != nil {
			continue
		}
		if desc, _ := resp["description"].(string); desc == "" {
			t.Errorf("%s %s has no description", o, code)
		}
		content, _ := resp["content"].(map[string]any)
		d.checkMediaTypes(t, o.String()+" "+code, respPtr, content)
		for mt := range content {
			n, _ := strconv.Atoi(code)
			if n >= 400 && mt != "application/problem+json" && !(o.String() == "GET /api/health" && n == 503) {
				t.Errorf("%s %s: an error answers application/problem+json, not %s", o, code, mt)
			}
		}
		if n, _ := strconv.Atoi(code); n != http.StatusNoContent && n != http.StatusNotModified && len(content) == 0 {
			t.Errorf("%s %s documents no body", o, code)
		}
	}

	// Path parameters: exactly the template's variables, each required.
	declared := map[string]bool{}
	for _, ptr := range []string{pathItemPointer(o.ptr), o.ptr} {
		params, _ := d.lookup(ptr + "/parameters")
		for i := range asList(params) {
			p, _, err := d.resolve(fmt.Sprintf("%s/parameters/%d", ptr, i))
			if err != nil {
				t.Errorf("%s: parameter %d: %v", o, i, err)
				continue
			}
			if p["in"] == "path" {
				name, _ := p["name"].(string)
				declared[name] = true
				if p["required"] != true {
					t.Errorf("%s: path parameter %s must be required", o, name)
				}
			}
		}
	}
	for _, m := range pathVariable.FindAllString(o.path, -1) {
		name := strings.Trim(m, "{}")
		if !declared[name] {
			t.Errorf("%s: path parameter %s is not declared", o, name)
		}
		delete(declared, name)
	}
	for name := range declared {
		t.Errorf("%s: declares path parameter %s that the path lacks", o, name)
	}
}

// checkMediaTypes requires a schema and at least one example for each
// media type of a request body or response.
func (d *apiDoc) checkMediaTypes(t *testing.T, what, ptr string, content map[string]any) {
	t.Helper()
	for mt, v := range content {
		obj, _ := v.(map[string]any)
		if _, ok := obj["schema"]; !ok {
			t.Errorf("%s %s has no schema", what, mt)
		}
		if len(d.examplesOf(t, pointer(ptr, "content", mt), obj)) == 0 {
			t.Errorf("%s %s has no example", what, mt)
		}
	}
}

// examplesOf returns the example values of a media type, parameter or
// header object: its example, or each of its examples (resolving
// references to components.examples).
func (d *apiDoc) examplesOf(t *testing.T, ptr string, obj map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	if v, ok := obj["example"]; ok {
		out["example"] = v
	}
	examples, _ := obj["examples"].(map[string]any)
	for name := range examples {
		ex, _, err := d.resolve(pointer(ptr, "examples", name))
		if err != nil {
			t.Errorf("%s: example %s: %v", ptr, name, err)
			continue
		}
		v, ok := ex["value"]
		if !ok {
			t.Errorf("%s: example %s has no value", ptr, name)
			continue
		}
		out[name] = v
	}
	return out
}

// checkProblemExample holds a problem example to what writeProblem sends
// for an English reader: the status of the response it documents, the
// status text as title, the type and detail of its code, and the English
// text of each field error (none where the code has none).
func checkProblemExample(t *testing.T, where, status string, ex any) {
	t.Helper()
	p, _ := ex.(map[string]any)
	code, _ := p["code"].(string)
	if got := fmt.Sprint(p["status"]); got != status {
		t.Errorf("%s: status %s in a %s response", where, got, status)
	}
	if got, want := p["title"], statusText(status); got != want {
		t.Errorf("%s: title %q, want %q", where, got, want)
	}
	if got, want := p["type"], problemTypeBase+strings.ReplaceAll(code, "_", "-"); got != want {
		t.Errorf("%s: type %q, want %q", where, got, want)
	}
	if got, want := p["detail"], detail(code, "en"); got != want {
		t.Errorf("%s: detail %q, want the server's English text %q", where, got, want)
	}
	for _, fe := range asList(p["errors"]) {
		f, _ := fe.(map[string]any)
		fcode, _ := f["code"].(string)
		want := localizeFields([]kernel.FieldError{{Field: "x", Code: fcode}}, "en")[0].Detail
		got, _ := f["detail"].(string)
		if got != want {
			t.Errorf("%s: field %v code %s has detail %q, the server sends %q", where, f["field"], fcode, got, want)
		}
	}
}

// walkDoc calls fn for every object in the document with its JSON
// Pointer, skipping example values (they are data, not document).
func walkDoc(v any, ptr string, fn func(ptr string, obj map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(ptr, x)
		_, hasSchema := x["schema"]
		for k, child := range x {
			switch {
			case k == "example", k == "value" && strings.Contains(ptr, "/examples/"):
				continue
			case k == "examples" && hasSchema:
				// Example objects: walk them for their references only.
				for name, e := range asMap(child) {
					if ref, ok := asMap(e)["$ref"]; ok {
						fn(pointer(ptr, k, name), map[string]any{"$ref": ref})
					}
				}
				continue
			}
			walkDoc(child, pointer(ptr, k), fn)
		}
	case []any:
		for i, child := range x {
			walkDoc(child, fmt.Sprintf("%s/%d", ptr, i), fn)
		}
	}
}

// pathItemPointer is the path item that holds the operation at ptr.
func pathItemPointer(ptr string) string {
	return ptr[:strings.LastIndex(ptr, "/")]
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// contractCase is one call whose answer must match the document.
type contractCase struct {
	name string
	// route is the operation's path template as the document names it
	// (/api/users/{id}); empty for answers that belong to no operation
	// (an unknown path, a method the path lacks), which must still be a
	// documented Problem.
	route  string
	status int // the status the call must answer with
	// call builds the request; it may set up what the call needs first.
	call func(t *testing.T) request
	// check, when set, makes further demands on the answer (that a list
	// is not empty, so its item schema is really exercised).
	check func(t *testing.T, r response)
}

// contractFixture is the state the contract cases start from.
type contractFixture struct {
	h *harness

	editor      person // an active editor in testOrganization
	editorToken string

	admin      person // the only active admin, in the service administration
	adminToken string

	orgID    string // an organisation the admin created, with members
	memberID string // an active editor in orgID
}

// TestResponsesMatchTheDocument drives the API through the documented
// answers and checks each against the document: status, media type and
// body schema. The cases are in two tables: foundationContractCases (the
// sign-in and self-service surface) and adminContractCases (users,
// organisations and audit events).
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	f := newContractFixture(t, h)

	var cases []contractCase
	cases = append(cases, foundationContractCases(f)...)
	cases = append(cases, adminContractCases(f)...)
	cases = append(cases, factorContractCases(f)...)
	covered := map[string]bool{}
	ran := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ran++
			rq := tc.call(t)
			r := h.do(t, rq)
			if r.status != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", rq.method, rq.path, r.status, tc.status, r.body)
			}
			if tc.route == "" {
				validateProblem(t, r.status, r.header.Get("Content-Type"), r.body)
				return
			}
			validateResponse(t, rq.method, tc.route, r.status, r.header.Get("Content-Type"), r.body)
			validateHeaders(t, rq.method, tc.route, r.status, r.header)
			covered[rq.method+" "+tc.route] = true
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}

	// Every operation the router serves is exercised at least once (when
	// no -run pattern left cases out).
	if ran < len(cases) {
		return
	}
	for _, rt := range (&server{}).table() {
		if !covered[rt.method+" "+rt.path] {
			t.Errorf("no contract case calls %s %s", rt.method, rt.path)
		}
	}
}

// newContractFixture makes the people and the organisation the cases use.
func newContractFixture(t *testing.T, h *harness) contractFixture {
	t.Helper()
	ctx := context.Background()
	f := contractFixture{h: h}
	f.editor, f.editorToken = h.activeUser(t)

	// The first admin is made the way ops make one: invited straight into
	// the service administration, then accepting the invitation.
	f.admin = person{email: "yllapito-" + testenv.UniqueName(t) + "@palvelumanuaali.example.fi", firstName: "Ylläpitäjä", lastName: "Ensimmäinen"}
	u, err := h.accounts.Invite(ctx, "", accounts.InviteInput{
		Email: f.admin.email, FirstName: f.admin.firstName, LastName: f.admin.lastName,
		OrganizationID: organizations.AdministrationID, Role: kernel.RoleAdmin, Locale: "fi",
	}, kernel.Meta{RequestID: "test"})
	if err != nil {
		t.Fatalf("invite admin: %v", err)
	}
	f.admin.id = u.ID
	invitation, _, err := h.accounts.IssueLinkToken(ctx, u.ID, accounts.PurposeInvitation)
	if err != nil {
		t.Fatalf("issue admin invitation: %v", err)
	}
	si, err := h.accounts.AcceptInvitation(ctx, invitation, strongPassword, true, kernel.Meta{RequestID: "test"})
	if err != nil {
		t.Fatalf("accept admin invitation: %v", err)
	}
	f.adminToken = si.Token

	var org struct{ ID string }
	f.mustDo(t, request{method: "POST", path: "/api/organizations", token: f.adminToken,
		body: map[string]any{"name": map[string]string{"fi": "Tampereen kaupunki", "sv": "Tammerfors stad"}, "type": "municipality",
			"businessId": "0211675-2", "municipalityCode": "837"}}, http.StatusCreated, &org)
	f.orgID = org.ID

	var member struct{ ID string }
	f.mustDo(t, request{method: "POST", path: "/api/users", token: f.adminToken, body: f.invitation(t, "editor")}, http.StatusCreated, &member)
	f.memberID = member.ID
	token, _, err := h.accounts.IssueLinkToken(ctx, member.ID, accounts.PurposeInvitation)
	if err != nil {
		t.Fatalf("issue member invitation: %v", err)
	}
	if _, err := h.accounts.AcceptInvitation(ctx, token, strongPassword, true, kernel.Meta{RequestID: "test"}); err != nil {
		t.Fatalf("accept member invitation: %v", err)
	}
	return f
}

// mustDo makes a setup call and decodes its answer into v.
func (f contractFixture) mustDo(t *testing.T, rq request, status int, v any) response {
	t.Helper()
	r := f.h.do(t, rq)
	if r.status != status {
		t.Fatalf("setup %s %s: status %d, want %d; body %s", rq.method, rq.path, r.status, status, r.body)
	}
	if v != nil {
		r.decode(t, v)
	}
	return r
}

// invitation is an invite body for a new person in the fixture's
// organisation.
func (f contractFixture) invitation(t *testing.T, role string) map[string]string {
	return map[string]string{"email": "kutsuttu-" + testenv.UniqueName(t) + "@tampere.example.fi",
		"firstName": "Aino", "lastName": "Korhonen", "organizationId": f.orgID, "role": role, "locale": "fi"}
}

// invitedUser invites a person through the API and returns their id.
func (f contractFixture) invitedUser(t *testing.T) string {
	t.Helper()
	var u struct{ ID string }
	f.mustDo(t, request{method: "POST", path: "/api/users", token: f.adminToken, body: f.invitation(t, "expert")}, http.StatusCreated, &u)
	return u.ID
}

// etagOf reads the ETag a GET answers with.
func (f contractFixture) etagOf(t *testing.T, path, token string) string {
	t.Helper()
	r := f.mustDo(t, request{method: "GET", path: path, token: token}, http.StatusOK, nil)
	return r.header.Get("ETag")
}

// deliverOutbox moves every account's and organisation's outbox to the
// audit trail the way the relay does in production, so that the audit
// listing and the export have events to show. Notifications are dropped.
func (f contractFixture) deliverOutbox(t *testing.T) {
	t.Helper()
	trail := relay.New(f.h.store, f.h.store, discardPublisher{}, nil, f.h.log, time.Hour, f.h.clock.Now)
	if _, err := trail.CatchUp(context.Background()); err != nil {
		t.Fatalf("deliver outbox: %v", err)
	}
}

// discardPublisher is a notification queue that drops every message.
type discardPublisher struct{}

func (discardPublisher) Publish(context.Context, notify.Message) error { return nil }

// hasItems demands a list answer with at least one item.
func hasItems(field string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		var body map[string]json.RawMessage
		r.decode(t, &body)
		var items []json.RawMessage
		if err := json.Unmarshal(body[field], &items); err != nil || len(items) == 0 {
			t.Errorf("%s is empty, so its items were not checked against the document: %s", field, r.body)
		}
	}
}

// staleETag is a well-formed entity tag that matches no stored version.
const staleETag = `"AAAAAAAAAAAAAAAAAAAAAA"`

// unknownID is a well-formed id nothing has.
const unknownID = "00000000-0000-0000-0000-000000000000"

// foundationContractCases cover signing in, the public auth flows, the
// signed-in person's own account, and the edge's own answers.
func foundationContractCases(f contractFixture) []contractCase {
	h := f.h
	big := `{"email":"` + strings.Repeat("a", 70<<10) + `"}`
	return []contractCase{
		{"health is ok", "/api/health", http.StatusOK, func(t *testing.T) request {
			return request{method: "GET", path: "/api/health"}
		}, nil},
		{"the document as JSON", "/api/openapi.json", http.StatusOK, func(t *testing.T) request {
			return request{method: "GET", path: "/api/openapi.json"}
		}, nil},
		// The YAML's 200 is compared byte for byte in document_test.go.
		{"the document as YAML, revalidated", "/api/openapi.yaml", http.StatusNotModified, func(t *testing.T) request {
			return request{method: "GET", path: "/api/openapi.yaml", header: map[string]string{"If-None-Match": "*"}}
		}, nil},

		{"login signs in", "/api/auth/login", http.StatusOK, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": f.editor.email, "password": strongPassword}}
		}, nil},
		{"login with a wrong password is invalid_credentials", "/api/auth/login", http.StatusUnauthorized, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "nobody@kunta.example.fi", "password": "wrong wrong wrong wrong"}}
		}, nil},
		{"login with an unknown field is unknown_field", "/api/auth/login", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": f.editor.email, "password": strongPassword, "role": "admin"}}
		}, nil},
		{"login with broken JSON is invalid_json", "/api/auth/login", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/login", body: `{"email":`}
		}, nil},
		{"login as text is unsupported_media_type", "/api/auth/login", http.StatusUnsupportedMediaType, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/login", body: `{}`, header: map[string]string{"Content-Type": "text/plain"}}
		}, nil},
		{"login with a huge body is too_large", "/api/auth/login", http.StatusRequestEntityTooLarge, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/login", body: big}
		}, nil},

		{"accepting an invitation signs in", "/api/auth/invitations/accept", http.StatusOK, func(t *testing.T) request {
			_, invitation := h.invite(t)
			return request{method: "POST", path: "/api/auth/invitations/accept",
				body: map[string]any{"token": invitation, "password": strongPassword, "acceptPrivacyNotice": true}}
		}, nil},
		{"accepting with a used-up link is invalid_token", "/api/auth/invitations/accept", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/invitations/accept",
				body: map[string]any{"token": unknownID + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "password": strongPassword, "acceptPrivacyNotice": true}}
		}, nil},
		{"accepting with a weak password is invalid_field", "/api/auth/invitations/accept", http.StatusBadRequest, func(t *testing.T) request {
			_, invitation := h.invite(t)
			return request{method: "POST", path: "/api/auth/invitations/accept",
				body: map[string]any{"token": invitation, "password": "short", "acceptPrivacyNotice": false}}
		}, nil},

		{"a password reset request is accepted", "/api/auth/password-resets", http.StatusAccepted, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/password-resets", body: map[string]string{"email": f.editor.email}}
		}, nil},
		{"completing a reset sets the password", "/api/auth/password-resets/complete", http.StatusNoContent, func(t *testing.T) request {
			p, _ := h.activeUser(t)
			token, _, err := h.accounts.IssueLinkToken(context.Background(), p.id, accounts.PurposePasswordReset)
			if err != nil {
				t.Fatalf("issue reset token: %v", err)
			}
			return request{method: "POST", path: "/api/auth/password-resets/complete",
				body: map[string]string{"token": token, "password": "seitsemän sinistä siiliä soittaa"}}
		}, nil},
		{"completing a reset with a bad link is invalid_token", "/api/auth/password-resets/complete", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/password-resets/complete",
				body: map[string]string{"token": "not-a-token", "password": "seitsemän sinistä siiliä soittaa"}}
		}, nil},

		{"me answers the account", "/api/me", http.StatusOK, func(t *testing.T) request {
			return request{method: "GET", path: "/api/me", token: f.editorToken}
		}, nil},
		{"me without a session is unauthenticated", "/api/me", http.StatusUnauthorized, func(t *testing.T) request {
			return request{method: "GET", path: "/api/me", header: map[string]string{"Accept-Language": "sv"}}
		}, nil},
		{"patching me changes the name", "/api/me", http.StatusOK, func(t *testing.T) request {
			return request{method: "PATCH", path: "/api/me", token: f.editorToken, body: map[string]string{"lastName": "Virtanen", "locale": "sv"}}
		}, nil},
		{"patching me with bad values is invalid_field", "/api/me", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "PATCH", path: "/api/me", token: f.editorToken, body: map[string]string{"firstName": " ", "locale": "de"},
				header: map[string]string{"Accept-Language": "en"}}
		}, nil},
		{"patching me with a stale If-Match is precondition_failed", "/api/me", http.StatusPreconditionFailed, func(t *testing.T) request {
			return request{method: "PATCH", path: "/api/me", token: f.editorToken, body: map[string]string{"firstName": "Maija"},
				header: map[string]string{"If-Match": staleETag}}
		}, nil},
		{"patching my role is unknown_field", "/api/me", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "PATCH", path: "/api/me", token: f.editorToken, body: map[string]string{"role": "admin"}}
		}, nil},

		{"changing my password", "/api/me/password", http.StatusNoContent, func(t *testing.T) request {
			_, token := h.activeUser(t)
			return request{method: "PUT", path: "/api/me/password", token: token,
				body: map[string]string{"currentPassword": strongPassword, "newPassword": "seitsemän sinistä siiliä soittaa"}}
		}, nil},
		{"changing my password with a wrong current one is wrong_password", "/api/me/password", http.StatusForbidden, func(t *testing.T) request {
			return request{method: "PUT", path: "/api/me/password", token: f.editorToken,
				body: map[string]string{"currentPassword": "not the password at all", "newPassword": "seitsemän sinistä siiliä soittaa"}}
		}, nil},
		{"changing my password to a weak one is invalid_field", "/api/me/password", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "PUT", path: "/api/me/password", token: f.editorToken,
				body: map[string]string{"currentPassword": strongPassword, "newPassword": "password"}}
		}, nil},

		{"my export", "/api/me/export", http.StatusOK, func(t *testing.T) request {
			f.deliverOutbox(t)
			return request{method: "GET", path: "/api/me/export", token: f.editorToken}
		}, hasItems("auditEvents")},
		{"ending all my sessions", "/api/me/sessions", http.StatusNoContent, func(t *testing.T) request {
			_, token := h.activeUser(t)
			return request{method: "DELETE", path: "/api/me/sessions", token: token}
		}, nil},
		{"listing my sessions", "/api/me/sessions", http.StatusOK, func(t *testing.T) request {
			return request{method: "GET", path: "/api/me/sessions", token: f.editorToken}
		}, hasItems("items")},
		{"ending one of my sessions", "/api/me/sessions/{sessionId}", http.StatusNoContent, func(t *testing.T) request {
			p, token := h.activeUser(t)
			return request{method: "DELETE", path: "/api/me/sessions/" + h.sessionIDs(t, p.id)[0], token: token}
		}, nil},
		{"ending a session that is not mine is not_found", "/api/me/sessions/{sessionId}", http.StatusNotFound, func(t *testing.T) request {
			return request{method: "DELETE", path: "/api/me/sessions/" + h.sessionIDs(t, f.editor.id)[0], token: f.adminToken}
		}, nil},
		{"logging out", "/api/auth/logout", http.StatusNoContent, func(t *testing.T) request {
			_, token := h.activeUser(t)
			return request{method: "POST", path: "/api/auth/logout", token: token}
		}, nil},
		{"logging out without a session is unauthenticated", "/api/auth/logout", http.StatusUnauthorized, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/logout", token: "not-a-token"}
		}, nil},
		{"asking for my erasure closes my account", "/api/me", http.StatusNoContent, func(t *testing.T) request {
			_, token := h.activeUser(t)
			return request{method: "DELETE", path: "/api/me", token: token}
		}, nil},
		{"the last admin asking for erasure is last_admin", "/api/me", http.StatusConflict, func(t *testing.T) request {
			return request{method: "DELETE", path: "/api/me", token: f.adminToken}
		}, nil},

		{"an unknown path is not_found", "", http.StatusNotFound, func(t *testing.T) request {
			return request{method: "GET", path: "/api/nothing-here"}
		}, nil},
		{"a method the path lacks is method_not_allowed", "", http.StatusMethodNotAllowed, func(t *testing.T) request {
			return request{method: "DELETE", path: "/api/health"}
		}, nil},
	}
}

// adminContractCases cover the users, organisations and audit-event
// surface. Add a case here for each documented answer worth pinning.
func adminContractCases(f contractFixture) []contractCase {
	org := "/api/organizations/" + f.orgID
	member := "/api/users/" + f.memberID
	return []contractCase{
		{"listing organisations", "/api/organizations", http.StatusOK, func(t *testing.T) request {
			return request{method: "GET", path: "/api/organizations?limit=1", token: f.adminToken}
		}, hasItems("items")},
		{"an editor lists their own organisation", "/api/organizations", http.StatusOK, func(t *testing.T) request {
			return request{method: "GET", path: "/api/organizations", token: f.editorToken}
		}, nil},
		{"listing organisations with a bad cursor is invalid_cursor", "/api/organizations", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "GET", path: "/api/organizations?cursor=%21%21", token: f.adminToken}
		}, nil},
		{"listing organisations with too big a page is invalid_field", "/api/organizations", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "GET", path: "/api/organizations?limit=1000", token: f.adminToken}
		}, nil},
		{"creating an organisation", "/api/organizations", http.StatusCreated, func(t *testing.T) request {
			return request{method: "POST", path: "/api/organizations", token: f.adminToken,
				body: map[string]any{"name": map[string]string{"fi": "Työllisyyspalvelut Oy"}, "type": "service_provider", "contactEmail": "info@tyollisyys.example.fi"}}
		}, nil},
		{"an editor creating an organisation is forbidden", "/api/organizations", http.StatusForbidden, func(t *testing.T) request {
			return request{method: "POST", path: "/api/organizations", token: f.editorToken,
				body: map[string]any{"name": map[string]string{"fi": "Ei saa"}, "type": "service_provider"}}
		}, nil},
		{"reading an organisation", "/api/organizations/{id}", http.StatusOK, func(t *testing.T) request {
			return request{method: "GET", path: org, token: f.adminToken}
		}, nil},
		{"reading an organisation one may not see is not_found", "/api/organizations/{id}", http.StatusNotFound, func(t *testing.T) request {
			return request{method: "GET", path: org, token: f.editorToken}
		}, nil},
		{"changing an organisation", "/api/organizations/{id}", http.StatusOK, func(t *testing.T) request {
			return request{method: "PATCH", path: org, token: f.adminToken, body: map[string]string{"contactEmail": "palvelumanuaali@tampere.example.fi"},
				header: map[string]string{"If-Match": f.etagOf(t, org, f.adminToken)}}
		}, nil},
		{"changing an organisation with a stale If-Match is precondition_failed", "/api/organizations/{id}", http.StatusPreconditionFailed, func(t *testing.T) request {
			return request{method: "PATCH", path: org, token: f.adminToken, body: map[string]string{"contactEmail": "x@tampere.example.fi"},
				header: map[string]string{"If-Match": staleETag}}
		}, nil},
		{"deleting an organisation with members is organization_not_empty", "/api/organizations/{id}", http.StatusConflict, func(t *testing.T) request {
			return request{method: "DELETE", path: org, token: f.adminToken}
		}, nil},
		{"deleting an empty organisation", "/api/organizations/{id}", http.StatusNoContent, func(t *testing.T) request {
			var o struct{ ID string }
			f.mustDo(t, request{method: "POST", path: "/api/organizations", token: f.adminToken,
				body: map[string]any{"name": map[string]string{"fi": "Lakkautettava"}, "type": "service_provider"}}, http.StatusCreated, &o)
			return request{method: "DELETE", path: "/api/organizations/" + o.ID, token: f.adminToken}
		}, nil},

		{"listing an organisation's users", "/api/users", http.StatusOK, func(t *testing.T) request {
			return request{method: "GET", path: "/api/users?organizationId=" + f.orgID + "&sort=-name&limit=1", token: f.adminToken}
		}, hasItems("items")},
		{"listing all users", "/api/users", http.StatusOK, func(t *testing.T) request {
			return request{method: "GET", path: "/api/users?q=korhonen", token: f.adminToken}
		}, nil},
		{"listing users with a bad cursor is invalid_cursor", "/api/users", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "GET", path: "/api/users?cursor=bm90LWEtY3Vyc29y", token: f.adminToken}
		}, nil},
		{"listing users with an unknown filter is invalid_field", "/api/users", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "GET", path: "/api/users?email=x", token: f.adminToken}
		}, nil},
		{"inviting a person", "/api/users", http.StatusCreated, func(t *testing.T) request {
			return request{method: "POST", path: "/api/users", token: f.adminToken, body: f.invitation(t, "editor")}
		}, nil},
		{"inviting an existing account one can see is email_taken", "/api/users", http.StatusConflict, func(t *testing.T) request {
			body := f.invitation(t, "editor")
			f.mustDo(t, request{method: "POST", path: "/api/users", token: f.adminToken, body: body}, http.StatusCreated, nil)
			return request{method: "POST", path: "/api/users", token: f.adminToken, body: body}
		}, nil},
		{"an editor inviting is forbidden", "/api/users", http.StatusForbidden, func(t *testing.T) request {
			return request{method: "POST", path: "/api/users", token: f.editorToken, body: f.invitation(t, "editor")}
		}, nil},
		{"reading a user", "/api/users/{id}", http.StatusOK, func(t *testing.T) request {
			return request{method: "GET", path: member, token: f.adminToken}
		}, nil},
		{"reading a user one may not see is not_found", "/api/users/{id}", http.StatusNotFound, func(t *testing.T) request {
			return request{method: "GET", path: member, token: f.editorToken}
		}, nil},
		{"changing a user's role", "/api/users/{id}", http.StatusOK, func(t *testing.T) request {
			return request{method: "PATCH", path: member, token: f.adminToken, body: map[string]string{"role": "expert"},
				header: map[string]string{"If-Match": f.etagOf(t, member, f.adminToken)}}
		}, nil},
		{"changing a user with a stale If-Match is precondition_failed", "/api/users/{id}", http.StatusPreconditionFailed, func(t *testing.T) request {
			return request{method: "PATCH", path: member, token: f.adminToken, body: map[string]string{"firstName": "Eino"},
				header: map[string]string{"If-Match": staleETag}}
		}, nil},
		{"changing one's own role is forbidden", "/api/users/{id}", http.StatusForbidden, func(t *testing.T) request {
			return request{method: "PATCH", path: "/api/users/" + f.admin.id, token: f.adminToken, body: map[string]string{"role": "editor"}}
		}, nil},
		{"closing the last admin is last_admin", "/api/users/{id}", http.StatusConflict, func(t *testing.T) request {
			return request{method: "DELETE", path: "/api/users/" + f.admin.id, token: f.adminToken}
		}, nil},
		{"closing a user", "/api/users/{id}", http.StatusNoContent, func(t *testing.T) request {
			return request{method: "DELETE", path: "/api/users/" + f.invitedUser(t), token: f.adminToken}
		}, nil},
		{"an editor closing someone is not_found", "/api/users/{id}", http.StatusNotFound, func(t *testing.T) request {
			return request{method: "DELETE", path: member, token: f.editorToken}
		}, nil},
		{"restoring a closed user", "/api/users/{id}/restore", http.StatusOK, func(t *testing.T) request {
			id := f.invitedUser(t)
			f.mustDo(t, request{method: "DELETE", path: "/api/users/" + id, token: f.adminToken}, http.StatusNoContent, nil)
			return request{method: "POST", path: "/api/users/" + id + "/restore", token: f.adminToken}
		}, nil},
		{"restoring an open account is not_closed", "/api/users/{id}/restore", http.StatusConflict, func(t *testing.T) request {
			return request{method: "POST", path: member + "/restore", token: f.adminToken}
		}, nil},
		{"re-sending an invitation", "/api/users/{id}/invitation", http.StatusAccepted, func(t *testing.T) request {
			return request{method: "POST", path: "/api/users/" + f.invitedUser(t) + "/invitation", token: f.adminToken}
		}, nil},
		{"re-sending to an active account is not_invited", "/api/users/{id}/invitation", http.StatusConflict, func(t *testing.T) request {
			return request{method: "POST", path: member + "/invitation", token: f.adminToken}
		}, nil},
		{"ending a person's sessions", "/api/users/{id}/sessions", http.StatusNoContent, func(t *testing.T) request {
			return request{method: "DELETE", path: member + "/sessions", token: f.adminToken}
		}, nil},
		{"an editor ending someone's sessions is not_found", "/api/users/{id}/sessions", http.StatusNotFound, func(t *testing.T) request {
			return request{method: "DELETE", path: member + "/sessions", token: f.editorToken}
		}, nil},
		{"a primary user ending an admin's sessions is forbidden", "/api/users/{id}/sessions", http.StatusForbidden, func(t *testing.T) request {
			_, primary := f.h.member(t, organizations.AdministrationID, kernel.RolePrimaryUser)
			return request{method: "DELETE", path: "/api/users/" + f.admin.id + "/sessions", token: primary}
		}, nil},
		{"an unknown user is not_found", "/api/users/{id}", http.StatusNotFound, func(t *testing.T) request {
			return request{method: "GET", path: "/api/users/" + unknownID, token: f.adminToken}
		}, nil},

		{"listing audit events", "/api/audit-events", http.StatusOK, func(t *testing.T) request {
			f.deliverOutbox(t)
			return request{method: "GET", path: "/api/audit-events?organizationId=" + f.orgID + "&limit=2", token: f.adminToken}
		}, hasItems("items")},
		{"an editor listing audit events is forbidden", "/api/audit-events", http.StatusForbidden, func(t *testing.T) request {
			return request{method: "GET", path: "/api/audit-events", token: f.editorToken}
		}, nil},
		{"listing audit events with a bad time is invalid_field", "/api/audit-events", http.StatusBadRequest, func(t *testing.T) request {
			return request{method: "GET", path: "/api/audit-events?from=yesterday", token: f.adminToken}
		}, nil},
	}
}

// factorContractCases cover the second factor: each case has a person of
// its own. The two-step sign-in's 200 is checked against the document in
// TestTwoStepSignInThroughTheAPI (it needs a role that requires a factor).
func factorContractCases(f contractFixture) []contractCase {
	h := f.h
	fresh := func(t *testing.T) string {
		_, token := h.activeUser(t)
		return token
	}
	return []contractCase{
		{"a second step with an unknown challenge is refused", "/api/auth/login/second-factor", http.StatusUnauthorized, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/login/second-factor", body: map[string]string{"challenge": "x", "totp": "123456"}}
		}, nil},
		{"a passkey sign-in starts", "/api/auth/passkey/challenge", http.StatusOK, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/passkey/challenge"}
		}, nil},
		{"a passkey sign-in with an unknown challenge is refused", "/api/auth/passkey", http.StatusUnauthorized, func(t *testing.T) request {
			return request{method: "POST", path: "/api/auth/passkey", body: map[string]any{"challenge": "x", "passkey": map[string]any{"id": "AA", "rawId": "AA", "type": "public-key",
				"response": map[string]string{"clientDataJSON": "AA", "authenticatorData": "AA", "signature": "AA", "userHandle": "AA"}}}}
		}, nil},
		{"the caller's factors are listed", "/api/me/authenticators", http.StatusOK, func(t *testing.T) request {
			token := fresh(t)
			h.confirmedFactor(t, token)
			return request{method: "GET", path: "/api/me/authenticators", token: token}
		}, hasItems("items")},
		{"adding an authenticator app starts", "/api/me/authenticators/totp", http.StatusCreated, func(t *testing.T) request {
			return request{method: "POST", path: "/api/me/authenticators/totp", token: fresh(t), body: map[string]string{"name": "Työpuhelin"}}
		}, nil},
		{"adding a passkey starts", "/api/me/authenticators/passkey", http.StatusCreated, func(t *testing.T) request {
			return request{method: "POST", path: "/api/me/authenticators/passkey", token: fresh(t), body: map[string]string{"name": "Turva-avain"}}
		}, nil},
		{"adding an authenticator app is confirmed", "/api/me/authenticators/{factorId}/confirm", http.StatusOK, func(t *testing.T) request {
			token := fresh(t)
			e := h.beginTOTP(t, token)
			return request{method: "POST", path: "/api/me/authenticators/" + e.Authenticator.ID + "/confirm", token: token,
				body: map[string]string{"code": h.totpCode(t, e.Secret)}}
		}, nil},
		{"a wrong code does not confirm", "/api/me/authenticators/{factorId}/confirm", http.StatusBadRequest, func(t *testing.T) request {
			token := fresh(t)
			e := h.beginTOTP(t, token)
			return request{method: "POST", path: "/api/me/authenticators/" + e.Authenticator.ID + "/confirm", token: token,
				body: map[string]string{"code": "12345x"}}
		}, nil},
		{"a factor is renamed", "/api/me/authenticators/{factorId}", http.StatusOK, func(t *testing.T) request {
			token := fresh(t)
			id, _, _ := h.confirmedFactor(t, token)
			return request{method: "PATCH", path: "/api/me/authenticators/" + id, token: token, body: map[string]string{"name": "Vanha puhelin"}}
		}, nil},
		{"a factor is removed", "/api/me/authenticators/{factorId}", http.StatusNoContent, func(t *testing.T) request {
			token := fresh(t)
			id, _, _ := h.confirmedFactor(t, token)
			return request{method: "DELETE", path: "/api/me/authenticators/" + id, token: token}
		}, nil},
		{"recovery codes are replaced", "/api/me/recovery-codes", http.StatusOK, func(t *testing.T) request {
			token := fresh(t)
			h.confirmedFactor(t, token)
			return request{method: "POST", path: "/api/me/recovery-codes", token: token}
		}, hasItems("recoveryCodes")},
		{"recovery codes need a factor", "/api/me/recovery-codes", http.StatusConflict, func(t *testing.T) request {
			return request{method: "POST", path: "/api/me/recovery-codes", token: fresh(t)}
		}, nil},
		{"reauthentication with a passkey starts", "/api/me/reauthenticate/passkey", http.StatusOK, func(t *testing.T) request {
			token := fresh(t)
			h.addPasskey(t, token)
			return request{method: "POST", path: "/api/me/reauthenticate/passkey", token: token}
		}, nil},
		{"reauthentication with a passkey needs one", "/api/me/reauthenticate/passkey", http.StatusConflict, func(t *testing.T) request {
			return request{method: "POST", path: "/api/me/reauthenticate/passkey", token: fresh(t)}
		}, nil},
		{"reauthentication with the password", "/api/me/reauthenticate", http.StatusNoContent, func(t *testing.T) request {
			return request{method: "POST", path: "/api/me/reauthenticate", token: fresh(t), body: map[string]string{"password": strongPassword}}
		}, nil},
		{"reauthentication with a wrong password", "/api/me/reauthenticate", http.StatusForbidden, func(t *testing.T) request {
			return request{method: "POST", path: "/api/me/reauthenticate", token: fresh(t), body: map[string]string{"password": "not the password at all"}}
		}, nil},
		{"an admin resets a person's factors", "/api/users/{id}/authenticators", http.StatusNoContent, func(t *testing.T) request {
			return request{method: "DELETE", path: "/api/users/" + f.memberID + "/authenticators", token: f.adminToken}
		}, nil},
	}
}
