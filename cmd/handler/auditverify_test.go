package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// auditFixture is a prefix's audit table on Azurite with chains appended
// through the store, and the raw table client an attacker with write
// access would use.
type auditFixture struct {
	t     *testing.T
	env   map[string]string
	store *tablestore.Store
	table *aztables.Client
}

// The chains every case starts from: five events of org-1 in November
// 2026 (the one the cases tamper with) and two of org-2.
const tamperedChain = "org-1|2026-11"

func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	ctx := context.Background()
	// The command sends no email: the SMTP settings only need to be valid.
	env := testEnv(t, testenv.Mailbox{SMTPHost: "127.0.0.1", SMTPPort: 1025})
	store, err := tablestore.NewFromConnectionString(env["TABLES_CONNECTION_STRING"], env["TABLE_PREFIX"], testenv.AuditKeys())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	var events []audit.Event
	for i := 1; i <= 5; i++ {
		events = append(events, audit.Event{ID: fmt.Sprintf("ev-1-%d", i), At: at.Add(time.Duration(i) * time.Minute),
			Action: audit.ActionUserUpdated, ActorID: "u-admin", SubjectID: "u-1", OrganizationID: "org-1", Fields: []string{"firstName"}})
	}
	for i := 1; i <= 2; i++ {
		events = append(events, audit.Event{ID: fmt.Sprintf("ev-2-%d", i), At: at.Add(time.Duration(i) * time.Minute),
			Action: audit.ActionSignInSucceeded, ActorID: "u-2", SubjectID: "u-2", OrganizationID: "org-2"})
	}
	if err := store.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	svc, err := aztables.NewServiceClientFromConnectionString(env["TABLES_CONNECTION_STRING"], nil)
	if err != nil {
		t.Fatal(err)
	}
	return &auditFixture{t: t, env: env, store: store, table: svc.NewClient(env["TABLE_PREFIX"] + "audit")}
}

// rowKey is the audit table's row key of a sequence number (newest first,
// see internal/tablestore).
func rowKey(seq int64) string { return fmt.Sprintf("%012d", 999_999_999_999-seq) }

// merge writes fields over a stored row, as anyone with write access can.
func (f *auditFixture) merge(chain string, seq int64, fields map[string]any) {
	f.t.Helper()
	fields["PartitionKey"], fields["RowKey"] = chain, rowKey(seq)
	b, _ := json.Marshal(fields)
	if _, err := f.table.UpdateEntity(context.Background(), b, &aztables.UpdateEntityOptions{UpdateMode: aztables.UpdateModeMerge}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *auditFixture) delete(chain, rk string) {
	f.t.Helper()
	if _, err := f.table.DeleteEntity(context.Background(), chain, rk, nil); err != nil {
		f.t.Fatal(err)
	}
}

// verify runs `handler audit verify` as ops do.
func (f *auditFixture) verify(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"handler", "audit", "verify"}, args...), func(k string) string { return f.env[k] }, &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

// LOG-3: `handler audit verify` against Azurite, with rows changed directly
// through the table client: it names the first broken link of each broken
// chain (chain, sequence, event id, problem), exits non-zero, and passes
// clean chains.
func TestAuditVerifyCommand(t *testing.T) {
	t.Parallel()
	attacker := audit.Keys{Current: testenv.AuditKeys().Current, Versions: map[string][]byte{
		testenv.AuditKeys().Current: []byte("a-guess-at-the-audit-chain-key!!")}}
	tests := []struct {
		name   string
		tamper func(f *auditFixture)
		want   string
	}{
		{"a field changed in a stored event", func(f *auditFixture) {
			f.merge(tamperedChain, 3, map[string]any{"SubjectID": "u-other", "Reason": "alice@example.fi"})
		}, "chain=org-1|2026-11 seq=3 event=ev-1-3 problem=hash-mismatch"},
		{"a deleted middle event", func(f *auditFixture) {
			f.delete(tamperedChain, rowKey(3))
		}, "chain=org-1|2026-11 seq=3 event=- problem=missing-sequence (next present: seq 4 event ev-1-4)"},
		{"an event re-chained with a wrong key", func(f *auditFixture) {
			events, err := f.store.Chain(context.Background(), tamperedChain)
			if err != nil {
				f.t.Fatal(err)
			}
			// The attacker rewrites seq 3 and re-links it and everything
			// after it, head included, with a key of their own.
			prevSeq, prevHash := events[1].Seq, events[1].Hash
			for _, e := range events[2:] {
				e.SubjectID = "u-other"
				e = attacker.Link(e, prevSeq, prevHash)
				f.merge(tamperedChain, e.Seq, map[string]any{"SubjectID": e.SubjectID, "Hash": e.Hash, "PrevHash": e.PrevHash, "KeyVersion": e.KeyVersion})
				prevSeq, prevHash = e.Seq, e.Hash
			}
			b, _ := json.Marshal(map[string]any{"PartitionKey": tamperedChain, "RowKey": "head", "Hash": prevHash})
			if _, err := f.table.UpdateEntity(context.Background(), b, &aztables.UpdateEntityOptions{UpdateMode: aztables.UpdateModeMerge}); err != nil {
				f.t.Fatal(err)
			}
		}, "chain=org-1|2026-11 seq=3 event=ev-1-3 problem=hash-mismatch"},
		{"an event naming a key version that is not loaded", func(f *auditFixture) {
			f.merge(tamperedChain, 2, map[string]any{"KeyVersion": "test9"})
		}, "chain=org-1|2026-11 seq=2 event=ev-1-2 problem=unknown-key-version (key version test9)"},
		{"the newest event deleted", func(f *auditFixture) {
			f.delete(tamperedChain, rowKey(5))
		}, "chain=org-1|2026-11 seq=4 event=ev-1-4 problem=head-mismatch (the head names seq 5)"},
		{"a keyed event rewritten as a legacy link", func(f *auditFixture) {
			events, _ := f.store.Chain(context.Background(), tamperedChain)
			e := events[4]
			e.SubjectID, e.KeyVersion = "u-other", ""
			f.merge(tamperedChain, 5, map[string]any{"SubjectID": e.SubjectID, "KeyVersion": "", "Hash": oldStyleHash(t, e)})
		}, "chain=org-1|2026-11 seq=5 event=ev-1-5 problem=unkeyed-link"},
	}
	for _, tt := range tests {
		t.Run("names "+tt.name, func(t *testing.T) {
			t.Parallel()
			f := newAuditFixture(t)
			tt.tamper(f)
			out, err := f.verify()
			if err == nil {
				t.Fatalf("verify passed a tampered chain:\n%s", out)
			}
			if !strings.Contains(out, "BROKEN "+tt.want) {
				t.Fatalf("output does not name the first broken link %q:\n%s", tt.want, out)
			}
			if n := strings.Count(out, "BROKEN "); n != 1 {
				t.Errorf("%d broken chains reported, want 1 (org-2's is intact):\n%s", n, out)
			}
			if !strings.Contains(out, "2 checked") || !strings.Contains(out, "1 broken") {
				t.Errorf("summary does not count 2 chains, 1 broken:\n%s", out)
			}
			// Ids only: nothing a tampered row holds is echoed.
			for _, leak := range []string{"alice@example.fi", "u-other", "u-admin", "firstName"} {
				if strings.Contains(out, leak) {
					t.Errorf("output contains %q:\n%s", leak, out)
				}
			}
		})
	}

	t.Run("passes clean chains", func(t *testing.T) {
		t.Parallel()
		f := newAuditFixture(t)
		out, err := f.verify()
		if err != nil {
			t.Fatalf("verify: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Audit chains: 2 checked, 7 events, 0 legacy (unkeyed) links, 0 broken") {
			t.Errorf("summary:\n%s", out)
		}
	})

	t.Run("reports every broken chain", func(t *testing.T) {
		t.Parallel()
		f := newAuditFixture(t)
		f.merge(tamperedChain, 4, map[string]any{"Action": string(audit.ActionUserClosed)})
		f.delete("org-2|2026-11", "head")
		out, err := f.verify()
		if err == nil || !strings.Contains(out, "BROKEN chain=org-1|2026-11 seq=4 event=ev-1-4 problem=hash-mismatch") ||
			!strings.Contains(out, "BROKEN chain=org-2|2026-11 seq=2 event=ev-2-2 problem=head-mismatch (the chain has no head)") {
			t.Fatalf("verify = %v:\n%s", err, out)
		}
	})

	t.Run("refuses a malformed -legacy-until", func(t *testing.T) {
		t.Parallel()
		f := &auditFixture{t: t, env: map[string]string{}}
		if out, err := f.verify("-legacy-until", "May 2026"); err == nil || !strings.Contains(err.Error(), "-legacy-until") {
			t.Fatalf("verify = %v\n%s", err, out)
		}
	})
}

// oldStyleHash is how events were chained before the audit chain key:
// SHA-256 of the event's JSON without its hash and key version. It is
// written out here, not taken from the audit package, so the test checks
// the legacy format itself.
func oldStyleHash(t *testing.T, e audit.Event) string {
	t.Helper()
	type event struct {
		ID             string    `json:"id"`
		At             time.Time `json:"at"`
		Action         string    `json:"action"`
		ActorID        string    `json:"actorId,omitempty"`
		SubjectID      string    `json:"subjectId,omitempty"`
		OrganizationID string    `json:"organizationId,omitempty"`
		Fields         []string  `json:"fields,omitempty"`
		Reason         string    `json:"reason,omitempty"`
		RequestID      string    `json:"requestId,omitempty"`
		Seq            int64     `json:"seq"`
		PrevHash       string    `json:"prevHash"`
		Hash           string    `json:"hash"`
	}
	b, err := json.Marshal(event{e.ID, e.At.UTC(), string(e.Action), e.ActorID, e.SubjectID, e.OrganizationID, e.Fields, e.Reason, e.RequestID, e.Seq, e.PrevHash, ""})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// LOG-3: chains written before the audit chain key (plain SHA-256, no key
// version) still verify as legacy links, and are counted as such; with
// -legacy-until set to an earlier month they are refused.
func TestAuditVerifyAcceptsLegacyChains(t *testing.T) {
	t.Parallel()
	f := newAuditFixture(t)
	const chain = "org-3|2026-10"
	prevHash := audit.GenesisHash(chain)
	at := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	for seq := int64(1); seq <= 3; seq++ {
		e := audit.Event{ID: fmt.Sprintf("old-%d", seq), At: at.Add(time.Duration(seq) * time.Hour), Action: audit.ActionSignInFailed,
			OrganizationID: "org-3", Reason: "wrong_password", Seq: seq, PrevHash: prevHash}
		e.Hash = oldStyleHash(t, e)
		row := map[string]any{"PartitionKey": chain, "RowKey": rowKey(seq), "EventID": e.ID, "At": e.At.Format("2006-01-02T15:04:05.000000000Z"),
			"Action": string(e.Action), "Organization": e.OrganizationID, "Reason": e.Reason, "Seq": e.Seq,
			"PrevHash": e.PrevHash, "Hash": e.Hash}
		b, _ := json.Marshal(row)
		if _, err := f.table.AddEntity(context.Background(), b, nil); err != nil {
			t.Fatal(err)
		}
		prevHash = e.Hash
	}
	head, _ := json.Marshal(map[string]any{"PartitionKey": chain, "RowKey": "head", "Seq": 3, "Hash": prevHash, "RecentIDs": "old-1 old-2 old-3"})
	if _, err := f.table.AddEntity(context.Background(), head, nil); err != nil {
		t.Fatal(err)
	}

	out, err := f.verify()
	if err != nil || !strings.Contains(out, "Audit chains: 3 checked, 10 events, 3 legacy (unkeyed) links, 0 broken") {
		t.Fatalf("verify = %v:\n%s", err, out)
	}
	if out, err := f.verify("-legacy-until", "2026-10"); err != nil {
		t.Fatalf("verify -legacy-until 2026-10 = %v:\n%s", err, out)
	}
	out, err = f.verify("-legacy-until", "2026-09")
	if err == nil || !strings.Contains(out, "BROKEN chain=org-3|2026-10 seq=1 event=old-1 problem=unkeyed-link") {
		t.Fatalf("verify -legacy-until 2026-09 = %v:\n%s", err, out)
	}

	// New events join the legacy chain keyed, and the chain still verifies.
	if err := f.store.Append(context.Background(), []audit.Event{{ID: "new-1", At: at.Add(24 * time.Hour), Action: audit.ActionSignInSucceeded, OrganizationID: "org-3"}}); err != nil {
		t.Fatal(err)
	}
	if out, err := f.verify(); err != nil || !strings.Contains(out, "3 checked, 11 events, 3 legacy") {
		t.Fatalf("verify after a keyed append to a legacy chain = %v:\n%s", err, out)
	}
}
