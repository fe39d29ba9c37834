package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// TestOneAccountForEverySpellingOfAnAddress proves P1 at the edge: an
// address typed as straße@bücher… and as STRASSE@BÜCHER…, strasse@xn--…
// or in full-width letters is one username. Inviting another spelling is
// answered as inviting the same spelling is (409 email_taken to whoever
// may see the account, the enumeration-safe 201 to whoever may not), and
// each spelling signs in to, and asks a reset for, the one account, which
// is shown and mailed as it was typed.
func TestOneAccountForEverySpellingOfAnAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	own, other := h.organization(t, "Omakunta"), h.organization(t, "Muukunta")
	_, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)
	_, primary := h.member(t, own, kernel.RolePrimaryUser)

	tag := strings.TrimPrefix(testenv.UniqueName(t), "t")
	typed := "straße." + tag + "@bücher.example.fi"
	existing, _ := h.account(t, person{email: typed, firstName: "Aino" + tag + "x", lastName: "Korhonen" + tag + "q"}, other, kernel.RoleEditor, kernel.StatusActive)
	spellings := []string{
		"STRASSE." + strings.ToUpper(tag) + "@BÜCHER.EXAMPLE.FI",
		"strasse." + tag + "@xn--bcher-kva.example.fi",
		"ｓｔｒａｓｓｅ." + tag + "@bu\u0308cher.example.fi", // full-width letters, decomposed ü
	}
	stranger := newPerson(t)

	t.Run("an admin inviting another spelling is told the email is taken", func(t *testing.T) {
		for _, s := range spellings {
			r := h.do(t, request{method: "POST", path: "/api/users", token: admin,
				body: inviteBody(person{email: s, firstName: stranger.firstName, lastName: stranger.lastName}, own, roleEditor)})
			wantProblem(t, r, http.StatusConflict, "email_taken")
		}
	})

	t.Run("a primary user inviting another spelling gets an invitation like any other, never the address", func(t *testing.T) {
		r := h.mustDo(t, request{method: "POST", path: "/api/users", token: primary,
			body: inviteBody(person{email: spellings[0], firstName: stranger.firstName, lastName: stranger.lastName}, own, roleEditor)}, http.StatusCreated)
		var made userJSON
		r.decode(t, &made)
		if made.ID == existing.id || made.Email != spellings[0] {
			t.Errorf("answer = %+v, want a new invitation with the email as typed", made)
		}
		h.mustDo(t, request{method: "GET", path: "/api/users/" + made.ID, token: primary}, http.StatusOK)
		canonical, _ := accounts.CanonicalEmail(spellings[0])
		if id, err := h.store.UserIDByEmail(context.Background(), canonical); err != nil || id != existing.id {
			t.Errorf("the email belongs to %q (%v), want %q", id, err, existing.id)
		}
		// Another spelling in the same organisation is the same address.
		r = h.do(t, request{method: "POST", path: "/api/users", token: primary,
			body: inviteBody(person{email: spellings[2], firstName: stranger.firstName, lastName: stranger.lastName}, own, roleEditor)})
		wantProblem(t, r, http.StatusConflict, "email_taken")
	})

	t.Run("every spelling signs in to the one account, shown as typed", func(t *testing.T) {
		for _, s := range append([]string{typed}, spellings...) {
			r := h.mustDo(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": s, "password": strongPassword}}, http.StatusOK)
			var si struct{ User userJSON }
			r.decode(t, &si)
			if si.User.ID != existing.id || si.User.Email != typed {
				t.Errorf("signing in as %q reached %q (%q), want %q (%q)", s, si.User.ID, si.User.Email, existing.id, typed)
			}
		}
		if u, _ := h.getUser(t, admin, existing.id); u.Email != typed {
			t.Errorf("GET shows %q, want %q as typed", u.Email, typed)
		}
	})

	t.Run("another spelling asks a reset for the one account, mailed as typed", func(t *testing.T) {
		r := h.do(t, request{method: "POST", path: "/api/auth/password-resets", body: map[string]string{"email": spellings[1]}})
		if r.status != http.StatusAccepted {
			t.Fatalf("status %d, want 202", r.status)
		}
		var to []string
		_, messages := h.outbox(t, existing.id)
		for _, m := range messages {
			if m.Kind == notify.KindPasswordReset {
				// The message names the account; the address comes from it.
				p, err := h.accounts.PrepareNotification(context.Background(), m.UserID, m.Kind, m.ID)
				if err != nil {
					t.Fatal(err)
				}
				to = append(to, p.Recipient.Email)
			}
		}
		if diff := cmp.Diff([]string{typed}, to); diff != "" {
			t.Errorf("reset emails (-want +got):\n%s", diff)
		}
	})
}

// API-1: an address that is not a plain one is a field error with a
// stable code; nothing is stored.
func TestInviteRefusesAddressLiteralsAndQuotedLocalParts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	org := h.organization(t, "Kutsukunta")
	_, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)
	p := newPerson(t)
	for _, tc := range []struct{ email, code string }{
		{"user@[192.0.2.1]", accounts.CodeEmailIPLiteral},
		{"user@[IPv6:2001:db8::1]", accounts.CodeEmailIPLiteral},
		{"user@192.0.2.1", accounts.CodeEmailIPLiteral},
		{`"a b"@kunta.example.fi`, accounts.CodeEmailQuotedLocalPart},
		{"user@xn--zz.example.fi", accounts.CodeInvalidEmail},
		{"m\u202eaija@kunta.example.fi", accounts.CodeInvalidEmail},
	} {
		r := h.do(t, request{method: "POST", path: "/api/users", token: admin,
			body: inviteBody(person{email: tc.email, firstName: p.firstName, lastName: p.lastName}, org, roleEditor)})
		pr := wantProblem(t, r, http.StatusBadRequest, "invalid_field")
		if diff := cmp.Diff([]problemField{{Field: "email", Code: tc.code}}, pr.Errors, ignoreDetail); diff != "" {
			t.Errorf("%q: errors (-want +got):\n%s", tc.email, diff)
		}
		if strings.Contains(string(r.body), tc.email) {
			t.Errorf("%q: the answer echoes the address: %s", tc.email, r.body)
		}
	}
}
