package handlers

import (
	"net/http"
	"strings"

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

// table is the whole HTTP surface. The endpoints anyone can call that cost
// a password hash or an email are throttled per client and globally
// (throttled, AUTH-4); every endpoint that hashes a password first takes a
// place in the hasher's bounded line (hashing, PWD-2).
func (s *server) table() []route {
	return []route{
		{http.MethodGet, "/api/health", true, s.handleHealth()},
		{http.MethodGet, "/api/openapi.yaml", true, s.handleDocument(false)},
		{http.MethodGet, "/api/openapi.json", true, s.handleDocument(true)},

		{http.MethodPost, "/api/auth/login", true, s.throttled(s.hashing(s.handleLogin()))},
		{http.MethodPost, "/api/auth/logout", false, s.handleLogout()},
		{http.MethodPost, "/api/auth/invitations/accept", true, s.throttled(s.hashing(s.handleAcceptInvitation()))},
		{http.MethodPost, "/api/auth/password-resets", true, s.throttled(s.handleRequestPasswordReset())},
		{http.MethodPost, "/api/auth/password-resets/complete", true, s.throttled(s.hashing(s.handleCompletePasswordReset()))},

		{http.MethodGet, "/api/me", false, answersAccount{s.handleGetMe()}},
		{http.MethodPatch, "/api/me", false, s.handlePatchMe()},
		{http.MethodPut, "/api/me/password", false, s.hashing(s.handleChangePassword())},
		{http.MethodDelete, "/api/me", false, s.handleDeleteMe()},
		{http.MethodGet, "/api/me/sessions", false, s.handleListMySessions()},
		{http.MethodDelete, "/api/me/sessions", false, s.handleEndAllSessions()},
		{http.MethodDelete, "/api/me/sessions/{sessionId}", false, s.handleEndMySession()},
		{http.MethodGet, "/api/me/export", false, s.handleExport()},

		{http.MethodGet, "/api/organizations", false, s.handleListOrganizations()},
		{http.MethodPost, "/api/organizations", false, s.handleCreateOrganization()},
		{http.MethodGet, "/api/organizations/{id}", false, s.handleGetOrganization()},
		{http.MethodPatch, "/api/organizations/{id}", false, s.handlePatchOrganization()},
		{http.MethodDelete, "/api/organizations/{id}", false, s.handleDeleteOrganization()},

		{http.MethodGet, "/api/users", false, s.handleListUsers()},
		{http.MethodPost, "/api/users", false, s.handleInvite()},
		{http.MethodGet, "/api/users/{id}", false, s.handleGetUser()},
		{http.MethodPatch, "/api/users/{id}", false, s.handlePatchUser()},
		{http.MethodDelete, "/api/users/{id}", false, s.handleCloseUser()},
		{http.MethodPost, "/api/users/{id}/restore", false, s.handleRestoreUser()},
		{http.MethodPost, "/api/users/{id}/invitation", false, s.handleResendInvitation()},
		{http.MethodDelete, "/api/users/{id}/sessions", false, s.handleEndUserSessions()},

		{http.MethodGet, "/api/audit-events", false, s.handleListAuditEvents()},
	}
}

func (s *server) routes() http.Handler {
	r := mux.NewRouter()
	var paths []string
	methods := map[string][]string{}
	for _, rt := range s.table() {
		h := rt.handler
		if !rt.public {
			h = s.authenticated(h)
		}
		r.Handle(rt.path, logRoute(rt.path, h)).Methods(rt.method)
		if methods[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		methods[rt.path] = append(methods[rt.path], rt.method)
	}
	// The custom-handler invocations (see invocation.go), at the function
	// names the host posts to.
	if s.svc.Notifications != nil {
		r.Handle("/SendNotification", s.handleSendNotification(s.svc.Notifications, s.svc.MaxDeliveries)).Methods(http.MethodPost)
	}
	if s.svc.Sweep != nil {
		r.Handle("/LifecycleSweep", s.handleTimer("lifecycle sweep failed", s.svc.Sweep)).Methods(http.MethodPost)
	}
	if s.svc.DrainOutbox != nil {
		r.Handle("/OutboxDrain", s.handleTimer("outbox drain incomplete", s.svc.DrainOutbox)).Methods(http.MethodPost)
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeProblem(w, req, http.StatusNotFound, "not_found", nil)
	})
	notAllowed := func(allow string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if allow != "" {
				w.Header().Set("Allow", allow)
			}
			writeProblem(w, req, http.StatusMethodNotAllowed, codeMethodNotAllowed, nil)
		})
	}
	// A 405 names the methods the path has (RFC 9110 §15.5.6): a second
	// router matches the path alone to find them.
	byPath := mux.NewRouter()
	for _, p := range paths {
		byPath.Handle(p, logRoute(p, notAllowed(strings.Join(methods[p], ", "))))
	}
	byPath.NotFoundHandler = notAllowed("")
	r.MethodNotAllowedHandler = byPath
	return r
}
