package tablestore

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
)

// P7, P13: the second factor's rows live in the account's partition: they
// are read with the account, written in its transactions, and erasure
// leaves none of them (only the tombstone).
func TestSecondFactorRowsRoundTripAndAreErased(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "maija@example.fi")
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	f := accounts.Factor{UserID: u.ID, ID: "f-1", Type: accounts.FactorTOTP, Name: "phone", CreatedAt: t0, Confirmed: true, Secret: "m1:sealed", LastStep: 42}
	c := accounts.Challenge{UserID: u.ID, Hash: "abc", CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute), PasswordStamp: "stamp"}
	r := accounts.RecoveryCode{UserID: u.ID, Hash: "m1:0123", CreatedAt: t0}
	if err := s.Apply(ctx, accounts.Change{UserID: u.ID, PutFactors: []accounts.Factor{f}, PutChallenges: []accounts.Challenge{c},
		PutRecoveryCodes: []accounts.RecoveryCode{r}}); err != nil {
		t.Fatal(err)
	}
	agg, err := s.Aggregate(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(agg.Factors) != 1 || len(agg.Challenges) != 1 || len(agg.RecoveryCodes) != 1 {
		t.Fatalf("read back %d factors, %d challenges, %d codes", len(agg.Factors), len(agg.Challenges), len(agg.RecoveryCodes))
	}
	got := agg.Factors[0]
	got.ETag = ""
	if got != f || agg.Challenges[0].PasswordStamp != "stamp" || agg.RecoveryCodes[0].Hash != r.Hash {
		t.Errorf("factor = %+v, want %+v", got, f)
	}
	// A stale ETag on the factor is a conflict: two sign-ins cannot both
	// spend one code.
	next := agg.Factors[0]
	next.LastStep = 43
	if err := s.Apply(ctx, accounts.Change{UserID: u.ID, UpdateFactors: []accounts.Factor{next}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, accounts.Change{UserID: u.ID, UpdateFactors: []accounts.Factor{next}}); err == nil {
		t.Error("a factor written on a stale ETag")
	}
	if err := s.EraseAccount(ctx, u.ID, u.Email); err != nil {
		t.Fatal(err)
	}
	filter := "PartitionKey eq " + quote(u.ID)
	pager := s.users.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range page.Entities {
			var m rowMeta
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			// The tombstone and the directory's erased sentinel stay, by design.
			if m.RowKey != rkTombstone && m.RowKey != rkDirectory {
				t.Errorf("row %q left after erasure", m.RowKey)
			}
		}
	}
}
