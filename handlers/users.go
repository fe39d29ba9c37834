package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

type userListJSON struct {
	Items      []userJSON `json:"items"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

// queryTime reads an RFC 3339 query parameter; a bad one is a field error.
func queryTime(v *kernel.ValidationError, q url.Values, name string) time.Time {
	raw := q.Get(name)
	if raw == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		v.Fields = append(v.Fields, kernel.FieldError{Field: name, Code: "invalid_time"})
	}
	return t
}

// queryLimit reads the page size; absent is 0 (the default).
func queryLimit(v *kernel.ValidationError, q url.Values) int {
	raw := q.Get("limit")
	if raw == "" {
		return 0
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > accounts.MaxPageSize {
		v.Fields = append(v.Fields, kernel.FieldError{Field: "limit", Code: "out_of_range"})
	}
	return n
}

// knownQuery refuses query parameters the endpoint does not take, the way
// decode refuses unknown body fields.
func knownQuery(v *kernel.ValidationError, q url.Values, names ...string) {
	allowed := map[string]bool{}
	for _, n := range names {
		allowed[n] = true
	}
	for name := range q {
		if !allowed[name] {
			v.Fields = append(v.Fields, kernel.FieldError{Field: name, Code: "not_allowed"})
		}
	}
}

func (s *server) handleListUsers() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		v := &kernel.ValidationError{}
		knownQuery(v, q, "organizationId", "role", "status", "q", "lastActiveBefore", "lastActiveAfter", "sort", "limit", "cursor")
		lq := accounts.ListQuery{
			OrganizationID:   q.Get("organizationId"),
			Role:             kernel.Role(q.Get("role")),
			Status:           kernel.Status(q.Get("status")),
			Q:                q.Get("q"),
			LastActiveBefore: queryTime(v, q, "lastActiveBefore"),
			LastActiveAfter:  queryTime(v, q, "lastActiveAfter"),
			Sort:             q.Get("sort"),
			Limit:            queryLimit(v, q),
			Cursor:           q.Get("cursor"),
		}
		if len(v.Fields) > 0 {
			return v
		}
		page, err := s.accounts.ListUsers(r.Context(), principal(r.Context()).Actor, lq)
		if err != nil {
			return err
		}
		out := userListJSON{Items: make([]userJSON, 0, len(page.Users)), NextCursor: page.NextCursor}
		for _, u := range page.Users {
			out.Items = append(out.Items, s.userJSON(u))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

type inviteRequest struct {
	Email          string `json:"email"`
	FirstName      string `json:"firstName"`
	LastName       string `json:"lastName"`
	OrganizationID string `json:"organizationId"`
	Role           string `json:"role"`
	Locale         string `json:"locale"`
}

func (s *server) handleInvite() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req inviteRequest) error {
		u, err := s.accounts.InviteAs(r.Context(), principal(r.Context()).Actor, accounts.InviteInput{
			Email: req.Email, FirstName: req.FirstName, LastName: req.LastName,
			OrganizationID: req.OrganizationID, Role: kernel.Role(req.Role), Locale: req.Locale,
		}, meta(r))
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/users/"+u.ID)
		s.writeUser(w, http.StatusCreated, u)
		return nil
	})
}

func (s *server) handleGetUser() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.accounts.GetUser(r.Context(), principal(r.Context()).Actor, pathID(r))
		if err == nil {
			s.writeUser(w, http.StatusOK, u)
		}
		return err
	})
}

// patchUserRequest is what may change about someone's account through
// the admin views. Status, email and anything about credentials are
// refused with 400 by decode.
type patchUserRequest struct {
	FirstName      *string `json:"firstName"`
	LastName       *string `json:"lastName"`
	Role           *string `json:"role"`
	OrganizationID *string `json:"organizationId"`
}

func (s *server) handlePatchUser() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req patchUserRequest) error {
		patch := accounts.UserPatch{FirstName: req.FirstName, LastName: req.LastName, OrganizationID: req.OrganizationID}
		if req.Role != nil {
			role := kernel.Role(*req.Role)
			patch.Role = &role
		}
		u, err := s.accounts.UpdateUser(r.Context(), principal(r.Context()).Actor, pathID(r), patch, ifMatch(r), meta(r))
		if err == nil {
			s.writeUser(w, http.StatusOK, u)
		}
		return err
	})
}

func (s *server) handleCloseUser() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		return noContent(w, s.accounts.CloseUser(r.Context(), principal(r.Context()).Actor, pathID(r), meta(r)))
	})
}

func (s *server) handleRestoreUser() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.accounts.RestoreUser(r.Context(), principal(r.Context()).Actor, pathID(r), meta(r))
		if err == nil {
			s.writeUser(w, http.StatusOK, u)
		}
		return err
	})
}

func (s *server) handleEndUserSessions() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		return noContent(w, s.accounts.EndUserSessions(r.Context(), principal(r.Context()).Actor, pathID(r), meta(r)))
	})
}

func (s *server) handleResendInvitation() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		if err := s.accounts.ResendInvitation(r.Context(), principal(r.Context()).Actor, pathID(r), meta(r)); err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, acceptedJSON{Status: "accepted"})
		return nil
	})
}

type acceptedJSON struct {
	Status string `json:"status"`
}
