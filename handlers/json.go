package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// decodeError is a request body we refuse; it carries its own code.
type decodeError struct {
	status int
	code   string
	fields []kernel.FieldError
}

func (e *decodeError) Error() string { return e.code }

// decode reads one JSON object into dst (a pointer to a struct): the body
// is size-limited, must be declared as JSON, and may hold only the fields
// dst declares. A field outside the endpoint's allowlist is refused, never
// ignored, so nobody can mass-assign status, role or a password hash.
func decode(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &decodeError{status: http.StatusUnsupportedMediaType, code: codeUnsupportedMedia}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &decodeError{status: http.StatusRequestEntityTooLarge, code: codeTooLarge}
		}
		return &decodeError{status: http.StatusBadRequest, code: codeInvalidJSON}
	}
	var object map[string]json.RawMessage
	if err := json.Unmarshal(body, &object); err != nil || object == nil {
		return &decodeError{status: http.StatusBadRequest, code: codeInvalidJSON}
	}
	allowed := jsonFields(reflect.TypeOf(dst).Elem())
	var unknown []kernel.FieldError
	for name := range object {
		if !allowed[name] {
			unknown = append(unknown, kernel.FieldError{Field: name, Code: "not_allowed"})
		}
	}
	if len(unknown) > 0 {
		sort.Slice(unknown, func(i, j int) bool { return unknown[i].Field < unknown[j].Field })
		return &decodeError{status: http.StatusBadRequest, code: codeUnknownField, fields: unknown}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return &decodeError{status: http.StatusBadRequest, code: codeInvalidField,
				fields: []kernel.FieldError{{Field: typeErr.Field, Code: "invalid_type"}}}
		}
		return &decodeError{status: http.StatusBadRequest, code: codeInvalidJSON}
	}
	return nil
}

// jsonFields lists the JSON names a struct type accepts.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = true
	}
	return out
}

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	return enc.Encode(v)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = jsonEncode(w, v)
}

// withBody is the shape of every endpoint that takes a JSON body: decode
// it into a Req (strictly, see decode), run fn, and turn any error into a
// problem.
func withBody[Req any](s *server, fn func(w http.ResponseWriter, r *http.Request, req Req) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := decode(w, r, s.opts.MaxBodyBytes, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := fn(w, r, req); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// withoutBody is the same for endpoints without a body.
func withoutBody(s *server, fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// noContent answers 204 after a successful call.
func noContent(w http.ResponseWriter, err error) error {
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
	}
	return err
}
