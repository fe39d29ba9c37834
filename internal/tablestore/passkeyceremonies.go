package tablestore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// A passkey sign-in's ceremony (accounts.PasskeyCeremony) is made before
// any account is known, so it lives in one of sixteen shard partitions of
// the users table, PK = "$passkey|<first hex digit of its hash>" (no
// account id starts with "$"), RK = "passkey|" + the hash of its token.
// It names no one.
const (
	pkPasskeyPrefix = "$passkey|"
	rkPasskeyPrefix = "passkey|"
	// passkeySweep bounds the expired ceremonies one new ceremony removes
	// from its shard: abandoned ones go at the pace new ones come.
	passkeySweep = 10
)

type passkeyCeremonyEntity struct {
	PartitionKey string
	RowKey       string
	CreatedAt    string
	ExpiresAt    string
	Ceremony     string
}

func passkeyShard(hash string) string {
	if hash == "" {
		return pkPasskeyPrefix + "0"
	}
	return pkPasskeyPrefix + hash[:1]
}

// PutPasskeyCeremony implements accounts.Store: one insert, then at most
// passkeySweep expired ceremonies of the same shard deleted on their
// ETags (one a concurrent request took or removed first is fine).
func (s *Store) PutPasskeyCeremony(ctx context.Context, c accounts.PasskeyCeremony, now time.Time) error {
	pk := passkeyShard(c.Hash)
	e := passkeyCeremonyEntity{PartitionKey: pk, RowKey: rkPasskeyPrefix + c.Hash, CreatedAt: formatTime(c.CreatedAt),
		ExpiresAt: formatTime(c.ExpiresAt), Ceremony: string(c.Ceremony)}
	if _, err := s.users.AddEntity(ctx, mustJSON(e), nil); err != nil {
		return classify(err)
	}
	filter := fmt.Sprintf("PartitionKey eq %s and ExpiresAt lt %s", quote(pk), quote(formatTime(now)))
	top := int32(passkeySweep)
	pager := s.users.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Top: &top})
	if !pager.More() {
		return nil
	}
	page, err := pager.NextPage(ctx)
	if err != nil {
		return classify(err)
	}
	for _, raw := range page.Entities {
		var meta rowMeta
		if err := json.Unmarshal(raw, &meta); err != nil {
			return fmt.Errorf("decode passkey row: %w", err)
		}
		etag := azcore.ETag(meta.ETag)
		_, err := s.users.DeleteEntity(ctx, meta.PartitionKey, meta.RowKey, &aztables.DeleteEntityOptions{IfMatch: &etag})
		if st := statusOf(err); err != nil && st != http.StatusNotFound && st != http.StatusPreconditionFailed {
			return classify(err)
		}
	}
	return nil
}

// TakePasskeyCeremony implements accounts.Store: a point read, then a
// delete on the ETag read; whoever deletes it first has it.
func (s *Store) TakePasskeyCeremony(ctx context.Context, hash string) (accounts.PasskeyCeremony, error) {
	pk, rk := passkeyShard(hash), rkPasskeyPrefix+hash
	resp, err := s.users.GetEntity(ctx, pk, rk, nil)
	if statusOf(err) == http.StatusNotFound {
		return accounts.PasskeyCeremony{}, kernel.ErrNotFound
	}
	if err != nil {
		return accounts.PasskeyCeremony{}, classify(err)
	}
	var e passkeyCeremonyEntity
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		return accounts.PasskeyCeremony{}, fmt.Errorf("decode passkey row: %w", err)
	}
	_, err = s.users.DeleteEntity(ctx, pk, rk, &aztables.DeleteEntityOptions{IfMatch: &resp.ETag})
	if st := statusOf(err); st == http.StatusNotFound || st == http.StatusPreconditionFailed {
		return accounts.PasskeyCeremony{}, kernel.ErrNotFound
	}
	if err != nil {
		return accounts.PasskeyCeremony{}, classify(err)
	}
	return accounts.PasskeyCeremony{Hash: hash, CreatedAt: parseTime(e.CreatedAt), ExpiresAt: parseTime(e.ExpiresAt),
		Ceremony: []byte(e.Ceremony)}, nil
}
