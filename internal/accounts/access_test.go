package accounts_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

// readCounter is the store with its account and session reads counted, one
// per row read.
type readCounter struct {
	accounts.Store
	users, sessions atomic.Int64
}

func (c *readCounter) User(ctx context.Context, userID string) (accounts.User, error) {
	c.users.Add(1)
	return c.Store.User(ctx, userID)
}

func (c *readCounter) Session(ctx context.Context, userID, hash string) (accounts.Session, error) {
	c.sessions.Add(1)
	return c.Store.Session(ctx, userID, hash)
}

func (c *readCounter) UserWithSession(ctx context.Context, userID, hash string) (accounts.User, accounts.Session, error) {
	c.users.Add(1)
	c.sessions.Add(1)
	return c.Store.UserWithSession(ctx, userID, hash)
}

func (c *readCounter) reset() { c.users.Store(0); c.sessions.Store(0) }

// counted is the env's service over the same tables, its reads counted.
func (e *testEnv) counted() (*accounts.Service, *readCounter) {
	c := &readCounter{Store: e.store}
	return accounts.NewService(c, e.hasher, passwords.DefaultPolicy(), e.relay, e.clock.Now, e.ids.New, e.opts), c
}

// session reads one stored session of an account by its creation time.
func (e *testEnv) sessionAt(userID string, created time.Time) (accounts.Session, bool) {
	e.t.Helper()
	for _, s := range e.aggregate(userID).Sessions {
		if s.CreatedAt.Equal(created) {
			return s, true
		}
	}
	return accounts.Session{}, false
}

// activeAs makes an active account with role in org-1 and returns it with
// the session its acceptance made.
func (e *testEnv) activeAs(email string, role kernel.Role) (accounts.User, accounts.SignIn) {
	e.t.Helper()
	in := inviteInput(email)
	in.Role = role
	u, err := e.svc.Invite(e.ctx, "admin-1", in, testMeta)
	if err != nil {
		e.t.Fatalf("Invite(%s): %v", role, err)
	}
	si, err := e.svc.AcceptInvitation(e.ctx, e.linkToken(u.ID, accounts.PurposeInvitation), goodPassword, true, testMeta)
	if err != nil {
		e.t.Fatalf("AcceptInvitation for %s: %v", u.ID, err)
	}
	return si.User, si
}

// snapshotsHold checks the invariant authentication rests on: every stored
// session of the account carries exactly the account's access.
func (e *testEnv) snapshotsHold(t *testing.T, userID string) {
	t.Helper()
	agg := e.aggregate(userID)
	for _, s := range agg.Sessions {
		if s.Access == nil {
			t.Errorf("session %s has no snapshot", s.ID)
		} else if *s.Access != agg.User.Actor() {
			t.Errorf("session %s carries %+v, the account has %+v", s.ID, *s.Access, agg.User.Actor())
		}
	}
}

// Issue 11: authentication is one point read, the session, which carries
// what authorization needs; a request that answers with the account reads
// both at once, and Me then reads nothing more. SESS-1: still checked
// server-side against the stored session.
func TestAuthenticationReadsTheSessionAlone(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, in := env.activeUser("alice@example.fi")
	svc, reads := env.counted()
	env.clock.Advance(2 * time.Minute) // the session's idle timer is written too

	p, err := svc.Authenticate(env.ctx, in.Token)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Actor, u.Actor(); got != want {
		t.Errorf("Actor = %+v, want %+v", got, want)
	}
	if s, a := reads.sessions.Load(), reads.users.Load(); s != 1 || a != 0 {
		t.Errorf("Authenticate read %d sessions and %d accounts, want 1 and 0", s, a)
	}
	if s, _ := env.sessionAt(u.ID, u.ActivatedAt); !s.LastSeenAt.Equal(env.clock.Now()) {
		t.Errorf("idle timer not written without the account read: LastSeenAt %v", s.LastSeenAt)
	}

	// Me for a principal without the account reads it, with its ETag.
	reads.reset()
	me, err := svc.Me(env.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if stored := env.user(u.ID); me.ETag != stored.ETag || me.Email != stored.Email {
		t.Errorf("Me answered ETag %q, stored %q", me.ETag, stored.ETag)
	}
	if a := reads.users.Load(); a != 1 {
		t.Errorf("Me read the account %d times, want 1", a)
	}

	reads.reset()
	p, err = svc.AuthenticateAccount(env.ctx, in.Token)
	if err != nil {
		t.Fatal(err)
	}
	if s, a := reads.sessions.Load(), reads.users.Load(); s != 1 || a != 1 {
		t.Errorf("AuthenticateAccount read %d sessions and %d accounts, want 1 and 1", s, a)
	}
	reads.reset()
	if me, err := svc.Me(env.ctx, p); err != nil || me.ETag != env.user(u.ID).ETag {
		t.Errorf("Me after AuthenticateAccount = %q, %v; want the stored ETag", me.ETag, err)
	}
	if a := reads.users.Load(); a != 0 {
		t.Errorf("Me read the account again (%d) after AuthenticateAccount", a)
	}
}

// Sessions stored before they carried the account's access authenticate by
// reading the account (SESS-1), with the account's access now, and get
// their snapshot on that request: the next one reads the session alone.
func TestSessionWithoutSnapshotReadsTheAccount(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, in := env.activeUser("legacy@example.fi")
	sess, ok := env.sessionAt(u.ID, u.ActivatedAt)
	if !ok {
		t.Fatal("session not found")
	}
	old := sess
	old.Access, old.ActivityAt = nil, time.Time{}
	if err := env.store.Apply(env.ctx, accounts.Change{UserID: u.ID, UpdateSessions: []accounts.Session{old}}); err != nil {
		t.Fatal(err)
	}
	if s, _ := env.sessionAt(u.ID, u.ActivatedAt); s.Access != nil {
		t.Fatal("the session still has a snapshot")
	}
	svc, reads := env.counted()
	p, err := svc.Authenticate(env.ctx, in.Token)
	if err != nil {
		t.Fatal(err)
	}
	if p.Actor != u.Actor() {
		t.Errorf("Actor = %+v, want %+v", p.Actor, u.Actor())
	}
	if s, a := reads.sessions.Load(), reads.users.Load(); s != 1 || a != 1 {
		t.Errorf("read %d sessions and %d accounts, want 1 and 1", s, a)
	}
	env.snapshotsHold(t, u.ID)

	reads.reset()
	if _, err := svc.Authenticate(env.ctx, in.Token); err != nil {
		t.Fatal(err)
	}
	if s, a := reads.sessions.Load(), reads.users.Load(); s != 1 || a != 0 {
		t.Errorf("after the upgrade: read %d sessions and %d accounts, want 1 and 0", s, a)
	}

	// A session without a snapshot of an account no longer active is
	// refused by what the account says.
	env.setStatus(u.ID, kernel.StatusClosed)
	old, _ = env.sessionAt(u.ID, u.ActivatedAt)
	old.Access = nil
	if err := env.store.Apply(env.ctx, accounts.Change{UserID: u.ID, UpdateSessions: []accounts.Session{old}}); err != nil {
		t.Fatal(err)
	}
	if err := env.authErr(in.Token); !errors.Is(err, accounts.ErrUnauthenticated) {
		t.Errorf("legacy session of a closed account: %v, want ErrUnauthenticated", err)
	}
}

// P6 and SESS-2 without the account read: the idle timer and the account's
// last activity are still recorded, the account once an ActivityInterval,
// though the requests in between read the session alone.
func TestActivityIsRecordedWithoutReadingTheAccountEachTime(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, in := env.activeUser("busy@example.fi")
	svc, reads := env.counted()
	signedIn := env.clock.Now()
	for i := 0; i < 5; i++ {
		env.clock.Advance(11 * time.Minute)
		if _, err := svc.Authenticate(env.ctx, in.Token); err != nil {
			t.Fatal(err)
		}
	}
	if a := reads.users.Load(); a != 0 {
		t.Errorf("55 minutes of requests read the account %d times, want 0", a)
	}
	if got := env.user(u.ID).LastActiveAt; !got.Equal(signedIn) {
		t.Errorf("LastActiveAt = %v inside the interval, want %v", got, signedIn)
	}
	env.clock.Advance(11 * time.Minute)
	if _, err := svc.Authenticate(env.ctx, in.Token); err != nil {
		t.Fatal(err)
	}
	if got := env.user(u.ID).LastActiveAt; !got.Equal(env.clock.Now()) {
		t.Errorf("LastActiveAt = %v past the interval, want %v", got, env.clock.Now())
	}
	if a := reads.users.Load(); a != 1 {
		t.Errorf("the interval's activity read the account %d times, want 1", a)
	}
	env.snapshotsHold(t, u.ID)
}

// P5, SESS-3: the snapshot a session carries is the account's access for
// as long as the session lives, because every path that changes the role,
// the organisation or the status ends the sessions in the same write, and
// the paths that change anything else leave them right. As the attacker:
// the old session of a demoted admin, a moved primary user or a closed
// account gets nothing.
func TestEveryAccessChangeEndsTheSessionsItsSnapshotsDescribe(t *testing.T) {
	t.Parallel()
	env := newEnv(t, func(o *accounts.Options) { o.InactivityMonths = 6 })
	ctx := env.ctx
	_, bossIn := env.activeAs("boss@example.fi", kernel.RoleAdmin)
	admin := env.authenticate(bossIn.Token).Actor
	if err := env.store.CreateOrganization(ctx, organizations.Organization{ID: "org-2", CreatedAt: env.clock.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	refused := func(t *testing.T, token string) {
		t.Helper()
		if err := env.authErr(token); !errors.Is(err, accounts.ErrUnauthenticated) {
			t.Errorf("the old session authenticates: %v", err)
		}
	}

	t.Run("admin demoted", func(t *testing.T) {
		u, in := env.activeAs("demoted@example.fi", kernel.RoleAdmin)
		token := env.login("demoted@example.fi", goodPassword).Token
		env.snapshotsHold(t, u.ID)
		editor := kernel.RoleEditor
		if _, err := env.svc.UpdateUser(ctx, admin, u.ID, accounts.UserPatch{Role: &editor}, "", testMeta); err != nil {
			t.Fatal(err)
		}
		refused(t, token)
		refused(t, in.Token)
		env.snapshotsHold(t, u.ID)
		again := env.authenticate(env.login("demoted@example.fi", goodPassword).Token)
		if _, err := env.svc.InviteAs(ctx, again.Actor, inviteInput("x@example.fi"), testMeta); !errors.Is(err, kernel.ErrForbidden) {
			t.Errorf("the demoted admin's new session invites: %v", err)
		}
	})

	t.Run("primary user moved", func(t *testing.T) {
		u, in := env.activeAs("moved@example.fi", kernel.RolePrimaryUser)
		token := env.login("moved@example.fi", goodPassword).Token
		env.snapshotsHold(t, u.ID)
		org := "org-2"
		if _, err := env.svc.UpdateUser(ctx, admin, u.ID, accounts.UserPatch{OrganizationID: &org}, "", testMeta); err != nil {
			t.Fatal(err)
		}
		refused(t, token)
		refused(t, in.Token)
		env.snapshotsHold(t, u.ID)
		again := env.authenticate(env.login("moved@example.fi", goodPassword).Token)
		if _, err := env.svc.ListUsers(ctx, again.Actor, accounts.ListQuery{OrganizationID: "org-1", Limit: 10}); !errors.Is(err, kernel.ErrNotFound) {
			t.Errorf("the moved primary user lists the organisation they left: %v", err)
		}
	})

	t.Run("closed by an admin, then restored", func(t *testing.T) {
		u, in := env.activeUser("closed@example.fi")
		if err := env.svc.CloseUser(ctx, admin, u.ID, testMeta); err != nil {
			t.Fatal(err)
		}
		refused(t, in.Token)
		env.snapshotsHold(t, u.ID)
		if _, err := env.svc.RestoreUser(ctx, admin, u.ID, testMeta); err != nil {
			t.Fatal(err)
		}
		refused(t, in.Token)
		env.snapshotsHold(t, u.ID)
		if p := env.authenticate(env.login("closed@example.fi", goodPassword).Token); p.Actor != env.user(u.ID).Actor() {
			t.Errorf("after restoring: Actor %+v", p.Actor)
		}
	})

	t.Run("closed by themselves", func(t *testing.T) {
		u, in := env.activeUser("self@example.fi")
		other := env.login("self@example.fi", goodPassword).Token
		if err := env.svc.CloseSelf(ctx, env.authenticate(in.Token), testMeta); err != nil {
			t.Fatal(err)
		}
		refused(t, in.Token)
		refused(t, other)
		env.snapshotsHold(t, u.ID)
	})

	t.Run("closed for inactivity", func(t *testing.T) {
		u, in := env.activeUser("idle@example.fi")
		// The sweep is told it is a year later, and the session is still
		// live by the service's clock. (In the sweep's view it has long
		// expired, so its clean-up removes it in any case: an account
		// inactive for months has no live session left to go stale.)
		if _, err := env.svc.ApplyLifecycle(ctx, u.ID, env.clock.Now().AddDate(1, 0, 0), false); err != nil {
			t.Fatal(err)
		}
		if got := env.user(u.ID).Status; got != kernel.StatusClosed {
			t.Fatalf("status %s after the sweep, want closed", got)
		}
		refused(t, in.Token)
		env.snapshotsHold(t, u.ID)
	})

	t.Run("changes of anything else keep the sessions right", func(t *testing.T) {
		u, in := env.activeUser("rest@example.fi")
		other := env.login("rest@example.fi", goodPassword).Token
		p := env.authenticate(in.Token)
		name := "Uusinimi"
		if _, err := env.svc.UpdateProfile(ctx, p, accounts.ProfilePatch{FirstName: &name}, "", testMeta); err != nil {
			t.Fatal(err)
		}
		if _, err := env.svc.UpdateUser(ctx, admin, u.ID, accounts.UserPatch{LastName: &name}, "", testMeta); err != nil {
			t.Fatal(err)
		}
		if _, err := env.svc.ListSessions(ctx, p); err != nil {
			t.Fatal(err)
		}
		env.snapshotsHold(t, u.ID)
		if err := env.svc.ChangePassword(ctx, p, goodPassword, otherPassword, testMeta); err != nil {
			t.Fatal(err)
		}
		refused(t, other)
		env.snapshotsHold(t, u.ID)
		if got := env.authenticate(in.Token).Actor; got != env.user(u.ID).Actor() {
			t.Errorf("Actor %+v after the changes", got)
		}
	})
}
