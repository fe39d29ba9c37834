package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/uuid"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// P1: an account stored before the canonical form folded case fully and
// turned the domain into ASCII keeps its claim under the old form (trimmed,
// NFKC, lower-cased). It still signs in with the spelling it was invited
// with, no second account is made beside it under that spelling, and
// erasing it removes the old claim.
func TestAccountClaimedUnderTheOldFormStaysReachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	hasher, err := passwords.NewHasher(passwords.Peppers{Current: "p1", Keys: map[string][]byte{
		"p1": []byte("tablestore-test-pepper-tablestore-test"),
	}}, passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	const password = "a long enough pass phrase for the test"
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	svc := accounts.NewService(s, hasher, passwords.DefaultPolicy(), &testenv.Relay{}, clock.Now, uuid.NewString, accounts.Options{
		SessionIdleTimeout: time.Hour, SessionAbsoluteTimeout: 12 * time.Hour, LockoutThreshold: 5, LockoutDuration: time.Minute,
		ActivityInterval: time.Hour, InvitationTTL: time.Hour, PasswordResetTTL: time.Hour, RestoreWindow: time.Hour,
	})

	// What the old code stored: the email and its claim in the old form.
	const old = "straße@bücher.fi"
	u := accounts.User{ID: "u-" + testenv.UniqueName(t), Email: old, FirstName: "Aino", LastName: "Korhonen", OrganizationID: "org-1",
		Role: kernel.RoleEditor, Status: kernel.StatusActive, Locale: "fi", CreatedAt: clock.Now(), PasswordHash: hash}
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	canonical, _ := accounts.CanonicalEmail(old)
	s.moveClaim(t, canonical, old)

	in, err := svc.Login(ctx, "  Straße@Bücher.fi", password, kernel.Meta{RequestID: "r"})
	if err != nil || in.User.ID != u.ID {
		t.Fatalf("sign-in with the old spelling = %q, %v; want %q", in.User.ID, err, u.ID)
	}
	_, err = svc.Invite(ctx, "", accounts.InviteInput{Email: old, FirstName: "Toinen", LastName: "Henkilö", OrganizationID: "org-1", Role: kernel.RoleEditor}, kernel.Meta{RequestID: "r"})
	if !errors.Is(err, accounts.ErrEmailTaken) {
		t.Fatalf("second account under the old spelling: %v, want ErrEmailTaken", err)
	}

	if err := s.EraseAccount(ctx, u.ID, old); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{old, canonical} {
		if _, err := s.UserIDByEmail(ctx, key); !errors.Is(err, kernel.ErrNotFound) {
			t.Errorf("claim under %q after erasure: %v", key, err)
		}
	}
}

// moveClaim re-files an email claim from one form to another, as the old
// code would have filed it.
func (s *Store) moveClaim(t *testing.T, from, to string) {
	t.Helper()
	ctx := context.Background()
	resp, err := s.emails.GetEntity(ctx, emailKey(from), rkEmail, nil)
	if err != nil {
		t.Fatal(err)
	}
	var e emailEntity
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		t.Fatal(err)
	}
	e.PartitionKey = emailKey(to)
	if _, err := s.emails.AddEntity(ctx, mustJSON(e), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.emails.DeleteEntity(ctx, emailKey(from), rkEmail, &aztables.DeleteEntityOptions{}); err != nil && statusOf(err) != http.StatusNotFound {
		t.Fatal(err)
	}
}
