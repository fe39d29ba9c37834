package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
)

// The second factor (P13; checklist AUTH rows). A person whose role is in
// Options.SecondFactorRoles signs in in two steps: the password, then a
// code from one of their factors (or a recovery code) against a
// single-use challenge. Without a factor yet, the password gives an
// enrol-only session that can only add one. Factors, recovery codes and
// challenges live in the account's partition, so they change in the
// account's transactions, are erased with it and appear in its export.

// FactorType is the kind of an authenticator.
type FactorType string

// The factor types.
const (
	FactorTOTP    FactorType = "totp"
	FactorPasskey FactorType = "passkey" // passkeys.go
)

// Factor is one second factor of an account.
type Factor struct {
	UserID     string
	ID         string
	Type       FactorType
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// Confirmed is false from the start of an enrolment until the person
	// proves the factor works (a current code); only confirmed factors
	// sign anyone in.
	Confirmed bool
	// Secret is the TOTP secret sealed under the MFA key (secondfactor.go);
	// never shown again after enrolment.
	Secret string
	// LastStep is the last TOTP time step accepted: it and earlier ones
	// are refused, so a code works once.
	LastStep int64
	// Passkey is a passkey factor's credential (passkeys.go): its public
	// key and counters, nothing secret.
	Passkey passkeys.Credential
	// Ceremony is a pending passkey's registration ceremony, kept from
	// BeginPasskey to ConfirmPasskey and used once.
	Ceremony []byte
	ETag     string
}

// RecoveryCode is one unused recovery code: its keyed hash only.
type RecoveryCode struct {
	UserID    string
	Hash      string
	CreatedAt time.Time
}

// Challenge is the server's half of a two-step sign-in: made when the
// password was right, it is single use, bound to the account, and lives
// ChallengeTTL. Only the hash of its secret is stored. PasswordStamp ties
// it to the password hash it was made with, so a password change or reset
// in between voids it.
type Challenge struct {
	UserID        string
	Hash          string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	Attempts      int
	PasswordStamp string
	// Ceremony is the passkey login ceremony the challenge offered
	// (passkeys.go), used once.
	Ceremony []byte
	ETag     string
}

// Method is a way to pass the second step.
type Method string

// The second-step methods.
const (
	MethodTOTP     Method = "totp"
	MethodRecovery Method = "recovery"
	MethodPasskey  Method = "passkey"
)

// Second-factor periods and limits.
const (
	// ChallengeTTL is how long the second step may follow the password.
	ChallengeTTL = 5 * time.Minute
	// challengeAttempts wrong codes end a challenge (each also counts
	// towards the lockout).
	challengeAttempts = 3
	// EnrolOnlyLifetime is how long an enrol-only session lives.
	EnrolOnlyLifetime = 15 * time.Minute
	// ReauthenticationWindow is how recent the proof of the password (and
	// factor) must be for a change to the factors.
	ReauthenticationWindow = 5 * time.Minute
	// maxFactors caps an account's factors (confirmed or not), keeping an
	// account's change within one storage transaction.
	maxFactors = 10
	// maxFactorName is the longest factor name, in characters.
	maxFactorName = 60
)

// Reasons recorded in the second factor's audit events.
const (
	reasonWrongSecondFactor = "wrong_second_factor"
	// reasonPasskeyCloned: a passkey answered with a sign count that did
	// not go up, so a copy of it may be in use; the audit trail shows it.
	reasonPasskeyCloned = "passkey_cloned"
)

// FactorRequired reports whether a person of role must have a second factor.
func (s *Service) FactorRequired(role kernel.Role) bool {
	return slices.Contains(s.opts.SecondFactorRoles, role)
}

func confirmedFactors(agg Aggregate) []Factor {
	var out []Factor
	for _, f := range agg.Factors {
		if f.Confirmed {
			out = append(out, f)
		}
	}
	return out
}

// methods lists how the account can pass the second step.
func methods(agg Aggregate) []Method {
	var out []Method
	for _, f := range confirmedFactors(agg) {
		if f.Type == FactorTOTP && !slices.Contains(out, MethodTOTP) {
			out = append(out, MethodTOTP)
		}
		if f.Type == FactorPasskey && !slices.Contains(out, MethodPasskey) {
			out = append(out, MethodPasskey)
		}
	}
	if len(agg.RecoveryCodes) > 0 {
		out = append(out, MethodRecovery)
	}
	return out
}

// passwordStamp is a short digest of the password hash a challenge was
// made with.
func passwordStamp(passwordHash string) string { return hashSecret("stamp|" + passwordHash)[:32] }

// SecondFactorChallenge is the password step's answer when a second step
// must follow.
type SecondFactorChallenge struct {
	Challenge string
	ExpiresAt time.Time
	Methods   []Method
	// PasskeyOptions, when the account has a passkey, are the
	// PublicKeyCredentialRequestOptionsJSON for navigator.credentials.get.
	PasskeyOptions json.RawMessage
}

// Proof is what the second step offers: one of a TOTP code, a recovery
// code, or a passkey's AuthenticationResponseJSON.
type Proof struct {
	TOTP         string
	RecoveryCode string
	Passkey      []byte
}

// errNoProof is a proof that did not do.
var errNoProof = errors.New("second factor: no proof")

// proveFactor checks a proof against the account's factors at now; a
// passkey's against the login ceremony kept for it. It returns the change
// that records the proof's use (the factor's step or sign count and last
// use, or the recovery code gone), or why the proof did not do: a
// passkeys error for a passkey (passkeys.ErrCloned for a clone),
// errNoProof otherwise. The caller tells the client none of it.
func (s *Service) proveFactor(agg Aggregate, p Proof, ceremony []byte, now time.Time) (Change, error) {
	ch := Change{UserID: agg.User.ID}
	switch {
	case p.Passkey != nil:
		if p.TOTP != "" || p.RecoveryCode != "" {
			break
		}
		f, err := s.provePasskey(agg, p.Passkey, ceremony, now)
		if err != nil {
			return Change{}, err
		}
		ch.UpdateFactors = []Factor{f}
		return ch, nil
	case p.TOTP != "" && p.RecoveryCode == "":
		for _, f := range confirmedFactors(agg) {
			if f.Type != FactorTOTP {
				continue
			}
			secret, err := s.opts.MFAKeys.open(f.Secret, f.UserID, f.ID)
			if err != nil {
				continue
			}
			if step, ok := matchTOTP(secret, p.TOTP, now, f.LastStep); ok {
				f.LastStep, f.LastUsedAt = step, now
				// A secret sealed under an older key version moves to the
				// current one at its next use (the key's rotation).
				if !strings.HasPrefix(f.Secret, s.opts.MFAKeys.Current+":") {
					if resealed, err := s.opts.MFAKeys.seal(secret, f.UserID, f.ID); err == nil {
						f.Secret = resealed
					}
				}
				ch.UpdateFactors = []Factor{f}
				return ch, nil
			}
		}
	case p.RecoveryCode != "" && p.TOTP == "":
		if c, ok := s.opts.MFAKeys.matchRecovery(agg.RecoveryCodes, p.RecoveryCode); ok {
			ch.DeleteRecoveryCodes = []RecoveryCode{c}
			return ch, nil
		}
	}
	return Change{}, errNoProof
}

// passwordStep is Login's end after a right password for an account whose
// role requires a second factor: a challenge when it has one, an
// enrol-only session when it has none. ok is false when no factor is
// required (the ordinary one-step sign-in follows).
func (a *loginAttempt) passwordStep(ctx context.Context, agg Aggregate, now time.Time, needsRehash bool) (SignIn, bool, error) {
	s, u := a.s, agg.User
	// A factor the person enrolled is asked for whether or not their role
	// requires one: they chose it to guard the account.
	enrolled := len(confirmedFactors(agg)) > 0
	if !s.FactorRequired(u.Role) && !enrolled {
		return SignIn{}, false, nil
	}
	if !enrolled {
		si, err := a.signIn(ctx, agg, now, needsRehash, true)
		return si, true, err
	}
	ch := Change{UserID: u.ID}
	if needsRehash {
		var err error
		if u.PasswordHash, err = s.hasher.Hash(ctx, a.password); err != nil {
			return SignIn{}, true, err
		}
		ch.User = &u
	}
	token, hash, err := newToken(u.ID)
	if err != nil {
		return SignIn{}, true, err
	}
	c := Challenge{UserID: u.ID, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(ChallengeTTL), PasswordStamp: passwordStamp(u.PasswordHash)}
	var options json.RawMessage
	if creds := passkeyCredentials(agg); len(creds) > 0 && s.opts.Passkeys != nil {
		if options, c.Ceremony, err = s.opts.Passkeys.BeginLogin(userRef(u), creds, now); err != nil {
			return SignIn{}, true, err
		}
	}
	ch.PutChallenges = []Challenge{c}
	// Challenges past their time go with the next one made, and at most
	// a few are kept: a password known to an attacker must not fill the
	// partition.
	live := 0
	for i := len(agg.Challenges) - 1; i >= 0; i-- {
		old := agg.Challenges[i]
		if !now.Before(old.ExpiresAt) || live >= 4 {
			ch.DeleteChallenges = append(ch.DeleteChallenges, old)
		} else {
			live++
		}
	}
	if err := s.applyWithoutUpkeep(ctx, ch); err != nil {
		return SignIn{}, true, err
	}
	return SignIn{SecondFactor: &SecondFactorChallenge{Challenge: token, ExpiresAt: c.ExpiresAt, Methods: methods(agg), PasskeyOptions: options}}, true, nil
}

// LoginSecondFactor is the second step of a two-step sign-in: the
// challenge the password step gave and one proof. It answers exactly as a
// one-step Login does. Every failure (unknown, used or expired challenge,
// wrong or reused code, wrong recovery code, locked account) is
// ErrInvalidCredentials, and those with a live challenge count towards the
// account's lockout like a wrong password (P13, AUTH-3).
func (s *Service) LoginSecondFactor(ctx context.Context, challenge string, p Proof, m kernel.Meta) (SignIn, error) {
	userID, hash, ok := parseToken(challenge)
	if !ok {
		return SignIn{}, ErrInvalidCredentials
	}
	var result SignIn
	err := retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, userID)
		if errors.Is(err, kernel.ErrNotFound) {
			return ErrInvalidCredentials
		}
		if err != nil {
			return err
		}
		now := s.now().UTC()
		u := agg.User
		var c Challenge
		found := false
		for _, x := range agg.Challenges {
			if sameHash(x.Hash, hash) {
				c, found = x, true
			}
		}
		if !found {
			return ErrInvalidCredentials
		}
		if !now.Before(c.ExpiresAt) || !sameHash(c.PasswordStamp, passwordStamp(u.PasswordHash)) ||
			u.Status != kernel.StatusActive || lockedAt(u, now) {
			// Gone for good: the challenge cannot be used any more.
			if err := s.applyWithoutUpkeep(ctx, Change{UserID: u.ID, DeleteChallenges: []Challenge{c}}); err != nil {
				return err
			}
			return ErrInvalidCredentials
		}
		proved, why := s.proveFactor(agg, p, c.Ceremony, now)
		if why != nil {
			c.Attempts++
			if p.Passkey != nil {
				// The ceremony is used once: a failed passkey leaves the
				// challenge to the other methods.
				c.Ceremony = nil
			}
			extra := Change{UserID: u.ID}
			if c.Attempts >= challengeAttempts {
				extra.DeleteChallenges = []Challenge{c}
			} else {
				extra.UpdateChallenges = []Challenge{c}
			}
			return s.recordFailedFactor(ctx, u, m, failureReason(why), extra)
		}
		proved.DeleteChallenges = []Challenge{c}
		a := &loginAttempt{s: s, m: m}
		result, err = a.finish(ctx, agg, now, proved, false)
		return err
	})
	return result, err
}

// failureReason is the audit reason for a proof that did not do.
func failureReason(why error) string {
	if errors.Is(why, passkeys.ErrCloned) {
		return reasonPasskeyCloned
	}
	return reasonWrongSecondFactor
}

// recordFailedFactor counts a failed second step like a wrong password
// (lockout.go), in one change with what it does to the challenge.
func (s *Service) recordFailedFactor(ctx context.Context, u User, m kernel.Meta, reason string, ch Change) error {
	now := s.now().UTC()
	events := s.expireLock(&u, now, m)
	ev := s.event(audit.ActionSignInFailed, "", u, m)
	ev.Reason = reason
	events = append(events, ev)
	events = append(events, s.countFailure(&u, now, m)...)
	ch.User, ch.Events = &u, events
	if err := s.applyWithoutUpkeep(ctx, ch); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// FactorInfo is a factor as its owner sees it: never its secret.
type FactorInfo struct {
	ID         string
	Type       FactorType
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

func infoOf(f Factor) FactorInfo {
	return FactorInfo{ID: f.ID, Type: f.Type, Name: f.Name, CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt}
}

// ListFactors lists the caller's confirmed factors, oldest first.
func (s *Service) ListFactors(ctx context.Context, p Principal) ([]FactorInfo, error) {
	agg, err := s.store.Aggregate(ctx, p.Actor.ID)
	if err != nil {
		return nil, err
	}
	out := []FactorInfo{}
	for _, f := range confirmedFactors(agg) {
		out = append(out, infoOf(f))
	}
	slices.SortFunc(out, func(a, b FactorInfo) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// recent refuses a change to the factors unless the session proved the
// password (and factor) within ReauthenticationWindow. An enrol-only
// session was made by the password within EnrolOnlyLifetime, which is
// all it may do anything with.
func (s *Service) recent(p Principal) error {
	if p.Actor.EnrolOnly || s.now().UTC().Sub(p.VerifiedAt) <= ReauthenticationWindow {
		return nil
	}
	return ErrReauthenticationRequired
}

// notEnrolOnly refuses what an enrol-only session may not do.
func notEnrolOnly(p Principal) error {
	if p.Actor.EnrolOnly {
		return ErrEnrolmentRequired
	}
	return nil
}

func validFactorName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxFactorName || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		v := &kernel.ValidationError{}
		v.Add("name", "invalid", "1 to 60 printable characters")
		return "", v
	}
	return name, nil
}

// TOTPEnrolment is a TOTP factor being added: the secret and its
// otpauth:// URI, shown this once.
type TOTPEnrolment struct {
	Factor FactorInfo
	Secret string
	URI    string
}

// BeginTOTP starts adding a TOTP factor: it is stored unconfirmed (an
// earlier unconfirmed one is replaced) and counts for nothing until
// ConfirmTOTP.
func (s *Service) BeginTOTP(ctx context.Context, p Principal, name string, m kernel.Meta) (TOTPEnrolment, error) {
	if err := s.recent(p); err != nil {
		return TOTPEnrolment{}, err
	}
	name, err := validFactorName(name)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	var out TOTPEnrolment
	err = retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		ch, err := replacePending(agg)
		if err != nil {
			return err
		}
		secret, uri, err := newTOTP(agg.User.Email)
		if err != nil {
			return err
		}
		f := Factor{UserID: p.Actor.ID, ID: s.newID(), Type: FactorTOTP, Name: name, CreatedAt: now}
		if f.Secret, err = s.opts.MFAKeys.seal(secret, f.UserID, f.ID); err != nil {
			return err
		}
		ch.PutFactors = []Factor{f}
		if err := s.apply(ctx, ch); err != nil {
			return err
		}
		out = TOTPEnrolment{Factor: infoOf(f), Secret: secret, URI: uri}
		return nil
	})
	return out, err
}

// replacePending is the change that removes the account's unconfirmed
// factors before another is begun, or the field error when the account
// has as many factors as it may.
func replacePending(agg Aggregate) (Change, error) {
	ch := Change{UserID: agg.User.ID}
	for _, f := range agg.Factors {
		if !f.Confirmed {
			ch.DeleteFactors = append(ch.DeleteFactors, f)
		}
	}
	if len(agg.Factors)-len(ch.DeleteFactors) >= maxFactors {
		v := &kernel.ValidationError{}
		v.Add("name", "too_many_factors", "")
		return Change{}, v
	}
	return ch, nil
}

// ConfirmTOTP finishes adding a TOTP factor with a current code from it.
// The first factor of an account comes with its recovery codes (returned
// this once); an enrol-only session becomes an ordinary one. A wrong code
// is a field error and changes nothing.
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, factorID, code string, m kernel.Meta) ([]string, error) {
	if err := s.recent(p); err != nil {
		return nil, err
	}
	var codes []string
	err := retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		i := slices.IndexFunc(agg.Factors, func(f Factor) bool { return f.ID == factorID && !f.Confirmed && f.Type == FactorTOTP })
		if i < 0 {
			return kernel.ErrNotFound
		}
		f := agg.Factors[i]
		secret, err := s.opts.MFAKeys.open(f.Secret, f.UserID, f.ID)
		if err != nil {
			return err
		}
		step, ok := matchTOTP(secret, code, now, f.LastStep)
		if !ok {
			v := &kernel.ValidationError{}
			v.Add("code", "invalid_code", "")
			return v
		}
		f.Confirmed, f.LastStep, f.LastUsedAt = true, step, now
		codes, err = s.confirmFactor(ctx, p, agg, f, now, m)
		return err
	})
	return codes, err
}

// confirmFactor stores a factor the person just proved as confirmed. The
// first factor of an account comes with its recovery codes (returned);
// an enrol-only session becomes an ordinary one.
func (s *Service) confirmFactor(ctx context.Context, p Principal, agg Aggregate, f Factor, now time.Time, m kernel.Meta) ([]string, error) {
	ch := Change{UserID: p.Actor.ID, UpdateFactors: []Factor{f}}
	var codes []string
	if len(confirmedFactors(agg)) == 0 {
		var hashes []string
		var err error
		if codes, hashes, err = s.opts.MFAKeys.newRecoveryCodes(); err != nil {
			return nil, err
		}
		ch.DeleteRecoveryCodes = agg.RecoveryCodes
		for _, h := range hashes {
			ch.PutRecoveryCodes = append(ch.PutRecoveryCodes, RecoveryCode{UserID: p.Actor.ID, Hash: h, CreatedAt: now})
		}
	}
	if p.Actor.EnrolOnly {
		for _, sess := range agg.Sessions {
			if sameHash(sess.Hash, p.SessionHash) {
				// The password and now the factor are proven: the
				// session becomes an ordinary one.
				sess.EnrolOnly, sess.VerifiedAt = false, now
				sess.ExpiresAt = sess.CreatedAt.Add(s.opts.SessionAbsoluteTimeout)
				ch.UpdateSessions = []Session{sess}
			}
		}
	}
	ev := s.event(audit.ActionFactorAdded, p.Actor.ID, agg.User, m)
	ev.Reason = string(f.Type)
	ch.Events = []audit.Event{ev}
	// The person hears of every factor added: one they did not add means
	// someone else has their password (and signed in with it).
	ch.Notifications = []notify.Message{s.notification(notify.KindFactorAdded, agg.User)}
	if err := s.apply(ctx, ch); err != nil {
		return nil, err
	}
	return codes, nil
}

// RenameFactor renames one of the caller's factors.
func (s *Service) RenameFactor(ctx context.Context, p Principal, factorID, name string, m kernel.Meta) (FactorInfo, error) {
	if err := notEnrolOnly(p); err != nil {
		return FactorInfo{}, err
	}
	if err := s.recent(p); err != nil {
		return FactorInfo{}, err
	}
	name, err := validFactorName(name)
	if err != nil {
		return FactorInfo{}, err
	}
	var out FactorInfo
	err = retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(agg.Factors, func(f Factor) bool { return f.ID == factorID && f.Confirmed })
		if i < 0 {
			return kernel.ErrNotFound
		}
		f := agg.Factors[i]
		f.Name = name
		ev := s.event(audit.ActionFactorRenamed, p.Actor.ID, agg.User, m)
		ev.Reason = string(f.Type)
		if err := s.apply(ctx, Change{UserID: p.Actor.ID, UpdateFactors: []Factor{f}, Events: []audit.Event{ev}}); err != nil {
			return err
		}
		out = infoOf(f)
		return nil
	})
	return out, err
}

// RemoveFactor removes one of the caller's factors; never the last one
// while the role requires a factor (ErrLastFactor). Removing the last one
// removes the recovery codes too: there is nothing left to recover.
func (s *Service) RemoveFactor(ctx context.Context, p Principal, factorID string, m kernel.Meta) error {
	if err := notEnrolOnly(p); err != nil {
		return err
	}
	if err := s.recent(p); err != nil {
		return err
	}
	return retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(agg.Factors, func(f Factor) bool { return f.ID == factorID && f.Confirmed })
		if i < 0 {
			return kernel.ErrNotFound
		}
		f := agg.Factors[i]
		ch := Change{UserID: p.Actor.ID, DeleteFactors: []Factor{f}}
		if len(confirmedFactors(agg)) == 1 {
			if s.FactorRequired(agg.User.Role) {
				return ErrLastFactor
			}
			ch.DeleteRecoveryCodes = agg.RecoveryCodes
		}
		ev := s.event(audit.ActionFactorRemoved, p.Actor.ID, agg.User, m)
		ev.Reason = string(f.Type)
		ch.Events = []audit.Event{ev}
		return s.apply(ctx, ch)
	})
}

// RegenerateRecoveryCodes replaces all of the caller's recovery codes with
// a new set, returned this once. ErrNoSecondFactor without a factor.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p Principal, m kernel.Meta) ([]string, error) {
	if err := notEnrolOnly(p); err != nil {
		return nil, err
	}
	if err := s.recent(p); err != nil {
		return nil, err
	}
	var codes []string
	err := retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		if len(confirmedFactors(agg)) == 0 {
			return ErrNoSecondFactor
		}
		now := s.now().UTC()
		var hashes []string
		if codes, hashes, err = s.opts.MFAKeys.newRecoveryCodes(); err != nil {
			return err
		}
		ch := Change{UserID: p.Actor.ID, DeleteRecoveryCodes: agg.RecoveryCodes,
			Events: []audit.Event{s.event(audit.ActionRecoveryCodesRenewed, p.Actor.ID, agg.User, m)}}
		for _, h := range hashes {
			ch.PutRecoveryCodes = append(ch.PutRecoveryCodes, RecoveryCode{UserID: p.Actor.ID, Hash: h, CreatedAt: now})
		}
		return s.apply(ctx, ch)
	})
	return codes, err
}

// Reauthenticate renews the session's proof of authentication: the
// password, and a factor when the account has one. A wrong password or
// proof is ErrWrongPassword and counts towards the lockout.
func (s *Service) Reauthenticate(ctx context.Context, p Principal, password string, proof Proof, m kernel.Meta) error {
	if err := notEnrolOnly(p); err != nil {
		return err
	}
	return retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		u := agg.User
		now := s.now().UTC()
		if err := s.proveCurrentPassword(ctx, u, password, now, m); err != nil {
			return err
		}
		ch := Change{UserID: u.ID}
		// A passkey answers the ceremony BeginPasskeyReauthentication
		// kept for this session; it is used once, whatever the answer.
		var used []Challenge
		var ceremony []byte
		if c, ok := reauthChallenge(agg, p); ok {
			used, ceremony = []Challenge{c}, c.Ceremony
		}
		if len(confirmedFactors(agg)) > 0 {
			var why error
			if ch, why = s.proveFactor(agg, proof, ceremony, now); why != nil {
				if err := s.recordFailedFactor(ctx, u, m, failureReason(why), Change{UserID: u.ID, DeleteChallenges: used}); !errors.Is(err, ErrInvalidCredentials) {
					return err
				}
				return ErrWrongPassword
			}
		}
		ch.DeleteChallenges = used
		i := slices.IndexFunc(agg.Sessions, func(x Session) bool { return sameHash(x.Hash, p.SessionHash) })
		if i < 0 {
			return ErrUnauthenticated
		}
		sess := agg.Sessions[i]
		sess.VerifiedAt = now
		ch.UserID = u.ID
		ch.UpdateSessions = []Session{sess}
		ch.Events = []audit.Event{s.event(audit.ActionReauthenticated, u.ID, u, m)}
		return s.apply(ctx, ch)
	})
}

// ResetSecondFactor removes every factor, recovery code and pending
// challenge of the account id and ends its sessions, so the person enrols
// again at their next sign-in; they are emailed. Admins may do it to
// anyone, primary users to the people of their own organisation but never
// to an admin (P5). ErrNotFound for an account the actor may not see (P10),
// ErrForbidden for one they see but may not act on.
func (s *Service) ResetSecondFactor(ctx context.Context, p Principal, id string, m kernel.Meta) error {
	actor := p.Actor
	return retryConflicts(func() error {
		agg, err := s.visible(ctx, actor, id)
		if err != nil {
			return err
		}
		u := agg.User
		// One's own factors change through /api/me, where the last one is
		// kept while the role requires it: this is for another person's.
		if u.ID == actor.ID || !kernel.Allows(actor, kernel.PermResetFactors, u.ID, u.OrganizationID) || !grantable(actor, u.Role) {
			return kernel.ErrForbidden
		}
		// Taking away someone's factor is as strong as taking one's own:
		// a stolen admin session that has not proven itself lately cannot.
		if err := s.recent(p); err != nil {
			return err
		}
		return s.apply(ctx, Change{
			UserID:              u.ID,
			DeleteFactors:       agg.Factors,
			DeleteRecoveryCodes: agg.RecoveryCodes,
			DeleteChallenges:    agg.Challenges,
			DeleteSessions:      agg.Sessions,
			Events:              []audit.Event{s.event(audit.ActionFactorsReset, actor.ID, u, m)},
			Notifications:       []notify.Message{s.notification(notify.KindSecondFactorReset, u)},
		})
	})
}
