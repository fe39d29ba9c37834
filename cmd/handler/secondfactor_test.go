package main

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// TestSecondFactorJourney runs issue 13's flows through the whole stack
// (P5, P13): the bootstrapped admin enrols at the invitation, signs in in
// two steps with a code, invites a primary user who enrols too, and resets
// that person's factors: the person is signed out, emailed (MailDev), and
// enrols again at their next sign-in.
func TestSecondFactorJourney(t *testing.T) {
	s := startStack(t)
	run := testenv.UniqueName(t)
	mail := func(who string) string { return fmt.Sprintf("%s-%s@example.fi", who, run) }
	if _, err := s.bootstrap(t, "-email", mail("admin"), "-first", "Aino", "-last", "Admin"); err != nil {
		t.Fatal(err)
	}
	token := s.tokenFromEmail(t, mail("admin"), 1)
	r := s.do(t, "POST", "/api/auth/invitations/accept", "", map[string]any{"token": token, "password": strongPassword, "acceptPrivacyNotice": true})
	var si struct {
		Token                         string
		SecondFactorEnrolmentRequired bool
	}
	r.decode(t, &si)
	if !si.SecondFactorEnrolmentRequired {
		t.Fatalf("the admin's first session is not enrol-only: %s", r.body)
	}
	if r := s.do(t, "GET", "/api/users", si.Token, nil); r.status != http.StatusForbidden {
		t.Fatalf("an enrol-only session lists users: %d", r.status)
	}
	secret, _ := s.enrolTOTP(t, si.Token)

	// Two steps; the code must be a later step's than the one that
	// confirmed the factor.
	time.Sleep(time.Until(time.Now().Truncate(30 * time.Second).Add(30*time.Second + 100*time.Millisecond)))
	r = s.do(t, "POST", "/api/auth/login", "", map[string]any{"email": mail("admin"), "password": strongPassword})
	var c struct{ SecondFactor struct{ Challenge string } }
	r.decode(t, &c)
	if r.status != http.StatusOK || c.SecondFactor.Challenge == "" {
		t.Fatalf("password step: %d %s", r.status, r.body)
	}
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r = s.do(t, "POST", "/api/auth/login/second-factor", "", map[string]any{"challenge": c.SecondFactor.Challenge, "totp": code})
	var admin struct{ Token string }
	r.decode(t, &admin)
	if r.status != http.StatusOK || admin.Token == "" {
		t.Fatalf("second step: %d %s", r.status, r.body)
	}

	r = s.do(t, "POST", "/api/organizations", admin.Token, map[string]any{"name": map[string]string{"fi": "Nollauskunta"}, "type": "municipality", "businessId": "0737546-2", "municipalityCode": "091"})
	var org idJSON
	r.decode(t, &org)
	r = s.do(t, "POST", "/api/users", admin.Token, map[string]any{"email": mail("primary"), "firstName": "Pia", "lastName": "Pää",
		"organizationId": org.ID, "role": "primary_user", "locale": "fi"})
	var primary idJSON
	r.decode(t, &primary)
	if r.status != http.StatusCreated {
		t.Fatalf("invite: %d %s", r.status, r.body)
	}
	primaryToken := s.activate(t, mail("primary"), 1)

	if r := s.do(t, "DELETE", "/api/users/"+primary.ID+"/authenticators", admin.Token, nil); r.status != http.StatusNoContent {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	if r := s.do(t, "GET", "/api/me/authenticators", primaryToken, nil); r.status != http.StatusUnauthorized {
		t.Errorf("the person's session outlived the reset: %d", r.status)
	}
	// The invitation, the notice of the factor added, and the reset's.
	emails := s.mail.WaitForEmails(t, mail("primary"), 3, 10*time.Second)
	if len(emails) < 3 || !slices.ContainsFunc(emails, func(e testenv.CaughtEmail) bool { return e.Subject == "Palvelumanuaalin kirjautumistapasi on nollattu" }) {
		t.Fatalf("reset email not received: %d emails", len(emails))
	}
	r = s.do(t, "POST", "/api/auth/login", "", map[string]any{"email": mail("primary"), "password": strongPassword})
	si.SecondFactorEnrolmentRequired = false
	r.decode(t, &si)
	if r.status != http.StatusOK || !si.SecondFactorEnrolmentRequired {
		t.Errorf("sign-in after the reset: %d %s, want an enrol-only session", r.status, r.body)
	}
}
