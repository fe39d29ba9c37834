package privacy

import (
	"strings"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// P9: the declaration is whole: each row kind once, each field once, each
// with a category, a purpose and permissions the matrix has; every
// personal field is of a category P9 allows (name, email, home
// organisation, or what authentication and the account's life need).
func TestDeclarationIsWhole(t *testing.T) {
	kinds := map[string]bool{}
	for _, r := range Declaration() {
		key := r.Table + "/" + r.Kind
		if kinds[key] {
			t.Errorf("%s declared twice", key)
		}
		kinds[key] = true
		if r.About.FI == "" || r.About.SV == "" || r.About.EN == "" || r.Retention == "" {
			t.Errorf("%s: missing a description or a retention", key)
		}
		fields := map[string]bool{}
		for _, f := range r.Fields {
			if fields[f.Name] {
				t.Errorf("%s.%s declared twice", key, f.Name)
			}
			fields[f.Name] = true
			if _, ok := categoryNames[f.Category]; !ok || f.Category == "" {
				t.Errorf("%s.%s: unknown category %q", key, f.Name, f.Category)
			}
			if _, ok := purposeNames[f.Purpose]; !ok {
				t.Errorf("%s.%s: unknown purpose %q", key, f.Name, f.Purpose)
			}
			for _, p := range f.Seen {
				if _, ok := kernel.Matrix[p]; !ok {
					t.Errorf("%s.%s: permission %q is not in the matrix", key, f.Name, p)
				}
			}
			if f.Personal() && f.Purpose == PurposeOperation {
				t.Errorf("%s.%s: personal data needs a purpose other than technical bookkeeping", key, f.Name)
			}
		}
		if !fields["PartitionKey"] || !fields["RowKey"] {
			t.Errorf("%s: the keys must be declared (they hold data too)", key)
		}
	}
}

// Retention is printed from the configured values, not fixed text.
func TestRetentionComesFromTheLimits(t *testing.T) {
	l := Limits{InactivityMonths: 9, WarningDays: []int{14}, ErasureDelay: 45 * 24 * time.Hour, AuditRetentionMonths: 36,
		DeliveryRetention: 10 * 24 * time.Hour, SessionIdleTimeout: 20 * time.Minute, SessionAbsoluteTimeout: 8 * time.Hour,
		InvitationTTL: 72 * time.Hour, PasswordResetTTL: 30 * time.Minute}
	for rule, want := range map[Retention]string{
		RetainAccount:  "closed after 9 months without activity (warnings 14 days before) or on request, and erased 45 days after",
		RetainAudit:    "36 months",
		RetainDelivery: "10 days",
		RetainSession:  "20 minutes idle, 8 hours at most",
		RetainLink:     "invitation 3 days, password reset 30 minutes",
	} {
		if got := rule.Describe(EN, l); !strings.Contains(got, want) {
			t.Errorf("%s: %q does not say %q", rule, got, want)
		}
	}
	if got := RetainAccount.Describe(FI, l); !strings.Contains(got, "9 kuukauden") || !strings.Contains(got, "45 vrk") {
		t.Errorf("fi: %q", got)
	}
}

// Who can see a field is read from the permission matrix.
func TestSeenByFollowsTheMatrix(t *testing.T) {
	got := seenBy(EN, []kernel.Permission{kernel.PermSeeUsers})
	if want := "administration: everyone; primary user: own organisation; editor: self only; expert: self only"; got != want {
		t.Errorf("seenBy(see_users) = %q, want %q", got, want)
	}
	if got := seenBy(FI, nil); got != "ei kukaan (vain järjestelmä)" {
		t.Errorf("seenBy(none) = %q", got)
	}
}
