package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/delivery"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// hostPayload renders the Functions host's Service Bus invocation (see
// testdata): the message body JSON-encoded into a string, that string
// encoded again as the binding value, numbers as strings, string
// metadata quoted inside strings.
func hostPayload(t *testing.T, messageID string, body []byte, deliveryCount int) []byte {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/servicebus-invocation.json")
	if err != nil {
		t.Fatal(err)
	}
	once, _ := json.Marshal(string(body)) // "{\"id\":…}"
	twice, _ := json.Marshal(string(once))
	s := strings.ReplaceAll(string(tmpl), `"__BODY__"`, string(twice))
	s = strings.ReplaceAll(s, "__MESSAGE_ID__", messageID)
	s = strings.ReplaceAll(s, "__DELIVERY_COUNT__", strconv.Itoa(deliveryCount))
	return []byte(s)
}

type invocationAnswer struct {
	status int
	body   struct {
		Outputs map[string]any
		Logs    []string
	}
}

func (s *stack) invoke(t *testing.T, payload []byte) invocationAnswer {
	t.Helper()
	resp, err := http.Post(s.baseURL+"/SendNotification", "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a invocationAnswer
	a.status = resp.StatusCode
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("invocation answer is not the protocol's JSON: %s", b)
	}
	return a
}

// notice is a password-changed notification for the account with the
// given user id. The consumer reads the address from the stored account.
func notice(id, userID string) []byte {
	b, _ := json.Marshal(notify.Message{ID: id, Kind: notify.KindPasswordChanged, UserID: userID, CreatedAt: time.Now().UTC()})
	return b
}

// undeliveredAccounts is an accounts service over the stack's tables whose
// relay delivers nothing: it changes storage as a process that dies before
// delivering would, and sends no email.
func (s *stack) undeliveredAccounts(t *testing.T) *accounts.Service {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return s.env[k] })
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := passwords.NewHasher(passwords.Peppers{Current: cfg.LocalPepperCurrent, Keys: cfg.LocalPeppers},
		passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	return accounts.NewService(s.store(t), hasher, passwords.DefaultPolicy(), &testenv.Relay{}, time.Now, uuid.NewString, cfg.Accounts)
}

// activeAccount makes an active account for addr directly in the stack's
// tables (no email: its relay never runs) and returns its id.
func (s *stack) activeAccount(t *testing.T, addr string) string {
	t.Helper()
	svc := s.undeliveredAccounts(t)
	ctx := context.Background()
	u, err := svc.Invite(ctx, "", accounts.InviteInput{Email: addr, FirstName: "Maija", LastName: "Meikäläinen",
		OrganizationID: "org-notice", Role: kernel.RoleEditor, Locale: "en"}, kernel.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.IssueLinkToken(ctx, u.ID, accounts.PurposeInvitation)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AcceptInvitation(ctx, token, strongPassword, true, kernel.Meta{}); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func (s *stack) store(t *testing.T) *tablestore.Store {
	t.Helper()
	st, err := tablestore.NewFromConnectionString(s.env["TABLES_CONNECTION_STRING"], s.env["TABLE_PREFIX"], testenv.AuditKeys())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func failuresFor(t *testing.T, st *tablestore.Store, id string) []delivery.Failure {
	t.Helper()
	all, err := st.Failures(context.Background(), time.Now().UTC().Format("2006-01"))
	if err != nil {
		t.Fatal(err)
	}
	var out []delivery.Failure
	for _, f := range all {
		if f.MessageID == id {
			out = append(out, f)
		}
	}
	return out
}

// The SendNotification function as the Functions host drives it: the
// host's real payload shape in, the protocol's answer out, and what the
// real SMTP catcher received.
func TestSendNotificationInvocation(t *testing.T) {
	s := startFunctionsStack(t, nil)
	run := testenv.UniqueName(t)

	t.Run("a message is delivered once, redelivered or not", func(t *testing.T) {
		to := "once-" + run + "@example.fi"
		id, user := "m1-"+run, s.activeAccount(t, to)
		for _, count := range []int{1, 2} { // DeliveryCount > 1: the host redelivers
			if a := s.invoke(t, hostPayload(t, id, notice(id, user), count)); a.status != http.StatusOK {
				t.Fatalf("delivery %d: %d %v", count, a.status, a.body.Logs)
			}
		}
		got := s.mail.WaitForEmails(t, to, 2, 2*time.Second)
		if len(got) != 1 || !strings.Contains(got[0].Subject, "password") {
			t.Fatalf("%d emails (want 1)", len(got))
		}
	})

	t.Run("concurrent deliveries of one message send one email", func(t *testing.T) {
		to := "concurrent-" + run + "@example.fi"
		id, user := "m2-"+run, s.activeAccount(t, to)
		var wg sync.WaitGroup
		statuses := make([]int, 4)
		for i := range statuses {
			wg.Add(1)
			go func() { defer wg.Done(); statuses[i] = s.invoke(t, hostPayload(t, id, notice(id, user), 1)).status }()
		}
		wg.Wait()
		for _, st := range statuses {
			// A delivery that finds the message being sent by another fails
			// the invocation; the host retries it and it then completes.
			if st != http.StatusOK && st != http.StatusInternalServerError {
				t.Fatalf("statuses %v", statuses)
			}
		}
		if a := s.invoke(t, hostPayload(t, id, notice(id, user), 2)); a.status != http.StatusOK {
			t.Fatalf("redelivery after the race: %d", a.status)
		}
		if got := s.mail.WaitForEmails(t, to, 2, 2*time.Second); len(got) != 1 {
			t.Fatalf("%d emails (want 1)", len(got))
		}
	})

	t.Run("a malformed message is recorded, acknowledged and not sent", func(t *testing.T) {
		id := "m3-" + run
		for name, body := range map[string][]byte{
			"not json":      []byte("this is not a notification"),
			"unknown kind":  []byte(`{"id":"` + id + `","kind":"lottery_win","userId":"u-1"}`),
			"foreign field": []byte(`{"id":"` + id + `","kind":"password_changed","userId":"u-1","html":"<b>"}`),
		} {
			if a := s.invoke(t, hostPayload(t, id, body, 1)); a.status != http.StatusOK {
				t.Fatalf("%s: %d, want 200 so the message does not loop", name, a.status)
			}
		}
		st := s.store(t)
		if got := failuresFor(t, st, id); len(got) != 1 || got[0].Reason != delivery.ReasonMalformed {
			t.Fatalf("failures = %+v", got)
		}
		if got := s.mail.Emails(t, "x@example.fi"); len(got) != 0 {
			t.Fatalf("a malformed message was emailed")
		}
	})
}

// A provider that is down fails the invocation (so Service Bus retries),
// records nothing as sent, and on the last delivery records the failure.
func TestSendNotificationProviderDown(t *testing.T) {
	s := startFunctionsStack(t, map[string]string{"SMTP_PORT": strconv.Itoa(testenv.FreePort(t))}) // nothing listens there
	id := "down-" + testenv.UniqueName(t)
	to := id + "@example.fi"
	user := s.activeAccount(t, to)
	a := s.invoke(t, hostPayload(t, id, notice(id, user), 1))
	if a.status < 500 {
		t.Fatalf("provider down: %d, want a failed invocation", a.status)
	}
	if fmt.Sprint(a.body.Logs) == "" || strings.Contains(fmt.Sprint(a.body.Logs), to) {
		t.Fatalf("logs %v: want a reason, never the address", a.body.Logs)
	}
	st := s.store(t)
	agg, err := st.Aggregate(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range agg.Deliveries {
		if d.MessageID == id && d.State != accounts.DeliveryQueued {
			t.Fatalf("the failed send left the message %s", d.State)
		}
	}
	a = s.invoke(t, hostPayload(t, id, notice(id, user), 10)) // the queue's last delivery
	if a.status < 500 {
		t.Fatalf("last delivery: %d, want a failed invocation (the queue dead-letters)", a.status)
	}
	if got := failuresFor(t, st, id); len(got) != 1 || got[0].Reason != delivery.ReasonRetriesExhausted {
		t.Fatalf("failures = %+v", got)
	}
}

// P12: the email provider must be in the EU/EEA; start-up refuses any
// other SES region with a clear message.
func TestStartRefusesSESOutsideTheEU(t *testing.T) {
	env := testEnv(t, testenv.MailDev(t))
	env["EMAIL_PROVIDER"], env["SES_REGION"] = "ses", "us-east-1"
	err := run(context.Background(), []string{"handler", "serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not in the EU/EEA") || !strings.Contains(err.Error(), "us-east-1") {
		t.Fatalf("run = %v, want a refusal naming the region", err)
	}
}

// Issue 10, defect 1 (P10, REC-3): whoever can put a message on the queue
// (the ops group with Data Sender, an operator re-sending dead letters)
// cannot choose where an email goes. A message carries ids only; one that
// still names an address (as messages did before) is delivered to the
// stored account's own address, the link it mints is on the audit trail,
// and a kind the account's status is not meant for sends nothing.
func TestAQueueMessageCannotRedirectAnEmail(t *testing.T) {
	s := startFunctionsStack(t, nil)
	run := testenv.UniqueName(t)
	victim := "victim-" + run + "@example.fi"
	attacker := "attacker-" + run + "@evil.example"
	user := s.activeAccount(t, victim)

	id := "11111111-2222-4333-8444-" + run[1:11] + "ab"
	forged := []byte(`{"id":"` + id + `","kind":"password_reset","userId":"` + user + `","to":"` + attacker +
		`","locale":"en","firstName":"Mallory","createdAt":"2026-11-29T10:00:00Z"}`)
	if a := s.invoke(t, hostPayload(t, id, forged, 1)); a.status != http.StatusOK {
		t.Fatalf("forged message: %d %v", a.status, a.body.Logs)
	}
	got := s.mail.WaitForEmails(t, victim, 1, 5*time.Second)
	if len(got) != 1 || !strings.Contains(got[0].Text, "token=") {
		t.Fatalf("the stored account's own address got %d emails, want its reset link", len(got))
	}
	if strings.Contains(got[0].Text, "Mallory") {
		t.Error("the email used the message's name, not the stored account's")
	}
	if n := len(s.mail.Emails(t, attacker)); n != 0 {
		t.Fatalf("the address in the message got %d emails", n)
	}

	// The minting is on the audit trail, ids only.
	st := s.store(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		page, err := st.Events(context.Background(), audit.Query{UserID: user, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		var issued []audit.Event
		for _, e := range page.Events {
			if e.Action == audit.ActionLinkIssued && e.Reason == string(accounts.PurposePasswordReset) {
				issued = append(issued, e)
			}
		}
		if len(issued) == 1 {
			if e := issued[0]; e.SubjectID != user || e.RequestID != id {
				t.Fatalf("link.issued event %+v: want subject, purpose and the notification id", e)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d password-reset link.issued events for the account, want 1; all: %+v", len(issued), page.Events)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A kind the account's status is not meant for sends nothing: an
	// invitation for an active account would otherwise mint a link.
	id2 := "11111111-2222-4333-8444-" + run[1:11] + "cd"
	invite := []byte(`{"id":"` + id2 + `","kind":"invitation","userId":"` + user + `","createdAt":"2026-11-29T10:00:00Z"}`)
	if a := s.invoke(t, hostPayload(t, id2, invite, 1)); a.status != http.StatusOK {
		t.Fatalf("invitation for an active account: %d %v", a.status, a.body.Logs)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(s.mail.Emails(t, victim)); n != 1 {
		t.Fatalf("an invitation for an active account was sent (%d emails)", n)
	}
}
