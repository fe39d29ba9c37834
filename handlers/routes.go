package handlers

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// route is one operation of the API. Every route needs a session unless it
// is marked public: deny by default.
//
// An enrol-only session (a second factor required and none added yet) may
// use only the routes marked enrol; any other answers 403
// second_factor_enrolment_required.
type route struct {
	method  string
	path    string
	public  bool
	handler http.Handler
	enrol   bool
}

// table is the whole HTTP surface. The endpoints anyone can call that cost
// a password hash or an email are throttled per client and globally
// (throttled, AUTH-4); every endpoint that hashes a password first takes a
// place in the hasher's bounded line (hashing, PWD-2).
func (s *server) table() []route {
	return []route{
		{http.MethodGet, "/api/health", true, s.handleHealth(), false},
		{http.MethodGet, "/api/openapi.yaml", true, s.handleDocument(false), false},
		{http.MethodGet, "/api/openapi.json", true, s.handleDocument(true), false},

		{http.MethodPost, "/api/auth/login", true, s.throttled(s.hashing(s.handleLogin())), false},
		{http.MethodPost, "/api/auth/login/second-factor", true, s.throttled(s.handleLoginSecondFactor()), false},
		{http.MethodPost, "/api/auth/passkey/challenge", true, s.throttled(s.handleBeginPasskeySignIn()), false},
		{http.MethodPost, "/api/auth/passkey", true, s.throttled(s.handleLoginPasskey()), false},
		{http.MethodPost, "/api/auth/logout", false, s.handleLogout(), true},
		{http.MethodPost, "/api/auth/invitations/accept", true, s.throttled(s.hashing(s.handleAcceptInvitation())), false},
		{http.MethodPost, "/api/auth/password-resets", true, s.throttled(s.handleRequestPasswordReset()), false},
		{http.MethodPost, "/api/auth/password-resets/complete", true, s.throttled(s.hashing(s.handleCompletePasswordReset())), false},

		{http.MethodGet, "/api/me", false, answersAccount{s.handleGetMe()}, false},
		{http.MethodPatch, "/api/me", false, s.handlePatchMe(), false},
		{http.MethodPut, "/api/me/password", false, s.hashing(s.handleChangePassword()), false},
		{http.MethodDelete, "/api/me", false, s.handleDeleteMe(), false},
		{http.MethodGet, "/api/me/sessions", false, s.handleListMySessions(), false},
		{http.MethodDelete, "/api/me/sessions", false, s.handleEndAllSessions(), false},
		{http.MethodDelete, "/api/me/sessions/{sessionId}", false, s.handleEndMySession(), false},
		{http.MethodGet, "/api/me/export", false, s.handleExport(), false},
		{http.MethodPost, "/api/me/reauthenticate", false, s.hashing(s.handleReauthenticate()), false},
		{http.MethodPost, "/api/me/reauthenticate/passkey", false, s.handleBeginPasskeyReauthentication(), false},
		{http.MethodGet, "/api/me/authenticators", false, s.handleListFactors(), true},
		{http.MethodPost, "/api/me/authenticators/totp", false, s.handleBeginTOTP(), true},
		{http.MethodPost, "/api/me/authenticators/passkey", false, s.handleBeginPasskey(), true},
		{http.MethodPost, "/api/me/authenticators/{factorId}/confirm", false, s.handleConfirmTOTP(), true},
		{http.MethodPatch, "/api/me/authenticators/{factorId}", false, s.handleRenameFactor(), false},
		{http.MethodDelete, "/api/me/authenticators/{factorId}", false, s.handleRemoveFactor(), false},
		{http.MethodPost, "/api/me/recovery-codes", false, s.handleRegenerateRecoveryCodes(), false},

		{http.MethodGet, "/api/organizations", false, s.handleListOrganizations(), false},
		{http.MethodPost, "/api/organizations", false, s.handleCreateOrganization(), false},
		{http.MethodGet, "/api/organizations/{id}", false, s.handleGetOrganization(), false},
		{http.MethodPatch, "/api/organizations/{id}", false, s.handlePatchOrganization(), false},
		{http.MethodDelete, "/api/organizations/{id}", false, s.handleDeleteOrganization(), false},

		{http.MethodGet, "/api/users", false, s.handleListUsers(), false},
		{http.MethodPost, "/api/users", false, s.handleInvite(), false},
		{http.MethodGet, "/api/users/{id}", false, s.handleGetUser(), false},
		{http.MethodPatch, "/api/users/{id}", false, s.handlePatchUser(), false},
		{http.MethodDelete, "/api/users/{id}", false, s.handleCloseUser(), false},
		{http.MethodPost, "/api/users/{id}/restore", false, s.handleRestoreUser(), false},
		{http.MethodPost, "/api/users/{id}/invitation", false, s.handleResendInvitation(), false},
		{http.MethodDelete, "/api/users/{id}/sessions", false, s.handleEndUserSessions(), false},
		{http.MethodDelete, "/api/users/{id}/authenticators", false, s.handleResetFactors(), false},

		{http.MethodGet, "/api/audit-events", false, s.handleListAuditEvents(), false},
	}
}

func (s *server) routes() http.Handler {
	r := mux.NewRouter()
	var paths []string
	methods := map[string][]string{}
	for _, rt := range s.table() {
		h := rt.handler
		if !rt.public {
			h = s.authenticated(h, rt.enrol)
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
