package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
)

// writeUser answers with an account and its ETag.
func (s *server) writeUser(w http.ResponseWriter, status int, u accounts.User) {
	if u.ETag != "" {
		w.Header().Set("ETag", `"`+kernel.PublicETag(u.ETag)+`"`)
	}
	writeJSON(w, status, s.userJSON(u))
}

// pathID is the {id} of a route such as /users/{id} (routes.go).
func pathID(r *http.Request) string { return mux.Vars(r)["id"] }

// ifMatch returns the entity tag of an If-Match header, unquoted. "*"
// matches any current version (RFC 9110 §13.1.1), so it sets no condition.
func ifMatch(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "*" {
		return ""
	}
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`)
}

func (s *server) handleGetMe() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.accounts.Me(r.Context(), principal(r.Context()))
		if err == nil {
			s.writeUser(w, http.StatusOK, u)
		}
		return err
	})
}

// patchMeRequest holds only what a person may change about themselves:
// role, status, email, organisation or anything about credentials is
// refused with 400 by decode.
type patchMeRequest struct {
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
	Locale    *string `json:"locale"`
}

func (s *server) handlePatchMe() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req patchMeRequest) error {
		patch := accounts.ProfilePatch{FirstName: req.FirstName, LastName: req.LastName, Locale: req.Locale}
		u, err := s.accounts.UpdateProfile(r.Context(), principal(r.Context()), patch, ifMatch(r), meta(r))
		if err == nil {
			s.writeUser(w, http.StatusOK, u)
		}
		return err
	})
}

type changePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

func (s *server) handleChangePassword() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req changePasswordRequest) error {
		return noContent(w, s.accounts.ChangePassword(r.Context(), principal(r.Context()), req.CurrentPassword, req.NewPassword, meta(r)))
	})
}

func (s *server) handleEndAllSessions() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		return noContent(w, s.accounts.EndAllSessions(r.Context(), principal(r.Context()), meta(r)))
	})
}

// mySessionJSON is one of the caller's sessions: an id and times only.
// The id is not the token and nothing of the token can be derived from it.
type mySessionJSON struct {
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"createdAt"`
	LastUsedAt    time.Time `json:"lastUsedAt"`
	IdleExpiresAt time.Time `json:"idleExpiresAt"`
	ExpiresAt     time.Time `json:"expiresAt"`
	Current       bool      `json:"current"`
}

type mySessionListJSON struct {
	Items []mySessionJSON `json:"items"`
}

func (s *server) handleListMySessions() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		list, err := s.accounts.ListSessions(r.Context(), principal(r.Context()))
		if err != nil {
			return err
		}
		out := mySessionListJSON{Items: make([]mySessionJSON, 0, len(list))}
		for _, x := range list {
			out.Items = append(out.Items, mySessionJSON{ID: x.ID, CreatedAt: x.CreatedAt, LastUsedAt: x.LastUsedAt,
				IdleExpiresAt: x.IdleExpiresAt, ExpiresAt: x.ExpiresAt, Current: x.Current})
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

func (s *server) handleEndMySession() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		return noContent(w, s.accounts.EndSession(r.Context(), principal(r.Context()), mux.Vars(r)["sessionId"], meta(r)))
	})
}

func (s *server) handleDeleteMe() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		return noContent(w, s.accounts.CloseSelf(r.Context(), principal(r.Context()), meta(r)))
	})
}

type sessionJSON struct {
	CreatedAt  time.Time `json:"createdAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

type exportJSON struct {
	ExportedAt    time.Time     `json:"exportedAt"`
	User          userJSON      `json:"user"`
	Organization  *orgJSON      `json:"organization,omitempty"`
	PrivacyNotice privacyJSON   `json:"privacyNotice"`
	Sessions      []sessionJSON `json:"sessions"`
	// Authenticators are the second factors: type, name and times, never
	// a secret; RecoveryCodes is how many unused ones are held.
	Authenticators []factorJSON `json:"authenticators"`
	RecoveryCodes  int          `json:"recoveryCodes"`
	AuditEvents    []auditJSON  `json:"auditEvents"`
}

type privacyJSON struct {
	Version    string    `json:"version,omitempty"`
	AcceptedAt time.Time `json:"acceptedAt,omitzero"`
}

// handleExport answers a person's access request (P14): everything held
// about them, as JSON.
func (s *server) handleExport() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		p := principal(r.Context())
		x, err := s.accounts.ExportSelf(r.Context(), p)
		if err != nil {
			return err
		}
		out := exportJSON{
			ExportedAt:     x.At,
			User:           s.userJSON(x.User),
			PrivacyNotice:  privacyJSON{Version: x.User.PrivacyNoticeVersion, AcceptedAt: x.User.PrivacyNoticeAcceptedAt},
			Sessions:       []sessionJSON{},
			AuditEvents:    []auditJSON{},
			Authenticators: []factorJSON{},
			RecoveryCodes:  x.RecoveryCodes,
		}
		for _, f := range x.Factors {
			out.Authenticators = append(out.Authenticators, toFactorJSON(f))
		}
		if o, err := s.orgs.Get(r.Context(), p.Actor, x.User.OrganizationID); err == nil {
			j := toOrgJSON(o)
			out.Organization = &j
		} else if !errors.Is(err, organizations.ErrNotFound) {
			return err
		}
		for _, sess := range x.Sessions {
			out.Sessions = append(out.Sessions, sessionJSON{CreatedAt: sess.CreatedAt, LastSeenAt: sess.LastSeenAt, ExpiresAt: sess.ExpiresAt})
		}
		for _, e := range x.Events {
			out.AuditEvents = append(out.AuditEvents, toAuditJSON(e))
		}
		w.Header().Set("Content-Disposition", `attachment; filename="palvelumanuaali-export.json"`)
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}
