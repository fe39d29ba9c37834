// Package tablestore keeps the system's records in Azure Table Storage
// (Azurite locally) through aztables. It is the only package that knows
// Table Storage exists; the rest of the code sees the domain's ports.
//
// # Key design
//
// Keys come from the access paths. Every table name starts with the
// configured prefix.
//
//	users     PK = user id              one partition per account: everything
//	                                    that must change together with it
//	          RK = "user"               the account record
//	          RK = "session|<sha256>"   a session (hash of its secret only), so a
//	                                    token names its row: one point read; its
//	                                    property ID is the random id its owner
//	                                    lists and ends it by (found by reading
//	                                    the partition: at most 20 sessions)
//	          RK = "token|<purpose>|<sha256>"  an invitation or reset link token
//	          RK = "resetlimit"         the hourly reset-request counter
//	          RK = "factor|<id>"        a second factor: type, name, times, the TOTP
//	                                    secret sealed under the MFA key (AES-256-GCM,
//	                                    account and factor id as additional data),
//	                                    the last accepted time step
//	          RK = "recovery|<version>:<hmac>"  an unused recovery code: its keyed
//	                                    hash only; using it deletes the row
//	          RK = "challenge|<sha256>" a pending two-step sign-in (hash of its
//	                                    secret, expiry, attempts): single use
//	          RK = "delivery|<notification id>"  the email's claim: queued (its link
//	                                    recorded), sending or sent (deliveries.go)
//	          RK = "outbox|<id>"        an audit event or notification the
//	                                    change produced, not yet delivered
//	          PK = "$unattributed|<shard>", RK = "outbox|<id>"
//	                                    events of no account (unknown-email
//	                                    sign-ins), one partition per audit shard
//	emails    PK = hex(sha256(canonical email)), RK = "email"
//	                                    the unique-email claim → user id (P1)
//	orgs      PK = organisation id, RK = "org"; RK = "outbox|…" its undelivered events
//	          PK = "$registry", RK = "admins"  the active admins (last-admin guard)
//	members   PK = organisation id, RK = accounts.NameOrder + "-" + user id
//	                                    the directory: an account's listable fields in its
//	                                    organisation's partition, in name order, so a page
//	                                    by name reads its own rows (see directory.go)
//	users     RK = "directory"          where the account's directory entries are, and the
//	                                    newest version that claimed them (directory.go)
//	audit     PK = "<org id>|<yyyy-mm>" one HMAC chain per organisation and month
//	          PK = "none-<shard>|<yyyy-mm>" events of no organisation, by shard
//	          RK = 12 digits, newest first; RK = "head" the chain's tip
//	auditidx  PK = "u|<user id>" or "d|<yyyy-mm-dd>", RK = <inverted time>|<event id>
//	                                    copies of events by person and by day (auditquery.go)
//	pending   PK = shard "00".."15", RK = the outbox owner's key (relay.Owner.Key: a user id, "org:<id>")
//	                                    accounts whose outbox may hold undelivered items
//	deliveries PK = notification id, RK = "claim"
//	                                    claims from before they moved beside the account;
//	                                    no longer written, purged by retention
//	lifecycle PK = UTC day the next lifecycle step is due, RK = user id
//	                                    sweep candidates (lifecycle.go); users RK "lifecycle" points back
//	users     RK = "erased"             the tombstone of an erased account: id and time only
//	failed    PK = UTC month, RK = notification id
//	                                    notifications given up on, with a reason code
//
// Why a partition per account: an account's change, its sessions, its tokens
// and the audit events and emails it causes commit in one entity-group
// transaction, so there is never a change without its audit event or an
// email for a change that did not happen (the transactional outbox). A
// signed-in request reads its account and its session with two point reads
// in parallel: the token holds the user id and the secret whose hash is the
// session's row key.
// Erasing a person is deleting one partition and one email claim.
//
// The email claim lives in its own table because uniqueness must hold across
// accounts. It is taken first with an insert (which fails if the email is
// taken) and released if the account cannot be created.
//
// Every read-modify-write sends the ETag it read, or its own last write
// returned (the audit chain heads), as If-Match; the only
// unconditional writes are to records nobody edits concurrently by design
// (a pending marker, a new insert).
package tablestore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"

	"github.com/palvelumanuaali/useradmin/internal/audit"
)

// Store is the Table Storage adapter.
type Store struct {
	users, emails, orgs, members, audit, auditIdx, pending, deliveries, failures, lifecycle *aztables.Client
	service                                                                                 *aztables.ServiceClient
	tableNames                                                                              []string
	auditKeys                                                                               audit.Keys
	committed                                                                               committed
	heads                                                                                   headCache    // audit chain heads (auditheads.go)
	appends                                                                                 appendGroups // group commit of audit appends (auditgroup.go)
	now                                                                                     func() time.Time
}

// Table name suffixes; see the package doc.
const (
	tableUsers   = "users"
	tableEmails  = "emails"
	tableOrgs    = "orgs"
	tableMembers = "members"
	tableAudit   = "audit"
	tableAuditIx = "auditidx"
	tablePending = "pending"
	tableClaims  = "deliveries"
	tableFailed  = "failed"
	tableLife    = "lifecycle"
)

// Option adjusts the store: its storage client (to count round trips in a
// benchmark or inject faults in a test) or its clock.
type Option func(*options)

type options struct {
	client azcore.ClientOptions
	now    func() time.Time
}

// WithPolicy adds a pipeline policy that sees every attempt (retries too).
func WithPolicy(p policy.Policy) Option {
	return func(o *options) { o.client.PerRetryPolicies = append(o.client.PerRetryPolicies, p) }
}

// WithClock gives the store the service's clock, for the times it stamps
// (pending marks, email claims, tombstones) and the ages it judges (an
// orphaned email claim): the same clock the domain plans with. Without it
// the store uses the wall clock.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

func buildOptions(opts []Option) options {
	o := options{client: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: 3, TryTimeout: 10 * time.Second, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 2 * time.Second},
	}, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// NewFromConnectionString opens the store for a connection string: Azurite
// only, since Azure deployments are keyless. auditKeys link and check the
// audit chains; it returns an error wrapping audit.ErrInvalidKeys when
// they are unusable.
func NewFromConnectionString(connectionString, prefix string, auditKeys audit.Keys, opts ...Option) (*Store, error) {
	if err := auditKeys.Validate(); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	svc, err := aztables.NewServiceClientFromConnectionString(connectionString, &aztables.ClientOptions{ClientOptions: o.client})
	if err != nil {
		return nil, fmt.Errorf("table storage connection string: %w", err)
	}
	return newStore(svc, prefix, auditKeys, o.now), nil
}

// NewWithCredential opens the store at a table endpoint with an Entra ID
// credential (the managed identity in Azure, developer credentials for
// ops). auditKeys are as for NewFromConnectionString.
func NewWithCredential(endpoint string, cred azcore.TokenCredential, prefix string, auditKeys audit.Keys, opts ...Option) (*Store, error) {
	if err := auditKeys.Validate(); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	svc, err := aztables.NewServiceClient(endpoint, cred, &aztables.ClientOptions{ClientOptions: o.client})
	if err != nil {
		return nil, fmt.Errorf("table storage endpoint: %w", err)
	}
	return newStore(svc, prefix, auditKeys, o.now), nil
}

// NewWithDefaultCredential opens the store at a table endpoint with
// DefaultAzureCredential, so callers wire it without the SDK. It returns
// NewWithCredential's errors and wraps the credential's.
func NewWithDefaultCredential(endpoint, prefix string, auditKeys audit.Keys, opts ...Option) (*Store, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("table storage credential: %w", err)
	}
	return NewWithCredential(endpoint, cred, prefix, auditKeys, opts...)
}

func newStore(svc *aztables.ServiceClient, prefix string, auditKeys audit.Keys, now func() time.Time) *Store {
	s := &Store{service: svc, auditKeys: auditKeys, now: now}
	open := func(suffix string) *aztables.Client {
		s.tableNames = append(s.tableNames, prefix+suffix)
		return svc.NewClient(prefix + suffix)
	}
	s.users = open(tableUsers)
	s.emails = open(tableEmails)
	s.orgs = open(tableOrgs)
	s.members = open(tableMembers)
	s.audit = open(tableAudit)
	s.auditIdx = open(tableAuditIx)
	s.pending = open(tablePending)
	s.deliveries = open(tableClaims)
	s.failures = open(tableFailed)
	s.lifecycle = open(tableLife)
	return s
}

// TableNames lists every table the store owns (for erasure scans and ops).
func (s *Store) TableNames() []string { return append([]string(nil), s.tableNames...) }

// EnsureTables creates the tables that do not exist yet, in parallel. It is
// safe to run on every start and from several instances at once.
func (s *Store) EnsureTables(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, name := range s.tableNames {
		g.Go(func() error {
			_, err := s.service.CreateTable(ctx, name, nil)
			var re *azcore.ResponseError
			if err == nil || (errors.As(err, &re) && re.ErrorCode == string(aztables.TableAlreadyExists)) {
				return nil
			}
			return fmt.Errorf("create table %s: %w", name, classify(err))
		})
	}
	return g.Wait()
}

// Ping checks that storage answers, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.orgs.GetEntity(ctx, "ping", "ping", nil)
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	return classify(err)
}
