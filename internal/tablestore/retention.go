package tablestore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
)

// PurgeAuditBefore implements lifecycle.Retention: it removes the audit
// chains of months that ended before cutoff, with their index copies.
// Whole chains go (one organisation and month each), so every chain that
// remains still verifies from its genesis. It finds them through the
// daily index, so the work grows with the events being dropped.
func (s *Store) PurgeAuditBefore(ctx context.Context, cutoff time.Time) (int, error) {
	// Chains are monthly: a cutoff inside a month keeps that month whole,
	// or what is left of its chain would not verify from its genesis.
	c := cutoff.UTC()
	cutoff = time.Date(c.Year(), c.Month(), 1, 0, 0, 0, 0, time.UTC)
	cutoffDay := idxDayPrefix + cutoff.Format(dayLayout)
	filter := fmt.Sprintf("PartitionKey ge %s and PartitionKey lt %s", quote(idxDayPrefix), quote(cutoffDay))
	type copyKey struct{ pk, rk string }
	var copies []copyKey
	chains := map[string]bool{}
	n := 0
	err := s.listPartition(ctx, s.auditIdx, filter, func(meta rowMeta, raw []byte) error {
		var e auditEntity
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		ev := e.event()
		chain := audit.ChainKey(ev)
		chains[chain] = true
		copies = append(copies, copyKey{chain, auditRowKey(ev.Seq)}, copyKey{meta.PartitionKey, meta.RowKey})
		for _, id := range []string{ev.ActorID, ev.SubjectID} {
			if id != "" {
				copies = append(copies, copyKey{idxUserPrefix + id, meta.RowKey})
			}
		}
		n++
		return nil
	})
	if err != nil {
		return 0, err
	}
	// The daily-index copies go last: they are how a later run finds what
	// an interrupted one left (chain rows, per-person copies, heads).
	deleteCopies := func(daily bool) error {
		for _, c := range copies {
			if strings.HasPrefix(c.pk, idxDayPrefix) != daily {
				continue
			}
			table := s.auditIdx
			if !strings.HasPrefix(c.pk, idxDayPrefix) && !strings.HasPrefix(c.pk, idxUserPrefix) {
				table = s.audit
			}
			if _, err := table.DeleteEntity(ctx, c.pk, c.rk, nil); err != nil && statusOf(err) != http.StatusNotFound {
				return classify(err)
			}
		}
		return nil
	}
	if err := deleteCopies(false); err != nil {
		return 0, err
	}
	for chain := range chains {
		if _, err := s.audit.DeleteEntity(ctx, chain, rkAuditHead, nil); err != nil && statusOf(err) != http.StatusNotFound {
			return 0, classify(err)
		}
	}
	if err := deleteCopies(true); err != nil {
		return 0, err
	}
	return n, nil
}

// PurgeDeliveriesBefore implements lifecycle.Retention: notification claims
// and failure records older than cutoff. Claims are filtered by time (a
// scan of the recent claims: it grows with email volume, not accounts).
func (s *Store) PurgeDeliveriesBefore(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	claims := fmt.Sprintf("(ClaimedAt lt %s and ClaimedAt ne '') or (SentAt ne '' and SentAt lt %s)", quote(formatTime(cutoff)), quote(formatTime(cutoff)))
	var keys []rowMeta
	if err := s.listPartition(ctx, s.deliveries, claims, func(meta rowMeta, _ []byte) error {
		keys = append(keys, meta)
		return nil
	}); err != nil {
		return 0, err
	}
	for _, k := range keys {
		if _, err := s.deliveries.DeleteEntity(ctx, k.PartitionKey, k.RowKey, nil); err != nil && statusOf(err) != http.StatusNotFound {
			return n, classify(err)
		}
		n++
	}
	failed := "PartitionKey lt " + quote(cutoff.UTC().Format("2006-01"))
	keys = keys[:0]
	if err := s.listPartition(ctx, s.failures, failed, func(meta rowMeta, _ []byte) error {
		keys = append(keys, meta)
		return nil
	}); err != nil {
		return n, err
	}
	for _, k := range keys {
		if _, err := s.failures.DeleteEntity(ctx, k.PartitionKey, k.RowKey, nil); err != nil && statusOf(err) != http.StatusNotFound {
			return n, classify(err)
		}
		n++
	}
	return n, nil
}
