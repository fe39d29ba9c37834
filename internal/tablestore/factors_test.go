package tablestore

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
)

// P7, P13: the second factor's rows live in the account's partition: they
// are read with the account, written in its transactions, and erasure
// leaves none of them (only the tombstone). A passkey's credential comes
// back field for field, its sign count to the top of 32 bits, and a
// challenge keeps its passkey ceremony.
func TestSecondFactorRowsRoundTripAndAreErased(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "maija@example.fi")
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	f := accounts.Factor{UserID: u.ID, ID: "f-1", Type: accounts.FactorTOTP, Name: "phone", CreatedAt: t0, Confirmed: true, Secret: "m1:sealed", LastStep: 42}
	pk := accounts.Factor{UserID: u.ID, ID: "f-2", Type: accounts.FactorPasskey, Name: "key", CreatedAt: t0, Confirmed: true,
		Passkey: passkeys.Credential{ID: []byte{0, 1, 2, 255}, PublicKey: []byte("cose key"), Algorithm: -7, SignCount: 1<<32 - 1,
			AAGUID: make([]byte, 16), Transports: []string{"usb", "nfc"}, UserVerified: true, BackupEligible: true, CreatedAt: t0}}
	pending := accounts.Factor{UserID: u.ID, ID: "f-3", Type: accounts.FactorPasskey, Name: "new key", CreatedAt: t0, Ceremony: []byte(`{"kind":"registration"}`)}
	c := accounts.Challenge{UserID: u.ID, Hash: "abc", CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute), PasswordStamp: "stamp", Ceremony: []byte(`{"kind":"login"}`)}
	r := accounts.RecoveryCode{UserID: u.ID, Hash: "m1:0123", CreatedAt: t0}
	if err := s.Apply(ctx, accounts.Change{UserID: u.ID, PutFactors: []accounts.Factor{f, pk, pending}, PutChallenges: []accounts.Challenge{c},
		PutRecoveryCodes: []accounts.RecoveryCode{r}}); err != nil {
		t.Fatal(err)
	}
	agg, err := s.Aggregate(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(agg.Factors) != 3 || len(agg.Challenges) != 1 || len(agg.RecoveryCodes) != 1 {
		t.Fatalf("read back %d factors, %d challenges, %d codes", len(agg.Factors), len(agg.Challenges), len(agg.RecoveryCodes))
	}
	for i, want := range []accounts.Factor{f, pk, pending} {
		got := agg.Factors[i]
		got.ETag = ""
		if !reflect.DeepEqual(got, want) {
			t.Errorf("factor = %+v, want %+v", got, want)
		}
	}
	if agg.Challenges[0].PasswordStamp != "stamp" || string(agg.Challenges[0].Ceremony) != string(c.Ceremony) || agg.RecoveryCodes[0].Hash != r.Hash {
		t.Errorf("challenge = %+v, recovery %+v", agg.Challenges[0], agg.RecoveryCodes[0])
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
