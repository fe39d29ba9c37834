// Package audit holds the audit trail: what an event records, how events
// are chained so that a changed or removed event in the middle is
// detectable, and the actions the system records.
//
// An event holds ids, the action, the names of changed fields and the
// request id — never a name, an email or any other value a person typed
// (P9, P11). That is what lets events outlive the erasure of the people they
// mention: only an opaque id remains.
//
// Chains: events are stored per chain (one organisation and one calendar
// month, see ChainKey). Each event's Hash is an HMAC-SHA256, under a key
// from Key Vault, of its content and the previous event's hash, so a
// Verifier finds an edit, an insertion or a deletion anywhere but at the
// very end of a chain, and whoever can write the table but does not hold
// the key cannot rewrite a chain and recompute its links (chain.go).
package audit

import (
	"fmt"
	"hash/fnv"
	"time"
)

// Action names what happened.
type Action string

// Actions recorded by the system.
const (
	ActionSignInSucceeded      Action = "sign_in.succeeded"
	ActionSignInFailed         Action = "sign_in.failed"
	ActionAccountLocked        Action = "account.locked"
	ActionAccountUnlocked      Action = "account.unlocked"
	ActionSignedOut            Action = "sign_out"
	ActionSessionsEnded        Action = "sessions.ended"
	ActionSessionEnded         Action = "session.ended"
	ActionInvitationAccepted   Action = "invitation.accepted"
	ActionInvitationCreated    Action = "invitation.created"
	ActionPasswordChanged      Action = "password.changed"
	ActionPasswordResetRequest Action = "password_reset.requested"
	ActionPasswordResetDone    Action = "password_reset.completed"
	ActionProfileUpdated       Action = "profile.updated"
	ActionInvitationRefused    Action = "invitation.refused" // no longer written (issue 10); older trails hold it
	ActionUserUpdated          Action = "user.updated"
	ActionUserMovedOut         Action = "user.moved_out"
	ActionUserClosed           Action = "user.closed"
	ActionUserRestored         Action = "user.restored"
	ActionInactivityWarned     Action = "lifecycle.warned"
	ActionUserErased           Action = "user.erased"
	ActionFactorAdded          Action = "second_factor.added"
	ActionFactorRenamed        Action = "second_factor.renamed"
	ActionFactorRemoved        Action = "second_factor.removed"
	ActionFactorsReset         Action = "second_factor.reset"
	ActionRecoveryCodesRenewed Action = "recovery_codes.regenerated"
	ActionReauthenticated      Action = "reauthenticated"
	ActionOrganizationCreated  Action = "organization.created"
	ActionOrganizationUpdated  Action = "organization.updated"
	ActionOrganizationDeleted  Action = "organization.deleted"
	// ActionLinkIssued: an invitation or password-reset link was minted for
	// the subject's email (Reason names the purpose, RequestID the
	// notification that asked for it).
	ActionLinkIssued Action = "link.issued"
)

// Event is one audit record.
type Event struct {
	ID             string    `json:"id"`
	At             time.Time `json:"at"`
	Action         Action    `json:"action"`
	ActorID        string    `json:"actorId,omitempty"`   // who did it; empty for the system or an unknown caller
	SubjectID      string    `json:"subjectId,omitempty"` // whose account it concerns
	OrganizationID string    `json:"organizationId,omitempty"`
	Fields         []string  `json:"fields,omitempty"` // names of changed fields, never their values
	Reason         string    `json:"reason,omitempty"` // a machine code such as "wrong_password"
	RequestID      string    `json:"requestId,omitempty"`
	// Shard spreads the events of no organisation over Shards chains (see
	// ChainKey); it is drawn from the event's own id, never from what a
	// person typed. Empty for events of an organisation.
	Shard string `json:"shard,omitempty"`

	// Set when the event joins a chain. KeyVersion names the chain key
	// version Hash was made with; empty on a legacy (unkeyed) link.
	Seq        int64  `json:"seq"`
	PrevHash   string `json:"prevHash"`
	Hash       string `json:"hash"`
	KeyVersion string `json:"keyVersion,omitempty"`
}

// NoOrganization is the chain of events that belong to no organisation,
// such as a failed sign-in with an unknown email.
const NoOrganization = "none"

// Shards is how many chains the events of no organisation are spread
// over, so that a flood of them (sign-ins with unknown emails) has no
// single hot partition.
const Shards = 16

// ShardOf picks the shard of an event of no organisation from its id
// ("00".."15"): random ids spread evenly, and nothing a person typed (an
// email, or a hash of one) decides where the event goes (P9, P10).
func ShardOf(eventID string) string {
	h := fnv.New32a()
	h.Write([]byte(eventID))
	return fmt.Sprintf("%02d", h.Sum32()%Shards)
}

// ChainKey names the chain an event joins: its organisation and the UTC
// month it happened in. Monthly chains keep each chain short, let
// retention drop whole months, and spread writes across partitions.
// Events of no organisation join their shard's chain ("none-07|…"), or
// the unsharded one when they have no shard.
func ChainKey(e Event) string {
	org := e.OrganizationID
	if org == "" {
		org = NoOrganization
		if e.Shard != "" {
			org += "-" + e.Shard
		}
	}
	return org + "|" + e.At.UTC().Format("2006-01")
}

// Query selects audit events. UserID matches events where the person is
// the actor or the subject (a person's own trail, P14); ActorID and
// SubjectID match one role each. From is inclusive, To exclusive. Events
// come newest first.
type Query struct {
	OrganizationID string
	ActorID        string
	SubjectID      string
	UserID         string
	From, To       time.Time
	Limit          int
	Cursor         string
	// Now is the caller's clock (the store's own when zero): a missing To means "up to
	// now". It is not part of the query a cursor is bound to, so paging
	// keeps working as time passes.
	Now time.Time
}

// How far a listing reads: the policy on the trail's reach, kept here
// with the query so every store applies the same bounds.
const (
	// Reach is how far back a listing by organisation reaches at most:
	// the retention, and a month to spare.
	Reach = 25 * 31 * 24 * time.Hour
	// DefaultUnfilteredDays is the admins' unfiltered view without From.
	DefaultUnfilteredDays = 31
	// MaxUnfilteredDays bounds the unfiltered view; filter by
	// organisation or person to look further back.
	MaxUnfilteredDays = 93
)

// Unfiltered reports whether q names no organisation, person, actor or
// subject: the admins' view of everything.
func (q Query) Unfiltered() bool {
	return q.OrganizationID == "" && q.UserID == "" && q.ActorID == "" && q.SubjectID == ""
}

// Span is the time range a listing reads, [from, to): the query's own
// range, up to a day past Now at most, and no further back than the
// policy allows (Reach for an organisation, MaxUnfilteredDays for the
// unfiltered view; a person's trail is read whole). from is zero when
// nothing bounds it.
func (q Query) Span() (from, to time.Time) {
	to = q.To
	if to.IsZero() || to.After(q.Now.Add(24*time.Hour)) {
		to = q.Now.Add(24 * time.Hour)
	}
	from = q.From
	switch {
	case q.UserID != "" || q.ActorID != "" || q.SubjectID != "":
	case q.OrganizationID != "":
		if from.IsZero() || to.Sub(from) > Reach {
			from = to.Add(-Reach)
		}
	default:
		if from.IsZero() {
			from = to.AddDate(0, 0, -DefaultUnfilteredDays)
		}
		if to.Sub(from) > MaxUnfilteredDays*24*time.Hour {
			from = to.AddDate(0, 0, -MaxUnfilteredDays)
		}
	}
	return from, to
}

// Page is one page of events; Next is the cursor of the next ("" at the end).
type Page struct {
	Events []Event
	Next   string
}

// Page sizes of the audit listing.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)
