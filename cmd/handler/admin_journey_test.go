package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// activate accepts the n-th email's invitation for addr and signs in.
func (s *stack) activate(t *testing.T, addr string, n int) string {
	t.Helper()
	token := s.tokenFromEmail(t, addr, n)
	r := s.do(t, "POST", "/api/auth/invitations/accept", "", map[string]any{"token": token, "password": strongPassword, "acceptPrivacyNotice": true})
	if r.status != http.StatusOK {
		t.Fatalf("accept for %s: %d %s", addr, r.status, r.body)
	}
	var si struct {
		Token                         string
		SecondFactorEnrolmentRequired bool
	}
	r.decode(t, &si)
	if si.SecondFactorEnrolmentRequired {
		// Admins and primary users add an authenticator app first (issue 13).
		s.enrolTOTP(t, si.Token)
	}
	return si.Token
}

// enrolTOTP adds a confirmed authenticator app with the session token, as
// the frontend does after an enrol-only sign-in, and returns its secret
// and the recovery codes.
func (s *stack) enrolTOTP(t *testing.T, token string) (string, []string) {
	t.Helper()
	r := s.do(t, "POST", "/api/me/authenticators/totp", token, map[string]any{"name": "phone"})
	if r.status != http.StatusCreated {
		t.Fatalf("begin TOTP: %d %s", r.status, r.body)
	}
	var e struct {
		Authenticator struct{ ID string }
		Secret        string
	}
	r.decode(t, &e)
	code, err := totp.GenerateCode(e.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r = s.do(t, "POST", "/api/me/authenticators/"+e.Authenticator.ID+"/confirm", token, map[string]any{"code": code})
	if r.status != http.StatusOK {
		t.Fatalf("confirm TOTP: %d %s", r.status, r.body)
	}
	var codes struct{ RecoveryCodes []string }
	r.decode(t, &codes)
	return e.Secret, codes.RecoveryCodes
}

// signInWithRecoveryCode signs in in two steps, the second with a
// recovery code (no wait for the next TOTP step), and returns the answer.
func (s *stack) signInWithRecoveryCode(t *testing.T, email, password, code string) response {
	t.Helper()
	r := s.do(t, "POST", "/api/auth/login", "", map[string]any{"email": email, "password": password})
	var c struct{ SecondFactor struct{ Challenge string } }
	r.decode(t, &c)
	if r.status != http.StatusOK || c.SecondFactor.Challenge == "" {
		return r
	}
	return s.do(t, "POST", "/api/auth/login/second-factor", "", map[string]any{"challenge": c.SecondFactor.Challenge, "recoveryCode": code})
}

type idJSON struct {
	ID string `json:"id"`
}

// TestAdministrationJourney is the walk-through, as the admin
// views drive it: an admin creates two organisations and invites a primary
// user to each; the first primary user invites an editor, cannot see or
// touch the other organisation's people and cannot make anyone admin; the
// admin moves the editor, closes and restores them; the audit log shows
// every step without a single name or email (P3, P4, P5, P8, P9, P10, P11).
func TestAdministrationJourney(t *testing.T) {
	s := startStack(t)
	run := testenv.UniqueName(t)
	mail := func(who string) string { return fmt.Sprintf("%s-%s@example.fi", who, run) }

	if _, err := s.bootstrap(t, "-email", mail("admin"), "-first", "Aino", "-last", "Admin"); err != nil {
		t.Fatal(err)
	}
	admin := s.activate(t, mail("admin"), 1)

	orgIDs := map[string]string{}
	for _, name := range []string{"Esimerkkilä", "Toinenkunta"} {
		r := s.do(t, "POST", "/api/organizations", admin, map[string]any{"name": map[string]string{"fi": name}, "type": "municipality", "businessId": "0737546-2", "municipalityCode": "091"})
		if r.status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, r.status, r.body)
		}
		var o idJSON
		r.decode(t, &o)
		orgIDs[name] = o.ID
	}
	one, two := orgIDs["Esimerkkilä"], orgIDs["Toinenkunta"]

	invite := func(token, who, org, role string) (int, string) {
		r := s.do(t, "POST", "/api/users", token, map[string]any{"email": mail(who), "firstName": "Etu-" + who, "lastName": "Suku-" + who, "organizationId": org, "role": role, "locale": "fi"})
		var u idJSON
		if r.status == http.StatusCreated {
			r.decode(t, &u)
		}
		return r.status, u.ID
	}
	if st, _ := invite(admin, "primary1", one, "primary_user"); st != http.StatusCreated {
		t.Fatalf("invite primary1: %d", st)
	}
	_, primary2ID := invite(admin, "primary2", two, "primary_user")
	primary1 := s.activate(t, mail("primary1"), 1)

	// P3: a primary user invites into their own organisation...
	st, editorID := invite(primary1, "editor", one, "editor")
	if st != http.StatusCreated {
		t.Fatalf("primary invites editor: %d", st)
	}
	editor := s.activate(t, mail("editor"), 1)
	// ...never into another, never an admin (P5).
	if st, _ := invite(primary1, "stranger", two, "editor"); st != http.StatusForbidden {
		t.Fatalf("primary invites into another organisation: %d, want 403", st)
	}
	if st, _ := invite(primary1, "wannabe", one, "admin"); st != http.StatusForbidden {
		t.Fatalf("primary invites an admin: %d, want 403", st)
	}
	if r := s.do(t, "PATCH", "/api/users/"+editorID, primary1, map[string]any{"role": "admin"}); r.status != http.StatusForbidden {
		t.Fatalf("primary makes the editor admin: %d, want 403", r.status)
	}
	// P10: the other organisation's people are invisible, exactly like ids
	// that do not exist.
	missing := s.do(t, "GET", "/api/users/00000000-0000-4000-8000-000000000000", primary1, nil)
	other := s.do(t, "GET", "/api/users/"+primary2ID, primary1, nil)
	if other.status != http.StatusNotFound || missing.status != http.StatusNotFound {
		t.Fatalf("other organisation's user: %d (missing id: %d), want 404", other.status, missing.status)
	}
	if r := s.do(t, "DELETE", "/api/users/"+primary2ID, primary1, nil); r.status != http.StatusNotFound {
		t.Fatalf("primary closes another organisation's user: %d, want 404", r.status)
	}
	r := s.do(t, "GET", "/api/users?organizationId="+one, primary1, nil)
	if r.status != http.StatusOK || strings.Contains(string(r.body), mail("primary2")) {
		t.Fatalf("primary1's list: %d %s", r.status, r.body)
	}

	// The admin moves the editor (their session ends, P5), closes and
	// restores them (P8).
	r = s.do(t, "PATCH", "/api/users/"+editorID, admin, map[string]any{"organizationId": two})
	if r.status != http.StatusOK {
		t.Fatalf("move editor: %d %s", r.status, r.body)
	}
	if r := s.do(t, "GET", "/api/me", editor, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("editor's session after the move: %d, want 401", r.status)
	}
	// The move's email goes out before the closing: an access_changed
	// still queued when the account closes is not sent (a closed account
	// gets only its closing notice), and on a loaded machine the closing
	// could overtake it.
	s.mail.WaitForEmails(t, mail("editor"), 2, 10*time.Second)
	if r := s.do(t, "DELETE", "/api/users/"+editorID, admin, nil); r.status != http.StatusNoContent {
		t.Fatalf("close editor: %d %s", r.status, r.body)
	}
	r = s.do(t, "GET", "/api/users/"+editorID, admin, nil)
	var closed struct{ Status, ClosedReason, ErasureDueAt string }
	r.decode(t, &closed)
	if closed.Status != "closed" || closed.ClosedReason != "removed" || closed.ErasureDueAt == "" {
		t.Fatalf("closed editor = %+v", closed)
	}
	if r := s.do(t, "POST", "/api/users/"+editorID+"/restore", admin, nil); r.status != http.StatusOK {
		t.Fatalf("restore editor: %d %s", r.status, r.body)
	}
	// Restoring needs no new password.
	if r := s.do(t, "POST", "/api/auth/login", "", map[string]any{"email": mail("editor"), "password": strongPassword}); r.status != http.StatusOK {
		t.Fatalf("restored editor signs in: %d", r.status)
	}
	// Emails for the move, the closing and the restore arrived.
	if got := s.mail.WaitForEmails(t, mail("editor"), 4, 10*time.Second); len(got) != 4 {
		t.Fatalf("editor got %d emails, want 4 (invitation, access changed, closed, restored)", len(got))
	}

	// P9, P11: the audit log tells the whole story with ids only.
	var events struct {
		Items []struct {
			Action, ActorID, SubjectID string
			Fields                     []string
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	want := []string{"organization.created", "invitation.created", "invitation.accepted", "user.updated", "user.closed", "user.restored"}
	for {
		r = s.do(t, "GET", "/api/audit-events?limit=100", admin, nil)
		if r.status != http.StatusOK {
			t.Fatalf("audit events: %d %s", r.status, r.body)
		}
		r.decode(t, &events)
		seen := map[string]bool{}
		for _, e := range events.Items {
			seen[e.Action] = true
		}
		missing := []string{}
		for _, a := range want {
			if !seen[a] {
				missing = append(missing, a)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit log lacks %v", missing)
		}
		time.Sleep(50 * time.Millisecond) // the relay delivers asynchronously
	}
	body := string(r.body)
	for _, who := range []string{"admin", "primary1", "primary2", "editor"} {
		for _, personal := range []string{mail(who), "Etu-" + who, "Suku-" + who} {
			if strings.Contains(body, personal) {
				t.Errorf("audit log contains personal data %q", personal)
			}
		}
	}
	// A primary user sees their own organisation's events only.
	if r := s.do(t, "GET", "/api/audit-events?organizationId="+two, primary1, nil); r.status != http.StatusForbidden {
		t.Fatalf("primary1 reads another organisation's audit: %d, want 403", r.status)
	}
	if r := s.do(t, "GET", "/api/audit-events", primary1, nil); r.status != http.StatusOK {
		t.Fatalf("primary1 reads own audit: %d", r.status)
	}
}
