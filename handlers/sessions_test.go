package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// Session control (SESS-3): a person lists and ends their own sessions;
// admins and primary users end all of someone's sessions.

type mySessionsJSON struct {
	Items []struct {
		ID            string    `json:"id"`
		CreatedAt     time.Time `json:"createdAt"`
		LastUsedAt    time.Time `json:"lastUsedAt"`
		IdleExpiresAt time.Time `json:"idleExpiresAt"`
		ExpiresAt     time.Time `json:"expiresAt"`
		Current       bool      `json:"current"`
	} `json:"items"`
}

// mySessions lists the caller's sessions and returns the list and the raw
// answer.
func (h *harness) mySessions(t *testing.T, token string) (mySessionsJSON, string) {
	t.Helper()
	r := h.mustDo(t, request{method: "GET", path: "/api/me/sessions", token: token}, http.StatusOK)
	var list mySessionsJSON
	r.decode(t, &list)
	return list, string(r.body)
}

// currentSessionID is the id of the session behind token.
func (h *harness) currentSessionID(t *testing.T, token string) string {
	t.Helper()
	list, _ := h.mySessions(t, token)
	for _, s := range list.Items {
		if s.Current {
			return s.ID
		}
	}
	t.Fatalf("no current session in %+v", list)
	return ""
}

// signedIn reports whether token still opens a session.
func (h *harness) signedIn(t *testing.T, token string) bool {
	t.Helper()
	r := h.do(t, request{method: "GET", path: "/api/me", token: token})
	switch r.status {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	}
	t.Fatalf("GET /api/me: status %d; body %s", r.status, r.body)
	return false
}

// secretsOf is everything from which a session could be taken over: each
// token, the secret part of it and the stored hash of the secret (hex, as
// stored, and in base64 in case an encoder chose that).
func secretsOf(t *testing.T, tokens ...string) []string {
	t.Helper()
	var out []string
	for _, tok := range tokens {
		_, secret, ok := strings.Cut(tok, ".")
		if !ok {
			t.Fatalf("token %q has no secret part", tok)
		}
		sum := sha256.Sum256([]byte(secret))
		out = append(out, tok, secret, hex.EncodeToString(sum[:]),
			base64.StdEncoding.EncodeToString(sum[:]), base64.RawURLEncoding.EncodeToString(sum[:]))
	}
	return out
}

// TestMySessionsAreListedAndEndedOneByOne: a person sees their live
// sessions by id and times only, and ending one makes its token 401 at
// once while the others keep working (SESS-3, P9).
func TestMySessionsAreListedAndEndedOneByOne(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	p, first := h.member(t, h.organization(t, "Istuntokunta"), kernel.RoleEditor)
	h.clock.Advance(5 * time.Minute)
	second := h.login(t, p)
	h.clock.Advance(5 * time.Minute)
	third := h.login(t, p)
	signedInAt := h.clock.Now()
	_, emailsBefore := h.outbox(t, p.id)

	r := h.mustDo(t, request{method: "GET", path: "/api/me/sessions", token: second}, http.StatusOK)
	var list mySessionsJSON
	r.decode(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("%d sessions, want 3: %s", len(list.Items), r.body)
	}

	// SESS-3, P9: an id and times, nothing else.
	var raw struct{ Items []json.RawMessage }
	r.decode(t, &raw)
	for _, item := range raw.Items {
		if diff := cmp.Diff([]string{"createdAt", "current", "expiresAt", "id", "idleExpiresAt", "lastUsedAt"}, objectKeys(t, item)); diff != "" {
			t.Errorf("session fields (-want +got):\n%s", diff)
		}
	}
	// Newest first; the third session was just made.
	newest := list.Items[0]
	want := struct{ CreatedAt, LastUsedAt, IdleExpiresAt, ExpiresAt time.Time }{
		signedInAt, signedInAt, signedInAt.Add(30 * time.Minute), signedInAt.Add(12 * time.Hour)}
	got := struct{ CreatedAt, LastUsedAt, IdleExpiresAt, ExpiresAt time.Time }{
		newest.CreatedAt, newest.LastUsedAt, newest.IdleExpiresAt, newest.ExpiresAt}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("newest session's times (-want +got):\n%s", diff)
	}
	ids := map[string]bool{}
	current := 0
	for i, s := range list.Items {
		if i > 0 && !s.CreatedAt.Before(list.Items[i-1].CreatedAt) {
			t.Errorf("sessions not newest first: %s", r.body)
		}
		if !accounts.ValidID(s.ID) || ids[s.ID] {
			t.Errorf("session id %q is not a fresh id", s.ID)
		}
		ids[s.ID] = true
		if s.Current {
			current++
		}
	}
	if current != 1 || !list.Items[1].Current {
		t.Errorf("current marks %d sessions, want only the second one's: %s", current, r.body)
	}

	// SESS-3: the listing never holds a token, its secret or its hash, and
	// no id is a part of one.
	secrets := secretsOf(t, first, second, third)
	agg, err := h.store.Aggregate(context.Background(), p.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range agg.Sessions {
		secrets = append(secrets, s.Hash)
	}
	for _, s := range secrets {
		if strings.Contains(string(r.body), s) {
			t.Errorf("the session list holds a secret or hash %q: %s", s, r.body)
		}
		for id := range ids {
			if strings.Contains(s, id) {
				t.Errorf("session id %q is part of a token or hash", id)
			}
		}
	}

	// SESS-3: ending the first session ends it at once, and only it.
	firstID := h.currentSessionID(t, first)
	h.mustDo(t, request{method: "DELETE", path: "/api/me/sessions/" + firstID, token: second}, http.StatusNoContent)
	if h.signedIn(t, first) {
		t.Errorf("the ended session still works")
	}
	if !h.signedIn(t, second) || !h.signedIn(t, third) {
		t.Errorf("ending one session ended others too")
	}
	if list, _ := h.mySessions(t, third); len(list.Items) != 2 {
		t.Errorf("%d sessions listed after ending one, want 2", len(list.Items))
	}
	wantProblem(t, h.do(t, request{method: "DELETE", path: "/api/me/sessions/" + firstID, token: second}), http.StatusNotFound, "not_found")

	// Ending one's own current session signs out.
	h.mustDo(t, request{method: "DELETE", path: "/api/me/sessions/" + h.currentSessionID(t, third), token: third}, http.StatusNoContent)
	if h.signedIn(t, third) || !h.signedIn(t, second) {
		t.Errorf("ending the current session: third signed in %v, second %v; want false, true", h.signedIn(t, third), h.signedIn(t, second))
	}

	// P11: each ending is in the trail, ids only: the person acted on
	// themselves.
	events, messages := h.outbox(t, p.id)
	if got := countAction(events, audit.ActionSessionEnded); got != 2 {
		t.Errorf("%d %s events, want 2", got, audit.ActionSessionEnded)
	}
	for _, e := range events {
		if e.Action == audit.ActionSessionEnded && (e.ActorID != p.id || e.SubjectID != p.id) {
			t.Errorf("event %+v, want actor and subject %s", e, p.id)
		}
	}
	if len(messages) != len(emailsBefore) {
		t.Errorf("ending a session emailed: %+v", messages[len(emailsBefore):])
	}
}

// TestAnotherPersonsSessionCannotBeEndedThroughMe: /api/me/sessions/{id}
// finds only the caller's own sessions. Another person's session id, an
// unknown id and ids that are not ids all answer the same 404, and the
// other person stays signed in (P10, AUTHZ-3).
func TestAnotherPersonsSessionCannotBeEndedThroughMe(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	org := h.organization(t, "Naapurikunta")
	_, attacker := h.member(t, org, kernel.RoleAdmin)
	_, victim := h.member(t, org, kernel.RoleEditor)
	victimSession := h.currentSessionID(t, victim)

	unknown := h.do(t, request{method: "DELETE", path: "/api/me/sessions/" + unknownID, token: attacker})
	wantProblem(t, unknown, http.StatusNotFound, "not_found")
	for _, id := range []string{victimSession, strings.ToUpper(victimSession), victimSession + "-", strings.Repeat("a", 65), "x%2Fy", "*"} {
		r := h.do(t, request{method: "DELETE", path: "/api/me/sessions/" + id, token: attacker})
		wantProblem(t, r, http.StatusNotFound, "not_found")
		if got, want := r.withoutRequestID(), unknown.withoutRequestID(); got != want {
			t.Errorf("DELETE %s answers %s, an unknown id %s", id, got, want)
		}
	}
	if !h.signedIn(t, victim) {
		t.Errorf("the victim was signed out through another person's /api/me")
	}
}

// TestOldSessionsGetAnIDWhenListed: a session stored before sessions had
// ids is given one the first time its owner lists them, and can be ended
// by it (SESS-3).
func TestOldSessionsGetAnIDWhenListed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	p, newer := h.member(t, h.organization(t, "Vanhakunta"), kernel.RoleExpert)

	// A session row as the code before ids wrote it: no ID.
	secret := base64.RawURLEncoding.EncodeToString([]byte("an-old-session-secret-32-bytes!!"))
	sum := sha256.Sum256([]byte(secret))
	now := h.clock.Now()
	if err := h.store.Apply(context.Background(), accounts.Change{UserID: p.id, PutSessions: []accounts.Session{{
		UserID: p.id, Hash: hex.EncodeToString(sum[:]), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	old := p.id + "." + secret
	if !h.signedIn(t, old) {
		t.Fatal("the old session does not work")
	}

	first, _ := h.mySessions(t, newer)
	second, _ := h.mySessions(t, old)
	if len(first.Items) != 2 {
		t.Fatalf("%d sessions, want 2: %+v", len(first.Items), first)
	}
	idsOf := func(l mySessionsJSON) map[string]bool {
		m := map[string]bool{}
		for _, s := range l.Items {
			if s.ID == "" {
				t.Errorf("a session without an id: %+v", l)
			}
			m[s.ID] = true
		}
		return m
	}
	if diff := cmp.Diff(idsOf(first), idsOf(second)); diff != "" {
		t.Errorf("the ids changed between listings (-first +second):\n%s", diff)
	}
	h.mustDo(t, request{method: "DELETE", path: "/api/me/sessions/" + h.currentSessionID(t, old), token: newer}, http.StatusNoContent)
	if h.signedIn(t, old) || !h.signedIn(t, newer) {
		t.Errorf("after ending the old session: old signed in %v, newer %v; want false, true", h.signedIn(t, old), h.signedIn(t, newer))
	}
}

// TestEndUserSessions: admins end anyone's sessions and primary users
// those of their own organisation's people, at once (SESS-3). A primary
// user cannot reach another organisation's people (404, byte-identical to
// an unknown id: AUTHZ-3, P10) nor an admin (403, as for every change to
// an admin: P5); an editor reaches nobody else (404). The trail records
// ids only and nobody is emailed (P9, P11).
func TestEndUserSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	orgA, orgB := h.organization(t, "Aakunta"), h.organization(t, "Beekunta")
	adminP, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)
	primaryP, primary := h.member(t, orgA, kernel.RolePrimaryUser)
	_, editor := h.member(t, orgA, kernel.RoleEditor)
	colleague, colleagueToken := h.member(t, orgA, kernel.RoleExpert)
	colleagueSecond := h.login(t, colleague)
	stranger, strangerToken := h.member(t, orgB, kernel.RoleEditor)
	localAdmin, localAdminToken := h.member(t, orgA, kernel.RoleAdmin)
	_, emailsBefore := h.outbox(t, colleague.id)
	end := func(token, id string) response {
		return h.do(t, request{method: "DELETE", path: "/api/users/" + id + "/sessions", token: token})
	}

	t.Run("an admin ends every session at once", func(t *testing.T) {
		if r := end(admin, colleague.id); r.status != http.StatusNoContent {
			t.Fatalf("status %d; body %s", r.status, r.body)
		}
		if h.signedIn(t, colleagueToken) || h.signedIn(t, colleagueSecond) {
			t.Errorf("a session survived")
		}
		if !h.signedIn(t, admin) {
			t.Errorf("the admin was signed out")
		}
		colleagueToken = h.login(t, colleague) // signing in again works
	})
	t.Run("a primary user ends their own organisation's person's sessions", func(t *testing.T) {
		// Events of one instant are ordered by their random ids; a second
		// later keeps the trail in the order of the calls.
		h.clock.Advance(time.Second)
		h.mustDo(t, request{method: "DELETE", path: "/api/users/" + colleague.id + "/sessions", token: primary}, http.StatusNoContent)
		if h.signedIn(t, colleagueToken) {
			t.Errorf("the session survived")
		}
	})
	t.Run("a primary user gets 404 for another organisation's person, as for an unknown id", func(t *testing.T) {
		unknown := end(primary, unknownID)
		wantProblem(t, unknown, http.StatusNotFound, "not_found")
		r := end(primary, stranger.id)
		wantProblem(t, r, http.StatusNotFound, "not_found")
		if got, want := r.withoutRequestID(), unknown.withoutRequestID(); got != want {
			t.Errorf("another organisation's person answers %s, an unknown id %s", got, want)
		}
		if !h.signedIn(t, strangerToken) {
			t.Errorf("the other organisation's person was signed out")
		}
	})
	t.Run("a primary user cannot end an admin's sessions", func(t *testing.T) {
		wantProblem(t, end(primary, localAdmin.id), http.StatusForbidden, "forbidden")
		wantProblem(t, end(primary, adminP.id), http.StatusNotFound, "not_found")
		if !h.signedIn(t, localAdminToken) || !h.signedIn(t, admin) {
			t.Errorf("an admin was signed out by a primary user")
		}
	})
	t.Run("an editor cannot end anyone's sessions", func(t *testing.T) {
		for _, id := range []string{colleague.id, primaryP.id, stranger.id, localAdmin.id} {
			wantProblem(t, end(editor, id), http.StatusNotFound, "not_found")
		}
		colleagueToken = h.login(t, colleague)
		if !h.signedIn(t, colleagueToken) || !h.signedIn(t, primary) || !h.signedIn(t, strangerToken) {
			t.Errorf("an editor signed someone out")
		}
	})
	t.Run("the trail has ids only and nobody is emailed", func(t *testing.T) {
		events, messages := h.outbox(t, colleague.id)
		var ended []audit.Event
		for _, e := range events {
			if e.Action == audit.ActionSessionsEnded {
				ended = append(ended, e)
			}
		}
		type who struct{ Actor, Subject, Org string }
		var got []who
		for _, e := range ended {
			got = append(got, who{e.ActorID, e.SubjectID, e.OrganizationID})
			raw, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if found := scanFor(string(raw), adminP, primaryP, colleague); len(found) > 0 {
				t.Errorf("event holds personal data %v: %s", found, raw)
			}
			if len(e.Fields) != 0 || e.Reason != "" {
				t.Errorf("event holds more than ids: %s", raw)
			}
		}
		want := []who{{adminP.id, colleague.id, orgA}, {primaryP.id, colleague.id, orgA}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("sessions.ended events (-want +got):\n%s", diff)
		}
		if len(messages) != len(emailsBefore) {
			t.Errorf("the person was emailed: %+v", messages[len(emailsBefore):])
		}
		// Refusals leave nothing in the trail of their targets.
		for _, id := range []string{stranger.id, localAdmin.id} {
			events, _ := h.outbox(t, id)
			if n := countAction(events, audit.ActionSessionsEnded); n != 0 {
				t.Errorf("a refused call recorded %d %s events for %s", n, audit.ActionSessionsEnded, id)
			}
		}
	})
}
