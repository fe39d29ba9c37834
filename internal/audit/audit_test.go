package audit

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func chain(t *testing.T, n int) (string, []Event) {
	t.Helper()
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	key := ChainKey(Event{At: at, OrganizationID: "org-1"})
	prevSeq, prevHash := int64(0), GenesisHash(key)
	var out []Event
	for i := 0; i < n; i++ {
		e := Link(Event{ID: fmt.Sprintf("e%d", i), At: at.Add(time.Duration(i) * time.Minute), Action: ActionSignInSucceeded,
			ActorID: "u-1", SubjectID: "u-1", OrganizationID: "org-1", RequestID: "r"}, prevSeq, prevHash)
		prevSeq, prevHash = e.Seq, e.Hash
		out = append(out, e)
	}
	return key, out
}

// P11: the audit trail is tamper-evident: any edit, removal, insertion or
// reordering in the middle of a chain is detected.
func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func([]Event) []Event
	}{
		{"an altered action", func(es []Event) []Event { es[2].Action = ActionPasswordChanged; return es }},
		{"an altered subject", func(es []Event) []Event { es[2].SubjectID = "u-2"; return es }},
		{"an altered time", func(es []Event) []Event { es[2].At = es[2].At.Add(time.Second); return es }},
		{"a removed event", func(es []Event) []Event { return append(es[:2:2], es[3:]...) }},
		{"two events swapped", func(es []Event) []Event { es[1], es[2] = es[2], es[1]; return es }},
		{"a recomputed hash without its successor", func(es []Event) []Event {
			es[2].Reason = "x"
			es[2] = Link(es[2], es[1].Seq, es[1].Hash)
			return es
		}},
	}
	for _, tt := range tests {
		t.Run("detects "+tt.name, func(t *testing.T) {
			key, es := chain(t, 5)
			err := Verify(tt.tamper(es), 0, GenesisHash(key))
			if !errors.Is(err, ErrBrokenChain) {
				t.Fatalf("Verify = %v, want ErrBrokenChain", err)
			}
		})
	}
	t.Run("accepts the untouched chain", func(t *testing.T) {
		key, es := chain(t, 5)
		if err := Verify(es, 0, GenesisHash(key)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("accepts the rest of a chain from the anchor of removed events", func(t *testing.T) {
		_, es := chain(t, 5)
		if err := Verify(es[2:], es[1].Seq, es[1].Hash); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuses a chain moved to another key", func(t *testing.T) {
		_, es := chain(t, 3)
		if err := Verify(es, 0, GenesisHash("org-2|2026-11")); !errors.Is(err, ErrBrokenChain) {
			t.Fatalf("Verify = %v, want ErrBrokenChain", err)
		}
	})
}

func TestChainKeyIsOrganisationAndUTCMonth(t *testing.T) {
	helsinkiMidnight := time.Date(2026, 12, 1, 0, 30, 0, 0, time.FixedZone("EET", 2*3600))
	if got, want := ChainKey(Event{At: helsinkiMidnight, OrganizationID: "o"}), "o|2026-11"; got != want {
		t.Fatalf("ChainKey = %q, want %q", got, want)
	}
	if got, want := ChainKey(Event{At: helsinkiMidnight}), NoOrganization+"|2026-11"; got != want {
		t.Fatalf("ChainKey without organisation = %q, want %q", got, want)
	}
}
