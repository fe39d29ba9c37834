package audit

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var testKeys = Keys{Current: "k2", Versions: map[string][]byte{
	"k1": []byte("0123456789abcdef0123456789abcdef"),
	"k2": []byte("fedcba9876543210fedcba9876543210"),
}}

func chain(t *testing.T, n int) (string, []Event) {
	t.Helper()
	return chainWith(t, n, func(int) Keys { return testKeys })
}

// chainWith builds a chain of n events, linking event i with keysFor(i);
// a nil Keys links it the legacy way (plain SHA-256, no key version).
func chainWith(t *testing.T, n int, keysFor func(i int) Keys) (string, []Event) {
	t.Helper()
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	key := ChainKey(Event{At: at, OrganizationID: "org-1"})
	prevSeq, prevHash := int64(0), GenesisHash(key)
	var out []Event
	for i := 0; i < n; i++ {
		e := Event{ID: fmt.Sprintf("e%d", i+1), At: at.Add(time.Duration(i) * time.Minute), Action: ActionSignInSucceeded,
			ActorID: "u-1", SubjectID: "u-1", OrganizationID: "org-1", RequestID: "r"}
		if k := keysFor(i); k.Current != "" {
			e = k.Link(e, prevSeq, prevHash)
		} else {
			e = legacyLink(e, prevSeq, prevHash)
		}
		prevSeq, prevHash = e.Seq, e.Hash
		out = append(out, e)
	}
	return key, out
}

// legacyLink is how events were chained before chain keys.
func legacyLink(e Event, prevSeq int64, prevHash string) Event {
	e.Seq, e.PrevHash, e.KeyVersion = prevSeq+1, prevHash, ""
	e.Hash = legacyHash(e)
	return e
}

// P11, LOG-3: the audit trail is tamper-evident: any edit, removal,
// insertion or reordering in the middle of a chain is detected, and the
// first broken link is named.
func TestVerifyDetectsTampering(t *testing.T) {
	attacker := Keys{Current: "k2", Versions: map[string][]byte{"k2": []byte("attacker-guess-attacker-guess-32")}}
	tests := []struct {
		name    string
		tamper  func([]Event) []Event
		seq     int64
		problem Problem
	}{
		{"an altered action", func(es []Event) []Event { es[2].Action = ActionPasswordChanged; return es }, 3, ProblemHashMismatch},
		{"an altered subject", func(es []Event) []Event { es[2].SubjectID = "u-2"; return es }, 3, ProblemHashMismatch},
		{"an altered time", func(es []Event) []Event { es[2].At = es[2].At.Add(time.Second); return es }, 3, ProblemHashMismatch},
		{"a removed event", func(es []Event) []Event { return append(es[:2:2], es[3:]...) }, 3, ProblemMissingSequence},
		{"a removed first event", func(es []Event) []Event { return es[1:] }, 1, ProblemMissingSequence},
		{"two events swapped", func(es []Event) []Event { es[1], es[2] = es[2], es[1]; return es }, 2, ProblemLinkMismatch},
		{"a recomputed hash without its successor", func(es []Event) []Event {
			es[2].Reason = "x"
			es[2] = testKeys.Link(es[2], es[1].Seq, es[1].Hash)
			return es
		}, 4, ProblemLinkMismatch},
		// LOG-3: without the key, whoever can write the table cannot
		// re-chain: a whole chain re-linked under a guessed key fails at
		// its first event.
		{"a chain re-linked with a wrong key", func(es []Event) []Event {
			es[2].Reason = "x"
			prevSeq, prevHash := es[1].Seq, es[1].Hash
			for i := 2; i < len(es); i++ {
				es[i] = attacker.Link(es[i], prevSeq, prevHash)
				prevSeq, prevHash = es[i].Seq, es[i].Hash
			}
			return es
		}, 3, ProblemHashMismatch},
		{"an event naming a version that is not loaded", func(es []Event) []Event { es[3].KeyVersion = "k9"; return es }, 4, ProblemUnknownKeyVersion},
		// A rewrite as a legacy link (plain SHA-256, recomputable by anyone)
		// after keyed links is refused.
		{"a keyed event downgraded to a legacy link", func(es []Event) []Event {
			es[4].Reason = "x"
			es[4] = legacyLink(es[4], es[3].Seq, es[3].Hash)
			return es
		}, 5, ProblemUnkeyedLink},
	}
	for _, tt := range tests {
		t.Run("detects "+tt.name, func(t *testing.T) {
			key, es := chain(t, 5)
			err := testKeys.Verify(key, tt.tamper(es))
			if !errors.Is(err, ErrBrokenChain) {
				t.Fatalf("Verify = %v, want ErrBrokenChain", err)
			}
			v := testKeys.NewVerifier(key, true)
			es = tt.tamper(func() []Event { _, es := chain(t, 5); return es }())
			for i := len(es) - 1; i >= 0; i-- {
				v.Add(es[i])
			}
			b := v.Done(nil, false).Broken
			if b == nil || b.Seq != tt.seq || b.Problem != tt.problem || b.Chain != key {
				t.Fatalf("first broken link = %v, want seq %d %s", b, tt.seq, tt.problem)
			}
		})
	}
	t.Run("accepts the untouched chain", func(t *testing.T) {
		key, es := chain(t, 5)
		if err := testKeys.Verify(key, es); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("accepts a chain whose key was rotated midway", func(t *testing.T) {
		old := Keys{Current: "k1", Versions: testKeys.Versions}
		key, es := chainWith(t, 5, func(i int) Keys {
			if i < 2 {
				return old
			}
			return testKeys
		})
		if err := testKeys.Verify(key, es); err != nil {
			t.Fatal(err)
		}
		if es[0].KeyVersion != "k1" || es[4].KeyVersion != "k2" {
			t.Fatalf("key versions %q…%q, want k1…k2", es[0].KeyVersion, es[4].KeyVersion)
		}
	})
	t.Run("accepts legacy links before the first keyed one", func(t *testing.T) {
		key, es := chainWith(t, 5, func(i int) Keys {
			if i < 3 {
				return Keys{}
			}
			return testKeys
		})
		if err := testKeys.Verify(key, es); err != nil {
			t.Fatal(err)
		}
		v := testKeys.NewVerifier(key, false)
		for i := len(es) - 1; i >= 0; i-- {
			v.Add(es[i])
		}
		if b := v.Done(nil, false).Broken; b == nil || b.Seq != 1 || b.Problem != ProblemUnkeyedLink {
			t.Fatalf("without legacy links allowed: %v, want seq 1 %s", b, ProblemUnkeyedLink)
		}
	})
	t.Run("detects an altered legacy link", func(t *testing.T) {
		key, es := chainWith(t, 3, func(int) Keys { return Keys{} })
		es[1].ActorID = "u-9"
		if err := testKeys.Verify(key, es); !errors.Is(err, ErrBrokenChain) {
			t.Fatalf("Verify = %v, want ErrBrokenChain", err)
		}
	})
	t.Run("refuses a chain moved to another key", func(t *testing.T) {
		_, es := chain(t, 3)
		if err := testKeys.Verify("org-2|2026-11", es); !errors.Is(err, ErrBrokenChain) {
			t.Fatalf("Verify = %v, want ErrBrokenChain", err)
		}
	})
}

// LOG-3: the head records the chain's tip, so removing the newest events
// is found unless the head is rewritten too.
func TestVerifierChecksTheHead(t *testing.T) {
	key, es := chain(t, 3)
	run := func(es []Event, head *Head) *Break {
		v := testKeys.NewVerifier(key, true)
		for i := len(es) - 1; i >= 0; i-- {
			v.Add(es[i])
		}
		return v.Done(head, true).Broken
	}
	if b := run(es, &Head{Seq: 3, Hash: es[2].Hash}); b != nil {
		t.Fatalf("clean chain: %v", b)
	}
	if b := run(es[:2], &Head{Seq: 3, Hash: es[2].Hash}); b == nil || b.Problem != ProblemHeadMismatch || b.Seq != 2 {
		t.Fatalf("newest event removed: %v, want head-mismatch at seq 2", b)
	}
	if b := run(es, nil); b == nil || b.Problem != ProblemHeadMismatch {
		t.Fatalf("head removed: %v, want head-mismatch", b)
	}
	if b := run(nil, &Head{Seq: 3, Hash: es[2].Hash}); b == nil || b.Problem != ProblemMissingSequence || b.Seq != 1 {
		t.Fatalf("every event removed: %v, want missing-sequence at seq 1", b)
	}
}

// CONF-3: chain keys are never printed.
func TestKeysNeverPrinted(t *testing.T) {
	for _, s := range []string{fmt.Sprint(testKeys), fmt.Sprintf("%v %+v %#v", testKeys, testKeys, testKeys)} {
		if strings.Contains(s, string(testKeys.Versions["k1"])) || strings.Contains(s, string(testKeys.Versions["k2"])) {
			t.Fatalf("keys printed: %s", s)
		}
	}
}

func TestKeysValidate(t *testing.T) {
	if err := testKeys.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]Keys{
		"no current":      {Versions: testKeys.Versions},
		"unknown current": {Current: "k3", Versions: testKeys.Versions},
		"short key":       {Current: "k1", Versions: map[string][]byte{"k1": []byte("short")}},
		"bad version id":  {Current: "k 1", Versions: map[string][]byte{"k 1": testKeys.Versions["k1"]}},
	} {
		if err := k.Validate(); !errors.Is(err, ErrInvalidKeys) {
			t.Errorf("%s: Validate = %v, want ErrInvalidKeys", name, err)
		}
	}
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
