package handlers

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
)

// The second factor under /api/me, and its reset by an administrator.
// Secrets leave the service once each: the TOTP secret when it is added,
// the recovery codes when they are made. A passkey has no secret here: the
// browser gets the ceremony's options and answers with the public key.

type factorJSON struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}

func toFactorJSON(f accounts.FactorInfo) factorJSON {
	return factorJSON{ID: f.ID, Type: string(f.Type), Name: f.Name, CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt}
}

func factorID(r *http.Request) string { return mux.Vars(r)["factorId"] }

type recoveryCodesJSON struct {
	RecoveryCodes []string `json:"recoveryCodes"`
}

func (s *server) handleListFactors() http.Handler {
	type response struct {
		Items []factorJSON `json:"items"`
	}
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		list, err := s.accounts.ListFactors(r.Context(), principal(r.Context()))
		if err != nil {
			return err
		}
		out := response{Items: []factorJSON{}}
		for _, f := range list {
			out.Items = append(out.Items, toFactorJSON(f))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

type beginTOTPRequest struct {
	Name string `json:"name"`
}

func (s *server) handleBeginTOTP() http.Handler {
	type response struct {
		Authenticator factorJSON `json:"authenticator"`
		Secret        string     `json:"secret"`
		OTPAuthURI    string     `json:"otpauthUri"`
	}
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req beginTOTPRequest) error {
		e, err := s.accounts.BeginTOTP(r.Context(), principal(r.Context()), req.Name, meta(r))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, response{Authenticator: toFactorJSON(e.Factor), Secret: e.Secret, OTPAuthURI: e.URI})
		return nil
	})
}

func (s *server) handleBeginPasskey() http.Handler {
	type response struct {
		Authenticator factorJSON      `json:"authenticator"`
		Options       json.RawMessage `json:"options"`
	}
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req beginTOTPRequest) error {
		e, err := s.accounts.BeginPasskey(r.Context(), principal(r.Context()), req.Name, meta(r))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, response{Authenticator: toFactorJSON(e.Factor), Options: e.Options})
		return nil
	})
}

// confirmFactorRequest confirms a pending factor: a TOTP one with the
// app's code, a passkey with the browser's RegistrationResponseJSON.
type confirmFactorRequest struct {
	Code    string          `json:"code"`
	Passkey json.RawMessage `json:"passkey"`
}

func (s *server) handleConfirmTOTP() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req confirmFactorRequest) error {
		var codes []string
		var err error
		if len(req.Passkey) > 0 && string(req.Passkey) != "null" {
			codes, err = s.accounts.ConfirmPasskey(r.Context(), principal(r.Context()), factorID(r), req.Passkey, meta(r))
		} else {
			codes, err = s.accounts.ConfirmTOTP(r.Context(), principal(r.Context()), factorID(r), req.Code, meta(r))
		}
		if err != nil {
			return err
		}
		if codes == nil {
			codes = []string{}
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, recoveryCodesJSON{RecoveryCodes: codes})
		return nil
	})
}

type renameFactorRequest struct {
	Name string `json:"name"`
}

func (s *server) handleRenameFactor() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req renameFactorRequest) error {
		f, err := s.accounts.RenameFactor(r.Context(), principal(r.Context()), factorID(r), req.Name, meta(r))
		if err == nil {
			writeJSON(w, http.StatusOK, toFactorJSON(f))
		}
		return err
	})
}

func (s *server) handleRemoveFactor() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		return noContent(w, s.accounts.RemoveFactor(r.Context(), principal(r.Context()), factorID(r), meta(r)))
	})
}

func (s *server) handleRegenerateRecoveryCodes() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		codes, err := s.accounts.RegenerateRecoveryCodes(r.Context(), principal(r.Context()), meta(r))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, recoveryCodesJSON{RecoveryCodes: codes})
		return nil
	})
}

type reauthenticateRequest struct {
	Password     string          `json:"password"`
	TOTP         string          `json:"totp"`
	RecoveryCode string          `json:"recoveryCode"`
	Passkey      json.RawMessage `json:"passkey"`
}

func (s *server) handleReauthenticate() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req reauthenticateRequest) error {
		proof := accounts.Proof{TOTP: req.TOTP, RecoveryCode: req.RecoveryCode}
		if len(req.Passkey) > 0 && string(req.Passkey) != "null" {
			proof.Passkey = req.Passkey
		}
		return noContent(w, s.accounts.Reauthenticate(r.Context(), principal(r.Context()), req.Password, proof, meta(r)))
	})
}

func (s *server) handleBeginPasskeyReauthentication() http.Handler {
	type response struct {
		Options json.RawMessage `json:"options"`
	}
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		options, err := s.accounts.BeginPasskeyReauthentication(r.Context(), principal(r.Context()))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, response{Options: options})
		return nil
	})
}

func (s *server) handleResetFactors() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		return noContent(w, s.accounts.ResetSecondFactor(r.Context(), principal(r.Context()), pathID(r), meta(r)))
	})
}
