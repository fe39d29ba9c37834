package handlers

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// This file is the generated authorization test: one table, written by
// hand from DESIGN §4 and deliberately not from kernel.Matrix, so that
// the code and the design are two independent statements that must agree.
// Every non-public route is called by every role against every target it
// can have, and the expected status follows from the design:
//
//	anonymous                      → 401
//	allowed by the matrix          → 2xx (unless a guard of §4 refuses)
//	refused, target not visible    → 404 (no enumeration, P10)
//	refused, target visible        → 403
//
// (P3, P4, P5, P10.)

// reach is how far one cell of the design's matrix extends.
type reach int

const (
	reachNone reach = iota // "—"
	reachSelf              // "self"
	reachOwn               // "own org"
	reachAll               // "all", "any", "yes"
)

// The roles of DESIGN §4, and anonymous: no session at all.
const (
	roleAdmin     = "admin"
	rolePrimary   = "primary_user"
	roleEditor    = "editor"
	roleExpert    = "expert"
	roleAnonymous = "anonymous"
)

var authzRoles = []string{roleAdmin, rolePrimary, roleEditor, roleExpert, roleAnonymous}

// designMatrix is DESIGN §4's table as the design states it. The rows
// below the line are what the design says in prose around the table.
var designMatrix = map[string]map[string]reach{
	"see users":                    {roleAdmin: reachAll, rolePrimary: reachOwn, roleEditor: reachSelf, roleExpert: reachSelf},
	"invite":                       {roleAdmin: reachAll, rolePrimary: reachOwn},
	"change role":                  {roleAdmin: reachAll, rolePrimary: reachOwn},
	"move to another organisation": {roleAdmin: reachAll},
	"edit a user's name":           {roleAdmin: reachAll, rolePrimary: reachOwn, roleEditor: reachSelf, roleExpert: reachSelf},
	"remove (close) a user":        {roleAdmin: reachAll, rolePrimary: reachOwn, roleEditor: reachSelf, roleExpert: reachSelf},
	"restore a closed user":        {roleAdmin: reachAll},
	"re-send invitation":           {roleAdmin: reachAll, rolePrimary: reachOwn},
	"organisations: create/delete": {roleAdmin: reachAll},
	"organisation info: edit":      {roleAdmin: reachAll, rolePrimary: reachOwn},
	"audit events":                 {roleAdmin: reachAll, rolePrimary: reachOwn},
	// ---
	// Everyone sees their own home organisation (it is part of their own
	// data, P14); admins see every organisation.
	"see organisation": {roleAdmin: reachAll, rolePrimary: reachOwn, roleEditor: reachOwn, roleExpert: reachOwn},
	// The users list of an organisation: "see users", where "self only"
	// means the list of their own organisation shows only themselves.
	"list users": {roleAdmin: reachAll, rolePrimary: reachOwn, roleEditor: reachOwn, roleExpert: reachOwn},
	// Every signed-in person has their own account: /api/me (P14).
	"own account": {roleAdmin: reachSelf, rolePrimary: reachSelf, roleEditor: reachSelf, roleExpert: reachSelf},
	// Ending all of a person's sessions (SESS-3; issue 10, not yet in the
	// table): admins anyone's, primary users their own organisation's
	// people's, everyone their own, as with "remove (close) a user". A
	// primary user never acts on an admin (the guard, as for roles).
	"end a person's sessions": {roleAdmin: reachAll, rolePrimary: reachOwn, roleEditor: reachSelf, roleExpert: reachSelf},
	// Removing a person's second factors (issue 13): admins anyone's,
	// primary users their own organisation's people's but never an
	// admin's; everyone manages their own under /api/me ("own account").
	"reset a person's second factor": {roleAdmin: reachAll, rolePrimary: reachOwn},
}

// designGrants is "invite … any role" for admins and "never to/from admin"
// for primary users.
var designGrants = map[string][]string{
	roleAdmin:   {roleAdmin, rolePrimary, roleEditor, roleExpert},
	rolePrimary: {rolePrimary, roleEditor, roleExpert},
}

// target is what a call is aimed at, relative to the caller.
type target string

const (
	targetNone  target = "no target"
	targetSelf  target = "self"
	targetOwn   target = "own organisation"
	targetOther target = "other organisation"
)

// covers reports whether a matrix cell reaches the target.
func covers(r reach, tg target) bool {
	switch r {
	case reachAll:
		return true
	case reachOwn:
		return tg == targetSelf || tg == targetOwn || tg == targetNone
	case reachSelf:
		return tg == targetSelf || tg == targetNone
	}
	return false
}

// outcome is a status and, for refusals, the problem code.
type outcome struct {
	status int
	code   string
}

// authzCase is one call of the table: the caller's home organisation,
// another organisation, and the caller homed in the first. Cases that
// change something get all three fresh, so that no case sees what another
// one did (see authzRow.shared).
type authzCase struct {
	h          *harness
	role       string
	own, other string // organisation ids
	caller     person // for anonymous: a stand-in account, the "self" of the path
	token      string
	callerRole kernel.Role
	// targetID and targetETag are the account a case aimed at and its
	// stored version before the call: a refused call must not change it,
	// nor end any of its targetSessions.
	targetID, targetETag string
	targetSessions       []string
}

// factor adds a confirmed TOTP factor to the caller (none for anonymous)
// and returns its id.
func (c *authzCase) factor(t *testing.T) string {
	t.Helper()
	if c.token == "" {
		return "f-none"
	}
	id, _, _ := c.h.confirmedFactor(t, c.token)
	return id
}

// user makes a fresh account aimed at by a case: the caller themselves,
// or a new one in the caller's or the other organisation. Where its state
// does not matter to the matrix, a target is only invited: that is the
// cheapest account to make.
func (c *authzCase) user(t *testing.T, tg target, role kernel.Role, status kernel.Status) string {
	t.Helper()
	switch tg {
	case targetSelf:
		c.targetID = c.caller.id
	case targetOwn, targetOther:
		// A closed target here never signed in: what the matrix decides
		// does not depend on it, and an invitation is cheaper to make.
		made := status
		if status == kernel.StatusClosed {
			made = kernel.StatusInvited
		}
		p, _ := c.h.account(t, newPerson(t), c.org(tg), role, made)
		if status == kernel.StatusClosed {
			if err := c.h.accounts.CloseUser(context.Background(), setupActor, p.id, kernel.Meta{RequestID: "test"}); err != nil {
				t.Fatalf("close: %v", err)
			}
		}
		c.targetID = p.id
	default:
		t.Fatalf("no user for target %q", tg)
	}
	c.targetETag = c.h.storedETag(t, c.targetID)
	c.targetSessions = c.h.sessionIDs(t, c.targetID)
	return c.targetID
}

// org is the organisation a case aims at.
func (c *authzCase) org(tg target) string {
	if tg == targetOther {
		return c.other
	}
	return c.own
}

// inviteBody is an invitation into the target organisation.
func (c *authzCase) inviteBody(t *testing.T, tg target, role string) map[string]string {
	p := newPerson(t)
	return map[string]string{"email": p.email, "firstName": p.firstName, "lastName": p.lastName,
		"organizationId": c.org(tg), "role": role, "locale": "fi"}
}

// authzRow is one endpoint (or one kind of call to it) of the table.
type authzRow struct {
	method, path string // as in (*server).table()
	variant      string // what kind of call, where an endpoint has several
	action       string // the designMatrix row that allows it
	sees         string // the designMatrix row deciding visibility; "" when the target is not addressed by the path (refusal is 403)
	targets      []target
	ok           int // the status of success
	// guard is a rule of DESIGN §4 that refuses a call the matrix allows.
	guard func(role string, tg target) (outcome, bool)
	call  func(t *testing.T, c *authzCase, tg target) request
	// check looks further at a successful answer.
	check func(t *testing.T, c *authzCase, tg target, r response)
	// changes marks calls that change their target: aimed at the caller
	// themselves, they need a caller of their own.
	changes bool
	// ownOrgs marks calls that depend on who is in an organisation or
	// remove one: each case gets its own organisations (and a caller in
	// them). Every other case shares one caller per role and one pair of
	// organisations; its targets are still its own.
	ownOrgs bool
}

func (row authzRow) name() string {
	n := row.method + " " + row.path
	if row.variant != "" {
		n += " (" + row.variant + ")"
	}
	return n
}

// expect derives the expected answer from the design.
func (row authzRow) expect(role string, tg target) outcome {
	if role == roleAnonymous {
		return outcome{http.StatusUnauthorized, "unauthenticated"}
	}
	if covers(designMatrix[row.action][role], tg) {
		if row.guard != nil {
			if o, refused := row.guard(role, tg); refused {
				return o
			}
		}
		return outcome{row.ok, ""}
	}
	if row.sees != "" && !covers(designMatrix[row.sees][role], tg) {
		return outcome{http.StatusNotFound, "not_found"}
	}
	return outcome{http.StatusForbidden, "forbidden"}
}

var forbidden = outcome{http.StatusForbidden, "forbidden"}

// notOneselfGuard: what is done to others only: nobody changes their own
// role, nor resets their own second factors through the admin endpoint
// (their own change under /api/me, with its rules).
func notOneselfGuard(_ string, tg target) (outcome, bool) { return forbidden, tg == targetSelf }

// grantGuard: a role may be given (or taken away) only if the design
// lets the caller grant it.
func grantGuard(role string) func(string, target) (outcome, bool) {
	return func(caller string, _ target) (outcome, bool) {
		return forbidden, !slices.Contains(designGrants[caller], role)
	}
}

func authzTable() []authzRow {
	self := []target{targetSelf}
	orgs := []target{targetOwn, targetOther}
	users := []target{targetSelf, targetOwn, targetOther}
	userPath := func(t *testing.T, c *authzCase, tg target, suffix string, status kernel.Status) string {
		return "/api/users/" + c.user(t, tg, kernel.RoleEditor, status) + suffix
	}
	return []authzRow{
		{method: "POST", path: "/api/auth/logout", changes: true, action: "own account", targets: self, ok: http.StatusNoContent,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "POST", path: "/api/auth/logout"}
			}},
		{method: "GET", path: "/api/me", action: "own account", targets: self, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request { return request{method: "GET", path: "/api/me"} }},
		{method: "PATCH", path: "/api/me", changes: true, action: "own account", targets: self, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "PATCH", path: "/api/me", body: map[string]string{"lastName": "Virtanen"}}
			}},
		{method: "PUT", path: "/api/me/password", changes: true, action: "own account", targets: self, ok: http.StatusNoContent,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "PUT", path: "/api/me/password", body: map[string]string{
					"currentPassword": strongPassword, "newPassword": "neljä nopeaa norsua nauraa"}}
			}},
		{method: "DELETE", path: "/api/me", changes: true, action: "own account", targets: self, ok: http.StatusNoContent,
			call: func(t *testing.T, c *authzCase, tg target) request { return request{method: "DELETE", path: "/api/me"} }},
		{method: "DELETE", path: "/api/me/sessions", changes: true, action: "own account", targets: self, ok: http.StatusNoContent,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "DELETE", path: "/api/me/sessions"}
			}},
		{method: "GET", path: "/api/me/sessions", action: "own account", targets: self, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "GET", path: "/api/me/sessions"}
			},
			check: func(t *testing.T, c *authzCase, tg target, r response) {
				var list mySessionsJSON
				r.decode(t, &list)
				if len(list.Items) != 1 || !list.Items[0].Current {
					t.Errorf("%s's sessions = %s, want their one current session", c.role, r.body)
				}
			}},
		{method: "DELETE", path: "/api/me/sessions/{sessionId}", changes: true, action: "own account", targets: self, ok: http.StatusNoContent,
			// The caller's one session, read behind the API's back (an
			// anonymous caller cannot list it).
			call: func(t *testing.T, c *authzCase, tg target) request {
				c.user(t, tg, kernel.RoleEditor, kernel.StatusActive)
				return request{method: "DELETE", path: "/api/me/sessions/" + c.h.sessionIDs(t, c.caller.id)[0]}
			},
			check: func(t *testing.T, c *authzCase, tg target, r response) {
				if ids := c.h.sessionIDs(t, c.caller.id); len(ids) != 0 {
					t.Errorf("%s still has sessions %v", c.role, ids)
				}
			}},
		{method: "GET", path: "/api/me/export", action: "own account", targets: self, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "GET", path: "/api/me/export"}
			}},

		// The second factor under /api/me: each person's own. Sessions in
		// this harness prove the password at sign-in, so the recent
		// authentication holds.
		{method: "GET", path: "/api/me/authenticators", action: "own account", targets: self, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "GET", path: "/api/me/authenticators"}
			}},
		{method: "POST", path: "/api/me/authenticators/totp", changes: true, action: "own account", targets: self, ok: http.StatusCreated,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "POST", path: "/api/me/authenticators/totp", body: map[string]string{"name": "phone"}}
			}},
		{method: "POST", path: "/api/me/authenticators/passkey", changes: true, action: "own account", targets: self, ok: http.StatusCreated,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "POST", path: "/api/me/authenticators/passkey", body: map[string]string{"name": "key"}}
			}},
		{method: "POST", path: "/api/me/authenticators/{factorId}/confirm", changes: true, action: "own account", targets: self, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				id, code := "f-none", "000000"
				if c.token != "" {
					e := c.h.beginTOTP(t, c.token)
					id, code = e.Authenticator.ID, c.h.totpCode(t, e.Secret)
				}
				return request{method: "POST", path: "/api/me/authenticators/" + id + "/confirm", body: map[string]string{"code": code}}
			}},
		{method: "PATCH", path: "/api/me/authenticators/{factorId}", changes: true, action: "own account", targets: self, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "PATCH", path: "/api/me/authenticators/" + c.factor(t), body: map[string]string{"name": "tablet"}}
			}},
		{method: "DELETE", path: "/api/me/authenticators/{factorId}", changes: true, action: "own account", targets: self, ok: http.StatusNoContent,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "DELETE", path: "/api/me/authenticators/" + c.factor(t)}
			}},
		{method: "POST", path: "/api/me/recovery-codes", changes: true, action: "own account", targets: self, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				c.factor(t)
				return request{method: "POST", path: "/api/me/recovery-codes"}
			}},
		{method: "POST", path: "/api/me/reauthenticate/passkey", changes: true, action: "own account", targets: self, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				if c.token != "" {
					c.h.addPasskey(t, c.token)
				}
				return request{method: "POST", path: "/api/me/reauthenticate/passkey"}
			}},
		{method: "POST", path: "/api/me/reauthenticate", changes: true, action: "own account", targets: self, ok: http.StatusNoContent,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "POST", path: "/api/me/reauthenticate", body: map[string]string{"password": strongPassword}}
			}},

		{method: "GET", path: "/api/organizations", action: "see organisation", targets: []target{targetNone}, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "GET", path: "/api/organizations"}
			},
			check: func(t *testing.T, c *authzCase, tg target, r response) {
				var list struct{ Items []orgJSON }
				r.decode(t, &list)
				for _, o := range list.Items {
					if c.role != roleAdmin && o.ID != c.own {
						t.Errorf("%s sees organisation %s besides their own %s", c.role, o.ID, c.own)
					}
				}
			}},
		{method: "POST", path: "/api/organizations", action: "organisations: create/delete", targets: []target{targetNone}, ok: http.StatusCreated,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "POST", path: "/api/organizations", body: map[string]any{
					"name": map[string]string{"fi": "Uusikunta"}, "type": "municipality"}}
			}},
		{method: "GET", path: "/api/organizations/{id}", action: "see organisation", sees: "see organisation", targets: orgs, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "GET", path: "/api/organizations/" + c.org(tg)}
			}},
		{method: "PATCH", path: "/api/organizations/{id}", action: "organisation info: edit", sees: "see organisation", targets: orgs, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "PATCH", path: "/api/organizations/" + c.org(tg), body: map[string]any{
					"name": map[string]string{"fi": "Uusi nimi"}}}
			}},
		{method: "DELETE", path: "/api/organizations/{id}", ownOrgs: true, action: "organisations: create/delete", sees: "see organisation", targets: orgs, ok: http.StatusNoContent,
			// The caller's own organisation has the caller in it; the other
			// one of each case is empty.
			guard: func(_ string, tg target) (outcome, bool) {
				return outcome{http.StatusConflict, "organization_not_empty"}, tg == targetOwn
			},
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "DELETE", path: "/api/organizations/" + c.org(tg)}
			}},

		{method: "GET", path: "/api/users", variant: "organizationId filter", ownOrgs: true, action: "list users", sees: "list users", targets: orgs, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				c.user(t, tg, kernel.RoleEditor, kernel.StatusInvited) // someone to (not) list besides the caller
				return request{method: "GET", path: "/api/users?organizationId=" + c.org(tg)}
			},
			check: func(t *testing.T, c *authzCase, tg target, r response) {
				var list userListJSON
				r.decode(t, &list)
				var ids []string
				for _, u := range list.Items {
					ids = append(ids, u.ID)
					if u.OrganizationID != c.org(tg) {
						t.Errorf("listed %s of organisation %s, asked for %s", u.ID, u.OrganizationID, c.org(tg))
					}
				}
				switch designMatrix["see users"][c.role] {
				case reachSelf:
					// Editors and experts see only themselves.
					if diff := cmp.Diff([]string{c.caller.id}, ids); diff != "" {
						t.Errorf("%s's list (-want +got):\n%s", c.role, diff)
					}
				default:
					// Everyone there: the one made for the case, and in the
					// caller's own organisation the caller too.
					want := 1
					if tg == targetOwn {
						want = 2
					}
					if len(ids) != want {
						t.Errorf("%s sees %d users of the %s, want %d", c.role, len(ids), tg, want)
					}
				}
			}},
		{method: "POST", path: "/api/users", variant: "invite an editor", action: "invite", targets: orgs, ok: http.StatusCreated,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "POST", path: "/api/users", body: c.inviteBody(t, tg, roleEditor)}
			}},
		{method: "POST", path: "/api/users", variant: "invite an admin", action: "invite", targets: orgs, ok: http.StatusCreated,
			guard: grantGuard(roleAdmin),
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "POST", path: "/api/users", body: c.inviteBody(t, tg, roleAdmin)}
			}},
		{method: "GET", path: "/api/users/{id}", action: "see users", sees: "see users", targets: users, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "GET", path: userPath(t, c, tg, "", kernel.StatusActive)}
			}},
		{method: "PATCH", path: "/api/users/{id}", variant: "names", changes: true, action: "edit a user's name", sees: "see users", targets: users, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "PATCH", path: userPath(t, c, tg, "", kernel.StatusInvited),
					body: map[string]string{"firstName": "Eino", "lastName": "Leino"}}
			}},
		{method: "PATCH", path: "/api/users/{id}", variant: "role", changes: true, action: "change role", sees: "see users", targets: users, ok: http.StatusOK,
			guard: notOneselfGuard,
			call: func(t *testing.T, c *authzCase, tg target) request {
				role := roleExpert // targets are editors
				if tg == targetSelf && c.callerRole == kernel.RoleExpert {
					role = roleEditor
				}
				return request{method: "PATCH", path: userPath(t, c, tg, "", kernel.StatusInvited), body: map[string]string{"role": role}}
			}},
		{method: "PATCH", path: "/api/users/{id}", variant: "grant admin", changes: true, action: "change role", sees: "see users", targets: []target{targetOwn, targetOther}, ok: http.StatusOK,
			guard: grantGuard(roleAdmin),
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "PATCH", path: userPath(t, c, tg, "", kernel.StatusInvited), body: map[string]string{"role": roleAdmin}}
			}},
		{method: "PATCH", path: "/api/users/{id}", variant: "change an admin's role", changes: true, action: "change role", sees: "see users", targets: []target{targetOwn, targetOther}, ok: http.StatusOK,
			guard: grantGuard(roleAdmin),
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "PATCH", path: "/api/users/" + c.user(t, tg, kernel.RoleAdmin, kernel.StatusActive),
					body: map[string]string{"role": roleEditor}}
			}},
		{method: "PATCH", path: "/api/users/{id}", variant: "move", changes: true, action: "move to another organisation", sees: "see users", targets: users, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				to := c.other // self and own-organisation targets move out
				if tg == targetOther {
					to = c.own // other-organisation targets move in
				}
				return request{method: "PATCH", path: userPath(t, c, tg, "", kernel.StatusInvited), body: map[string]string{"organizationId": to}}
			}},
		{method: "DELETE", path: "/api/users/{id}", changes: true, action: "remove (close) a user", sees: "see users", targets: users, ok: http.StatusNoContent,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "DELETE", path: userPath(t, c, tg, "", kernel.StatusInvited)}
			}},
		// A closed or invited person has no session, so these have no
		// "self" target.
		{method: "POST", path: "/api/users/{id}/restore", action: "restore a closed user", sees: "see users", targets: orgs, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "POST", path: userPath(t, c, tg, "/restore", kernel.StatusClosed)}
			}},
		{method: "POST", path: "/api/users/{id}/invitation", action: "re-send invitation", sees: "see users", targets: orgs, ok: http.StatusAccepted,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "POST", path: userPath(t, c, tg, "/invitation", kernel.StatusInvited)}
			}},

		// Ending sessions changes no account record, so the refused
		// calls are also checked to leave the target's sessions (see
		// authzCase.targetSessions).
		{method: "DELETE", path: "/api/users/{id}/sessions", variant: "of an editor", changes: true, action: "end a person's sessions", sees: "see users", targets: users, ok: http.StatusNoContent,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "DELETE", path: userPath(t, c, tg, "/sessions", kernel.StatusActive)}
			},
			check: func(t *testing.T, c *authzCase, tg target, r response) {
				if ids := c.h.sessionIDs(t, c.targetID); len(ids) != 0 {
					t.Errorf("the target still has sessions %v", ids)
				}
			}},
		{method: "DELETE", path: "/api/users/{id}/sessions", variant: "of an admin", action: "end a person's sessions", sees: "see users", targets: orgs, ok: http.StatusNoContent,
			guard: grantGuard(roleAdmin),
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "DELETE", path: "/api/users/" + c.user(t, tg, kernel.RoleAdmin, kernel.StatusActive) + "/sessions"}
			}},

		{method: "DELETE", path: "/api/users/{id}/authenticators", variant: "of an editor", changes: true, action: "reset a person's second factor", sees: "see users", targets: users, ok: http.StatusNoContent,
			guard: notOneselfGuard,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "DELETE", path: userPath(t, c, tg, "/authenticators", kernel.StatusActive)}
			}},
		{method: "DELETE", path: "/api/users/{id}/authenticators", variant: "of an admin", action: "reset a person's second factor", sees: "see users", targets: orgs, ok: http.StatusNoContent,
			guard: grantGuard(roleAdmin),
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "DELETE", path: "/api/users/" + c.user(t, tg, kernel.RoleAdmin, kernel.StatusActive) + "/authenticators"}
			}},

		{method: "GET", path: "/api/audit-events", variant: "organizationId filter", action: "audit events", targets: orgs, ok: http.StatusOK,
			call: func(t *testing.T, c *authzCase, tg target) request {
				return request{method: "GET", path: "/api/audit-events?organizationId=" + c.org(tg)}
			}},
	}
}

// TestAuthorizationFollowsTheDesignMatrix runs the table: every route ×
// role × target, every target account made for its case, and a refused
// call must leave it unchanged (P3, P4, P5, P10).
func TestAuthorizationFollowsTheDesignMatrix(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	rows := authzTable()

	// The table covers every route that needs a session, and names no
	// route the server does not have.
	served := map[string]bool{}
	for _, rt := range h.routes {
		if !rt.public && rt.path != "/api/health" {
			served[rt.method+" "+rt.path] = true
		}
	}
	inTable := map[string]bool{}
	for _, row := range rows {
		key := row.method + " " + row.path
		if !served[key] {
			t.Errorf("the table has rows for %s, which the server does not serve", key)
		}
		inTable[key] = true
	}
	var missing []string
	for key := range served {
		if !inTable[key] {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("routes without rows in the authorization table: %v", missing)
	}

	// A second active admin that no case touches: an admin caller closing
	// or moving themselves is then never the last admin.
	h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)

	// newCase makes a case's caller, in new organisations or (orgs given)
	// in existing ones.
	newCase := func(t *testing.T, role string, orgs *authzCase) *authzCase {
		t.Helper()
		c := &authzCase{h: h, role: role}
		if orgs != nil {
			c.own, c.other = orgs.own, orgs.other
		} else {
			c.own, c.other = h.organization(t, "Omakunta"), h.organization(t, "Muukunta")
		}
		c.callerRole = kernel.Role(role)
		if role == roleAnonymous {
			// A stand-in account: the "self" a path can name.
			c.callerRole = kernel.RoleEditor
		}
		var token string
		c.caller, token = h.member(t, c.own, c.callerRole)
		if role != roleAnonymous {
			c.token = token
		}
		return c
	}
	shared := map[string]authzCase{}
	for _, role := range authzRoles {
		shared[role] = *newCase(t, role, nil)
	}

	for _, row := range rows {
		for _, role := range authzRoles {
			for _, tg := range row.targets {
				want := row.expect(role, tg)
				name := fmt.Sprintf("%s/%s/%s is %d", row.name(), role, tg, want.status)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					// Anonymous calls are refused before they reach anything,
					// so they always share.
					sc := shared[role]
					c := &sc
					switch {
					case role == roleAnonymous:
					case row.ownOrgs:
						c = newCase(t, role, nil)
					case row.changes && tg == targetSelf:
						c = newCase(t, role, &sc)
					}
					rq := row.call(t, c, tg)
					rq.token = c.token
					r := h.do(t, rq)
					if r.status != want.status {
						t.Fatalf("%s %s as %s: status %d, want %d; body %s", rq.method, rq.path, role, r.status, want.status, r.body)
					}
					if want.code != "" {
						if got := r.problem(t).Code; got != want.code {
							t.Errorf("code = %q, want %q", got, want.code)
						}
						if c.targetID != "" {
							if got := h.storedETag(t, c.targetID); got != c.targetETag {
								t.Errorf("the refused call changed account %s (ETag %q, was %q)", c.targetID, got, c.targetETag)
							}
							if diff := cmp.Diff(c.targetSessions, h.sessionIDs(t, c.targetID)); diff != "" {
								t.Errorf("the refused call changed account %s's sessions (-before +after):\n%s", c.targetID, diff)
							}
						}
					}
					if row.check != nil && want.code == "" {
						row.check(t, c, tg, r)
					}
				})
			}
		}
	}
}
