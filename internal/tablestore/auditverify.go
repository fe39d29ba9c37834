package tablestore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/audit"
)

// VerifyAuditChains checks every chain in the audit table with the store's
// audit keys and calls broken with each broken chain's first broken link.
//
// It reads the table once, in key order: a chain's events newest first,
// then its head ("head" sorts after the digits), then the next chain. So
// it holds one event and one head at a time, whatever the table's size.
// A missing audit table holds no chains. It returns the counts, and wraps
// storage errors; a broken chain is not an error.
func (s *Store) VerifyAuditChains(ctx context.Context, opts audit.VerifyOptions, broken func(audit.Break)) (audit.Summary, error) {
	var sum audit.Summary
	var chain string
	var v *audit.Verifier
	var head *audit.Head
	finish := func() {
		if v == nil {
			return
		}
		r := v.Done(head, true)
		sum.Chains++
		sum.Events += r.Events
		sum.Legacy += r.Legacy
		if r.Broken != nil {
			sum.Broken++
			broken(*r.Broken)
		}
		v, head = nil, nil
	}
	pager := s.audit.NewListEntitiesPager(&aztables.ListEntitiesOptions{})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if statusOf(err) == http.StatusNotFound {
			return sum, nil
		}
		if err != nil {
			return sum, classify(err)
		}
		for _, raw := range page.Entities {
			var meta rowMeta
			if err := json.Unmarshal(raw, &meta); err != nil {
				return sum, fmt.Errorf("decode audit row: %w", err)
			}
			if meta.PartitionKey != chain || v == nil {
				finish()
				chain = meta.PartitionKey
				v = s.auditKeys.NewVerifier(chain, opts.AllowsLegacy(chain))
			}
			if meta.RowKey == rkAuditHead {
				var h auditHeadEntity
				if err := json.Unmarshal(raw, &h); err != nil {
					return sum, fmt.Errorf("decode audit head of chain %s: %w", chain, err)
				}
				head = &audit.Head{Seq: h.Seq, Hash: h.Hash}
				continue
			}
			var e auditEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return sum, fmt.Errorf("decode audit row %s of chain %s: %w", meta.RowKey, chain, err)
			}
			v.Add(e.event())
		}
	}
	finish()
	return sum, nil
}
