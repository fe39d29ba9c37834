package accounts_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// rowCounter counts storage calls, and the rows query answers carry.
type rowCounter struct {
	calls, rows atomic.Int64
}

func (c *rowCounter) Do(req *policy.Request) (*http.Response, error) {
	c.calls.Add(1)
	resp, err := req.Next()
	if err != nil || resp.Body == nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	if json.Unmarshal(body, &page) == nil {
		c.rows.Add(int64(len(page.Value)))
	}
	return resp, nil
}

// Issue 11: a page of the default list (by name) reads the rows it shows
// and one more, in at most three storage calls, however large the
// organisation: 100 of 1,000 here. Deeper pages cost the same.
func TestListPageByNameReadsAPage(t *testing.T) {
	t.Parallel()
	counter := &rowCounter{}
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), testenv.UniqueName(t), testenv.AuditKeys(), tablestore.WithPolicy(counter))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(t.Context()); err != nil {
		t.Fatal(err)
	}
	svc := accounts.NewService(store, nil, nil, &testenv.Relay{}, testenv.NewClock(t0).Now, (&idSource{}).New, defaultOptions())

	const members = 1000
	var wg sync.WaitGroup
	errs := make(chan error, members)
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				u := accounts.User{ID: fmt.Sprintf("u-%04d", i), OrganizationID: "org-big", Email: fmt.Sprintf("p%04d@example.fi", i),
					FirstName: "Aino", LastName: fmt.Sprintf("Sukunimi%04d", (i*7919)%members), Role: kernel.RoleEditor, Status: kernel.StatusActive}
				if err := store.AddMember(t.Context(), u); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range members {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	admin := accounts.User{ID: "admin-1", Role: kernel.RoleAdmin, Status: kernel.StatusActive, OrganizationID: "org-adm"}
	for _, tc := range []struct {
		name string
		q    accounts.ListQuery
	}{
		{"one organisation by name", accounts.ListQuery{OrganizationID: "org-big", Limit: 100}},
		{"across organisations", accounts.ListQuery{Limit: 100}},
	} {
		q := tc.q
		for page := 1; page <= 3; page++ {
			counter.calls.Store(0)
			counter.rows.Store(0)
			got, err := svc.ListUsers(t.Context(), admin.Actor(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Users) != 100 || got.NextCursor == "" {
				t.Fatalf("%s, page %d: %d users, cursor %q", tc.name, page, len(got.Users), got.NextCursor)
			}
			if want := fmt.Sprintf("Sukunimi%04d", (page-1)*100); got.Users[0].LastName != want {
				t.Errorf("%s, page %d starts with %s, want %s", tc.name, page, got.Users[0].LastName, want)
			}
			calls, rows := counter.calls.Load(), counter.rows.Load()
			t.Logf("%s, page %d: %d storage calls, %d rows", tc.name, page, calls, rows)
			if calls > 3 || rows > int64(q.Limit+1) {
				t.Errorf("%s, page %d: %d storage calls reading %d rows, want at most 3 and %d", tc.name, page, calls, rows, q.Limit+1)
			}
			q.Cursor = got.NextCursor
		}
	}
}

// API-1: a client that rewrites the position inside a real cursor (the
// filters still match) to smuggle a filter into storage gets
// ErrInvalidCursor, never a page and never storage text.
func TestListUsersRefusesAForgedPosition(t *testing.T) {
	t.Parallel()
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), testenv.UniqueName(t), testenv.AuditKeys())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(t.Context()); err != nil {
		t.Fatal(err)
	}
	svc := accounts.NewService(store, nil, nil, &testenv.Relay{}, testenv.NewClock(t0).Now, (&idSource{}).New, defaultOptions())
	for i, last := range []string{"Aalto", "Berg"} {
		u := accounts.User{ID: fmt.Sprintf("u-%d", i), OrganizationID: "org-forged", LastName: last, Role: kernel.RoleEditor, Status: kernel.StatusActive}
		if err := store.AddMember(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	admin := accounts.User{ID: "admin-1", Role: kernel.RoleAdmin, Status: kernel.StatusActive, OrganizationID: "org-adm"}
	q := accounts.ListQuery{Limit: 1}
	first, err := svc.ListUsers(t.Context(), admin.Actor(), q)
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(first.NextCursor)
	if err != nil || !bytes.Contains(raw, []byte("org-forged")) {
		t.Fatalf("the cursor %q does not hold the organisation: %v", raw, err)
	}
	for _, forged := range []string{"org-forged' or PartitionKey ne '", "org-forged' or RowKey gt '"} {
		q.Cursor = base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, []byte("org-forged"), []byte(forged), 1))
		page, err := svc.ListUsers(t.Context(), admin.Actor(), q)
		if !errors.Is(err, kernel.ErrInvalidCursor) || err.Error() != kernel.ErrInvalidCursor.Error() {
			t.Errorf("forged %q: %d users, %v, want just ErrInvalidCursor", forged, len(page.Users), err)
		}
	}
}
