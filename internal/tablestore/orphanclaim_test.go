package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// rows lists "PartitionKey/RowKey" of every row of c that filter selects
// ("" for all), read from the table itself, not through the store.
func rows(t *testing.T, c *aztables.Client, filter string) []string {
	t.Helper()
	var opts *aztables.ListEntitiesOptions
	if filter != "" {
		opts = &aztables.ListEntitiesOptions{Filter: &filter}
	}
	var out []string
	pager := c.NewListEntitiesPager(opts)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range page.Entities {
			var m rowMeta
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m.PartitionKey+"/"+m.RowKey)
		}
	}
	return out
}

// plantClaim leaves the email claim a create that crashed before writing
// its account would leave: the claim of owner, claimed age ago. The store
// dates claims with the wall clock, so the age is from the wall clock too.
func plantClaim(t *testing.T, s *Store, u accounts.User, owner string, age time.Duration) {
	t.Helper()
	e := emailEntity{PartitionKey: emailKey(accounts.ClaimAddress(u)), RowKey: rkEmail, UserID: owner,
		ClaimedAt: formatTime(time.Now().Add(-age))}
	if _, err := s.emails.UpsertEntity(context.Background(), mustJSON(e), &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		t.Fatal(err)
	}
}

// P1: an email claim without its account (a crash between the two writes)
// is taken over by a new account only when it is older than any create in
// flight and its account row does not exist; otherwise the email is taken
// and the claim stays its owner's.
func TestOrphanClaimIsTakenOverOnlyWhenOldAndAccountless(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		age           time.Duration
		ownerAccount  bool
		wantTakenOver bool
	}{
		{"old claim without account is taken over", orphanClaimAge + time.Minute, false, true},
		{"young claim without account is a create in flight", orphanClaimAge - 30*time.Second, false, false},
		{"old claim whose account exists is taken", orphanClaimAge + time.Hour, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newTestStore(t)
			if tt.ownerAccount {
				// The owner exists under another address; only its row matters.
				if err := s.CreateUser(ctx, testUser("u-owner", "owner@example.fi"), accounts.Change{UserID: "u-owner"}); err != nil {
					t.Fatal(err)
				}
			}
			u := testUser("u-new", "maija@example.fi")
			plantClaim(t, s, u, "u-owner", tt.age)
			err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID})
			id, lerr := s.UserIDByEmail(ctx, accounts.ClaimAddress(u))
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tt.wantTakenOver {
				if err != nil || id != u.ID {
					t.Fatalf("CreateUser = %v, claim owner %q; want success and %q", err, id, u.ID)
				}
				if _, err := s.User(ctx, u.ID); err != nil {
					t.Fatalf("the new account: %v", err)
				}
				return
			}
			if !errors.Is(err, accounts.ErrEmailTaken) {
				t.Fatalf("CreateUser = %v, want ErrEmailTaken", err)
			}
			if id != "u-owner" {
				t.Fatalf("claim owner = %q, want it left to u-owner", id)
			}
			if _, err := s.User(ctx, u.ID); !errors.Is(err, kernel.ErrNotFound) {
				t.Fatalf("the refused account was written: %v", err)
			}
		})
	}
}

// P1: two creators racing for one orphan claim: exactly one account gets
// the email and is written; the other is refused and leaves nothing.
func TestTwoCreatorsRacingForAnOrphanClaimOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	a, b := testUser("u-a", "maija@example.fi"), testUser("u-b", "maija@example.fi")
	plantClaim(t, s, a, "u-crashed", orphanClaimAge+time.Minute)
	var wg sync.WaitGroup
	errs := map[string]error{}
	var mu sync.Mutex
	for _, u := range []accounts.User{a, b} {
		wg.Go(func() {
			err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID})
			mu.Lock()
			errs[u.ID] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	winner, loser := "u-a", "u-b"
	if errs["u-a"] != nil {
		winner, loser = loser, winner
	}
	if errs[winner] != nil || !errors.Is(errs[loser], accounts.ErrEmailTaken) {
		t.Fatalf("results %v, want one success and one ErrEmailTaken", errs)
	}
	if id, err := s.UserIDByEmail(ctx, accounts.ClaimAddress(a)); err != nil || id != winner {
		t.Fatalf("claim owner = %q, %v; want %s", id, err, winner)
	}
	if _, err := s.User(ctx, loser); !errors.Is(err, kernel.ErrNotFound) {
		t.Fatalf("the loser's account: %v, want ErrNotFound", err)
	}
	if got := rows(t, s.users, "PartitionKey eq "+quote(loser)); len(got) != 0 {
		t.Fatalf("the loser left rows %v", got)
	}
}
