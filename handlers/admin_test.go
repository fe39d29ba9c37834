package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// The administration API's behaviour: invitations, the users list,
// changes, closing and restoring, the last-admin guard, organisations,
// the person's own export and erasure request, and the audit trail.

// mustDo makes a call that has to answer with status.
func (h *harness) mustDo(t *testing.T, rq request, status int) response {
	t.Helper()
	r := h.do(t, rq)
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", rq.method, rq.path, r.status, status, r.body)
	}
	return r
}

// wantProblem checks a refusal's status and code.
func wantProblem(t *testing.T, r response, status int, code string) problemDoc {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	p := r.problem(t)
	if p.Code != code {
		t.Errorf("code = %q, want %q", p.Code, code)
	}
	return p
}

// getUser reads an account through the API.
func (h *harness) getUser(t *testing.T, token, id string) (userJSON, string) {
	t.Helper()
	r := h.mustDo(t, request{method: "GET", path: "/api/users/" + id, token: token}, http.StatusOK)
	var u userJSON
	r.decode(t, &u)
	return u, r.header.Get("ETag")
}

// outbox reads what an account's changes left for the relay.
func (h *harness) outbox(t *testing.T, owner string) (events []audit.Event, messages []notify.Message) {
	t.Helper()
	items, err := h.store.OutboxItems(context.Background(), relay.OwnerFromKey(owner))
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	for _, it := range items {
		if it.Event != nil {
			events = append(events, *it.Event)
		}
		if it.Notification != nil {
			messages = append(messages, *it.Notification)
		}
	}
	return events, messages
}

func countKind(messages []notify.Message, kind notify.Kind) int {
	n := 0
	for _, m := range messages {
		if m.Kind == kind {
			n++
		}
	}
	return n
}

func countAction(events []audit.Event, action audit.Action) int {
	n := 0
	for _, e := range events {
		if e.Action == action {
			n++
		}
	}
	return n
}

// listIDs calls the users list and returns the ids of one page.
func (h *harness) listIDs(t *testing.T, token string, query url.Values) ([]string, string) {
	t.Helper()
	r := h.mustDo(t, request{method: "GET", path: "/api/users?" + query.Encode(), token: token}, http.StatusOK)
	var list userListJSON
	r.decode(t, &list)
	ids := []string{}
	for _, u := range list.Items {
		ids = append(ids, u.ID)
	}
	return ids, list.NextCursor
}

func inviteBody(p person, orgID, role string) map[string]string {
	return map[string]string{"email": p.email, "firstName": p.firstName, "lastName": p.lastName,
		"organizationId": orgID, "role": role, "locale": "fi"}
}

// TestInviteCreatesAnInvitedUser: admins invite into any organisation,
// primary users into their own; the answer locates the new account and
// carries its ETag, and the person gets an invitation email (P2, P3).
func TestInviteCreatesAnInvitedUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	org := h.organization(t, "Kutsukunta")
	_, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)
	_, primary := h.member(t, org, kernel.RolePrimaryUser)

	t.Run("an invitation into an organisation that does not exist is refused", func(t *testing.T) {
		r := h.do(t, request{method: "POST", path: "/api/users", token: admin, body: inviteBody(newPerson(t), "no-such-organisation", roleEditor)})
		p := wantProblem(t, r, http.StatusBadRequest, "invalid_field")
		if diff := cmp.Diff([]problemField{{Field: "organizationId", Code: "unknown_organization"}}, p.Errors, ignoreDetail); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	})

	for _, tc := range []struct {
		name, token, role string
	}{
		{"an admin's invitation of a primary user is created", admin, rolePrimary},
		{"an admin's invitation of an admin is created", admin, roleAdmin},
		{"a primary user's invitation of an editor into their organisation is created", primary, roleEditor},
		{"a primary user's invitation of an expert into their organisation is created", primary, roleExpert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPerson(t)
			r := h.mustDo(t, request{method: "POST", path: "/api/users", token: tc.token, body: inviteBody(p, org, tc.role)}, http.StatusCreated)
			var created userJSON
			r.decode(t, &created)
			if got, want := r.header.Get("Location"), "/api/users/"+created.ID; got != want || created.ID == "" {
				t.Errorf("Location = %q, want %q", got, want)
			}
			// As documented: no ETag on the 201, whether or not the email was
			// taken (P10); a GET gives one.
			if etag := r.header.Get("ETag"); etag != "" {
				t.Errorf("201 with ETag %q", etag)
			}
			want := userJSON{ID: created.ID, Email: p.email, FirstName: p.firstName, LastName: p.lastName,
				OrganizationID: org, Role: tc.role, Status: "invited", Locale: "fi", CreatedAt: h.clock.Now()}
			if diff := cmp.Diff(want, created); diff != "" {
				t.Errorf("created (-want +got):\n%s", diff)
			}
			got, getETag := h.getUser(t, tc.token, created.ID)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("GET (-want +got):\n%s", diff)
			}
			if getETag == "" {
				t.Errorf("GET without an ETag")
			}
			ids, _ := h.listIDs(t, tc.token, url.Values{"organizationId": {org}, "q": {p.email}})
			if diff := cmp.Diff([]string{created.ID}, ids); diff != "" {
				t.Errorf("list of %s (-want +got):\n%s", p.email, diff)
			}
			_, messages := h.outbox(t, created.ID)
			if got := countKind(messages, notify.KindInvitation); got != 1 {
				t.Errorf("%d invitation emails queued, want 1", got)
			}
		})
	}
}

// TestInviteOfATakenEmail: the email is the username, so a second account
// for it is refused (P1) — but only someone who may see the existing
// account learns that it exists. A primary user inviting another
// organisation's person gets an answer shaped like any invitation, and
// nothing is stored or sent (P10).
func TestInviteOfATakenEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	own, other := h.organization(t, "Omakunta"), h.organization(t, "Muukunta")
	_, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)
	_, primary := h.member(t, own, kernel.RolePrimaryUser)

	t.Run("an admin is told the email is taken", func(t *testing.T) {
		existing, _ := h.member(t, other, kernel.RoleEditor)
		again := newPerson(t)
		r := h.do(t, request{method: "POST", path: "/api/users", token: admin,
			body: inviteBody(person{email: strings.ToUpper(existing.email), firstName: again.firstName, lastName: again.lastName}, own, roleEditor)})
		wantProblem(t, r, http.StatusConflict, "email_taken")
	})

	t.Run("a primary user is told the email of their own organisation's person is taken", func(t *testing.T) {
		existing, _ := h.member(t, own, kernel.RoleExpert)
		r := h.do(t, request{method: "POST", path: "/api/users", token: primary, body: inviteBody(existing, own, roleEditor)})
		wantProblem(t, r, http.StatusConflict, "email_taken")
	})

	// P10 (issue 10, defect 3): before, the answer looked like an
	// invitation but nothing was stored, so a GET of the id (404) or the
	// list told a primary user that the address had an account elsewhere.
	// Now the invitation is real in the inviter's organisation and behaves
	// like any other, while the address stays the existing account's (P1).
	t.Run("a primary user inviting another organisation's person cannot tell it from any invitation", func(t *testing.T) {
		existing, existingToken := h.member(t, other, kernel.RoleEditor)
		existingETag := h.storedETag(t, existing.id)
		_, existingMessages := h.outbox(t, existing.id)

		freshPerson := newPerson(t)
		fresh := h.mustDo(t, request{method: "POST", path: "/api/users", token: primary, body: inviteBody(freshPerson, own, roleEditor)}, http.StatusCreated)
		stranger := newPerson(t)
		takenPerson := person{email: existing.email, firstName: stranger.firstName, lastName: stranger.lastName}
		taken := h.mustDo(t, request{method: "POST", path: "/api/users", token: primary, body: inviteBody(takenPerson, own, roleEditor)}, http.StatusCreated)

		// The same shape: headers, fields, and what the fields say.
		if diff := cmp.Diff(headerNames(fresh.header), headerNames(taken.header)); diff != "" {
			t.Errorf("header names (-fresh +taken):\n%s", diff)
		}
		if diff := cmp.Diff(objectKeys(t, fresh.body), objectKeys(t, taken.body)); diff != "" {
			t.Errorf("fields (-fresh +taken):\n%s", diff)
		}
		var f, g userJSON
		fresh.decode(t, &f)
		taken.decode(t, &g)
		if g.Status != "invited" || g.OrganizationID != own || g.Email != existing.email || g.ID == "" || g.ID == existing.id {
			t.Errorf("taken answer = %+v, want an invited account in %s that is not %s", g, own, existing.id)
		}

		// Every later step answers the same for both.
		for _, c := range []struct {
			name string
			rq   func(id string, who person) request
		}{
			{"read", func(id string, _ person) request {
				return request{method: "GET", path: "/api/users/" + id, token: primary}
			}},
			{"listed", func(_ string, who person) request {
				return request{method: "GET", path: "/api/users?q=" + url.QueryEscape(who.email), token: primary}
			}},
			{"re-sent", func(id string, _ person) request {
				return request{method: "POST", path: "/api/users/" + id + "/invitation", token: primary}
			}},
			{"invited again", func(_ string, who person) request {
				return request{method: "POST", path: "/api/users", token: primary, body: inviteBody(who, own, roleEditor)}
			}},
			{"closed", func(id string, _ person) request {
				return request{method: "DELETE", path: "/api/users/" + id, token: primary}
			}},
		} {
			a, b := h.do(t, c.rq(f.ID, freshPerson)), h.do(t, c.rq(g.ID, takenPerson))
			if a.status != b.status {
				t.Errorf("%s: fresh %d, taken %d", c.name, a.status, b.status)
			}
			if len(a.body) == 0 || len(b.body) == 0 {
				if len(a.body) != len(b.body) {
					t.Errorf("%s: bodies of %d and %d bytes", c.name, len(a.body), len(b.body))
				}
			} else if diff := cmp.Diff(objectKeys(t, a.body), objectKeys(t, b.body)); diff != "" {
				t.Errorf("%s: fields (-fresh +taken):\n%s", c.name, diff)
			}
			if c.name == "listed" && !strings.Contains(string(b.body), g.ID) {
				t.Errorf("the taken address's invitation is not listed: %s", b.body)
			}
		}

		// The address is still the existing account's, which is untouched
		// and still signed in; it got a notice, never a link.
		if id, err := h.store.UserIDByEmail(context.Background(), existing.email); err != nil || id != existing.id {
			t.Errorf("the email belongs to %q (%v), want %q", id, err, existing.id)
		}
		if got := h.storedETag(t, existing.id); got != existingETag {
			t.Errorf("the existing account changed")
		}
		h.mustDo(t, request{method: "GET", path: "/api/me", token: existingToken}, http.StatusOK)
		if _, messages := h.outbox(t, existing.id); len(messages) != len(existingMessages) {
			t.Errorf("the existing account's own outbox got %d new emails", len(messages)-len(existingMessages))
		}
		_, messages := h.outbox(t, g.ID)
		notices := 0
		for _, m := range messages {
			switch {
			case m.Kind == notify.KindInvitedElsewhere && m.UserID == existing.id && m.OrganizationID == own:
				notices++
			case m.Kind == notify.KindInvitation:
				t.Errorf("an invitation email was queued for the taken address")
			}
		}
		if notices != 2 { // the invitation and its re-send
			t.Errorf("%d notices to the existing account, want 2", notices)
		}
		if _, _, err := h.accounts.IssueLinkToken(context.Background(), g.ID, accounts.PurposeInvitation); !errors.Is(err, kernel.ErrNotFound) {
			t.Errorf("a link could be minted for the taken address's invitation: %v", err)
		}
		if _, err := h.accounts.PrepareNotification(context.Background(), g.ID, notify.KindAccountClosed, "n-1"); !errors.Is(err, kernel.ErrNotFound) {
			t.Errorf("the taken address's invitation would be mailed: %v", err)
		}
	})
}

// listPerson is one account made for the list tests.
type listPerson struct {
	key    string // a, b, c…: the expected orders are written in these
	first  string
	last   string
	role   kernel.Role
	status kernel.Status
}

// TestListUsersFiltersAndSorts covers the users list's filters (role,
// status, text search on names and email, last activity) and sorts.
// People are made 0.5 s apart so that the time sorts must order
// fractional seconds correctly.
func TestListUsersFiltersAndSorts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	org := h.organization(t, "Listakunta")
	adminP, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)

	start := h.clock.Now()
	people := []listPerson{
		{"a", "Aino", "Aaltonen", kernel.RoleEditor, kernel.StatusActive},
		{"b", "Bertta", "Böök", kernel.RoleExpert, kernel.StatusActive},
		{"c", "Cecilia", "Carlsson", kernel.RolePrimaryUser, kernel.StatusActive},
		{"d", "Daniel", "Dahl", kernel.RoleEditor, kernel.StatusInvited},
		{"e", "Eero", "Ek", kernel.RoleEditor, kernel.StatusClosed},
	}
	tag := testenv.UniqueName(t)
	idOf := map[string]string{}
	keyOf := map[string]string{}
	for i, lp := range people {
		h.clock.Set(start.Add(time.Duration(i) * 500 * time.Millisecond))
		p := person{email: fmt.Sprintf("%s.%s-%s@kunta.example.fi", strings.ToLower(lp.first), strings.ToLower(lp.key), tag),
			firstName: lp.first, lastName: lp.last}
		p, _ = h.account(t, p, org, lp.role, lp.status)
		idOf[lp.key], keyOf[p.id] = p.id, lp.key
	}
	h.clock.Set(start.Add(2 * time.Hour))
	admin = h.login(t, adminP) // the old session timed out meanwhile
	at := func(d time.Duration) string { return start.Add(d).Format(time.RFC3339Nano) }

	for _, tc := range []struct {
		name  string
		query url.Values
		want  string
	}{
		{"everyone, by name", url.Values{}, "abcde"},
		{"role editor is the editors", url.Values{"role": {"editor"}}, "ade"},
		{"status active is the active", url.Values{"status": {"active"}}, "abc"},
		{"status invited is the invited", url.Values{"status": {"invited"}}, "d"},
		{"status closed is the closed", url.Values{"status": {"closed"}}, "e"},
		{"role and status together narrow both", url.Values{"role": {"editor"}, "status": {"active"}}, "a"},
		{"q finds a last name whatever its case", url.Values{"q": {"AALTO"}}, "a"},
		{"q finds a non-ASCII name whatever its case", url.Values{"q": {"BÖÖ"}}, "b"},
		{"q finds a first name", url.Values{"q": {"cecil"}}, "c"},
		{"q finds the full name", url.Values{"q": {"daniel dahl"}}, "d"},
		{"q finds part of an email", url.Values{"q": {"eero.e-"}}, "e"},
		{"q matching nobody is empty", url.Values{"q": {"zzz"}}, ""},
		{"lastActiveBefore is those inactive since, never-active included", url.Values{"lastActiveBefore": {at(750 * time.Millisecond)}}, "abd"},
		{"lastActiveAfter is those active since", url.Values{"lastActiveAfter": {at(750 * time.Millisecond)}}, "ce"},
		{"sort -name is reverse name order", url.Values{"sort": {"-name"}}, "edcba"},
		{"sort email is email order", url.Values{"sort": {"email"}}, "abcde"},
		{"sort -email is reverse email order", url.Values{"sort": {"-email"}}, "edcba"},
		{"sort createdAt is oldest first, fractions of a second included", url.Values{"sort": {"createdAt"}}, "abcde"},
		{"sort -createdAt is newest first", url.Values{"sort": {"-createdAt"}}, "edcba"},
		{"sort lastActiveAt is least recently active first", url.Values{"sort": {"lastActiveAt"}}, "dabce"},
		{"sort -lastActiveAt is most recently active first", url.Values{"sort": {"-lastActiveAt"}}, "ecbad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"organizationId": {org}}
			for k, v := range tc.query {
				q[k] = v
			}
			ids, next := h.listIDs(t, admin, q)
			got := ""
			for _, id := range ids {
				got += keyOf[id]
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if next != "" {
				t.Errorf("nextCursor %q on a short list", next)
			}
		})
	}

	for _, tc := range []struct {
		name  string
		query string
		field string
	}{
		{"an unknown role is refused", "role=owner", "role"},
		{"an unknown status is refused", "status=deleted", "status"},
		{"an unknown sort is refused", "sort=password", "sort"},
		{"a limit of 0 is refused", "limit=0", "limit"},
		{"a limit over 100 is refused", "limit=101", "limit"},
		{"a time that is not RFC 3339 is refused", "lastActiveBefore=yesterday", "lastActiveBefore"},
		{"an unknown parameter is refused", "passwordHash=x", "passwordHash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, request{method: "GET", path: "/api/users?organizationId=" + org + "&" + tc.query, token: admin})
			p := wantProblem(t, r, http.StatusBadRequest, "invalid_field")
			if len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
				t.Errorf("errors = %+v, want one for %s", p.Errors, tc.field)
			}
		})
	}

	t.Run("a sort across organisations is refused", func(t *testing.T) {
		r := h.do(t, request{method: "GET", path: "/api/users?sort=name", token: admin})
		p := wantProblem(t, r, http.StatusBadRequest, "invalid_field")
		if diff := cmp.Diff([]problemField{{Field: "sort", Code: "requires_organization"}}, p.Errors, ignoreDetail); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	})

	// P7, P8: a closed account shows when its data will be erased, which
	// is also the end of its restore window.
	t.Run("a closed account shows erasureDueAt 30 days after closedAt", func(t *testing.T) {
		r := h.mustDo(t, request{method: "GET", path: "/api/users?status=closed&organizationId=" + org, token: admin}, http.StatusOK)
		var list userListJSON
		r.decode(t, &list)
		if len(list.Items) != 1 {
			t.Fatalf("closed: %s", r.body)
		}
		u := list.Items[0]
		if u.ClosedAt.IsZero() || !u.ErasureDueAt.Equal(u.ClosedAt.Add(30*24*time.Hour)) || u.ClosedReason != "removed" {
			t.Errorf("closedAt %v, erasureDueAt %v, reason %q; want erasure 30 days after closing, reason removed", u.ClosedAt, u.ErasureDueAt, u.ClosedReason)
		}
		for _, key := range []string{"a", "d"} {
			u, _ := h.getUser(t, admin, idOf[key])
			if !u.ErasureDueAt.IsZero() || !u.ClosedAt.IsZero() {
				t.Errorf("%s (%s) shows closedAt %v, erasureDueAt %v", key, u.Status, u.ClosedAt, u.ErasureDueAt)
			}
		}
	})
}

// TestListUsersPagesEveryUserOnce pages through 250 people of one
// organisation 100 at a time: each appears exactly once, in order, with a
// cursor on every page but the last. A cursor only works with the filters
// it was made for.
func TestListUsersPagesEveryUserOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	org := h.organization(t, "Suurkunta")
	adminOrg := h.organization(t, "Ylläpito")
	adminP, admin := h.member(t, adminOrg, kernel.RoleAdmin)

	const n = 250
	// Last names in an order unrelated to the order of creation.
	order := rand.Perm(n)
	tag := testenv.UniqueName(t)
	ids := make([]string, n) // by last-name number
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				num := order[i]
				u, err := h.accounts.Invite(context.Background(), "", accounts.InviteInput{
					Email:     fmt.Sprintf("henkilo%03d-%s@kunta.example.fi", num, tag),
					FirstName: "Aino", LastName: fmt.Sprintf("Sukunimi%03d", num),
					OrganizationID: org, Role: kernel.RoleEditor, Locale: "fi",
				}, kernel.Meta{RequestID: "test"})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					ids[num] = u.ID
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("invite: %v", err)
	}

	pageAll := func(t *testing.T, q url.Values) (all []string, sizes []int) {
		t.Helper()
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatal("the cursor never ends")
			}
			page, next := h.listIDs(t, admin, q)
			all = append(all, page...)
			sizes = append(sizes, len(page))
			if next == "" {
				return all, sizes
			}
			q.Set("cursor", next)
		}
	}

	t.Run("by name, every person once in order", func(t *testing.T) {
		all, sizes := pageAll(t, url.Values{"organizationId": {org}, "limit": {"100"}})
		if diff := cmp.Diff(ids, all); diff != "" {
			t.Errorf("paged list (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
			t.Errorf("page sizes (-want +got):\n%s", diff)
		}
	})

	t.Run("by -name, every person once in reverse order", func(t *testing.T) {
		all, _ := pageAll(t, url.Values{"organizationId": {org}, "limit": {"100"}, "sort": {"-name"}})
		want := slices.Clone(ids)
		slices.Reverse(want)
		if diff := cmp.Diff(want, all); diff != "" {
			t.Errorf("paged list (-want +got):\n%s", diff)
		}
	})

	t.Run("across organisations, every person once", func(t *testing.T) {
		all, _ := pageAll(t, url.Values{"limit": {"100"}})
		want := append(slices.Clone(ids), adminP.id)
		sort.Strings(want)
		got := slices.Clone(all)
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("paged list (-want +got):\n%s", diff)
		}
	})

	t.Run("a cursor replayed with other filters is refused", func(t *testing.T) {
		_, next := h.listIDs(t, admin, url.Values{"organizationId": {org}, "limit": {"100"}})
		if next == "" {
			t.Fatal("no cursor on the first page")
		}
		for _, other := range []url.Values{
			{"organizationId": {org}, "sort": {"-name"}},
			{"organizationId": {org}, "q": {"sukunimi1"}},
			{"organizationId": {org}, "role": {"editor"}},
			{"organizationId": {org}, "status": {"invited"}},
			{"organizationId": {adminOrg}},
			{},
		} {
			other.Set("cursor", next)
			r := h.do(t, request{method: "GET", path: "/api/users?" + other.Encode(), token: admin})
			wantProblem(t, r, http.StatusBadRequest, "invalid_cursor")
		}
		r := h.do(t, request{method: "GET", path: "/api/users?cursor=not-a-cursor&organizationId=" + org, token: admin})
		wantProblem(t, r, http.StatusBadRequest, "invalid_cursor")
	})
}

// TestPatchUser: names, role and home organisation change under If-Match;
// a role or organisation change ends the person's sessions and tells them
// by email (P5); nothing else can be set through the admin views.
func TestPatchUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	org, other := h.organization(t, "Omakunta"), h.organization(t, "Muukunta")
	_, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)

	t.Run("names change with a current If-Match and the sessions stay", func(t *testing.T) {
		p, token := h.member(t, org, kernel.RoleEditor)
		_, etag := h.getUser(t, admin, p.id)
		r := h.mustDo(t, request{method: "PATCH", path: "/api/users/" + p.id, token: admin,
			body: map[string]string{"firstName": "Eino", "lastName": "Leino"}, header: map[string]string{"If-Match": etag}}, http.StatusOK)
		var u userJSON
		r.decode(t, &u)
		if u.FirstName != "Eino" || u.LastName != "Leino" {
			t.Errorf("names %q %q, want Eino Leino", u.FirstName, u.LastName)
		}
		next := r.header.Get("ETag")
		if next == "" || next == etag {
			t.Errorf("ETag %q after the change, was %q", next, etag)
		}
		if _, again := h.getUser(t, admin, p.id); again != next {
			t.Errorf("GET ETag %q, PATCH answered %q", again, next)
		}
		h.mustDo(t, request{method: "GET", path: "/api/me", token: token}, http.StatusOK)
		if _, messages := h.outbox(t, p.id); countKind(messages, notify.KindAccessChanged) != 0 {
			t.Errorf("a name change emailed an access change")
		}
		ids, _ := h.listIDs(t, admin, url.Values{"organizationId": {org}, "q": {"eino leino"}})
		if diff := cmp.Diff([]string{p.id}, ids); diff != "" {
			t.Errorf("the list does not show the new names (-want +got):\n%s", diff)
		}
	})

	t.Run("a stale If-Match is 412 and changes nothing", func(t *testing.T) {
		p, _ := h.member(t, org, kernel.RoleEditor)
		_, etag := h.getUser(t, admin, p.id)
		h.mustDo(t, request{method: "PATCH", path: "/api/users/" + p.id, token: admin, body: map[string]string{"firstName": "Eka"}}, http.StatusOK)
		stored := h.storedETag(t, p.id)
		r := h.do(t, request{method: "PATCH", path: "/api/users/" + p.id, token: admin,
			body: map[string]string{"role": "expert"}, header: map[string]string{"If-Match": etag}})
		wantProblem(t, r, http.StatusPreconditionFailed, "precondition_failed")
		if h.storedETag(t, p.id) != stored {
			t.Errorf("the refused change was stored")
		}
	})

	for _, tc := range []struct {
		name   string
		body   func(p person) map[string]string
		fields []string
	}{
		{"a role change ends the sessions and emails the person", func(person) map[string]string { return map[string]string{"role": "expert"} }, []string{"role"}},
		{"a move ends the sessions and emails the person", func(person) map[string]string { return map[string]string{"organizationId": other} }, []string{"organizationId"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, token := h.member(t, org, kernel.RoleEditor)
			_, etag := h.getUser(t, admin, p.id)
			r := h.mustDo(t, request{method: "PATCH", path: "/api/users/" + p.id, token: admin, body: tc.body(p),
				header: map[string]string{"If-Match": etag}}, http.StatusOK)
			var u userJSON
			r.decode(t, &u)
			wantProblem(t, h.do(t, request{method: "GET", path: "/api/me", token: token}), http.StatusUnauthorized, "unauthenticated")
			events, messages := h.outbox(t, p.id)
			var changed []notify.Message
			for _, m := range messages {
				if m.Kind == notify.KindAccessChanged {
					changed = append(changed, m)
				}
			}
			if len(changed) != 1 || changed[0].Role != u.Role || changed[0].OrganizationID != u.OrganizationID {
				t.Errorf("access_changed emails %+v, want one for role %s in %s", changed, u.Role, u.OrganizationID)
			}
			var updated []audit.Event
			for _, e := range events {
				if e.Action == audit.ActionUserUpdated {
					updated = append(updated, e)
				}
			}
			if len(updated) != 1 || !slices.Equal(updated[0].Fields, tc.fields) {
				t.Errorf("user.updated events %+v, want one with fields %v", updated, tc.fields)
			}
			// The person signs in again and has the new access.
			h.mustDo(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": p.email, "password": strongPassword}}, http.StatusOK)
		})
	}

	t.Run("a move takes the person out of the old organisation's list into the new one's", func(t *testing.T) {
		p, _ := h.member(t, org, kernel.RoleEditor)
		h.mustDo(t, request{method: "PATCH", path: "/api/users/" + p.id, token: admin, body: map[string]string{"organizationId": other}}, http.StatusOK)
		if ids, _ := h.listIDs(t, admin, url.Values{"organizationId": {org}, "q": {p.email}}); len(ids) != 0 {
			t.Errorf("still listed in the old organisation")
		}
		if ids, _ := h.listIDs(t, admin, url.Values{"organizationId": {other}, "q": {p.email}}); !slices.Equal(ids, []string{p.id}) {
			t.Errorf("new organisation lists %v, want %s", ids, p.id)
		}
		events, _ := h.outbox(t, p.id)
		for _, e := range events {
			if e.Action == audit.ActionUserMovedOut && e.OrganizationID != org {
				t.Errorf("user.moved_out is in %s, want the old organisation %s", e.OrganizationID, org)
			}
		}
		if countAction(events, audit.ActionUserMovedOut) != 1 {
			t.Errorf("no user.moved_out event for the old organisation's trail")
		}
	})

	t.Run("a move to an organisation that does not exist is refused", func(t *testing.T) {
		p, _ := h.member(t, org, kernel.RoleEditor)
		r := h.do(t, request{method: "PATCH", path: "/api/users/" + p.id, token: admin, body: map[string]string{"organizationId": "no-such-organisation"}})
		pd := wantProblem(t, r, http.StatusBadRequest, "invalid_field")
		if len(pd.Errors) != 1 || pd.Errors[0].Code != "unknown_organization" {
			t.Errorf("errors %+v, want unknown_organization", pd.Errors)
		}
	})

	// Mass assignment: what the admin views may not set is refused, never
	// ignored, and the account does not change.
	victim, _ := h.member(t, org, kernel.RoleEditor)
	for _, field := range []string{"status", "email", "passwordHash", "lastActiveAt", "locale", "id", "closedAt", "privacyNoticeVersion"} {
		t.Run("PATCH with "+field+" is 400 unknown_field", func(t *testing.T) {
			_, before := h.getUser(t, admin, victim.id)
			body := map[string]any{"firstName": "Uusi", field: "2030-01-01T00:00:00Z"}
			r := h.do(t, request{method: "PATCH", path: "/api/users/" + victim.id, token: admin, body: body})
			p := wantProblem(t, r, http.StatusBadRequest, "unknown_field")
			if diff := cmp.Diff([]problemField{{Field: field, Code: "not_allowed"}}, p.Errors, ignoreDetail); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if _, after := h.getUser(t, admin, victim.id); after != before {
				t.Errorf("ETag %q after the refusal, was %q", after, before)
			}
		})
	}
	for _, field := range []string{"status", "passwordHash", "id", "activatedAt"} {
		t.Run("POST /api/users with "+field+" is 400 unknown_field and creates nobody", func(t *testing.T) {
			p := newPerson(t)
			body := map[string]any{"email": p.email, "firstName": p.firstName, "lastName": p.lastName,
				"organizationId": org, "role": "editor", field: "active"}
			r := h.do(t, request{method: "POST", path: "/api/users", token: admin, body: body})
			pd := wantProblem(t, r, http.StatusBadRequest, "unknown_field")
			if diff := cmp.Diff([]problemField{{Field: field, Code: "not_allowed"}}, pd.Errors, ignoreDetail); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if _, err := h.store.UserIDByEmail(context.Background(), p.email); !errors.Is(err, kernel.ErrNotFound) {
				t.Errorf("an account was created: %v", err)
			}
		})
	}
}

// TestCloseAndRestore: removing a person closes their account at once
// (P4); it can be restored within 30 days, with the old password (P8);
// after that it cannot, its data being due for erasure (P7).
func TestCloseAndRestore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	org := h.organization(t, "Omakunta")
	adminP, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)
	login := func(p person) response {
		return h.do(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": p.email, "password": strongPassword}})
	}

	p, token := h.member(t, org, kernel.RoleEditor)
	closedAt := h.clock.Now()
	h.mustDo(t, request{method: "DELETE", path: "/api/users/" + p.id, token: admin}, http.StatusNoContent)

	t.Run("a closed account shows when and why, and when it will be erased", func(t *testing.T) {
		u, _ := h.getUser(t, admin, p.id)
		want := userJSON{Status: "closed", ClosedReason: "removed", ClosedAt: closedAt, ErasureDueAt: closedAt.Add(30 * 24 * time.Hour)}
		got := userJSON{Status: u.Status, ClosedReason: u.ClosedReason, ClosedAt: u.ClosedAt, ErasureDueAt: u.ErasureDueAt}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("closed account (-want +got):\n%s", diff)
		}
	})
	t.Run("the sessions of a closed account are dead", func(t *testing.T) {
		wantProblem(t, h.do(t, request{method: "GET", path: "/api/me", token: token}), http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("a closed account cannot sign in", func(t *testing.T) {
		wantProblem(t, login(p), http.StatusUnauthorized, "invalid_credentials")
	})
	t.Run("closing a closed account again changes nothing", func(t *testing.T) {
		before := h.storedETag(t, p.id)
		h.mustDo(t, request{method: "DELETE", path: "/api/users/" + p.id, token: admin}, http.StatusNoContent)
		if h.storedETag(t, p.id) != before {
			t.Errorf("the second close changed the account")
		}
	})
	t.Run("the person is emailed about the closing", func(t *testing.T) {
		if _, messages := h.outbox(t, p.id); countKind(messages, notify.KindAccountClosed) != 1 {
			t.Errorf("account_closed emails: %d, want 1", countKind(messages, notify.KindAccountClosed))
		}
	})

	t.Run("within 30 days it is restored and the old password works", func(t *testing.T) {
		h.clock.Advance(30*24*time.Hour - time.Minute)
		admin = h.login(t, adminP) // the old session timed out meanwhile
		r := h.mustDo(t, request{method: "POST", path: "/api/users/" + p.id + "/restore", token: admin}, http.StatusOK)
		var u userJSON
		r.decode(t, &u)
		if u.Status != "active" || !u.ClosedAt.IsZero() || u.ClosedReason != "" || !u.ErasureDueAt.IsZero() {
			t.Errorf("restored: %+v", u)
		}
		if r.header.Get("ETag") == "" {
			t.Errorf("restore answered without an ETag")
		}
		h.mustDo(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": p.email, "password": strongPassword}}, http.StatusOK)
		if _, messages := h.outbox(t, p.id); countKind(messages, notify.KindAccountRestored) != 1 {
			t.Errorf("account_restored emails: %d, want 1", countKind(messages, notify.KindAccountRestored))
		}
	})

	t.Run("a restored account that never signed in is invited again, with a new invitation", func(t *testing.T) {
		q, _ := h.account(t, newPerson(t), org, kernel.RoleEditor, kernel.StatusInvited)
		h.mustDo(t, request{method: "DELETE", path: "/api/users/" + q.id, token: admin}, http.StatusNoContent)
		var u userJSON
		h.mustDo(t, request{method: "POST", path: "/api/users/" + q.id + "/restore", token: admin}, http.StatusOK).decode(t, &u)
		if u.Status != "invited" {
			t.Errorf("status %q, want invited", u.Status)
		}
		if _, messages := h.outbox(t, q.id); countKind(messages, notify.KindInvitation) != 2 {
			t.Errorf("invitation emails: %d, want the first and the one sent at restore", countKind(messages, notify.KindInvitation))
		}
	})
	t.Run("a restored admin counts as an admin again", func(t *testing.T) {
		q, _ := h.member(t, org, kernel.RoleAdmin)
		h.mustDo(t, request{method: "DELETE", path: "/api/users/" + q.id, token: admin}, http.StatusNoContent)
		h.mustDo(t, request{method: "POST", path: "/api/users/" + q.id + "/restore", token: admin}, http.StatusOK)
		ids, _, err := h.store.ActiveAdmins(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ids, q.id) {
			t.Errorf("registry %v lacks the restored admin %s", ids, q.id)
		}
	})
	t.Run("restoring an account that is not closed is 409 not_closed", func(t *testing.T) {
		wantProblem(t, h.do(t, request{method: "POST", path: "/api/users/" + p.id + "/restore", token: admin}), http.StatusConflict, "not_closed")
	})

	t.Run("30 days after closing it can no longer be restored", func(t *testing.T) {
		q, _ := h.member(t, org, kernel.RoleEditor)
		h.mustDo(t, request{method: "DELETE", path: "/api/users/" + q.id, token: admin}, http.StatusNoContent)
		h.clock.Advance(30 * 24 * time.Hour)
		admin = h.login(t, adminP)
		r := h.do(t, request{method: "POST", path: "/api/users/" + q.id + "/restore", token: admin})
		wantProblem(t, r, http.StatusGone, "restore_window_passed")
		if u, _ := h.getUser(t, admin, q.id); u.Status != "closed" {
			t.Errorf("status %q after the refused restore", u.Status)
		}
	})
}

// TestResendInvitation: a new invitation email for someone who has not
// signed in yet; nothing for anyone else.
func TestResendInvitation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	org := h.organization(t, "Omakunta")
	_, primary := h.member(t, org, kernel.RolePrimaryUser)

	t.Run("an invited person gets a new invitation email", func(t *testing.T) {
		p, _ := h.account(t, newPerson(t), org, kernel.RoleEditor, kernel.StatusInvited)
		h.mustDo(t, request{method: "POST", path: "/api/users/" + p.id + "/invitation", token: primary}, http.StatusAccepted)
		events, messages := h.outbox(t, p.id)
		if got := countKind(messages, notify.KindInvitation); got != 2 {
			t.Errorf("%d invitation emails, want the first and the re-sent one", got)
		}
		var resent []audit.Event
		for _, e := range events {
			if e.Action == audit.ActionInvitationCreated && e.Reason == "resent" {
				resent = append(resent, e)
			}
		}
		if len(resent) != 1 || resent[0].SubjectID != p.id || resent[0].ActorID == "" {
			t.Errorf("re-sent invitation events %+v, want one about %s by the primary user", resent, p.id)
		}
	})
	t.Run("an active person's invitation is 409 not_invited", func(t *testing.T) {
		p, _ := h.member(t, org, kernel.RoleEditor)
		wantProblem(t, h.do(t, request{method: "POST", path: "/api/users/" + p.id + "/invitation", token: primary}), http.StatusConflict, "not_invited")
	})
}

// TestLastAdminCannotGo: the last active admin can be neither closed nor
// demoted, by anyone (DESIGN §4). Each case has its own tables: the admin
// registry is one per store.
func TestLastAdminCannotGo(t *testing.T) {
	t.Parallel()
	registry := func(t *testing.T, h *harness) []string {
		t.Helper()
		ids, _, err := h.store.ActiveAdmins(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(ids)
		return ids
	}

	t.Run("the only admin is refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{})
		adminOrg := h.organization(t, "Ylläpito")
		a, admin := h.member(t, adminOrg, kernel.RoleAdmin)
		_, primary := h.member(t, adminOrg, kernel.RolePrimaryUser)

		for _, tc := range []struct {
			name  string
			rq    request
			want  int
			code  string
			token string
		}{
			{"DELETE /api/me is 409 last_admin", request{method: "DELETE", path: "/api/me"}, http.StatusConflict, "last_admin", admin},
			{"closing themselves is 409 last_admin", request{method: "DELETE", path: "/api/users/" + a.id}, http.StatusConflict, "last_admin", admin},
			{"a primary user of their organisation closing them is 403 (removing an admin is for admins)", request{method: "DELETE", path: "/api/users/" + a.id}, http.StatusForbidden, "forbidden", primary},
			{"demoting themselves is 403 (nobody changes their own role)", request{method: "PATCH", path: "/api/users/" + a.id, body: map[string]string{"role": "primary_user"}}, http.StatusForbidden, "forbidden", admin},
			{"a primary user demoting them is 403 (never from admin)", request{method: "PATCH", path: "/api/users/" + a.id, body: map[string]string{"role": "editor"}}, http.StatusForbidden, "forbidden", primary},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.rq.token = tc.token
				wantProblem(t, h.do(t, tc.rq), tc.want, tc.code)
				if u, _ := h.getUser(t, admin, a.id); u.Status != "active" || u.Role != "admin" {
					t.Errorf("the admin is %s %s", u.Status, u.Role)
				}
				if diff := cmp.Diff([]string{a.id}, registry(t, h)); diff != "" {
					t.Errorf("registry (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("of two admins one can be demoted, then the other is the last", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{})
		adminOrg := h.organization(t, "Ylläpito")
		a, tokenA := h.member(t, adminOrg, kernel.RoleAdmin)
		b, tokenB := h.member(t, adminOrg, kernel.RoleAdmin)
		h.mustDo(t, request{method: "PATCH", path: "/api/users/" + b.id, token: tokenA, body: map[string]string{"role": "primary_user"}}, http.StatusOK)
		if diff := cmp.Diff([]string{a.id}, registry(t, h)); diff != "" {
			t.Errorf("registry (-want +got):\n%s", diff)
		}
		wantProblem(t, h.do(t, request{method: "GET", path: "/api/me", token: tokenB}), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, h.do(t, request{method: "DELETE", path: "/api/me", token: tokenA}), http.StatusConflict, "last_admin")
	})

	t.Run("of two admins one can be closed, then the other is the last", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{})
		adminOrg := h.organization(t, "Ylläpito")
		a, tokenA := h.member(t, adminOrg, kernel.RoleAdmin)
		_, tokenB := h.member(t, adminOrg, kernel.RoleAdmin)
		h.mustDo(t, request{method: "DELETE", path: "/api/me", token: tokenB}, http.StatusNoContent)
		if diff := cmp.Diff([]string{a.id}, registry(t, h)); diff != "" {
			t.Errorf("registry (-want +got):\n%s", diff)
		}
		wantProblem(t, h.do(t, request{method: "DELETE", path: "/api/users/" + a.id, token: tokenA}), http.StatusConflict, "last_admin")
	})
}

// TestOrganizations: admins create and delete organisations; a primary
// user edits their own; a Finnish business ID must carry its check digit
// and only municipalities have a three-digit municipality code (P4).
func TestOrganizations(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	_, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)

	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		errors []problemField
	}{
		{"a municipality with a valid business ID and code is created",
			map[string]any{"name": map[string]string{"fi": "Helsinki", "sv": "Helsingfors"}, "type": "municipality", "businessId": "0737546-2", "municipalityCode": "091", "contactEmail": "Kirjaamo@Hel.example.fi"},
			http.StatusCreated, nil},
		{"a service provider without a code is created",
			map[string]any{"name": map[string]string{"fi": "Palveluyhtiö"}, "type": "service_provider", "businessId": "0737546-2"},
			http.StatusCreated, nil},
		{"a wrong check digit is refused",
			map[string]any{"name": map[string]string{"fi": "Helsinki"}, "type": "municipality", "businessId": "0737546-3"},
			http.StatusBadRequest, []problemField{{Field: "businessId", Code: "invalid_business_id"}}},
		{"a business ID without its dash is refused",
			map[string]any{"name": map[string]string{"fi": "Helsinki"}, "type": "municipality", "businessId": "07375462"},
			http.StatusBadRequest, []problemField{{Field: "businessId", Code: "invalid_business_id"}}},
		{"a two-digit municipality code is refused",
			map[string]any{"name": map[string]string{"fi": "Helsinki"}, "type": "municipality", "municipalityCode": "91"},
			http.StatusBadRequest, []problemField{{Field: "municipalityCode", Code: "invalid_municipality_code"}}},
		{"a four-digit municipality code is refused",
			map[string]any{"name": map[string]string{"fi": "Helsinki"}, "type": "municipality", "municipalityCode": "0091"},
			http.StatusBadRequest, []problemField{{Field: "municipalityCode", Code: "invalid_municipality_code"}}},
		{"a municipality code outside municipalities is refused",
			map[string]any{"name": map[string]string{"fi": "Palveluyhtiö"}, "type": "service_provider", "municipalityCode": "091"},
			http.StatusBadRequest, []problemField{{Field: "municipalityCode", Code: "only_for_municipalities"}}},
		{"a missing Finnish name is refused",
			map[string]any{"name": map[string]string{"sv": "Helsingfors"}, "type": "municipality"},
			http.StatusBadRequest, []problemField{{Field: "name.fi", Code: "required"}}},
		{"an unknown type is refused",
			map[string]any{"name": map[string]string{"fi": "Helsinki"}, "type": "company"},
			http.StatusBadRequest, []problemField{{Field: "type", Code: "invalid_type"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, request{method: "POST", path: "/api/organizations", token: admin, body: tc.body})
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if tc.status != http.StatusCreated {
				p := r.problem(t)
				if diff := cmp.Diff(tc.errors, p.Errors, ignoreDetail); diff != "" || p.Code != "invalid_field" {
					t.Errorf("code %q, errors (-want +got):\n%s", p.Code, diff)
				}
				return
			}
			var o orgJSON
			r.decode(t, &o)
			if got, want := r.header.Get("Location"), "/api/organizations/"+o.ID; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			get := h.mustDo(t, request{method: "GET", path: "/api/organizations/" + o.ID, token: admin}, http.StatusOK)
			if got, want := get.header.Get("ETag"), r.header.Get("ETag"); got != want || got == "" {
				t.Errorf("GET ETag %q, the 201's %q", got, want)
			}
			// A mailbox to write to, kept as typed (not folded into a key).
			if want, _ := tc.body["contactEmail"].(string); o.ContactEmail != want {
				t.Errorf("contactEmail %q, want %q as typed", o.ContactEmail, want)
			}
		})
	}

	own, other := h.organization(t, "Omakunta"), h.organization(t, "Muukunta")
	_, primary := h.member(t, own, kernel.RolePrimaryUser)

	t.Run("a primary user edits their own organisation", func(t *testing.T) {
		get := h.mustDo(t, request{method: "GET", path: "/api/organizations/" + own, token: primary}, http.StatusOK)
		r := h.mustDo(t, request{method: "PATCH", path: "/api/organizations/" + own, token: primary,
			body:   map[string]any{"name": map[string]string{"fi": "Omakunta", "en": "Own Municipality"}, "contactEmail": "kirjaamo@omakunta.example.fi"},
			header: map[string]string{"If-Match": get.header.Get("ETag")}}, http.StatusOK)
		var o orgJSON
		r.decode(t, &o)
		if o.Name.EN != "Own Municipality" || o.ContactEmail != "kirjaamo@omakunta.example.fi" {
			t.Errorf("patched: %+v", o)
		}
		stale := h.do(t, request{method: "PATCH", path: "/api/organizations/" + own, token: primary,
			body: map[string]any{"name": map[string]string{"fi": "Vanha"}}, header: map[string]string{"If-Match": get.header.Get("ETag")}})
		wantProblem(t, stale, http.StatusPreconditionFailed, "precondition_failed")
	})
	t.Run("a primary user's edit of another organisation is 404", func(t *testing.T) {
		r := h.do(t, request{method: "PATCH", path: "/api/organizations/" + other, token: primary, body: map[string]any{"name": map[string]string{"fi": "Vallattu"}}})
		wantProblem(t, r, http.StatusNotFound, "not_found")
	})
	t.Run("a primary user cannot change the type", func(t *testing.T) {
		r := h.do(t, request{method: "PATCH", path: "/api/organizations/" + own, token: primary, body: map[string]any{"type": "administration"}})
		wantProblem(t, r, http.StatusBadRequest, "unknown_field")
	})
	t.Run("an organisation with users is not deleted", func(t *testing.T) {
		wantProblem(t, h.do(t, request{method: "DELETE", path: "/api/organizations/" + own, token: admin}), http.StatusConflict, "organization_not_empty")
		h.mustDo(t, request{method: "GET", path: "/api/organizations/" + own, token: admin}, http.StatusOK)
	})
	t.Run("an organisation with only closed users is not deleted", func(t *testing.T) {
		org := h.organization(t, "Suljettukunta")
		h.account(t, newPerson(t), org, kernel.RoleEditor, kernel.StatusClosed)
		wantProblem(t, h.do(t, request{method: "DELETE", path: "/api/organizations/" + org, token: admin}), http.StatusConflict, "organization_not_empty")
	})
	t.Run("an organisation whose people all moved out is deleted", func(t *testing.T) {
		org := h.organization(t, "Lähtökunta")
		p, _ := h.member(t, org, kernel.RoleEditor)
		h.mustDo(t, request{method: "PATCH", path: "/api/users/" + p.id, token: admin, body: map[string]string{"organizationId": own}}, http.StatusOK)
		h.mustDo(t, request{method: "DELETE", path: "/api/organizations/" + org, token: admin}, http.StatusNoContent)
	})
	t.Run("an empty organisation is deleted and then gone", func(t *testing.T) {
		h.mustDo(t, request{method: "DELETE", path: "/api/organizations/" + other, token: admin}, http.StatusNoContent)
		wantProblem(t, h.do(t, request{method: "GET", path: "/api/organizations/" + other, token: admin}), http.StatusNotFound, "not_found")
		wantProblem(t, h.do(t, request{method: "DELETE", path: "/api/organizations/" + other, token: admin}), http.StatusNotFound, "not_found")
	})
}

// scanFor returns which of the given strings occur in raw.
func scanFor(raw string, people ...person) []string {
	var found []string
	for _, p := range people {
		for _, s := range []string{p.email, p.firstName, p.lastName} {
			if s != "" && strings.Contains(raw, s) {
				found = append(found, s)
			}
		}
	}
	return found
}

// TestExportHoldsThePersonsOwnData: GET /api/me/export is everything held
// about the person — their account, organisation, sessions (times only)
// and every audit event where they act or are acted on — and nothing about
// anyone else (P14, P10).
func TestExportHoldsThePersonsOwnData(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{realRelay: true})
	org := h.organization(t, "Vientikunta")
	adminP, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)

	// The admin invites the person and someone else.
	p, other := newPerson(t), newPerson(t)
	var created userJSON
	h.mustDo(t, request{method: "POST", path: "/api/users", token: admin, body: inviteBody(p, org, roleEditor)}, http.StatusCreated).decode(t, &created)
	p.id = created.ID
	h.mustDo(t, request{method: "POST", path: "/api/users", token: admin, body: inviteBody(other, org, roleEditor)}, http.StatusCreated)
	invitation, _, err := h.accounts.IssueLinkToken(context.Background(), p.id, accounts.PurposeInvitation)
	if err != nil {
		t.Fatal(err)
	}
	si, err := h.accounts.AcceptInvitation(context.Background(), invitation, strongPassword, true, kernel.Meta{RequestID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	token := si.Token
	h.mustDo(t, request{method: "PATCH", path: "/api/me", token: token, body: map[string]string{"lastName": p.lastName + "z"}}, http.StatusOK)
	p.lastName += "z"
	h.mustDo(t, request{method: "PATCH", path: "/api/users/" + p.id, token: admin, body: map[string]string{"role": "expert"}}, http.StatusOK)
	token = h.mustDo(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": p.email, "password": strongPassword}}, http.StatusOK).token(t)
	h.deliverAll(t)

	r := h.mustDo(t, request{method: "GET", path: "/api/me/export", token: token}, http.StatusOK)
	if got := r.header.Get("Content-Disposition"); !strings.HasPrefix(got, "attachment") {
		t.Errorf("Content-Disposition = %q, want an attachment", got)
	}
	var x struct {
		User          userJSON
		Organization  *orgJSON
		PrivacyNotice struct{ Version string }
		Sessions      []json.RawMessage
		AuditEvents   []auditJSON
	}
	r.decode(t, &x)
	if x.User.ID != p.id || x.User.Email != p.email || x.User.LastName != p.lastName || x.User.Role != "expert" {
		t.Errorf("user = %+v", x.User)
	}
	if x.Organization == nil || x.Organization.ID != org {
		t.Errorf("organization = %+v, want %s", x.Organization, org)
	}
	if x.PrivacyNotice.Version == "" {
		t.Errorf("no privacy notice version")
	}
	if len(x.Sessions) != 1 {
		t.Errorf("%d sessions, want the one signed in after the role change", len(x.Sessions))
	}
	for _, s := range x.Sessions {
		if diff := cmp.Diff([]string{"createdAt", "expiresAt", "lastSeenAt"}, objectKeys(t, s)); diff != "" {
			t.Errorf("session fields (-want +got):\n%s", diff)
		}
	}
	var actions []string
	for _, e := range x.AuditEvents {
		if e.ActorID != p.id && e.SubjectID != p.id {
			t.Errorf("event %s %s is about %q by %q, not the person", e.ID, e.Action, e.SubjectID, e.ActorID)
		}
		actions = append(actions, e.Action)
	}
	for _, want := range []audit.Action{audit.ActionInvitationCreated, audit.ActionInvitationAccepted, audit.ActionProfileUpdated,
		audit.ActionUserUpdated, audit.ActionSignInSucceeded} {
		if !slices.Contains(actions, string(want)) {
			t.Errorf("export lacks %s; has %v", want, actions)
		}
	}
	if found := scanFor(string(r.body), adminP, other); len(found) > 0 {
		t.Errorf("the export holds other people's data: %v", found)
	}
}

// login signs a person in with strongPassword and returns the token.
func (h *harness) login(t *testing.T, p person) string {
	t.Helper()
	return h.mustDo(t, request{method: "POST", path: "/api/auth/login",
		body: map[string]string{"email": p.email, "password": strongPassword}}, http.StatusOK).token(t)
}

// token reads the session token of a sign-in answer.
func (r response) token(t *testing.T) string {
	t.Helper()
	var si struct{ Token string }
	r.decode(t, &si)
	if si.Token == "" {
		t.Fatalf("no token in %s", r.body)
	}
	return si.Token
}

// TestDeleteMeClosesTheAccount: the person's erasure request closes their
// account at once; it is erased when the restore window ends (P14, P7).
func TestDeleteMeClosesTheAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	org := h.organization(t, "Omakunta")
	_, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)
	p, token := h.member(t, org, kernel.RoleExpert)

	at := h.clock.Now()
	h.mustDo(t, request{method: "DELETE", path: "/api/me", token: token}, http.StatusNoContent)
	wantProblem(t, h.do(t, request{method: "GET", path: "/api/me", token: token}), http.StatusUnauthorized, "unauthenticated")
	u, _ := h.getUser(t, admin, p.id)
	want := userJSON{Status: "closed", ClosedReason: "self", ClosedAt: at, ErasureDueAt: at.Add(30 * 24 * time.Hour)}
	got := userJSON{Status: u.Status, ClosedReason: u.ClosedReason, ClosedAt: u.ClosedAt, ErasureDueAt: u.ErasureDueAt}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("closed account (-want +got):\n%s", diff)
	}
	ids, _ := h.listIDs(t, admin, url.Values{"organizationId": {org}, "status": {"closed"}})
	if !slices.Equal(ids, []string{p.id}) {
		t.Errorf("closed list %v, want %s", ids, p.id)
	}
}

// TestAuditEventsHoldIDsOnly: every administrative action leaves an audit
// event (P11) holding ids and field names, never a name or an email (P9);
// primary users read only their organisation's trail, editors none; each
// organisation's chain verifies.
func TestAuditEventsHoldIDsOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{realRelay: true})
	ctx := context.Background()
	start := h.clock.Now()
	adminP, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)
	everyone := []person{adminP}

	createOrg := func(name string) string {
		var o orgJSON
		h.mustDo(t, request{method: "POST", path: "/api/organizations", token: admin,
			body: map[string]any{"name": map[string]string{"fi": name}, "type": "municipality", "businessId": "0737546-2"}}, http.StatusCreated).decode(t, &o)
		return o.ID
	}
	orgA, orgB := createOrg("Aakunta"), createOrg("Beekunta")
	invite := func(token, org, role string) (person, string) {
		p := newPerson(t)
		var u userJSON
		h.mustDo(t, request{method: "POST", path: "/api/users", token: token, body: inviteBody(p, org, role)}, http.StatusCreated).decode(t, &u)
		p.id = u.ID
		everyone = append(everyone, p)
		invitation, _, err := h.accounts.IssueLinkToken(ctx, p.id, accounts.PurposeInvitation)
		if err != nil {
			t.Fatal(err)
		}
		si, err := h.accounts.AcceptInvitation(ctx, invitation, strongPassword, true, kernel.Meta{RequestID: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return p, si.Token
	}
	primaryP, primary := invite(admin, orgA, rolePrimary)
	editorP, _ := invite(primary, orgA, roleEditor)
	_, watcher := invite(primary, orgA, roleExpert)
	strangerP, _ := invite(admin, orgB, roleEditor)
	// The primary user tries an email of the other organisation (P10),
	// which the trail records without the email.
	h.mustDo(t, request{method: "POST", path: "/api/users", token: primary,
		body: inviteBody(person{email: strangerP.email, firstName: "Joku", lastName: "Muu"}, orgA, roleEditor)}, http.StatusCreated)
	h.mustDo(t, request{method: "PATCH", path: "/api/users/" + editorP.id, token: admin, body: map[string]string{"role": "expert"}}, http.StatusOK)
	h.mustDo(t, request{method: "PATCH", path: "/api/users/" + editorP.id, token: primary, body: map[string]string{"firstName": "Toinen"}}, http.StatusOK)
	h.mustDo(t, request{method: "DELETE", path: "/api/users/" + editorP.id, token: admin}, http.StatusNoContent)
	h.mustDo(t, request{method: "POST", path: "/api/users/" + editorP.id + "/restore", token: admin}, http.StatusOK)
	h.mustDo(t, request{method: "PATCH", path: "/api/users/" + strangerP.id, token: admin, body: map[string]string{"organizationId": orgA}}, http.StatusOK)
	h.mustDo(t, request{method: "PATCH", path: "/api/organizations/" + orgA, token: primary, body: map[string]any{"contactEmail": "kirjaamo@aakunta.example.fi"}}, http.StatusOK)
	h.deliverAll(t)

	// readAll pages through a listing and returns its events and raw pages.
	readAll := func(t *testing.T, token string, q url.Values) ([]auditJSON, string) {
		t.Helper()
		var all []auditJSON
		var raw strings.Builder
		q.Set("limit", "100")
		for pages := 0; pages < 100; pages++ {
			r := h.mustDo(t, request{method: "GET", path: "/api/audit-events?" + q.Encode(), token: token}, http.StatusOK)
			raw.Write(r.body)
			var page auditListJSON
			r.decode(t, &page)
			all = append(all, page.Items...)
			if page.NextCursor == "" {
				return all, raw.String()
			}
			q.Set("cursor", page.NextCursor)
		}
		t.Fatal("the cursor never ends")
		return nil, ""
	}
	// The admins' view across organisations reads daily indexes for a
	// time range. Without from/to the store counts that range back from the
	// wall clock, not the service's clock (tablestore.Events), and this
	// test's clock stands months in the past; so it asks for its range.
	window := url.Values{"from": {start.Add(-time.Hour).Format(time.RFC3339)}, "to": {h.clock.Now().Add(time.Hour).Format(time.RFC3339)}}

	t.Run("the admin sees every action, with ids and field names only", func(t *testing.T) {
		events, raw := readAll(t, admin, window)
		byAction := map[string][]auditJSON{}
		for _, e := range events {
			byAction[e.Action] = append(byAction[e.Action], e)
			if e.ID == "" || e.Hash == "" {
				t.Errorf("event without id or hash: %+v", e)
			}
		}
		for _, want := range []audit.Action{audit.ActionOrganizationCreated, audit.ActionOrganizationUpdated, audit.ActionInvitationCreated,
			audit.ActionInvitationAccepted, audit.ActionUserUpdated, audit.ActionUserMovedOut,
			audit.ActionUserClosed, audit.ActionUserRestored} {
			if len(byAction[string(want)]) == 0 {
				t.Errorf("no %s event", want)
			}
		}
		var roleChange []auditJSON
		for _, e := range byAction[string(audit.ActionUserUpdated)] {
			if e.SubjectID == editorP.id && e.ActorID != primaryP.id {
				roleChange = append(roleChange, e)
			}
		}
		if len(roleChange) != 1 || !slices.Equal(roleChange[0].Fields, []string{"role"}) || roleChange[0].OrganizationID != orgA {
			t.Errorf("the admin's role change: %+v, want one user.updated with fields [role] in %s", roleChange, orgA)
		}
		if found := scanFor(raw, everyone...); len(found) > 0 {
			t.Errorf("audit events hold personal data: %v", found)
		}
		if strings.Contains(raw, "kirjaamo@aakunta") {
			t.Errorf("audit events hold the organisation's contact email")
		}
	})

	t.Run("the admin filters by organisation and subject", func(t *testing.T) {
		events, _ := readAll(t, admin, url.Values{"organizationId": {orgB}})
		if len(events) == 0 {
			t.Fatal("nothing for the other organisation")
		}
		for _, e := range events {
			if e.OrganizationID != orgB {
				t.Errorf("organisation filter returned %s of %s", e.Action, e.OrganizationID)
			}
		}
		events, _ = readAll(t, admin, url.Values{"subjectId": {editorP.id}})
		if len(events) == 0 {
			t.Fatal("nothing about the editor")
		}
		for _, e := range events {
			if e.SubjectID != editorP.id {
				t.Errorf("subject filter returned %s about %s", e.Action, e.SubjectID)
			}
		}
	})

	t.Run("a primary user sees only their organisation's events", func(t *testing.T) {
		events, raw := readAll(t, primary, url.Values{})
		if len(events) == 0 {
			t.Fatal("nothing for the primary user's organisation")
		}
		for _, e := range events {
			if e.OrganizationID != orgA {
				t.Errorf("primary user sees %s of %s", e.Action, e.OrganizationID)
			}
		}
		if found := scanFor(raw, everyone...); len(found) > 0 {
			t.Errorf("audit events hold personal data: %v", found)
		}
		wantProblem(t, h.do(t, request{method: "GET", path: "/api/audit-events?organizationId=" + orgB, token: primary}), http.StatusForbidden, "forbidden")
	})

	t.Run("an expert sees no events", func(t *testing.T) {
		wantProblem(t, h.do(t, request{method: "GET", path: "/api/audit-events", token: watcher}), http.StatusForbidden, "forbidden")
	})

	t.Run("every organisation's chain verifies", func(t *testing.T) {
		for _, org := range []string{orgA, orgB} {
			key := audit.ChainKey(audit.Event{OrganizationID: org, At: h.clock.Now()})
			chain, err := h.store.Chain(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if len(chain) == 0 {
				t.Errorf("chain %s is empty", key)
			}
			if err := testenv.AuditKeys().Verify(key, chain); err != nil {
				t.Errorf("chain %s: %v", key, err)
			}
			raw, _ := json.Marshal(chain)
			if found := scanFor(string(raw), everyone...); len(found) > 0 {
				t.Errorf("chain %s holds personal data: %v", key, found)
			}
		}
	})
}
