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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.accounts.Me(r.Context(), principal(r.Context()))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeUser(w, u)
	})
}

func (s *server) handlePatchMe() http.Handler {
	// Only these fields: role, status, email, organisation or anything
	// about credentials is refused with 400 by decode.
	type request struct {
		FirstName *string `json:"firstName"`
		LastName  *string `json:"lastName"`
		Locale    *string `json:"locale"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(w, r, s.opts.MaxBodyBytes, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		patch := accounts.ProfilePatch{FirstName: req.FirstName, LastName: req.LastName, Locale: req.Locale}
		u, err := s.accounts.UpdateProfile(r.Context(), principal(r.Context()), patch, ifMatch(r), meta(r))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeUser(w, u)
	})
}

func (s *server) handleChangePassword() http.Handler {
	type request struct {
		CurrentPassword string `json:"currentPassword"`
		NewPassword     string `json:"newPassword"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(w, r, s.opts.MaxBodyBytes, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := s.accounts.ChangePassword(r.Context(), principal(r.Context()), req.CurrentPassword, req.NewPassword, meta(r)); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *server) handleEndAllSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.accounts.EndAllSessions(r.Context(), principal(r.Context()), meta(r)); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
