package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// MinKeyLen is the shortest chain key Keys.Validate accepts: the length of
// the HMAC-SHA256 output.
const MinKeyLen = 32

// ErrInvalidKeys is returned by Keys.Validate for unusable chain keys.
var ErrInvalidKeys = errors.New("audit: invalid chain keys")

// Keys holds the chain keys by version, the way passwords.Peppers holds
// the pepper: new links use Current, and every version a stored link names
// must stay here for the chain to verify. In Azure the versions are the
// Key Vault versions of one secret (keyvault.LoadAuditKeys).
type Keys struct {
	Current  string            // version new links are made with
	Versions map[string][]byte // version id -> key, at least MinKeyLen bytes
}

var keyVersionPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// Validate reports whether k can make and check links. It returns an error
// wrapping ErrInvalidKeys when Current has no key, a version id is not 1-64
// characters of [A-Za-z0-9-], or a key is shorter than MinKeyLen. The error
// names versions, never key material.
func (k Keys) Validate() error {
	if _, ok := k.Versions[k.Current]; !ok || k.Current == "" {
		return fmt.Errorf("%w: current version %q has no key", ErrInvalidKeys, k.Current)
	}
	for _, v := range slices.Sorted(maps.Keys(k.Versions)) {
		if !keyVersionPattern.MatchString(v) {
			return fmt.Errorf("%w: a version id must be 1-64 characters of [A-Za-z0-9-]", ErrInvalidKeys)
		}
		if len(k.Versions[v]) < MinKeyLen {
			return fmt.Errorf("%w: version %q is shorter than %d bytes", ErrInvalidKeys, v, MinKeyLen)
		}
	}
	return nil
}

// String keeps the keys out of logs when a Keys value is printed.
func (k Keys) String() string {
	return fmt.Sprintf("audit.Keys{Current: %q, Versions: %q}", k.Current, slices.Sorted(maps.Keys(k.Versions)))
}

// GoString keeps the keys out of %#v output too.
func (k Keys) GoString() string { return k.String() }

// GenesisHash is the PrevHash of the first event of a chain; it binds the
// chain to its key so events cannot be moved between chains unnoticed.
func GenesisHash(chainKey string) string {
	sum := sha256.Sum256([]byte("audit-genesis|" + chainKey))
	return hex.EncodeToString(sum[:])
}

// Link sets e's place in a chain after the event with prevSeq and prevHash
// and computes its hash: HMAC-SHA256 under the current key version, which
// it records in e.KeyVersion. k must be valid (Validate).
func (k Keys) Link(e Event, prevSeq int64, prevHash string) Event {
	e.Seq = prevSeq + 1
	e.PrevHash = prevHash
	e.KeyVersion = k.Current
	e.Hash = mac(k.Versions[k.Current], e)
	return e
}

// content is what a link's hash covers: every field but Hash, the time in
// UTC. A legacy event (no KeyVersion) encodes as it did before keys
// existed, because keyVersion is omitted when empty.
func content(e Event) []byte {
	e.Hash = ""
	e.At = e.At.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		// Event holds only strings, ints and a time: Marshal cannot fail.
		panic(fmt.Sprintf("audit: marshal event: %v", err))
	}
	return b
}

func mac(key []byte, e Event) string {
	m := hmac.New(sha256.New, key)
	m.Write(content(e))
	return hex.EncodeToString(m.Sum(nil))
}

// legacyHash is the unkeyed link of events chained before chain keys: plain
// SHA-256 of the content.
func legacyHash(e Event) string {
	sum := sha256.Sum256(content(e))
	return hex.EncodeToString(sum[:])
}

// Problem says what is wrong with a link. The values are stable: ops
// tooling may match on them.
type Problem string

// Problems a Verifier reports.
const (
	// ProblemHashMismatch: the event's hash does not match its content
	// under the key version it names: it was edited, or re-chained by
	// someone without the key.
	ProblemHashMismatch Problem = "hash-mismatch"
	// ProblemMissingSequence: a sequence number is absent (a deleted event).
	ProblemMissingSequence Problem = "missing-sequence"
	// ProblemUnknownKeyVersion: the event names a key version that is not
	// loaded (disabled in Key Vault, or made up).
	ProblemUnknownKeyVersion Problem = "unknown-key-version"
	// ProblemLinkMismatch: the event's PrevHash is not its predecessor's
	// hash (or the chain's genesis): events moved between chains or
	// reordered.
	ProblemLinkMismatch Problem = "link-mismatch"
	// ProblemUnkeyedLink: an unkeyed (legacy) link where only keyed links
	// may be: after a keyed link, or in a month after VerifyOptions.LegacyUntil.
	ProblemUnkeyedLink Problem = "unkeyed-link"
	// ProblemHeadMismatch: the chain's head (its recorded tip) is missing or
	// does not name the last event: events were removed from the end, or
	// the head was rewritten.
	ProblemHeadMismatch Problem = "head-mismatch"
)

// Break is the first broken link of a chain: ids and numbers only.
type Break struct {
	Chain   string
	Seq     int64
	EventID string // "" when the event at Seq is missing
	Problem Problem
	Detail  string // numbers and ids only, never event content
}

// String is the break in one line. The chain key and event id come from
// stored rows that may have been tampered with, so anything that does not
// look like an id is replaced rather than printed.
func (b Break) String() string {
	id := "-"
	if b.EventID != "" {
		id = printableID(b.EventID)
	}
	s := fmt.Sprintf("chain=%s seq=%d event=%s problem=%s", printableID(b.Chain), b.Seq, id, b.Problem)
	if b.Detail != "" {
		s += " (" + b.Detail + ")"
	}
	return s
}

// ErrBrokenChain reports a chain whose events do not link up.
var ErrBrokenChain = errors.New("audit chain broken")

// Head is a chain's recorded tip.
type Head struct {
	Seq  int64
	Hash string
}

// Verifier checks one chain, fed newest first (the order the store keeps
// chains in), holding only the event it saw last: a chain of any length
// is checked in constant memory. It finds the broken link with the lowest
// sequence number.
type Verifier struct {
	keys        Keys
	chain       string
	allowLegacy bool

	newest, prev *Event // the first and the last event fed
	lastLegacy   *Event // the lowest unkeyed event fed so far
	first        *Break
	events       int
	legacy       int
}

// NewVerifier starts checking chain. allowLegacy accepts unkeyed links at
// the start of the chain (events chained before chain keys existed).
func (k Keys) NewVerifier(chain string, allowLegacy bool) *Verifier {
	return &Verifier{keys: k, chain: chain, allowLegacy: allowLegacy}
}

func (v *Verifier) record(b Break) {
	if v.first == nil || b.Seq < v.first.Seq {
		b.Chain = v.chain
		v.first = &b
	}
}

// Add feeds the next event, newest first.
func (v *Verifier) Add(e Event) {
	v.events++
	if v.newest == nil {
		v.newest = &e
	}
	if p := v.prev; p != nil {
		switch {
		case e.Seq >= p.Seq:
			v.record(Break{Seq: p.Seq, EventID: p.ID, Problem: ProblemLinkMismatch,
				Detail: fmt.Sprintf("stored out of order after seq %d", e.Seq)})
		case e.Seq != p.Seq-1:
			v.record(Break{Seq: e.Seq + 1, Problem: ProblemMissingSequence,
				Detail: fmt.Sprintf("next present: seq %d event %s", p.Seq, printableID(p.ID))})
		case p.PrevHash != e.Hash:
			v.record(Break{Seq: p.Seq, EventID: p.ID, Problem: ProblemLinkMismatch,
				Detail: fmt.Sprintf("does not follow seq %d", e.Seq)})
		}
	}
	v.prev = &e

	if e.KeyVersion == "" {
		v.legacy++
		switch {
		case !v.allowLegacy:
			v.record(Break{Seq: e.Seq, EventID: e.ID, Problem: ProblemUnkeyedLink, Detail: "legacy links are not accepted in this chain"})
			return
		case legacyHash(e) != e.Hash:
			v.record(Break{Seq: e.Seq, EventID: e.ID, Problem: ProblemHashMismatch, Detail: "legacy link"})
		}
		v.lastLegacy = &e
		return
	}
	if l := v.lastLegacy; l != nil {
		// An unkeyed link after a keyed one: the app never writes that, but
		// someone without the key rewriting an event might.
		v.record(Break{Seq: l.Seq, EventID: l.ID, Problem: ProblemUnkeyedLink, Detail: fmt.Sprintf("follows keyed seq %d", e.Seq)})
	}
	key, ok := v.keys.Versions[e.KeyVersion]
	switch {
	case !ok:
		v.record(Break{Seq: e.Seq, EventID: e.ID, Problem: ProblemUnknownKeyVersion, Detail: "key version " + safeVersion(e.KeyVersion)})
	case !hmac.Equal([]byte(mac(key, e)), []byte(e.Hash)):
		v.record(Break{Seq: e.Seq, EventID: e.ID, Problem: ProblemHashMismatch, Detail: "key version " + e.KeyVersion})
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:|-]{1,128}$`)

func printableID(s string) string {
	if idPattern.MatchString(s) {
		return s
	}
	return "(not an id)"
}

// safeVersion shows a version id only when it looks like one: the field is
// stored data and may hold anything.
func safeVersion(v string) string {
	if keyVersionPattern.MatchString(v) {
		return v
	}
	return "(not a version id)"
}

// Result is a verified chain's outcome.
type Result struct {
	Events int    // events checked
	Legacy int    // unkeyed links among them
	Broken *Break // the first broken link; nil when the chain verifies
}

// Done ends the chain. head is the chain's recorded tip, nil when it has
// none; checkHead false skips the comparison (a caller that holds events
// only).
func (v *Verifier) Done(head *Head, checkHead bool) Result {
	if low := v.prev; low != nil {
		switch {
		case low.Seq > 1:
			v.record(Break{Seq: 1, Problem: ProblemMissingSequence, Detail: fmt.Sprintf("next present: seq %d event %s", low.Seq, printableID(low.ID))})
		case low.Seq == 1 && low.PrevHash != GenesisHash(v.chain):
			v.record(Break{Seq: 1, EventID: low.ID, Problem: ProblemLinkMismatch, Detail: "does not start this chain"})
		case low.Seq < 1:
			v.record(Break{Seq: low.Seq, EventID: low.ID, Problem: ProblemLinkMismatch, Detail: "sequence numbers start at 1"})
		}
	}
	if checkHead && v.first == nil {
		switch {
		case head == nil && v.newest != nil:
			v.record(Break{Seq: v.newest.Seq, EventID: v.newest.ID, Problem: ProblemHeadMismatch, Detail: "the chain has no head"})
		case head != nil && v.newest == nil:
			if head.Seq > 0 {
				v.record(Break{Seq: 1, Problem: ProblemMissingSequence, Detail: fmt.Sprintf("the head names seq %d but the chain has no events", head.Seq)})
			}
		case head != nil && (head.Seq != v.newest.Seq || head.Hash != v.newest.Hash):
			v.record(Break{Seq: v.newest.Seq, EventID: v.newest.ID, Problem: ProblemHeadMismatch,
				Detail: fmt.Sprintf("the head names seq %d", head.Seq)})
		}
	}
	return Result{Events: v.events, Legacy: v.legacy, Broken: v.first}
}

// Verify checks one whole chain held in memory, in sequence order, from
// its genesis, accepting legacy links at its start; it does not check a
// head. It returns an error wrapping ErrBrokenChain that names the first
// broken link.
func (k Keys) Verify(chain string, events []Event) error {
	v := k.NewVerifier(chain, true)
	for i := len(events) - 1; i >= 0; i-- {
		v.Add(events[i])
	}
	if r := v.Done(nil, false); r.Broken != nil {
		return fmt.Errorf("%w: %s", ErrBrokenChain, r.Broken)
	}
	return nil
}

// VerifyOptions are the rules of a whole-table verification.
type VerifyOptions struct {
	// LegacyUntil is the last month ("2006-01", UTC) whose chains may start
	// with unkeyed links: the month chain keys were deployed. Empty accepts
	// them in any month's chain.
	LegacyUntil string
}

// AllowsLegacy reports whether chain may start with unkeyed links.
func (o VerifyOptions) AllowsLegacy(chain string) bool {
	if o.LegacyUntil == "" {
		return true
	}
	month := chain[strings.LastIndex(chain, "|")+1:]
	return month <= o.LegacyUntil
}

// Summary counts a whole-table verification.
type Summary struct {
	Chains, Events, Legacy, Broken int
}
