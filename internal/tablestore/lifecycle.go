package tablestore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/lifecycle"
)

// The lifecycle index (table "lifecycle") files every account under the
// UTC day its next lifecycle step is due: PK = "yyyy-mm-dd", RK = user id.
// The sweep reads the days up to today, so its storage calls grow with the
// number of accounts due, not with the number of accounts. An account's
// row moves when Settle re-plans it; the account's own partition keeps a
// pointer (RK "lifecycle") to the day it is filed under, so the old row
// can be removed. Moving is insert-new, point, delete-old: a crash leaves
// the account filed twice at worst, and the sweep then finds nothing due
// the second time.
//
// An entry is a hint that is never later than the step it leads to. A
// change that brings the step earlier moves it (FileNoLaterThan); one that
// puts it later (activity, an accepted invitation) writes nothing, and the
// sweep, finding the entry early, moves it to the step's day
// (SyncLifecycle). Most changes thus cost the lifecycle one read.

type lifecycleEntity struct {
	PartitionKey string // day
	RowKey       string // user id
	DueAt        string
}

type lifecyclePointer struct {
	PartitionKey string // user id
	RowKey       string // rkLifecycle
	Day          string
}

const dayLayout = "2006-01-02"

// FileNewAccount files an account created just now under its first due
// day (Change.FirstDue); CreateUser's upkeep calls it. Such an account has
// no lifecycle entry or pointer yet, so both are written without the reads
// SyncLifecycle makes to find and replace an earlier one. Its pointer is
// written only after the account row exists (the caller has created it),
// as SyncLifecycle requires.
func (s *Store) FileNewAccount(ctx context.Context, userID string, due time.Time) error {
	if due.IsZero() {
		return nil
	}
	day := due.UTC().Format(dayLayout)
	e := lifecycleEntity{PartitionKey: day, RowKey: userID, DueAt: formatTime(due)}
	if _, err := s.lifecycle.UpsertEntity(ctx, mustJSON(e), &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		return classify(err)
	}
	p := lifecyclePointer{PartitionKey: userID, RowKey: rkLifecycle, Day: day}
	_, err := s.users.AddEntity(ctx, mustJSON(p), nil)
	if statusOf(err) != http.StatusConflict {
		return classify(err)
	}
	// A settle filed the account first (rare): its pointer stands, and an
	// entry of ours on another day would be one nothing points at.
	resp, err := s.users.GetEntity(ctx, userID, rkLifecycle, nil)
	if err != nil {
		return classify(err)
	}
	var current lifecyclePointer
	if err := json.Unmarshal(resp.Value, &current); err != nil {
		return fmt.Errorf("decode lifecycle pointer: %w", err)
	}
	if current.Day != day {
		if _, err := s.lifecycle.DeleteEntity(ctx, day, userID, nil); err != nil && statusOf(err) != http.StatusNotFound {
			return classify(err)
		}
	}
	return nil
}

// SyncLifecycle implements accounts.Store.
func (s *Store) SyncLifecycle(ctx context.Context, userID string, due time.Time) error {
	old, err := s.lifecyclePointer(ctx, userID)
	if err != nil {
		return err
	}
	return s.moveLifecycle(ctx, userID, due, old)
}

// FileNoLaterThan implements accounts.Store: one read when the account is
// filed on due's day or before it, and the move of SyncLifecycle when it
// must come earlier.
func (s *Store) FileNoLaterThan(ctx context.Context, userID string, due time.Time) error {
	old, err := s.lifecyclePointer(ctx, userID)
	if err != nil {
		return err
	}
	if due.IsZero() || old.Day != "" && old.Day <= due.UTC().Format(dayLayout) {
		return nil
	}
	return s.moveLifecycle(ctx, userID, due, old)
}

func (s *Store) lifecyclePointer(ctx context.Context, userID string) (lifecyclePointer, error) {
	var old lifecyclePointer
	resp, err := s.users.GetEntity(ctx, userID, rkLifecycle, nil)
	switch {
	case statusOf(err) == http.StatusNotFound:
	case err != nil:
		return old, classify(err)
	default:
		if err := json.Unmarshal(resp.Value, &old); err != nil {
			return old, fmt.Errorf("decode lifecycle pointer: %w", err)
		}
	}
	return old, nil
}

// moveLifecycle files the account under due's day (none when zero), old
// being where its pointer says it is filed now.
func (s *Store) moveLifecycle(ctx context.Context, userID string, due time.Time, old lifecyclePointer) error {
	day := ""
	if !due.IsZero() {
		day = due.UTC().Format(dayLayout)
		if day == old.Day {
			// Filed under that day already: the pointer is written only
			// after its entry, and the sweep reads entries by day alone,
			// so there is nothing to write (a settle with no change to
			// the due day costs this one read).
			return nil
		}
		e := lifecycleEntity{PartitionKey: day, RowKey: userID, DueAt: formatTime(due)}
		if _, err := s.lifecycle.UpsertEntity(ctx, mustJSON(e), &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
			return classify(err)
		}
		if day != old.Day {
			p := lifecyclePointer{PartitionKey: userID, RowKey: rkLifecycle, Day: day}
			// The pointer lives beside the account; an erased account's
			// partition must not get one back, so only an existing account
			// is pointed (the upsert would otherwise recreate the partition).
			if _, err := s.users.GetEntity(ctx, userID, rkUser, nil); err == nil {
				if _, err := s.users.UpsertEntity(ctx, mustJSON(p), &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
					return classify(err)
				}
			} else if statusOf(err) != http.StatusNotFound {
				return classify(err)
			}
		}
	}
	if old.Day != "" && old.Day != day {
		if _, err := s.lifecycle.DeleteEntity(ctx, old.Day, userID, nil); err != nil && statusOf(err) != http.StatusNotFound {
			return classify(err)
		}
	}
	if day == "" && old.Day != "" {
		if _, err := s.users.DeleteEntity(ctx, userID, rkLifecycle, nil); err != nil && statusOf(err) != http.StatusNotFound {
			return classify(err)
		}
	}
	return nil
}

// DueAccounts lists up to limit accounts filed under days up to and
// including upTo, after the given position, in (day, user id) order.
func (s *Store) DueAccounts(ctx context.Context, upTo time.Time, after lifecycle.Position, limit int) ([]string, lifecycle.Position, error) {
	filter := "PartitionKey le " + quote(upTo.UTC().Format(dayLayout))
	if after.Day != "" {
		filter += fmt.Sprintf(" and ((PartitionKey eq %s and RowKey gt %s) or PartitionKey gt %s)", quote(after.Day), quote(after.UserID), quote(after.Day))
	}
	sel := "PartitionKey,RowKey"
	top := int32(min(limit, 1000))
	pager := s.lifecycle.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: &sel, Top: &top})
	var ids []string
	var last lifecycle.Position
	for pager.More() && len(ids) < limit {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return nil, lifecycle.Position{}, classify(err)
		}
		for _, raw := range resp.Entities {
			var meta rowMeta
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, lifecycle.Position{}, fmt.Errorf("decode lifecycle entry: %w", err)
			}
			ids = append(ids, meta.RowKey)
			last = lifecycle.Position{Day: meta.PartitionKey, UserID: meta.RowKey}
			if len(ids) == limit {
				break
			}
		}
	}
	return ids, last, nil
}

type tombstoneEntity struct {
	PartitionKey string
	RowKey       string
	ErasedAt     string
}

// EraseAccount implements accounts.Store. Order matters for a crash: the
// lookups that lead to the account go first (email claim, directory), then
// the partition, its account row last, and a tombstone (the id and the
// time, nothing else) stays so a late restore gets a clear answer. The
// lifecycle index entry goes at the very end: a crash anywhere before
// leaves the account where the sweep looks, and it finishes the erasure.
func (s *Store) EraseAccount(ctx context.Context, userID, email string) error {
	// An account from before the current canonical form may hold its
	// claim under the older form; both go.
	for _, key := range accounts.EmailLookupKeys(email) {
		if err := s.releaseClaim(ctx, emailKey(key), userID); err != nil {
			return err
		}
	}
	if err := s.removeFromDirectory(ctx, userID); err != nil {
		return err
	}
	if _, err := s.users.UpsertEntity(ctx, mustJSON(tombstoneEntity{PartitionKey: userID, RowKey: rkTombstone, ErasedAt: formatTime(s.now())}),
		&aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		return classify(err)
	}
	var rows []string
	if err := s.listPartition(ctx, s.users, "PartitionKey eq "+quote(userID), func(meta rowMeta, _ []byte) error {
		// The lifecycle pointer goes with the index entry, at the end; the
		// directory pointer stays as the erased sentinel (ids only).
		if meta.RowKey != rkTombstone && meta.RowKey != rkUser && meta.RowKey != rkLifecycle && meta.RowKey != rkDirectory {
			rows = append(rows, meta.RowKey)
		}
		return nil
	}); err != nil {
		return err
	}
	rows = append(rows, rkUser)
	for start := 0; start < len(rows); start += maxTransaction {
		var actions []aztables.TransactionAction
		for _, rk := range rows[start:min(start+maxTransaction, len(rows))] {
			actions = append(actions, remove(userID, rk))
		}
		if _, err := s.users.SubmitTransaction(ctx, actions, nil); err != nil {
			// A row gone already fails the batch; delete one by one instead.
			for _, rk := range rows[start:min(start+maxTransaction, len(rows))] {
				if _, err := s.users.DeleteEntity(ctx, userID, rk, nil); err != nil && statusOf(err) != http.StatusNotFound {
					return classify(err)
				}
			}
		}
	}
	// Only now, with the data gone, does the account leave the lifecycle
	// index: until then the sweep finds it again and finishes the erasure.
	return s.SyncLifecycle(ctx, userID, time.Time{})
}

// releaseClaim deletes the email claim under key if it is still userID's:
// a new account may own the email by now.
func (s *Store) releaseClaim(ctx context.Context, key, userID string) error {
	resp, err := s.emails.GetEntity(ctx, key, rkEmail, nil)
	switch {
	case statusOf(err) == http.StatusNotFound:
		return nil
	case err != nil:
		return classify(err)
	}
	var claim emailEntity
	if err := json.Unmarshal(resp.Value, &claim); err != nil {
		return fmt.Errorf("decode email claim: %w", err)
	}
	if claim.UserID != userID {
		return nil
	}
	etag := resp.ETag
	if _, err := s.emails.DeleteEntity(ctx, key, rkEmail, &aztables.DeleteEntityOptions{IfMatch: &etag}); err != nil && statusOf(err) != http.StatusNotFound {
		return classify(err)
	}
	return nil
}
