package tablestore

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// answerWith answers every request itself, with status, an error code
// header and a body that repeats the request URL (and so its keys).
type answerWith struct {
	status int
	code   string
}

func (a answerWith) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	return &http.Response{
		StatusCode: a.status,
		Status:     http.StatusText(a.status),
		Header:     http.Header{"Content-Type": {"application/json"}, "X-Ms-Error-Code": {a.code}},
		Body: io.NopCloser(strings.NewReader(`{"odata.error":{"code":"` + a.code + `","message":{"value":"` +
			raw.URL.String() + ` RequestId:1"}}}`)),
		Request: raw,
	}, nil
}

// P10, LOG-2: a storage error tells the method, the table, the status and
// the storage code, and keeps the domain's sentinels, but never the URL,
// a key (here the hash of an email) or the response body.
func TestStorageErrorsCarrySafeFactsOnly(t *testing.T) {
	t.Parallel()
	const email = "leena.errors@kunta.example.fi"
	key := emailKey(email)
	leaks := []string{key, strings.ToUpper(key), email, "PartitionKey", "RequestId", "odata", "http://", "127.0.0.1"}
	open := func(t *testing.T, connectionString string, opts ...Option) *Store {
		t.Helper()
		s, err := NewFromConnectionString(connectionString, "errs", testenv.AuditKeys(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	azurite := testenv.AzuriteConnectionString(t)
	unreachable := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + testenv.AzuriteAccountKey +
		";TableEndpoint=http://127.0.0.1:1/devstoreaccount1;"
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name     string
		store    *Store
		ctx      context.Context
		call     func(ctx context.Context, s *Store) error
		want     []error
		wantText string
	}{
		{"a busy server is unavailable", open(t, azurite, WithPolicy(answerWith{http.StatusServiceUnavailable, "ServerBusy"})), context.Background(),
			func(ctx context.Context, s *Store) error { _, err := s.UserIDByEmail(ctx, email); return err },
			[]error{kernel.ErrUnavailable}, "storage unavailable: table storage GET errsemails: status 503 ServerBusy"},
		{"a refused transaction is a conflict", open(t, azurite, WithPolicy(answerWith{http.StatusConflict, "EntityAlreadyExists"})), context.Background(),
			func(ctx context.Context, s *Store) error {
				return s.Apply(ctx, accounts.Change{UserID: "u-1", DeleteSessions: []accounts.Session{{Hash: key}}})
			},
			[]error{kernel.ErrConflict}, "changed by someone else: table storage POST $batch: status 409 EntityAlreadyExists"},
		{"a code that is not a plain word is dropped", open(t, azurite, WithPolicy(answerWith{http.StatusBadRequest, key})), context.Background(),
			func(ctx context.Context, s *Store) error { _, err := s.UserIDByEmail(ctx, email); return err },
			nil, "table storage GET errsemails: status 400"},
		{"no answer is unavailable", open(t, unreachable), context.Background(),
			func(ctx context.Context, s *Store) error { _, err := s.UserIDByEmail(ctx, email); return err },
			[]error{kernel.ErrUnavailable}, "storage unavailable: table storage GET errsemails: no answer (*net.OpError)"},
		{"a canceled call stays canceled", open(t, azurite), canceled,
			func(ctx context.Context, s *Store) error { _, err := s.UserIDByEmail(ctx, email); return err },
			[]error{context.Canceled}, "table storage: no answer: context canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.call(tc.ctx, tc.store)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.want {
				if !errors.Is(err, want) {
					t.Errorf("error %q is not %q", err, want)
				}
			}
			if got := err.Error(); got != tc.wantText {
				t.Errorf("error = %q, want %q", got, tc.wantText)
			}
			for _, leak := range leaks {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q contains %q", err, leak)
				}
			}
		})
	}
}
