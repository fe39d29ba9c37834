package handlers

import (
	"net/http"

	"github.com/gorilla/mux"
)

// route is one operation of the API. Every route needs a session unless it
// is marked public: deny by default.
type route struct {
	method  string
	path    string
	public  bool
	handler http.Handler
}

// table is the whole HTTP surface.
func (s *server) table() []route {
	return []route{
		{http.MethodGet, "/api/health", true, s.handleHealth()},

		{http.MethodPost, "/api/auth/login", true, s.handleLogin()},
		{http.MethodPost, "/api/auth/logout", false, s.handleLogout()},
		{http.MethodPost, "/api/auth/invitations/accept", true, s.handleAcceptInvitation()},
		{http.MethodPost, "/api/auth/password-resets", true, s.handleRequestPasswordReset()},
		{http.MethodPost, "/api/auth/password-resets/complete", true, s.handleCompletePasswordReset()},

		{http.MethodGet, "/api/me", false, s.handleGetMe()},
		{http.MethodPatch, "/api/me", false, s.handlePatchMe()},
		{http.MethodPut, "/api/me/password", false, s.handleChangePassword()},
		{http.MethodDelete, "/api/me/sessions", false, s.handleEndAllSessions()},
	}
}

func (s *server) routes() http.Handler {
	r := mux.NewRouter()
	for _, rt := range s.table() {
		h := rt.handler
		if !rt.public {
			h = s.authenticated(h)
		}
		r.Handle(rt.path, h).Methods(rt.method)
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeProblem(w, req, http.StatusNotFound, "not_found", nil)
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeProblem(w, req, http.StatusMethodNotAllowed, codeMethodNotAllowed, nil)
	})
	return r
}
