package ses

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeSES is a local stand-in for the SES v2 endpoint. It speaks SES's
// wire protocol (REST-JSON): SendEmail is POST /v2/email/outbound-emails,
// success is 200 with {"MessageId": ...}, and an error is its HTTP status
// with the error code in the X-Amzn-ErrorType header, the way the SDK's
// restjson1 deserializer reads them. Every request is recorded.
type fakeSES struct {
	URL string

	reply reply
	// noRecord keeps memory flat in benchmarks; set it before the first
	// request.
	noRecord bool
	srv      *httptest.Server

	mu       sync.Mutex
	requests []recordedRequest
}

// recordedRequest is one request as the fake received it.
type recordedRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// reply answers one request; req is the decoded SendEmail body.
type reply func(w http.ResponseWriter, r *http.Request, req wireRequest)

// wireRequest is the SendEmail request body as SES receives it. The fake
// decodes it with unknown fields disallowed, so the tests notice anything
// unexpected the adapter sends.
type wireRequest struct {
	FromEmailAddress     string
	ConfigurationSetName string `json:",omitempty"`
	Destination          wireDest
	Content              wireContent
	EmailTags            []wirePair `json:",omitempty"`
}

type wireDest struct {
	ToAddresses []string
}

type wireContent struct {
	Simple wireMessage
}

type wireMessage struct {
	Subject wireText
	Body    wireBody
	Headers []wirePair `json:",omitempty"`
}

type wireBody struct {
	Text *wireText `json:",omitempty"`
	Html *wireText `json:",omitempty"`
}

type wireText struct {
	Data    string
	Charset string
}

type wirePair struct {
	Name  string
	Value string
}

func startFakeSES(t testing.TB, r reply) *fakeSES {
	t.Helper()
	f := &fakeSES{reply: r}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.URL = f.srv.URL
	return f
}

// Close stops the server; its address then refuses connections.
func (f *fakeSES) Close() { f.srv.Close() }

func (f *fakeSES) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !f.noRecord {
		f.mu.Lock()
		f.requests = append(f.requests, recordedRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		f.mu.Unlock()
	}

	if r.Method != http.MethodPost || r.URL.Path != "/v2/email/outbound-emails" {
		apiError(http.StatusNotFound, "UnknownOperationException", "no such operation")(w, r, wireRequest{})
		return
	}
	var req wireRequest
	if err := decodeStrict(body, &req); err != nil {
		apiError(http.StatusBadRequest, "SerializationException", err.Error())(w, r, wireRequest{})
		return
	}
	f.reply(w, r, req)
}

// decodeStrict decodes a SendEmail body, refusing unknown fields.
func decodeStrict(body []byte, req *wireRequest) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(req)
}

// Requests returns the requests received so far.
func (f *fakeSES) Requests() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.requests...)
}

// accept answers like SES after accepting an email.
func accept(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", "a1b2c3d4-0000-4000-8000-000000000001")
	fmt.Fprint(w, `{"MessageId":"010f018f5e2b9c3a-11111111-2222-3333-4444-555555555555-000000"}`)
}

// apiError answers with SES's error shape: the code in X-Amzn-ErrorType,
// with the namespace suffix SES adds, and the message in the body. A %s in
// message becomes the recipient address, because SES echoes it.
func apiError(status int, code, message string) reply {
	return func(w http.ResponseWriter, _ *http.Request, req wireRequest) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-RequestId", "a1b2c3d4-0000-4000-8000-000000000002")
		w.Header().Set("X-Amzn-ErrorType", code+":http://internal.amazon.com/coral/com.amazonaws.sesv2/")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": echo(message, req)})
	}
}

// bodyTypedError answers with the error code only in the body's __type,
// the other shape the SDK accepts.
func bodyTypedError(status int, code, message string) reply {
	return func(w http.ResponseWriter, _ *http.Request, req wireRequest) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sesv2#" + code, "message": echo(message, req)})
	}
}

// bareStatus answers with a status and no body, like a load balancer.
func bareStatus(status int) reply {
	return func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
		w.WriteHeader(status)
	}
}

// htmlStatus answers with a status and an HTML page that echoes the
// recipient, like a proxy in front of the service.
func htmlStatus(status int) reply {
	return func(w http.ResponseWriter, _ *http.Request, req wireRequest) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprint(w, echo("<html><body>Service unavailable for %s</body></html>", req))
	}
}

func echo(message string, req wireRequest) string {
	to := ""
	if len(req.Destination.ToAddresses) > 0 {
		to = req.Destination.ToAddresses[0]
	}
	return strings.ReplaceAll(message, "%s", to)
}
