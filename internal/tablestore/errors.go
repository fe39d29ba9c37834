package tablestore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// storageError is a failed storage call as the rest of the code sees it,
// and as it reaches the logs: the request's method and table, the HTTP
// status and the storage error code (such as EntityAlreadyExists), and
// nothing else (P10). The SDK's own error text is never kept: it starts
// with the request URL, whose path holds the partition and row keys (an
// email claim's key is the hash of an email), and it ends with the
// response body. So the SDK error is not wrapped either; what callers
// test for is: the domain's sentinel (kernel.ErrUnavailable or
// kernel.ErrConflict) and a context's error.
type storageError struct {
	sentinel error  // kernel.ErrUnavailable, kernel.ErrConflict or nil
	method   string // GET, POST, …; "" when unknown
	table    string // "" when unknown; "$batch" for a transaction
	status   int    // 0 when storage did not answer
	code     string // storage's error code; "" when none or not a plain word
	failure  string // without an answer: the Go type of what failed, e.g. *net.OpError
	ctxErr   error  // context.Canceled or context.DeadlineExceeded, if that was the cause
}

func (e *storageError) Error() string {
	var b strings.Builder
	if e.sentinel != nil {
		b.WriteString(e.sentinel.Error())
		b.WriteString(": ")
	}
	b.WriteString("table storage")
	if e.method != "" {
		b.WriteString(" " + e.method)
	}
	if e.table != "" {
		b.WriteString(" " + e.table)
	}
	if e.status != 0 {
		fmt.Fprintf(&b, ": status %d", e.status)
		if e.code != "" {
			b.WriteString(" " + e.code)
		}
	} else {
		b.WriteString(": no answer")
		if e.ctxErr != nil {
			b.WriteString(": " + e.ctxErr.Error())
		} else if e.failure != "" {
			b.WriteString(" (" + e.failure + ")")
		}
	}
	return b.String()
}

func (e *storageError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.sentinel, e.ctxErr} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// newStorageError keeps the safe facts of err, an error from the SDK.
func newStorageError(sentinel, err error) *storageError {
	e := &storageError{sentinel: sentinel}
	var re *azcore.ResponseError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		e.status, e.code = re.StatusCode, errorCode(re.ErrorCode)
		if resp := re.RawResponse; resp != nil && resp.Request != nil {
			e.method, e.table = resp.Request.Method, tableOf(resp.Request.URL)
		}
	case errors.As(err, &ue):
		e.method = strings.ToUpper(ue.Op)
		if u, perr := url.Parse(ue.URL); perr == nil {
			e.table = tableOf(u)
		}
		e.failure = fmt.Sprintf("%T", ue.Err)
	default:
		e.failure = fmt.Sprintf("%T", err)
	}
	for _, c := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, c) {
			e.ctxErr = c
		}
	}
	if e.method != "" && !isWord(e.method) {
		e.method = ""
	}
	return e
}

// tableOf reads the table's name from a request URL: the last path
// segment up to its key predicate, "users" of
// /account/users(PartitionKey='…',RowKey='…'). Keys and the query
// (which holds a filter's values) are left behind. A name that is not a
// plain table name is dropped rather than trusted.
func tableOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	name, _, _ := strings.Cut(path.Base(u.Path), "(")
	if name == "$batch" || (isWord(name) && len(name) <= 63) {
		return name
	}
	return ""
}

// errorCode keeps a storage error code only if it is what storage sends,
// a PascalCase word (ServerBusy, EntityAlreadyExists): a code that could
// carry a key or a message is dropped.
func errorCode(code string) string {
	if len(code) == 0 || len(code) > 64 || code[0] < 'A' || code[0] > 'Z' {
		return ""
	}
	for _, c := range code {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return ""
		}
	}
	return code
}

// isWord reports whether s is ASCII letters and digits only.
func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// classify turns an SDK error into a storageError the rest of the code
// can reason about without SDK types: kernel.ErrUnavailable when a
// retry may succeed (no answer, a timeout, throttling, a server error),
// and a context's own error when the caller gave up. Callers check
// not-found and conflict first.
func classify(err error) error {
	if err == nil {
		return nil
	}
	switch code := statusOf(err); {
	case errors.Is(err, context.Canceled):
		return newStorageError(nil, err)
	case code == 0, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return newStorageError(kernel.ErrUnavailable, err)
	default:
		return newStorageError(nil, err)
	}
}

// classifyTransaction maps a failed transaction. Table Storage answers a
// failed batch as a whole; a precondition failure (a stale ETag), a missing
// row to update or delete, or a row that already exists all mean the
// partition changed since it was read, which callers handle by re-reading.
func classifyTransaction(err error) error {
	if err == nil {
		return nil
	}
	switch statusOf(err) {
	case http.StatusAccepted, http.StatusPreconditionFailed, http.StatusNotFound, http.StatusConflict:
		return newStorageError(kernel.ErrConflict, err)
	}
	return classify(err)
}
