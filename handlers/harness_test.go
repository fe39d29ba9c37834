package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// The tests drive the real edge (NewServer) over a real accounts.Service
// and a real Table Storage (Azurite). Only what has no local real part is
// faked: the clock, the relay that would deliver audit events and emails,
// and the detacher, which runs work synchronously so tests are
// deterministic.

// syncDetacher runs detached work at once, before the handler answers.
type syncDetacher struct {
	mu  sync.Mutex
	ran int
}

func (d *syncDetacher) Go(f func(ctx context.Context)) {
	d.mu.Lock()
	d.ran++
	d.mu.Unlock()
	f(context.Background())
}

func (d *syncDetacher) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ran
}

const (
	testOrigin       = "https://hallinta.palvelumanuaali.fi"
	testOrganization = "org-testikunta"
	strongPassword   = "kolme iloista kirahvia laulaa"
	lockoutThreshold = 3
	lockoutDuration  = 15 * time.Minute
)

// cheapParams keep hashing fast in tests; production uses DefaultParams.
var cheapParams = passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type harness struct {
	clock    *testenv.Clock
	relay    *testenv.Relay
	detach   *syncDetacher
	store    *tablestore.Store
	accounts *accounts.Service
	orgs     *organizations.Service
	logs     *testenv.SyncBuffer
	log      *slog.Logger
	url      string
	routes   []route // the served route table, for inventory tests

	// Set with harnessOptions.realRelay: the real outbox relay and the
	// notifications it published.
	trail     *relay.Relay
	published *recordingPublisher
}

type harnessOptions struct {
	maxBodyBytes int64
	// store replaces the Azurite store, for storage-failure tests.
	store *tablestore.Store
	// realRelay wires the services to the real outbox relay instead of
	// the recording fake, so that audit events reach the audit trail when
	// the test calls h.deliverAll. Outboxes are emptied by delivery.
	realRelay bool
	// throttle replaces the default limits, which are high enough that
	// tests of other things never meet them.
	throttle *Throttle
	// hasher replaces the cheap test hasher (4 at once, hashQueue waiting).
	hasher *passwords.Hasher
	// secondFactor requires a second factor of admins and primary users,
	// as production does; without it nobody needs one (the MFA key is set
	// either way, so anyone can add one).
	secondFactor bool
}

// hashQueue is how many hashes may wait in the test hasher's line.
const hashQueue = 64

// generousThrottle keeps the limits out of the way of other tests.
var generousThrottle = Throttle{ClientPerMinute: 1 << 20, ClientBurst: 1 << 20, GlobalPerMinute: 1 << 20, GlobalBurst: 1 << 20, MaxClients: 1000}

func secondFactorRoles(required bool) []kernel.Role {
	if !required {
		return nil
	}
	return []kernel.Role{kernel.RoleAdmin, kernel.RolePrimaryUser}
}

// newHarness starts the API on its own tables and returns its parts.
func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	h := &harness{clock: testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), relay: &testenv.Relay{}, detach: &syncDetacher{}, logs: &testenv.SyncBuffer{}}
	h.log = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.store = o.store
	if h.store == nil {
		store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), testenv.UniqueName(t), testenv.AuditKeys())
		if err != nil {
			t.Fatal(err)
		}
		if err := store.EnsureTables(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.store = store
	}
	hasher, err := passwords.NewHasher(passwords.Peppers{Current: "t1", Keys: map[string][]byte{
		"t1": []byte("handlers-test-pepper-handlers-test-pepper"),
	}}, cheapParams, 4, hashQueue)
	if err != nil {
		t.Fatal(err)
	}
	if o.hasher != nil {
		hasher = o.hasher
	}
	var accountsRelay accounts.Relay = h.relay
	var orgsRelay organizations.Relay = h.relay
	if o.realRelay {
		h.published = &recordingPublisher{}
		// Organisations have nothing derived to settle; accounts settle
		// their directory entry and admin-registry place, as in run().
		settle := func(ctx context.Context, o relay.Owner) error {
			if o.Kind != relay.AccountOutbox {
				return nil
			}
			return h.accounts.Settle(ctx, o.ID)
		}
		h.trail = relay.New(h.store, h.store, h.published, settle, h.log, time.Hour, h.clock.Now)
		accountsRelay, orgsRelay = h.trail, h.trail
	}
	h.accounts = accounts.NewService(h.store, hasher, passwords.DefaultPolicy(), accountsRelay, h.clock.Now, uuid.NewString, accounts.Options{
		SessionIdleTimeout:     30 * time.Minute,
		SessionAbsoluteTimeout: 12 * time.Hour,
		InvitationTTL:          7 * 24 * time.Hour,
		PasswordResetTTL:       30 * time.Minute,
		LockoutThreshold:       lockoutThreshold,
		LockoutDuration:        lockoutDuration,
		ActivityInterval:       time.Hour,
		PrivacyNoticeVersion:   "2026-01",
		RestoreWindow:          30 * 24 * time.Hour,
		SecondFactorRoles:      secondFactorRoles(o.secondFactor),
		MFAKeys:                accounts.MFAKeys{Current: "k1", Versions: map[string][]byte{"k1": []byte("handlers-test-mfa-key-handlers-test-mfa-key")}},
		Passkeys:               testRelyingParty(t),
	})
	h.orgs = organizations.NewService(h.store, orgsRelay, h.clock.Now, uuid.NewString)
	maxBody := o.maxBodyBytes
	if maxBody == 0 {
		maxBody = 64 << 10
	}
	throttle := generousThrottle
	if o.throttle != nil {
		throttle = *o.throttle
	}
	opts := Options{CORSOrigins: []string{testOrigin}, MaxBodyBytes: maxBody, Throttle: throttle, Now: h.clock.Now}
	h.routes = (&server{log: h.log, opts: opts, accounts: h.accounts, orgs: h.orgs, detach: h.detach, health: h.store.Ping}).table()
	srv := httptest.NewServer(NewServer(h.log, opts, Services{Accounts: h.accounts, Organizations: h.orgs, Hashing: hasher}, h.detach, h.store.Ping))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// person is an account made for a test.
type person struct {
	id, email, firstName, lastName string
}

// invite creates an invited account and returns it with its invitation
// link token.
func (h *harness) invite(t *testing.T) (person, string) {
	t.Helper()
	ctx := context.Background()
	p := person{
		email:     "henkilo-" + testenv.UniqueName(t) + "@kunta.example.fi",
		firstName: "Ainomaria",
		lastName:  "Kirahvinen",
	}
	u, err := h.accounts.Invite(ctx, "", accounts.InviteInput{
		Email: p.email, FirstName: p.firstName, LastName: p.lastName,
		OrganizationID: testOrganization, Role: kernel.RoleEditor, Locale: "fi",
	}, kernel.Meta{RequestID: "test"})
	if err != nil {
		t.Fatalf("invite: %v", err)
	}
	p.id = u.ID
	token, _, err := h.accounts.IssueLinkToken(ctx, u.ID, accounts.PurposeInvitation)
	if err != nil {
		t.Fatalf("issue invitation token: %v", err)
	}
	return p, token
}

// activeUser makes an account that accepted its invitation (with
// strongPassword) and returns it with a session token.
func (h *harness) activeUser(t *testing.T) (person, string) {
	t.Helper()
	p, invitation := h.invite(t)
	si, err := h.accounts.AcceptInvitation(context.Background(), invitation, strongPassword, true, kernel.Meta{RequestID: "test"})
	if err != nil {
		t.Fatalf("accept invitation: %v", err)
	}
	return p, si.Token
}

// storedETag is the account's storage ETag, read behind the API's back.
func (h *harness) storedETag(t *testing.T, userID string) string {
	t.Helper()
	agg, err := h.store.Aggregate(context.Background(), userID)
	if err != nil {
		t.Fatalf("read account: %v", err)
	}
	return agg.User.ETag
}

// sessionIDs are the ids of the account's stored sessions, read behind
// the API's back, sorted.
func (h *harness) sessionIDs(t *testing.T, userID string) []string {
	t.Helper()
	agg, err := h.store.Aggregate(context.Background(), userID)
	if err != nil {
		t.Fatalf("read account: %v", err)
	}
	ids := []string{}
	for _, s := range agg.Sessions {
		ids = append(ids, s.ID)
	}
	sort.Strings(ids)
	return ids
}

// response is one answer as the client saw it.
type response struct {
	status int
	header http.Header
	body   []byte
}

// request is one call to the API. A body of type string or []byte is sent
// as it is; anything else is marshalled to JSON.
type request struct {
	method, path string
	token        string
	body         any
	header       map[string]string
	// from is the loopback address the connection comes from (127.0.0.1
	// when empty), for tests that need two clients.
	from string
}

func (h *harness) do(t *testing.T, rq request) response {
	t.Helper()
	r, err := h.send(rq)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is do for goroutines other than the test's own, which must not
// call t.Fatal.
func (h *harness) send(rq request) (response, error) {
	var rd io.Reader
	if rq.body != nil {
		switch b := rq.body.(type) {
		case string:
			rd = strings.NewReader(b)
		case []byte:
			rd = bytes.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				return response{}, err
			}
			rd = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(rq.method, h.url+rq.path, rd)
	if err != nil {
		return response{}, err
	}
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if rq.token != "" {
		req.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for k, v := range rq.header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	client := http.DefaultClient
	if rq.from != "" {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(rq.from)}}
		client = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}}
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", rq.method, rq.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", rq.method, rq.path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// problemDoc is a problem+json answer as a client decodes it.
type problemDoc struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail"`
	Code      string         `json:"code"`
	RequestID string         `json:"requestId"`
	Errors    []problemField `json:"errors"`
}

// problem decodes r as problem+json, failing the test when it is not one.
func (r response) problem(t *testing.T) problemDoc {
	t.Helper()
	if got, want := r.header.Get("Content-Type"), "application/problem+json; charset=utf-8"; got != want {
		t.Fatalf("Content-Type = %q, want %q (status %d, body %s)", got, want, r.status, r.body)
	}
	var p problemDoc
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode problem %s: %v", r.body, err)
	}
	if p.Status != r.status {
		t.Errorf("problem status %d, response status %d", p.Status, r.status)
	}
	if p.RequestID == "" || p.RequestID != r.header.Get("X-Request-ID") {
		t.Errorf("problem requestId %q, X-Request-ID %q", p.RequestID, r.header.Get("X-Request-ID"))
	}
	return p
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// withoutRequestID is the body with this response's request id taken
// out, so answers to different requests can be compared byte for byte.
func (r response) withoutRequestID() string {
	return strings.ReplaceAll(string(r.body), r.header.Get("X-Request-ID"), "")
}

// recordingPublisher is the notification queue of a real-relay harness:
// it keeps every message it was handed.
type recordingPublisher struct {
	mu       sync.Mutex
	messages []notify.Message
}

func (p *recordingPublisher) Publish(_ context.Context, m notify.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.messages = append(p.messages, m)
	return nil
}

// deliverAll runs the real relay's catch-up (harnessOptions.realRelay):
// every account's and organisation's outbox reaches the audit trail and
// the queue before the test reads them.
func (h *harness) deliverAll(t *testing.T) {
	t.Helper()
	if h.trail == nil {
		t.Fatal("deliverAll needs a harness with realRelay")
	}
	if _, err := h.trail.CatchUp(context.Background()); err != nil {
		t.Fatalf("relay catch-up: %v", err)
	}
}

// setupActor is the administrator behind the API's back that makes a
// test's organisations and accounts directly through the services.
var setupActor = kernel.Actor{ID: "test-setup", Role: kernel.RoleAdmin, Status: kernel.StatusActive,
	OrganizationID: organizations.AdministrationID}

// organization creates a municipality and returns its id.
func (h *harness) organization(t *testing.T, name string) string {
	t.Helper()
	o, err := h.orgs.Create(context.Background(), setupActor, organizations.Input{
		Name: organizations.Name{FI: name}, Type: organizations.TypeMunicipality,
	}, kernel.Meta{RequestID: "test"})
	if err != nil {
		t.Fatalf("create organisation: %v", err)
	}
	return o.ID
}

// newPerson returns a person whose email and names appear nowhere else:
// each carries a tag with letters outside hexadecimal, so no id, hash or
// request id can contain it by chance, and a test can search any output
// for them.
func newPerson(t *testing.T) person {
	t.Helper()
	tag := strings.TrimPrefix(testenv.UniqueName(t), "t")
	return person{
		email:     "aino.korhonen-" + tag + "@kunta.example.fi",
		firstName: "Aino" + tag + "x",
		lastName:  "Korhonen" + tag + "q",
	}
}

// account makes an account for p in orgID with role and status directly
// through the services, and returns it with its id set and, when active,
// a session token. A closed account was closed by setupActor (removed).
func (h *harness) account(t *testing.T, p person, orgID string, role kernel.Role, status kernel.Status) (person, string) {
	t.Helper()
	ctx := context.Background()
	m := kernel.Meta{RequestID: "test"}
	u, err := h.accounts.Invite(ctx, "", accounts.InviteInput{
		Email: p.email, FirstName: p.firstName, LastName: p.lastName,
		OrganizationID: orgID, Role: role, Locale: "fi",
	}, m)
	if err != nil {
		t.Fatalf("invite %s: %v", role, err)
	}
	p.id = u.ID
	if status == kernel.StatusInvited {
		return p, ""
	}
	invitation, _, err := h.accounts.IssueLinkToken(ctx, u.ID, accounts.PurposeInvitation)
	if err != nil {
		t.Fatalf("issue invitation token: %v", err)
	}
	si, err := h.accounts.AcceptInvitation(ctx, invitation, strongPassword, true, m)
	if err != nil {
		t.Fatalf("accept invitation: %v", err)
	}
	if status == kernel.StatusClosed {
		if err := h.accounts.CloseUser(ctx, setupActor, u.ID, m); err != nil {
			t.Fatalf("close: %v", err)
		}
		return p, ""
	}
	return p, si.Token
}

// member makes an active account with role in orgID and returns it with
// a session token.
func (h *harness) member(t *testing.T, orgID string, role kernel.Role) (person, string) {
	t.Helper()
	return h.account(t, newPerson(t), orgID, role, kernel.StatusActive)
}

// passkeyOrigin is the frontend origin of the harness's relying party.
const passkeyOrigin = "https://app.example.fi"

func testRelyingParty(t *testing.T) *passkeys.RelyingParty {
	t.Helper()
	rp, err := passkeys.New(passkeys.Config{RPID: "example.fi", RPName: "Palvelumanuaali", Origins: []string{passkeyOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}
