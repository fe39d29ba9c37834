package handlers

import (
	"net/http"
	"strings"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
)

// writeUser answers with an account and its ETag.
func writeUser(w http.ResponseWriter, u accounts.User) {
	w.Header().Set("ETag", `"`+accounts.PublicETag(u.ETag)+`"`)
	writeJSON(w, http.StatusOK, toUserJSON(u))
}

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
			writeUser(w, u)
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
			writeUser(w, u)
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
