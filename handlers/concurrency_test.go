package handlers

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// Changes that race each other: the ETag and the admin registry decide,
// and no interleaving lets both of two conflicting changes through (P5),
// nor leaves the service without an active admin.

const races = 10

// race sends the requests at once, released together by a barrier, and
// returns the answers in the order of the requests.
func (h *harness) race(t *testing.T, rqs ...request) []response {
	t.Helper()
	out := make([]response, len(rqs))
	errs := make([]error, len(rqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, rq := range rqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = h.send(rq)
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestConflictingRoleChangesOneWins: two role changes made against the
// same ETag: one is applied, the other is refused as stale, the stored
// role is the winner's, and only the winner's change is in the trail.
func TestConflictingRoleChangesOneWins(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	org := h.organization(t, "Kilpakunta")
	_, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)
	_, primary := h.member(t, org, kernel.RolePrimaryUser)

	for i := 0; i < races; i++ {
		t.Run(fmt.Sprintf("race %d: one 200, one 412, the winner's role stored", i), func(t *testing.T) {
			target, _ := h.account(t, newPerson(t), org, kernel.RoleEditor, kernel.StatusInvited)
			_, etag := h.getUser(t, admin, target.id)
			roles := []string{roleExpert, rolePrimary}
			answers := h.race(t,
				request{method: "PATCH", path: "/api/users/" + target.id, token: admin,
					body: map[string]string{"role": roles[0]}, header: map[string]string{"If-Match": etag}},
				request{method: "PATCH", path: "/api/users/" + target.id, token: primary,
					body: map[string]string{"role": roles[1]}, header: map[string]string{"If-Match": etag}},
			)
			winner := -1
			for j, r := range answers {
				switch r.status {
				case http.StatusOK:
					if winner >= 0 {
						t.Fatalf("both changes were applied: %s / %s", answers[0].body, answers[1].body)
					}
					winner = j
				case http.StatusPreconditionFailed:
					if got := r.problem(t).Code; got != "precondition_failed" {
						t.Errorf("loser code %q", got)
					}
				case http.StatusConflict:
					if got := r.problem(t).Code; got != "conflict" {
						t.Errorf("loser code %q", got)
					}
				default:
					t.Fatalf("answer %d: status %d, body %s", j, r.status, r.body)
				}
			}
			if winner < 0 {
				t.Fatalf("neither change was applied: %s / %s", answers[0].body, answers[1].body)
			}
			if u, _ := h.getUser(t, admin, target.id); u.Role != roles[winner] {
				t.Errorf("stored role %q, the winner set %q", u.Role, roles[winner])
			}
			events, _ := h.outbox(t, target.id)
			if got := countAction(events, audit.ActionUserUpdated); got != 1 {
				t.Errorf("%d user.updated events, want 1", got)
			}
		})
	}
}

// adminPairs hands out, race after race, two new admins that are the
// only active admins of its harness: the admin registry is one per store,
// so the admins of the race before are closed first.
type adminPairs struct {
	h      *harness
	org    string
	before []person
}

func newAdminPairs(t *testing.T) *adminPairs {
	t.Helper()
	h := newHarness(t, harnessOptions{})
	return &adminPairs{h: h, org: h.organization(t, "Ylläpito")}
}

// next returns the two admins of the next race.
func (ap *adminPairs) next(t *testing.T) (a, b person, tokenA, tokenB string) {
	t.Helper()
	a, tokenA = ap.h.member(t, ap.org, kernel.RoleAdmin)
	b, tokenB = ap.h.member(t, ap.org, kernel.RoleAdmin)
	for _, p := range ap.before {
		if err := ap.h.accounts.CloseUser(context.Background(), setupActor, p.id, kernel.Meta{RequestID: "test"}); err != nil {
			t.Fatalf("close an admin of the race before: %v", err)
		}
	}
	ap.before = []person{a, b}
	return a, b, tokenA, tokenB
}

// checkAdminsRemain checks that at least one admin is still active, that
// the admin registry lists exactly the active admins, and that every
// answer was a success or a refusal the design allows.
func checkAdminsRemain(t *testing.T, h *harness, admins []person, tokens []string, answers []response, okStatus int) {
	t.Helper()
	ctx := context.Background()
	var active []string
	for _, p := range admins {
		agg, err := h.store.Aggregate(ctx, p.id)
		if err != nil {
			t.Fatal(err)
		}
		if agg.User.Role == kernel.RoleAdmin && agg.User.Status == kernel.StatusActive {
			active = append(active, p.id)
		}
	}
	if len(active) == 0 {
		t.Fatalf("no active admin is left; answers %d %s / %d %s", answers[0].status, answers[0].body, answers[1].status, answers[1].body)
	}
	registry, _, err := h.store.ActiveAdmins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(registry)
	sort.Strings(active)
	if !slices.Equal(registry, active) {
		t.Errorf("registry %v, active admins %v", registry, active)
	}
	// The survivor is still signed in, and the API shows them as an
	// active admin.
	survivor := slices.IndexFunc(admins, func(p person) bool { return p.id == active[0] })
	if u, _ := h.getUser(t, tokens[survivor], admins[survivor].id); u.Role != "admin" || u.Status != "active" {
		t.Errorf("survivor is %s %s", u.Status, u.Role)
	}

	won := 0
	for _, r := range answers {
		switch r.status {
		case okStatus:
			won++
		case http.StatusConflict:
			if got := r.problem(t).Code; got != "last_admin" {
				t.Errorf("loser code %q, want last_admin", got)
			}
		case http.StatusUnauthorized, http.StatusForbidden:
			// It lost its own admin role (and with it its sessions) first.
		default:
			t.Errorf("status %d, body %s", r.status, r.body)
		}
	}
	if won != 1 {
		t.Errorf("%d of the two changes succeeded, want exactly 1", won)
	}
}

// TestLastTwoAdminsDemotingEachOther: two admins, the last two, demote
// each other at the same moment. At least one stays admin; the other
// change is refused as last_admin (or, if its author was demoted first,
// as no longer signed in).
func TestLastTwoAdminsDemotingEachOther(t *testing.T) {
	t.Parallel()
	ap := newAdminPairs(t)
	h := ap.h
	for i := 0; i < races; i++ {
		t.Run(fmt.Sprintf("race %d: an admin remains", i), func(t *testing.T) {
			a, b, tokenA, tokenB := ap.next(t)
			answers := h.race(t,
				request{method: "PATCH", path: "/api/users/" + b.id, token: tokenA, body: map[string]string{"role": "primary_user"}},
				request{method: "PATCH", path: "/api/users/" + a.id, token: tokenB, body: map[string]string{"role": "primary_user"}},
			)
			checkAdminsRemain(t, h, []person{a, b}, []string{tokenA, tokenB}, answers, http.StatusOK)
		})
	}
}

// TestLastTwoAdminsClosingEachOther: the same race, closing instead of
// demoting.
func TestLastTwoAdminsClosingEachOther(t *testing.T) {
	t.Parallel()
	ap := newAdminPairs(t)
	h := ap.h
	for i := 0; i < races; i++ {
		t.Run(fmt.Sprintf("race %d: an admin remains", i), func(t *testing.T) {
			a, b, tokenA, tokenB := ap.next(t)
			answers := h.race(t,
				request{method: "DELETE", path: "/api/users/" + b.id, token: tokenA},
				request{method: "DELETE", path: "/api/users/" + a.id, token: tokenB},
			)
			checkAdminsRemain(t, h, []person{a, b}, []string{tokenA, tokenB}, answers, http.StatusNoContent)
		})
	}
}

// TestLastTwoAdminsLeavingAtOnce: both of the last two admins ask for
// their own accounts to be closed at the same moment (P14 erasure
// requests); one of them must stay.
func TestLastTwoAdminsLeavingAtOnce(t *testing.T) {
	t.Parallel()
	ap := newAdminPairs(t)
	h := ap.h
	for i := 0; i < races/2; i++ {
		t.Run(fmt.Sprintf("race %d: an admin remains", i), func(t *testing.T) {
			a, b, tokenA, tokenB := ap.next(t)
			answers := h.race(t,
				request{method: "DELETE", path: "/api/me", token: tokenA},
				request{method: "DELETE", path: "/api/me", token: tokenB},
			)
			checkAdminsRemain(t, h, []person{a, b}, []string{tokenA, tokenB}, answers, http.StatusNoContent)
		})
	}
}

// TestRacingChangesToAnAdminKeepTheRegistryTrue: two admins change a
// third at the same moment — two demotions against one ETag, or a
// demotion and a closing. However they interleave, the admin registry, on
// which the last-admin guard stands, must list exactly the active admins:
// a phantom entry for the demoted or closed admin would later let the
// last real admin close themselves.
func TestRacingChangesToAnAdminKeepTheRegistryTrue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		calls func(c person, etag string) (byA, byB request)
		ok    []int // statuses either call may answer
		races int
	}{
		{"two demotions against one ETag", func(c person, etag string) (request, request) {
			return request{method: "PATCH", path: "/api/users/" + c.id, body: map[string]string{"role": "primary_user"}, header: map[string]string{"If-Match": etag}},
				request{method: "PATCH", path: "/api/users/" + c.id, body: map[string]string{"role": "editor"}, header: map[string]string{"If-Match": etag}}
		}, []int{http.StatusOK, http.StatusPreconditionFailed}, races},
		{"a demotion and a closing", func(c person, _ string) (request, request) {
			return request{method: "PATCH", path: "/api/users/" + c.id, body: map[string]string{"role": "editor"}},
				request{method: "DELETE", path: "/api/users/" + c.id}
			// A demotion that lands after the closing finds a closed account.
		}, []int{http.StatusOK, http.StatusNoContent, http.StatusConflict}, races / 2},
	} {
		ap := newAdminPairs(t)
		h := ap.h
		for i := 0; i < tc.races; i++ {
			t.Run(fmt.Sprintf("%s, race %d: the registry lists exactly the active admins", tc.name, i), func(t *testing.T) {
				a, b, tokenA, tokenB := ap.next(t)
				c, _ := h.member(t, ap.org, kernel.RoleAdmin)
				_, etag := h.getUser(t, tokenA, c.id)
				byA, byB := tc.calls(c, etag)
				byA.token, byB.token = tokenA, tokenB
				answers := h.race(t, byA, byB)
				won := 0
				for _, r := range answers {
					if !slices.Contains(tc.ok, r.status) {
						t.Errorf("status %d, body %s", r.status, r.body)
					}
					if r.status < 300 {
						won++
					}
				}
				if won == 0 {
					t.Errorf("neither change was applied")
				}
				registry, _, err := h.store.ActiveAdmins(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				sort.Strings(registry)
				want := []string{a.id, b.id}
				sort.Strings(want)
				if !slices.Equal(registry, want) {
					t.Errorf("registry %v, want the active admins %v (%s is no longer one)", registry, want, c.id)
				}
				// With a true registry, demoting B leaves A the last admin.
				h.mustDo(t, request{method: "PATCH", path: "/api/users/" + b.id, token: tokenA, body: map[string]string{"role": "editor"}}, http.StatusOK)
				wantProblem(t, h.do(t, request{method: "DELETE", path: "/api/me", token: tokenA}), http.StatusConflict, "last_admin")
			})
		}
	}
}
