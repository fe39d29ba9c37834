package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/palvelumanuaali/useradmin/internal/delivery"
)

// The fuzz targets of the edge's decoders (API-1): request bodies and the
// custom-handler invocation payloads. `make fuzz` runs them for longer;
// testdata/fuzz holds their seeds and every crasher found.

// fuzzMaxBody is small so that the fuzzer reaches the size limit.
const fuzzMaxBody = 512

// FuzzDecodeBody feeds request bodies to the one JSON decoder of the API,
// with the real request structs of sign-in and invitation. A body is
// accepted only when it is declared as JSON, within the size limit, one
// JSON object with no trailing data, and names only the struct's fields,
// spelled exactly; what is accepted survives a round trip. Anything else
// is a decodeError with a client status and code, never a panic.
func FuzzDecodeBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, contentType string, invite bool) {
		if invite {
			checkDecode[inviteRequest](t, body, contentType)
		} else {
			checkDecode[loginRequest](t, body, contentType)
		}
	})
}

func checkDecode[Req any](t *testing.T, body []byte, contentType string) {
	t.Helper()
	call := func(body []byte) (Req, error) {
		r := httptest.NewRequest(http.MethodPost, "/api/x", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		var req Req
		err := decode(httptest.NewRecorder(), r, fuzzMaxBody, &req)
		return req, err
	}
	req, err := call(body)
	if err != nil {
		var de *decodeError
		if !errors.As(err, &de) {
			t.Fatalf("error %v is not a decodeError", err)
		}
		if !slices.Contains([]int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType}, de.status) {
			t.Fatalf("status %d for %q", de.status, body)
		}
		if _, ok := details[de.code]; !ok {
			t.Fatalf("code %q has no detail", de.code)
		}
		return
	}
	if len(body) > fuzzMaxBody {
		t.Fatalf("accepted %d bytes over the %d-byte limit", len(body), fuzzMaxBody)
	}
	var object map[string]json.RawMessage
	if json.Unmarshal(body, &object) != nil || object == nil {
		t.Fatalf("accepted %q, which is not one JSON object", body)
	}
	allowed := jsonFields(reflect.TypeFor[Req]())
	for name := range object {
		if !allowed[name] {
			t.Fatalf("accepted field %q outside the allowlist", name)
		}
	}
	again, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) > fuzzMaxBody {
		return
	}
	round, err := call(again)
	if err != nil {
		t.Fatalf("the re-encoded body %s is refused: %v", again, err)
	}
	if !reflect.DeepEqual(req, round) {
		t.Fatalf("round trip changed %+v into %+v", req, round)
	}
}

// FuzzUnwrap feeds the custom-handler value decoders: unwrap takes any
// bytes, and gives back a JSON value wrapped in up to two JSON strings as
// it was; messageBody also gives back a binary body sent as base64.
func FuzzUnwrap(f *testing.F) {
	f.Fuzz(func(t *testing.T, inner []byte, depth uint8) {
		_ = unwrap(inner)
		_ = messageBody(inner)

		// A binary body arrives as a JSON string of its base64.
		b64, err := json.Marshal(base64.StdEncoding.EncodeToString(inner))
		if err != nil {
			t.Fatal(err)
		}
		if got := messageBody(b64); !bytes.Equal(got, inner) {
			t.Fatalf("messageBody(%s) = %q, want %q", b64, got, inner)
		}

		trimmed := bytes.TrimSpace(inner)
		if !utf8.Valid(inner) || len(trimmed) == 0 || trimmed[0] == '"' {
			return // a string inside the strings is unwrapped too: by design
		}
		raw := inner
		for range depth % 3 {
			if raw, err = json.Marshal(string(raw)); err != nil {
				t.Fatal(err)
			}
		}
		if got := unwrap(raw); !bytes.Equal(bytes.TrimSpace(got), trimmed) {
			t.Fatalf("unwrap(%s) = %q, want %q", raw, got, trimmed)
		}
	})
}

// recordingReceiver keeps the delivery an invocation handed on.
type recordingReceiver struct {
	got []delivery.Delivery
	err error
}

func (r *recordingReceiver) Receive(_ context.Context, d delivery.Delivery) error {
	r.got = append(r.got, d)
	return r.err
}

// FuzzInvocation posts any body to the SendNotification and timer
// invocations: each answers with the invocation response the host reads
// (200, 400 for a body that is not the host's shape, 500 for a failed
// run), hands on at most one delivery, and never panics.
func FuzzInvocation(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, fail bool) {
		s := &server{log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
		var runErr error
		if fail {
			runErr = errors.New("injected")
		}
		receiver := &recordingReceiver{err: runErr}
		handlers := map[string]http.Handler{
			"SendNotification": s.handleSendNotification(receiver, 10),
			"Timer":            s.handleTimer("failed", func(context.Context) (string, error) { return "ran", runErr }),
		}
		for name, h := range handlers {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+name, bytes.NewReader(body)))
			if !slices.Contains([]int{http.StatusOK, http.StatusBadRequest, http.StatusInternalServerError}, rec.Code) {
				t.Fatalf("%s: status %d", name, rec.Code)
			}
			if fail && rec.Code == http.StatusOK {
				t.Fatalf("%s: a failed run answered 200", name)
			}
			var resp invocationResponse
			dec := json.NewDecoder(rec.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&resp); err != nil || resp.Outputs == nil || resp.Logs == nil {
				t.Fatalf("%s: answer %q is not an invocation response (%v)", name, rec.Body, err)
			}
		}
		if len(receiver.got) > 1 {
			t.Fatalf("%d deliveries from one invocation", len(receiver.got))
		}
	})
}
