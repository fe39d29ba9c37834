package accounts_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// testMFAKeys are the MFA key versions of the second-factor tests.
func testMFAKeys(current string, versions ...string) accounts.MFAKeys {
	k := accounts.MFAKeys{Current: current, Versions: map[string][]byte{}}
	for _, v := range append(versions, current) {
		k.Versions[v] = []byte(strings.Repeat(v+"-mfa-key-", 8))[:accounts.MFAKeyLen]
	}
	return k
}

// mfaEnv is a service that requires a second factor of admins and
// primary users, as config sets it.
func mfaEnv(t *testing.T, configure ...func(*accounts.Options)) *testEnv {
	return newEnv(t, append([]func(*accounts.Options){func(o *accounts.Options) {
		o.SecondFactorRoles = []kernel.Role{kernel.RoleAdmin, kernel.RolePrimaryUser}
		o.MFAKeys = testMFAKeys("m1")
	}}, configure...)...)
}

// code is the TOTP code of secret at the test clock's now.
func (e *testEnv) code(secret string) string {
	e.t.Helper()
	c, err := totp.GenerateCode(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// enrolled makes an active account of role with a confirmed TOTP factor:
// the account, the factor's secret, its recovery codes and a full session.
func (e *testEnv) enrolled(email string, role kernel.Role) (accounts.User, string, []string, accounts.SignIn) {
	e.t.Helper()
	u, si := e.activeAs(email, role)
	p := e.authenticate(si.Token)
	en, err := e.svc.BeginTOTP(e.ctx, p, "phone", testMeta)
	if err != nil {
		e.t.Fatalf("BeginTOTP: %v", err)
	}
	codes, err := e.svc.ConfirmTOTP(e.ctx, p, en.Factor.ID, e.code(en.Secret), testMeta)
	if err != nil {
		e.t.Fatalf("ConfirmTOTP: %v", err)
	}
	// The next code is another step's: a code works once.
	e.clock.Advance(30 * time.Second)
	return u, en.Secret, codes, si
}

// secondStep signs in with the password, expecting a challenge.
func (e *testEnv) challenge(email string) *accounts.SecondFactorChallenge {
	e.t.Helper()
	si := e.login(email, goodPassword)
	if si.SecondFactor == nil || si.Token != "" {
		e.t.Fatalf("password step = %+v, want a challenge and no session", si)
	}
	return si.SecondFactor
}

// P13, AUTH (second factor): enrolment is confirmed by a current code
// before the factor counts, the secret is shown once and stored sealed,
// and the person whose role requires a factor gets, until then, an
// enrol-only session with no permission.
func TestTOTPEnrolmentNeedsConfirmationAndShowsTheSecretOnce(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	u, si := env.activeAs("primary@example.fi", kernel.RolePrimaryUser)
	if !si.EnrolOnly {
		t.Fatal("accepting the invitation gave a full session to a role that requires a second factor")
	}
	p := env.authenticate(si.Token)
	if !p.Actor.EnrolOnly || kernel.Allows(p.Actor, kernel.PermSeeUsers, u.ID, u.OrganizationID) {
		t.Fatalf("enrol-only actor %+v has permissions", p.Actor)
	}
	en, err := env.svc.BeginTOTP(env.ctx, p, "phone", testMeta)
	if err != nil {
		t.Fatal(err)
	}
	if en.Secret == "" || !strings.HasPrefix(en.URI, "otpauth://totp/") {
		t.Fatalf("enrolment = %+v", en)
	}
	// Not confirmed: the password still gives only an enrol-only session.
	if again := env.login("primary@example.fi", goodPassword); !again.EnrolOnly || again.SecondFactor != nil {
		t.Fatalf("sign-in with an unconfirmed factor = %+v, want enrol-only", again)
	}
	if _, err := env.svc.ConfirmTOTP(env.ctx, p, en.Factor.ID, "000000", testMeta); len(fieldErrors(t, err)) != 1 {
		t.Fatalf("a wrong code confirmed: %v", err)
	}
	codes, err := env.svc.ConfirmTOTP(env.ctx, p, en.Factor.ID, env.code(en.Secret), testMeta)
	if err != nil || len(codes) != 10 {
		t.Fatalf("ConfirmTOTP = %d codes, %v", len(codes), err)
	}
	// The session that enrolled is an ordinary one now.
	if p := env.authenticate(si.Token); p.Actor.EnrolOnly {
		t.Error("the session stays enrol-only after the factor was confirmed")
	}
	agg := env.aggregate(u.ID)
	if len(agg.Factors) != 1 || strings.Contains(agg.Factors[0].Secret, en.Secret) || len(agg.RecoveryCodes) != 10 {
		t.Fatalf("stored factors %d, recovery codes %d; secret in the clear: %v",
			len(agg.Factors), len(agg.RecoveryCodes), len(agg.Factors) == 1 && strings.Contains(agg.Factors[0].Secret, en.Secret))
	}
	for i, c := range agg.RecoveryCodes {
		if strings.Contains(c.Hash, strings.ReplaceAll(codes[i], "-", "")) {
			t.Errorf("recovery code %d stored in the clear", i)
		}
	}
	list, err := env.svc.ListFactors(env.ctx, p)
	if err != nil || len(list) != 1 || list[0].Type != accounts.FactorTOTP {
		t.Fatalf("ListFactors = %+v, %v", list, err)
	}
	if got := env.eventsWith(u.ID, audit.ActionFactorAdded); len(got) != 1 || got[0].Reason != "totp" {
		t.Errorf("factor.added events = %+v", got)
	}
}

// P13: the sealed secret opens only for its own account and factor, and
// under the key version that sealed it after the key rotated.
func TestSealedSecretSurvivesRotationAndOpensNowhereElse(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	u, secret, _, _ := env.enrolled("rotate@example.fi", kernel.RoleAdmin)
	// Rotation: a new current version, the old one kept.
	env.opts.MFAKeys = testMFAKeys("m2", "m1")
	env.rebuild(testPeppers("v1"), cheapParams)
	c := env.challenge("rotate@example.fi")
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: env.code(secret)}, testMeta); err != nil {
		t.Fatalf("a factor sealed under the old version after rotation: %v", err)
	}
	if f := env.aggregate(u.ID).Factors[0]; !strings.HasPrefix(f.Secret, "m2:") {
		t.Errorf("the secret was not resealed under the current version at its use: %q", f.Secret[:3])
	}
	// A sealed secret copied onto another factor row does not open.
	agg := env.aggregate(u.ID)
	f := agg.Factors[0]
	other, _, _, _ := env.enrolled("other@example.fi", kernel.RoleAdmin)
	oagg := env.aggregate(other.ID)
	of := oagg.Factors[0]
	of.Secret = f.Secret
	if err := env.store.Apply(env.ctx, accounts.Change{UserID: other.ID, UpdateFactors: []accounts.Factor{of}}); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(30 * time.Second)
	c = env.challenge("other@example.fi")
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: env.code(secret)}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Errorf("a secret moved to another account signed in: %v", err)
	}
}

// P13, AUTH-2: the two-step sign-in. The password step makes no session;
// the second step with a current code makes one; the same code is refused
// the second time (replay within its step), and so is an earlier step's.
func TestTwoStepSignInWithTOTPRefusesReplay(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	u, secret, _, _ := env.enrolled("admin@example.fi", kernel.RoleAdmin)
	before := len(env.aggregate(u.ID).Sessions)
	c := env.challenge("admin@example.fi")
	if strings.Join([]string{string(c.Methods[0]), string(c.Methods[1])}, ",") != "totp,recovery" {
		t.Errorf("methods = %v", c.Methods)
	}
	if got := len(env.aggregate(u.ID).Sessions); got != before {
		t.Fatalf("the password step made a session: %d sessions, were %d", got, before)
	}
	code := env.code(secret)
	si, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: code}, testMeta)
	if err != nil || si.Token == "" || si.EnrolOnly {
		t.Fatalf("second step = %+v, %v", si, err)
	}
	if p := env.authenticate(si.Token); p.Actor.EnrolOnly || p.Actor.Role != kernel.RoleAdmin {
		t.Errorf("session actor = %+v", p.Actor)
	}
	// The challenge is gone.
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: code}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Errorf("a used challenge worked again: %v", err)
	}
	// The same code with a fresh challenge, within the same step.
	c = env.challenge("admin@example.fi")
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: code}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Errorf("a replayed code signed in: %v", err)
	}
	// The next step's code works (the challenge survives one failure).
	env.clock.Advance(30 * time.Second)
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: env.code(secret)}, testMeta); err != nil {
		t.Errorf("the next step's code: %v", err)
	}
	// An expired challenge is refused like anything else.
	c = env.challenge("admin@example.fi")
	env.clock.Advance(accounts.ChallengeTTL + time.Second)
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: env.code(secret)}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Errorf("an expired challenge signed in: %v", err)
	}
	if n := len(env.aggregate(u.ID).Challenges); n != 0 {
		t.Errorf("%d challenges left after use and expiry", n)
	}
}

// P13: a recovery code signs in once; it is removed when used.
func TestRecoveryCodeIsSingleUse(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	u, _, codes, _ := env.enrolled("lost@example.fi", kernel.RolePrimaryUser)
	c := env.challenge("lost@example.fi")
	// Typed in capitals with spaces: the same code.
	typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{RecoveryCode: typed}, testMeta); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if n := len(env.aggregate(u.ID).RecoveryCodes); n != 9 {
		t.Errorf("%d recovery codes left, want 9", n)
	}
	c = env.challenge("lost@example.fi")
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{RecoveryCode: codes[3]}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Errorf("a used recovery code signed in again: %v", err)
	}
	// Both proofs at once is no proof.
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{RecoveryCode: codes[4], TOTP: "123456"}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Errorf("two proofs at once: %v", err)
	}
}

// AUTH-3, P13: second-step failures count towards the same escalating
// lockout as wrong passwords, and a locked account's right code is refused
// with the same answer.
func TestSecondFactorFailuresShareThePasswordLockout(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	u, secret, _, _ := env.enrolled("locked@example.fi", kernel.RoleAdmin)
	early := env.challenge("locked@example.fi") // made before the lock
	for range 2 {
		if _, err := env.svc.Login(env.ctx, "locked@example.fi", "wrong password here", testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	for range 3 {
		c := env.challenge("locked@example.fi")
		if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: "000000"}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	got := env.user(u.ID)
	if !got.LockedUntil.After(env.clock.Now()) {
		t.Fatalf("5 failures (2 passwords, 3 codes) did not lock: %+v", got.LockedUntil)
	}
	if _, err := env.svc.Login(env.ctx, "locked@example.fi", goodPassword, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Errorf("a locked account's password step: %v", err)
	}
	if n := len(env.eventsWith(u.ID, audit.ActionAccountLocked)); n != 1 {
		t.Errorf("%d account.locked events", n)
	}
	// A right code is refused while the lock lasts, with the same answer.
	if _, err := env.svc.LoginSecondFactor(env.ctx, early.Challenge, accounts.Proof{TOTP: env.code(secret)}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Errorf("a locked account's right code: %v", err)
	}
}

// P13: three wrong codes end a challenge.
func TestChallengeEndsAfterThreeWrongCodes(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t, func(o *accounts.Options) { o.LockoutThreshold = 50 })
	_, secret, _, _ := env.enrolled("three@example.fi", kernel.RoleAdmin)
	c := env.challenge("three@example.fi")
	for range 3 {
		if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: "000000"}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: env.code(secret)}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Errorf("a challenge with three failures still signs in: %v", err)
	}
}

// P13: changes to the factors need a recent authentication, and the last
// factor cannot be removed while the role requires one.
func TestFactorChangesNeedRecentAuthenticationAndKeepTheLastFactor(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	u, secret, _, _ := env.enrolled("recent@example.fi", kernel.RolePrimaryUser)
	c := env.challenge("recent@example.fi")
	si, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: env.code(secret)}, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	p := env.authenticate(si.Token)
	list, _ := env.svc.ListFactors(env.ctx, p)
	if err := env.svc.RemoveFactor(env.ctx, p, list[0].ID, testMeta); !errors.Is(err, accounts.ErrLastFactor) {
		t.Errorf("removing the last required factor: %v", err)
	}
	env.clock.Advance(accounts.ReauthenticationWindow + time.Second)
	p = env.authenticate(si.Token)
	if _, err := env.svc.RegenerateRecoveryCodes(env.ctx, p, testMeta); !errors.Is(err, accounts.ErrReauthenticationRequired) {
		t.Errorf("regenerating without a recent authentication: %v", err)
	}
	if _, err := env.svc.BeginTOTP(env.ctx, p, "tablet", testMeta); !errors.Is(err, accounts.ErrReauthenticationRequired) {
		t.Errorf("adding a factor without a recent authentication: %v", err)
	}
	// The password alone is not enough when there is a factor.
	if err := env.svc.Reauthenticate(env.ctx, p, goodPassword, accounts.Proof{}, testMeta); !errors.Is(err, accounts.ErrWrongPassword) {
		t.Errorf("reauthenticating without the factor: %v", err)
	}
	if err := env.svc.Reauthenticate(env.ctx, p, goodPassword, accounts.Proof{TOTP: env.code(secret)}, testMeta); err != nil {
		t.Fatalf("Reauthenticate: %v", err)
	}
	p = env.authenticate(si.Token)
	codes, err := env.svc.RegenerateRecoveryCodes(env.ctx, p, testMeta)
	if err != nil || len(codes) != 10 {
		t.Fatalf("RegenerateRecoveryCodes = %d, %v", len(codes), err)
	}
	if n := len(env.aggregate(u.ID).RecoveryCodes); n != 10 {
		t.Errorf("%d codes stored after regenerating, want 10 (all replaced)", n)
	}
	if n := len(env.eventsWith(u.ID, audit.ActionFactorRemoved)); n != 0 {
		t.Errorf("a refused removal was audited")
	}
}

// P5, P13: an admin resets a person's factors: all gone, sessions ended,
// the person emailed, the audit trail names ids only. A primary user may
// not reset an admin's.
func TestResetSecondFactor(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	admin, _, _, adminIn := env.enrolled("boss@example.fi", kernel.RoleAdmin)
	primary, _, _, primaryIn := env.enrolled("primary@example.fi", kernel.RolePrimaryUser)
	pa := env.authenticate(primaryIn.Token)
	if err := env.svc.ResetSecondFactor(env.ctx, pa, admin.ID, testMeta); !errors.Is(err, kernel.ErrForbidden) {
		t.Errorf("a primary user reset an admin's factors: %v", err)
	}
	aa := env.authenticate(adminIn.Token)
	// Not one's own through this door, however high the role (AUTH:
	// the last-factor rule and recent authentication live in /api/me).
	if err := env.svc.ResetSecondFactor(env.ctx, aa, admin.ID, testMeta); !errors.Is(err, kernel.ErrForbidden) {
		t.Errorf("an admin reset their own factors through the admin endpoint: %v", err)
	}
	if err := env.svc.ResetSecondFactor(env.ctx, aa, primary.ID, testMeta); err != nil {
		t.Fatal(err)
	}
	agg := env.aggregate(primary.ID)
	if len(agg.Factors)+len(agg.RecoveryCodes)+len(agg.Sessions)+len(agg.Challenges) != 0 {
		t.Errorf("left: %d factors, %d codes, %d sessions, %d challenges", len(agg.Factors), len(agg.RecoveryCodes), len(agg.Sessions), len(agg.Challenges))
	}
	if n := len(env.notificationsOf(primary.ID, notify.KindSecondFactorReset)); n != 1 {
		t.Errorf("%d reset emails", n)
	}
	ev := env.eventsWith(primary.ID, audit.ActionFactorsReset)
	if len(ev) != 1 || ev[0].ActorID != admin.ID || ev[0].SubjectID != primary.ID {
		t.Errorf("reset events = %+v", ev)
	}
	// They enrol again at their next sign-in.
	if si := env.login("primary@example.fi", goodPassword); !si.EnrolOnly {
		t.Errorf("sign-in after the reset = %+v, want enrol-only", si)
	}
}

// P14: the export lists the factors without secrets (erasure of their
// rows is proven in tablestore's TestSecondFactorRowsRoundTripAndAreErased).
func TestExportListsFactorsWithoutSecrets(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	_, secret, codes, si := env.enrolled("export@example.fi", kernel.RolePrimaryUser)
	x, err := env.svc.ExportSelf(env.ctx, env.authenticate(si.Token))
	if err != nil {
		t.Fatal(err)
	}
	raw := mustJSON(t, x.Factors)
	if len(x.Factors) != 1 || x.RecoveryCodes != 10 || strings.Contains(raw, secret) || strings.Contains(raw, codes[0]) {
		t.Errorf("export factors = %+v, codes %d", x.Factors, x.RecoveryCodes)
	}
}

// P13, AUTH (second factor): a factor an editor chose to enrol guards
// their account like a required one: the password alone signs them in no
// more, the second step does.
func TestAnEnrolledFactorIsAskedForEvenWhenTheRoleDoesNotRequireOne(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	u, secret, _, _ := env.enrolled("vapaaehtoinen@example.fi", kernel.RoleEditor)
	c := env.challenge(u.Email)
	si, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{TOTP: env.code(secret)}, testMeta)
	if err != nil || si.Token == "" {
		t.Fatalf("second step: %+v, %v", si, err)
	}
}

// AUTH (second factor): an admin session that has not proven itself
// within the reauthentication window cannot take away someone's factor,
// the way a stolen session could; reauthenticating opens it again.
func TestResetSecondFactorNeedsARecentAuthentication(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	_, adminSecret, _, adminIn := env.enrolled("boss2@example.fi", kernel.RoleAdmin)
	editor, _ := env.activeAs("editori@example.fi", kernel.RoleEditor)
	env.clock.Advance(accounts.ReauthenticationWindow + time.Minute)
	p := env.authenticate(adminIn.Token)
	if err := env.svc.ResetSecondFactor(env.ctx, p, editor.ID, testMeta); !errors.Is(err, accounts.ErrReauthenticationRequired) {
		t.Fatalf("a stale admin session reset a factor: %v", err)
	}
	if err := env.svc.Reauthenticate(env.ctx, p, goodPassword, accounts.Proof{TOTP: env.code(adminSecret)}, testMeta); err != nil {
		t.Fatal(err)
	}
	if err := env.svc.ResetSecondFactor(env.ctx, env.authenticate(adminIn.Token), editor.ID, testMeta); err != nil {
		t.Fatalf("after reauthenticating: %v", err)
	}
}

// AUTH (second factor), P10: every factor added is told to the person, in
// an email with ids only on the queue: the alarm for a factor someone
// else enrolled with a known password (an admin's first sign-in is
// enrol-only, and whoever holds the password can enrol).
func TestAddingAFactorEmailsThePerson(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t)
	u, _, _, _ := env.enrolled("halytys@example.fi", kernel.RolePrimaryUser)
	if n := len(env.notificationsOf(u.ID, notify.KindFactorAdded)); n != 1 {
		t.Fatalf("%d factor_added notifications after enrolling one factor, want 1", n)
	}
}
