package keyvault_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets/fake"
	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/keyvault"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

const (
	vaultURL   = "https://fake-vault.vault.azure.net"
	secretName = "password-pepper"
	idOld      = "00000000000000000000000000000001"
	idNew      = "00000000000000000000000000000002"
	idOther    = "00000000000000000000000000000003"
)

// fakeVersion is one version of the pepper secret in the fake vault.
type fakeVersion struct {
	id        string
	value     string
	enabled   *bool
	created   time.Time
	notBefore *time.Time
	expires   *time.Time
}

func ptr[T any](v T) *T { return &v }

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// base is a whole second because Key Vault (and so the fake) sends times as
// Unix seconds.
func base() time.Time { return time.Now().Add(-48 * time.Hour).Truncate(time.Second) }

// vault serves versions through the SDK's fake server, listing them two per
// page so paging is exercised, and records which versions were read.
type vault struct {
	versions []fakeVersion
	listErr  int // HTTP status to fail listing with, 0 for none
	fetched  []string
}

func (v *vault) client(t *testing.T) *azsecrets.Client {
	t.Helper()
	srv := fake.Server{
		NewListSecretPropertiesVersionsPager: func(name string, _ *azsecrets.ListSecretPropertiesVersionsOptions) (resp azfake.PagerResponder[azsecrets.ListSecretPropertiesVersionsResponse]) {
			if v.listErr != 0 {
				resp.AddResponseError(v.listErr, "Forbidden")
				return resp
			}
			for start := 0; start < len(v.versions); start += 2 {
				var page azsecrets.ListSecretPropertiesVersionsResponse
				for _, fv := range v.versions[start:min(start+2, len(v.versions))] {
					page.Value = append(page.Value, &azsecrets.SecretProperties{
						ID: ptr(azsecrets.ID(fmt.Sprintf("%s/secrets/%s/%s", vaultURL, name, fv.id))),
						Attributes: &azsecrets.SecretAttributes{
							Enabled:   fv.enabled,
							Created:   &fv.created,
							NotBefore: fv.notBefore,
							Expires:   fv.expires,
						},
					})
				}
				resp.AddPage(http.StatusOK, page, nil)
			}
			if len(v.versions) == 0 {
				// Key Vault answers an empty list with one empty page.
				resp.AddPage(http.StatusOK, azsecrets.ListSecretPropertiesVersionsResponse{}, nil)
			}
			return resp
		},
		GetSecret: func(_ context.Context, name, version string, _ *azsecrets.GetSecretOptions) (resp azfake.Responder[azsecrets.GetSecretResponse], errResp azfake.ErrorResponder) {
			v.fetched = append(v.fetched, version)
			for _, fv := range v.versions {
				if fv.id == version && name == secretName {
					resp.SetResponse(http.StatusOK, azsecrets.GetSecretResponse{Secret: azsecrets.Secret{
						ID:    ptr(azsecrets.ID(fmt.Sprintf("%s/secrets/%s/%s", vaultURL, name, fv.id))),
						Value: ptr(fv.value),
					}}, nil)
					return resp, errResp
				}
			}
			errResp.SetResponseError(http.StatusNotFound, "SecretNotFound")
			return resp, errResp
		},
	}
	client, err := azsecrets.NewClient(vaultURL, &azfake.TokenCredential{}, &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: fake.NewServerTransport(&srv),
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
	})
	if err != nil {
		t.Fatalf("azsecrets.NewClient() = %v", err)
	}
	return client
}

func TestLoadPeppers(t *testing.T) {
	t0 := base()
	yes, no := ptr(true), ptr(false)
	tests := []struct {
		name        string
		versions    []fakeVersion
		want        passwords.Peppers
		wantFetched []string
	}{
		{
			name: "newest of two versions is current and both keys load",
			versions: []fakeVersion{
				{id: idNew, value: b64(key(2)), enabled: yes, created: t0.Add(time.Hour)},
				{id: idOld, value: b64(key(1)), enabled: yes, created: t0},
			},
			want:        passwords.Peppers{Current: idNew, Keys: map[string][]byte{idOld: key(1), idNew: key(2)}},
			wantFetched: []string{idOld, idNew},
		},
		{
			name: "versions over several pages all load",
			versions: []fakeVersion{
				{id: idOld, value: b64(key(1)), enabled: yes, created: t0},
				{id: idOther, value: b64(key(3)), enabled: yes, created: t0.Add(2 * time.Hour)},
				{id: idNew, value: b64(key(2)), enabled: yes, created: t0.Add(time.Hour)},
			},
			want:        passwords.Peppers{Current: idOther, Keys: map[string][]byte{idOld: key(1), idNew: key(2), idOther: key(3)}},
			wantFetched: []string{idOld, idNew, idOther},
		},
		{
			name: "disabled version is skipped and never read",
			versions: []fakeVersion{
				{id: idOld, value: b64(key(1)), enabled: yes, created: t0},
				{id: idNew, value: "not read", enabled: no, created: t0.Add(time.Hour)},
			},
			want:        passwords.Peppers{Current: idOld, Keys: map[string][]byte{idOld: key(1)}},
			wantFetched: []string{idOld},
		},
		{
			name: "version without enabled flag is skipped",
			versions: []fakeVersion{
				{id: idOld, value: b64(key(1)), enabled: yes, created: t0},
				{id: idNew, value: b64(key(2)), created: t0.Add(time.Hour)},
			},
			want:        passwords.Peppers{Current: idOld, Keys: map[string][]byte{idOld: key(1)}},
			wantFetched: []string{idOld},
		},
		{
			name: "expired version is skipped",
			versions: []fakeVersion{
				{id: idOld, value: b64(key(1)), enabled: yes, created: t0, expires: ptr(t0.Add(time.Hour))},
				{id: idNew, value: b64(key(2)), enabled: yes, created: t0.Add(time.Hour), expires: ptr(t0.Add(1000 * time.Hour))},
			},
			want:        passwords.Peppers{Current: idNew, Keys: map[string][]byte{idNew: key(2)}},
			wantFetched: []string{idNew},
		},
		{
			name: "not yet valid version is skipped",
			versions: []fakeVersion{
				{id: idOld, value: b64(key(1)), enabled: yes, created: t0, notBefore: ptr(t0)},
				{id: idNew, value: b64(key(2)), enabled: yes, created: t0.Add(time.Hour), notBefore: ptr(t0.Add(1000 * time.Hour))},
			},
			want:        passwords.Peppers{Current: idOld, Keys: map[string][]byte{idOld: key(1)}},
			wantFetched: []string{idOld},
		},
		{
			name: "same creation time picks the larger id",
			versions: []fakeVersion{
				{id: idNew, value: b64(key(2)), enabled: yes, created: t0},
				{id: idOld, value: b64(key(1)), enabled: yes, created: t0},
			},
			want:        passwords.Peppers{Current: idNew, Keys: map[string][]byte{idOld: key(1), idNew: key(2)}},
			wantFetched: []string{idOld, idNew},
		},
		{
			name: "value with a trailing newline loads",
			versions: []fakeVersion{
				{id: idOld, value: b64(key(1)) + "\n", enabled: yes, created: t0},
			},
			want:        passwords.Peppers{Current: idOld, Keys: map[string][]byte{idOld: key(1)}},
			wantFetched: []string{idOld},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &vault{versions: tt.versions}
			got, err := keyvault.LoadPeppers(context.Background(), v.client(t), secretName, time.Now())
			if err != nil {
				t.Fatalf("LoadPeppers() = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LoadPeppers() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFetched, v.fetched); diff != "" {
				t.Errorf("versions read mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadPeppersFails(t *testing.T) {
	t0 := base()
	yes, no := ptr(true), ptr(false)
	short := b64([]byte("sixteen byte key"))
	tests := []struct {
		name     string
		vault    vault
		wantErr  error
		wantText []string // substrings the message must have
		secret   string   // a value the message must not contain
	}{
		{
			name:    "no versions is an error",
			vault:   vault{},
			wantErr: keyvault.ErrNoUsableVersion, wantText: []string{secretName},
		},
		{
			name:    "only disabled versions is an error",
			vault:   vault{versions: []fakeVersion{{id: idOld, value: b64(key(1)), enabled: no, created: t0}}},
			wantErr: keyvault.ErrNoUsableVersion, wantText: []string{secretName},
		},
		{
			name:    "short value is refused",
			vault:   vault{versions: []fakeVersion{{id: idOld, value: short, enabled: yes, created: t0}}},
			wantErr: keyvault.ErrBadPepper, wantText: []string{secretName, idOld, "16 bytes"}, secret: short,
		},
		{
			name: "short old value is refused too",
			vault: vault{versions: []fakeVersion{
				{id: idOld, value: short, enabled: yes, created: t0},
				{id: idNew, value: b64(key(2)), enabled: yes, created: t0.Add(time.Hour)},
			}},
			wantErr: keyvault.ErrBadPepper, wantText: []string{secretName, idOld}, secret: short,
		},
		{
			name:    "value that is not base64 is refused",
			vault:   vault{versions: []fakeVersion{{id: idOld, value: "correct horse battery staple, not base64!", enabled: yes, created: t0}}},
			wantErr: keyvault.ErrBadPepper, wantText: []string{secretName, idOld, "base64"}, secret: "correct horse",
		},
		{
			name:     "listing without permission is an error",
			vault:    vault{listErr: http.StatusForbidden},
			wantText: []string{secretName, "Forbidden"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keyvault.LoadPeppers(context.Background(), tt.vault.client(t), secretName, time.Now())
			if err == nil {
				t.Fatalf("LoadPeppers() = %v, want an error", got)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("LoadPeppers() error = %v, want %v", err, tt.wantErr)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("LoadPeppers() error %q does not mention %q", err, s)
				}
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("LoadPeppers() error %q reveals the secret value", err)
			}
			if diff := cmp.Diff(passwords.Peppers{}, got); diff != "" {
				t.Errorf("LoadPeppers() on error returned peppers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRotationKeepsOldHashesValid(t *testing.T) {
	t0 := base()
	params := passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	const pw = "correct horse battery staple"

	before, err := passwords.NewHasher(passwords.Peppers{Current: idOld, Keys: map[string][]byte{idOld: key(1)}}, params, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	oldHash, err := before.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}

	v := &vault{versions: []fakeVersion{
		{id: idOld, value: b64(key(1)), enabled: ptr(true), created: t0},
		{id: idNew, value: b64(key(2)), enabled: ptr(true), created: t0.Add(time.Hour)},
	}}
	peppers, err := keyvault.LoadPeppers(context.Background(), v.client(t), secretName, time.Now())
	if err != nil {
		t.Fatalf("LoadPeppers() = %v", err)
	}
	after, err := passwords.NewHasher(peppers, params, 1, 64)
	if err != nil {
		t.Fatalf("NewHasher(loaded peppers) = %v", err)
	}
	ok, needsRehash, err := after.Verify(context.Background(), pw, oldHash)
	if got, want := fmt.Sprint(ok, needsRehash, err), fmt.Sprint(true, true, nil); got != want {
		t.Errorf("Verify(hash made before rotation) = %s, want %s", got, want)
	}
	newHash, err := after.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Contains(newHash, ",pv="+idNew+"$"), true; got != want {
		t.Errorf("hash after rotation %q names the new version: %v, want %v", newHash, got, want)
	}
}

func TestNewClient(t *testing.T) {
	cred := &azfake.TokenCredential{}
	tests := []struct {
		name    string
		url     string
		cred    azcore.TokenCredential
		wantErr error
	}{
		{name: "vault URL is accepted", url: "https://myvault.vault.azure.net", cred: cred},
		{name: "vault URL with slash is accepted", url: "https://myvault.vault.azure.net/", cred: cred},
		{name: "http is rejected", url: "http://myvault.vault.azure.net", cred: cred, wantErr: keyvault.ErrInvalidVaultURL},
		{name: "empty URL is rejected", url: "", cred: cred, wantErr: keyvault.ErrInvalidVaultURL},
		{name: "URL with a path is rejected", url: "https://myvault.vault.azure.net/secrets/x", cred: cred, wantErr: keyvault.ErrInvalidVaultURL},
		{name: "URL with credentials is rejected", url: "https://user:pw@myvault.vault.azure.net", cred: cred, wantErr: keyvault.ErrInvalidVaultURL},
		{name: "URL with a query is rejected", url: "https://myvault.vault.azure.net?x=1", cred: cred, wantErr: keyvault.ErrInvalidVaultURL},
		{name: "missing credential is rejected", url: "https://myvault.vault.azure.net", wantErr: keyvault.ErrInvalidVaultURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := keyvault.NewClient(tt.url, tt.cred)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("NewClient() error = %v, want %v", err, tt.wantErr)
			}
			if got, want := client != nil, tt.wantErr == nil; got != want {
				t.Errorf("NewClient() returned a client: %v, want %v", got, want)
			}
		})
	}
}

// TestOpenChecksTheVaultURL: Open, what the handler wires with, refuses
// a vault URL that could hand a token elsewhere, as NewClient does.
func TestOpenChecksTheVaultURL(t *testing.T) {
	if _, err := keyvault.Open("http://myvault.vault.azure.net"); !errors.Is(err, keyvault.ErrInvalidVaultURL) {
		t.Errorf("Open(http URL) error = %v, want %v", err, keyvault.ErrInvalidVaultURL)
	}
	client, err := keyvault.Open("https://myvault.vault.azure.net")
	if err != nil || client == nil {
		t.Errorf("Open(vault URL) = %v, %v; want a client", client, err)
	}
}

// LOG-3, CONF-3: the audit chain key loads from Key Vault like the pepper:
// after a rotation new links name the newest version, links made before
// still verify, and a disabled version's links no longer do.
func TestAuditKeyRotationKeepsOldLinksValid(t *testing.T) {
	t0 := base()
	before := audit.Keys{Current: idOld, Versions: map[string][]byte{idOld: key(1)}}
	at := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	chain := audit.ChainKey(audit.Event{At: at, OrganizationID: "org-1"})
	first := before.Link(audit.Event{ID: "e1", At: at, Action: audit.ActionSignInSucceeded, OrganizationID: "org-1"}, 0, audit.GenesisHash(chain))

	v := &vault{versions: []fakeVersion{
		{id: idOld, value: b64(key(1)), enabled: ptr(true), created: t0},
		{id: idNew, value: b64(key(2)), enabled: ptr(true), created: t0.Add(time.Hour)},
	}}
	keys, err := keyvault.LoadAuditKeys(context.Background(), v.client(t), secretName, time.Now())
	if err != nil {
		t.Fatalf("LoadAuditKeys() = %v", err)
	}
	if got, want := keys.Current, idNew; got != want {
		t.Fatalf("Current = %q, want %q", got, want)
	}
	second := keys.Link(audit.Event{ID: "e2", At: at.Add(time.Minute), Action: audit.ActionSignedOut, OrganizationID: "org-1"}, first.Seq, first.Hash)
	if second.KeyVersion != idNew {
		t.Errorf("link after rotation names %q, want %q", second.KeyVersion, idNew)
	}
	if err := keys.Verify(chain, []audit.Event{first, second}); err != nil {
		t.Errorf("Verify(links across the rotation) = %v", err)
	}

	v.versions[0].enabled = ptr(false)
	keys, err = keyvault.LoadAuditKeys(context.Background(), v.client(t), secretName, time.Now())
	if err != nil {
		t.Fatalf("LoadAuditKeys() = %v", err)
	}
	if err := keys.Verify(chain, []audit.Event{first, second}); !errors.Is(err, audit.ErrBrokenChain) || !strings.Contains(err.Error(), string(audit.ProblemUnknownKeyVersion)) {
		t.Errorf("Verify(link of a disabled version) = %v, want %s", err, audit.ProblemUnknownKeyVersion)
	}

	short := &vault{versions: []fakeVersion{{id: idOld, value: b64(key(1)[:16]), enabled: ptr(true), created: t0}}}
	if _, err := keyvault.LoadAuditKeys(context.Background(), short.client(t), secretName, time.Now()); !errors.Is(err, keyvault.ErrBadPepper) ||
		strings.Contains(err.Error(), b64(key(1)[:16])) {
		t.Errorf("LoadAuditKeys(16-byte key) = %v, want ErrBadPepper without the value", err)
	}
}
