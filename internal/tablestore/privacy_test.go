package tablestore

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/uuid"
	"github.com/pquerna/otp/totp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/delivery"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
	"github.com/palvelumanuaali/useradmin/internal/passkeys/passkeystest"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/privacy"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// The person the drift test stores, with values distinct enough to be
// found in any property.
const (
	driftEmail = "aino.drift@example.fi"
	driftFirst = "Ainodrift"
	driftLast  = "Korhodrift"
)

// P9: every property of every row the store writes is declared in the
// record of processing (internal/privacy), and the person's email and
// names are found only in properties declared to hold them. One of every
// kind of row is written through the store (through the accounts service
// where that is how it is made); then every table is listed raw.
func TestEveryStoredPropertyIsDeclared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefix := testenv.UniqueName(t)
	s := newTestStoreWith(t, prefix)
	writeOneOfEverything(t, ctx, s)
	seen := map[string]bool{}
	for _, problem := range undeclared(t, ctx, s, prefix, seen) {
		t.Error(problem)
	}
	// The test must have written every declared kind, or a kind could
	// drift unchecked. The old deliveries table is no longer written.
	for _, r := range privacy.Declaration() {
		if r.Table == tableClaims {
			continue
		}
		if !seen[r.Table+"/"+r.Kind] {
			t.Errorf("no %s/%s row was written: the drift test does not cover it", r.Table, r.Kind)
		}
	}
}

// writeOneOfEverything stores an account through its life: invited,
// accepted (a session), a reset requested (a link token and the limit),
// its audit events, notifications and their claims, its directory entry
// and lifecycle entry; an organisation with its outbox, the admin
// registry, a failure record, an unattributed sign-in, and a second
// account erased (its tombstone).
func writeOneOfEverything(t *testing.T, ctx context.Context, s *Store) {
	t.Helper()
	hasher, err := passwords.NewHasher(passwords.Peppers{Current: "p1", Keys: map[string][]byte{
		"p1": []byte("tablestore-test-pepper-tablestore-test"),
	}}, passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	rp, err := passkeys.New(passkeys.Config{RPID: "example.fi", RPName: "Palvelumanuaali", Origins: []string{"https://app.example.fi"}})
	if err != nil {
		t.Fatal(err)
	}
	svc := accounts.NewService(s, hasher, passwords.DefaultPolicy(), &testenv.Relay{}, clock.Now, uuid.NewString, accounts.Options{
		SessionIdleTimeout: time.Hour, SessionAbsoluteTimeout: 12 * time.Hour, LockoutThreshold: 5, LockoutDuration: time.Minute,
		ActivityInterval: time.Hour, InvitationTTL: time.Hour, PasswordResetTTL: time.Hour, RestoreWindow: time.Hour,
		InactivityMonths: 6, MFAKeys: accounts.MFAKeys{Current: "m1", Versions: map[string][]byte{"m1": []byte("tablestore-drift-test-mfa-key-32")}},
		Passkeys: rp,
	})
	meta := kernel.Meta{RequestID: "r-drift"}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	org := organizations.Organization{ID: "org-drift", Name: organizations.Name{FI: "Driftin kunta", SV: "Drift kommun", EN: "Drift"},
		Type: organizations.TypeMunicipality, MunicipalityCode: "091", ContactEmail: "kirjaamo@example.fi", CreatedAt: clock.Now()}
	must("create organisation", s.CreateOrganization(ctx, org, []audit.Event{{ID: uuid.NewString(), At: clock.Now(),
		Action: audit.ActionSignInSucceeded, OrganizationID: org.ID}}))
	must("admin registry", s.SetActiveAdmins(ctx, []string{"u-admin"}, ""))

	u, err := svc.Invite(ctx, "", accounts.InviteInput{Email: driftEmail, FirstName: driftFirst, LastName: driftLast,
		OrganizationID: org.ID, Role: kernel.RoleEditor, Locale: "fi"}, meta)
	must("invite", err)
	token, _, err := svc.IssueLinkToken(ctx, u.ID, accounts.PurposeInvitation)
	must("invitation link", err)
	const password = "correct horse battery staple in a drift"
	_, err = svc.AcceptInvitation(ctx, token, password, true, meta)
	must("accept", err)
	// A second factor: TOTP with its recovery codes, then a sign-in's
	// challenge (an enrolled factor is asked for).
	first, err := svc.Login(ctx, driftEmail, password, meta)
	must("first sign in", err)
	p, err := svc.Authenticate(ctx, first.Token)
	must("authenticate", err)
	en, err := svc.BeginTOTP(ctx, p, "puhelin", meta)
	must("begin TOTP", err)
	code, err := totp.GenerateCode(en.Secret, clock.Now())
	must("TOTP code", err)
	_, err = svc.ConfirmTOTP(ctx, p, en.Factor.ID, code, meta)
	must("confirm TOTP", err)
	// A passkey, and a pending one (its ceremony): the challenge below
	// carries a login ceremony.
	key, err := passkeystest.New("https://app.example.fi")
	must("authenticator", err)
	pk, err := svc.BeginPasskey(ctx, p, "avain", meta)
	must("begin passkey", err)
	created, err := key.Create(pk.Options)
	must("create passkey", err)
	_, err = svc.ConfirmPasskey(ctx, p, pk.Factor.ID, created, meta)
	must("confirm passkey", err)
	_, err = svc.BeginPasskey(ctx, p, "toinen avain", meta)
	must("pending passkey", err)
	clock.Advance(2 * time.Hour)
	step, err := svc.Login(ctx, driftEmail, password, meta)
	must("sign in", err)
	if step.SecondFactor == nil {
		t.Fatal("a sign-in with an enrolled factor made no challenge")
	}
	// A passkey sign-in begun and left: its ceremony row, no one's.
	_, err = svc.BeginPasskeySignIn(ctx)
	must("passkey sign-in", err)
	must("reset request", svc.RequestPasswordReset(ctx, driftEmail, meta))
	_, _, err = svc.IssueLinkToken(ctx, u.ID, accounts.PurposePasswordReset)
	must("reset link", err)
	must("directory", s.SyncDirectory(ctx, u.ID))
	must("lifecycle", s.SyncLifecycle(ctx, u.ID, clock.Now().AddDate(0, 6, 0)))

	// The audit trail: what the relay appends from the outbox.
	items, err := s.OutboxItems(ctx, relay.Account(u.ID))
	must("outbox", err)
	var events []audit.Event
	for _, it := range items {
		if it.Event != nil {
			events = append(events, *it.Event)
		}
	}
	if len(events) == 0 {
		t.Fatal("the account's changes left no audit event in its outbox")
	}
	must("append", s.Append(ctx, events))
	// A sign-in with an unknown email: an unattributed outbox item.
	if _, err := svc.Login(ctx, "tuntematon@example.fi", password, meta); err == nil {
		t.Fatal("sign-in with an unknown email succeeded")
	}
	must("failure", s.RecordFailure(ctx, delivery.Failure{MessageID: uuid.NewString(), Kind: notify.KindInvitation, UserID: u.ID,
		Reason: "rejected", DeliveryCount: 10, At: clock.Now()}))

	gone, err := svc.Invite(ctx, "", accounts.InviteInput{Email: "poistuva@example.fi", FirstName: "Poistuva", LastName: "Henkilö",
		OrganizationID: org.ID, Role: kernel.RoleExpert, Locale: "sv"}, meta)
	must("second invite", err)
	must("erase", s.EraseAccount(ctx, gone.ID, gone.Email))
}

// rowKind names a raw row's kind, as the declaration does.
func rowKind(table, pk, rk string) string {
	switch table {
	case tableUsers:
		for _, prefix := range []string{rkSessionPrefix, rkTokenPrefix, rkDeliveryPrefix, rkOutboxPrefix, rkFactorPrefix, rkRecoveryPrefix, rkChallengePrefix, rkPasskeyPrefix} {
			if strings.HasPrefix(rk, prefix) {
				return strings.TrimSuffix(prefix, "|")
			}
		}
		if rk == rkUser {
			return "account"
		}
		return rk // resetlimit, directory, lifecycle, erased
	case tableEmails, tableClaims:
		return "claim"
	case tableOrgs:
		switch {
		case pk == pkRegistry:
			return "registry"
		case strings.HasPrefix(rk, rkOutboxPrefix):
			return "outbox"
		}
		return "organisation"
	case tableMembers:
		return "entry"
	case tableAudit:
		if rk == rkAuditHead {
			return "head"
		}
		return "event"
	case tableAuditIx:
		return "copy"
	case tablePending:
		return "mark"
	case tableFailed:
		return "failure"
	case tableLife:
		return "entry"
	}
	return "?"
}

// personalValues are the test person's values and the categories a
// property holding one must be declared as.
var personalValues = map[string]privacy.Category{
	strings.ToLower(driftEmail): privacy.CategoryEmail,
	strings.ToLower(driftFirst): privacy.CategoryName,
	strings.ToLower(driftLast):  privacy.CategoryName,
}

// undeclared lists every table of the store raw, with all its properties,
// and returns a line for each property the declaration does not list for
// its row kind, and for each personal value in a property not declared
// to hold it. seen gets every "table/kind" found.
func undeclared(t *testing.T, ctx context.Context, s *Store, prefix string, seen map[string]bool) []string {
	t.Helper()
	var problems []string
	for _, name := range s.TableNames() {
		table := strings.TrimPrefix(name, prefix)
		pager := s.service.NewClient(name).NewListEntitiesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list %s: %v", name, err)
			}
			for _, raw := range page.Entities {
				var props map[string]any
				if err := json.Unmarshal(raw, &props); err != nil {
					t.Fatal(err)
				}
				pk, _ := props["PartitionKey"].(string)
				rk, _ := props["RowKey"].(string)
				kind := rowKind(table, pk, rk)
				seen[table+"/"+kind] = true
				row, ok := privacy.Lookup(table, kind)
				if !ok {
					problems = append(problems, "table "+table+": row kind "+kind+" is not declared in internal/privacy")
					continue
				}
				for prop, v := range props {
					if prop == "Timestamp" || strings.HasPrefix(prop, "odata.") || strings.Contains(prop, "@odata.") {
						continue // storage's own
					}
					f, ok := row.Field(prop)
					if !ok {
						problems = append(problems, "table "+table+", "+kind+" row: property "+prop+" is not declared in internal/privacy")
						continue
					}
					text, _ := v.(string)
					for value, category := range personalValues {
						if strings.Contains(strings.ToLower(text), value) && f.Category != category {
							problems = append(problems, "table "+table+", "+kind+" row: property "+prop+" holds a "+string(category)+
								" but is declared as "+string(f.Category))
						}
					}
				}
			}
		}
	}
	slices.Sort(problems)
	return slices.Compact(problems)
}

// P9: the drift check itself finds a property the declaration lacks, and a
// personal value in a property declared as something else.
func TestDriftCheckFindsAPlantedProperty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefix := testenv.UniqueName(t)
	s := newTestStoreWith(t, prefix)
	u := testUser("u-plant", driftEmail)
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	plant := map[string]any{"PartitionKey": u.ID, "RowKey": rkUser, "ClientIP": "192.0.2.1", "Locale": driftFirst}
	if _, err := s.users.UpsertEntity(ctx, mustJSON(plant), &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeMerge}); err != nil {
		t.Fatal(err)
	}
	got := undeclared(t, ctx, s, prefix, map[string]bool{})
	want := []string{
		"table users, account row: property ClientIP is not declared in internal/privacy",
		"table users, account row: property Locale holds a name but is declared as access",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
