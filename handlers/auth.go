package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
)

// userJSON is a person's account as the frontend sees it. Credentials,
// lockout state and storage keys never appear.
type userJSON struct {
	ID             string    `json:"id"`
	Email          string    `json:"email"`
	FirstName      string    `json:"firstName"`
	LastName       string    `json:"lastName"`
	OrganizationID string    `json:"organizationId"`
	Role           string    `json:"role"`
	Status         string    `json:"status"`
	Locale         string    `json:"locale"`
	CreatedAt      time.Time `json:"createdAt"`
	LastActiveAt   time.Time `json:"lastActiveAt,omitzero"`
	ClosedAt       time.Time `json:"closedAt,omitzero"`
	ClosedReason   string    `json:"closedReason,omitempty"`
	ErasureDueAt   time.Time `json:"erasureDueAt,omitzero"`
}

func (s *server) userJSON(u accounts.User) userJSON {
	return userJSON{
		ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		OrganizationID: u.OrganizationID, Role: string(u.Role), Status: string(u.Status), Locale: u.Locale,
		CreatedAt: u.CreatedAt, LastActiveAt: u.LastActiveAt, ClosedAt: u.ClosedAt, ClosedReason: u.ClosedReason,
		ErasureDueAt: s.accounts.ErasureDueAt(u),
	}
}

type signInJSON struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	User      userJSON  `json:"user"`
	// SecondFactorEnrolmentRequired marks an enrol-only session: it may
	// only list and add second factors (and sign out).
	SecondFactorEnrolmentRequired bool `json:"secondFactorEnrolmentRequired,omitempty"`
}

func (s *server) signInJSON(si accounts.SignIn) signInJSON {
	return signInJSON{Token: si.Token, ExpiresAt: si.ExpiresAt, User: s.userJSON(si.User), SecondFactorEnrolmentRequired: si.EnrolOnly}
}

// secondFactorJSON is the password step's answer when a second step must
// follow: no session yet.
type secondFactorJSON struct {
	SecondFactor struct {
		Challenge string    `json:"challenge"`
		ExpiresAt time.Time `json:"expiresAt"`
		Methods   []string  `json:"methods"`
		// Passkey is the PublicKeyCredentialRequestOptionsJSON for
		// navigator.credentials.get, when the account has a passkey.
		Passkey json.RawMessage `json:"passkey,omitempty"`
	} `json:"secondFactor"`
}

// writeSignIn answers a sign-in: the session, or the second step's
// challenge.
func (s *server) writeSignIn(w http.ResponseWriter, si accounts.SignIn) {
	if c := si.SecondFactor; c != nil {
		var out secondFactorJSON
		out.SecondFactor.Challenge, out.SecondFactor.ExpiresAt = c.Challenge, c.ExpiresAt
		out.SecondFactor.Methods, out.SecondFactor.Passkey = []string{}, c.PasskeyOptions
		for _, m := range c.Methods {
			out.SecondFactor.Methods = append(out.SecondFactor.Methods, string(m))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	writeJSON(w, http.StatusOK, s.signInJSON(si))
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *server) handleLogin() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req loginRequest) error {
		si, err := s.accounts.Login(r.Context(), req.Email, req.Password, meta(r))
		if err == nil {
			s.writeSignIn(w, si)
		}
		return err
	})
}

type secondFactorRequest struct {
	Challenge    string `json:"challenge"`
	TOTP         string `json:"totp"`
	RecoveryCode string `json:"recoveryCode"`
	// Passkey is the browser's AuthenticationResponseJSON.
	Passkey json.RawMessage `json:"passkey"`
}

func (s *server) handleLoginSecondFactor() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req secondFactorRequest) error {
		proof := accounts.Proof{TOTP: req.TOTP, RecoveryCode: req.RecoveryCode}
		if len(req.Passkey) > 0 && string(req.Passkey) != "null" {
			proof.Passkey = req.Passkey
		}
		si, err := s.accounts.LoginSecondFactor(r.Context(), req.Challenge, proof, meta(r))
		if err == nil {
			s.writeSignIn(w, si)
		}
		return err
	})
}

func (s *server) handleLogout() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		return noContent(w, s.accounts.Logout(r.Context(), principal(r.Context()), meta(r)))
	})
}

type acceptInvitationRequest struct {
	Token               string `json:"token"`
	Password            string `json:"password"`
	AcceptPrivacyNotice bool   `json:"acceptPrivacyNotice"`
}

func (s *server) handleAcceptInvitation() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req acceptInvitationRequest) error {
		si, err := s.accounts.AcceptInvitation(r.Context(), req.Token, req.Password, req.AcceptPrivacyNotice, meta(r))
		if err == nil {
			writeJSON(w, http.StatusOK, s.signInJSON(si))
		}
		return err
	})
}

// resetDeadline bounds the detached work of one reset request.
const resetDeadline = 30 * time.Second

type passwordResetRequest struct {
	Email string `json:"email"`
}

func (s *server) handleRequestPasswordReset() http.Handler {
	type response struct {
		Status string `json:"status"`
	}
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req passwordResetRequest) error {
		m := meta(r)
		// The answer is the same whatever the email, and it is given before
		// the lookup so its timing cannot tell either.
		s.detach.Go(func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, resetDeadline)
			defer cancel()
			if err := s.accounts.RequestPasswordReset(ctx, req.Email, m); err != nil {
				s.log.Error("password reset request failed", "request_id", m.RequestID, "error", err.Error())
			}
		})
		writeJSON(w, http.StatusAccepted, response{Status: "accepted"})
		return nil
	})
}

type completePasswordResetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (s *server) handleCompletePasswordReset() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req completePasswordResetRequest) error {
		return noContent(w, s.accounts.CompletePasswordReset(r.Context(), req.Token, req.Password, meta(r)))
	})
}

// passkeySignInJSON starts a sign-in with a passkey alone: the opaque
// single-use challenge to send back and the request options for
// navigator.credentials.get.
type passkeySignInJSON struct {
	Challenge string          `json:"challenge"`
	PublicKey json.RawMessage `json:"publicKey"`
}

func (s *server) handleBeginPasskeySignIn() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		start, err := s.accounts.BeginPasskeySignIn(r.Context())
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, passkeySignInJSON{Challenge: start.Challenge, PublicKey: start.Options})
		return nil
	})
}

type passkeySignInRequest struct {
	Challenge string `json:"challenge"`
	// Passkey is the browser's AuthenticationResponseJSON.
	Passkey json.RawMessage `json:"passkey"`
}

func (s *server) handleLoginPasskey() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req passkeySignInRequest) error {
		si, err := s.accounts.LoginPasskey(r.Context(), req.Challenge, req.Passkey, meta(r))
		if err == nil {
			s.writeSignIn(w, si)
		}
		return err
	})
}
