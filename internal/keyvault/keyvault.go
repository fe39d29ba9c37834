// Package keyvault loads the versioned keys from Azure Key Vault: the
// password pepper (LoadPeppers) and the audit chain key (LoadAuditKeys).
//
// Each is one Key Vault secret whose versions are the key versions: each
// version's value is at least 32 random bytes in standard base64 (for
// example `openssl rand -base64 48`), and its Key Vault version id (32 hex
// digits) is the version recorded in every password hash or audit link
// made with it. Both load the same way: every usable version, the newest
// current.
//
// Rotation of the audit chain key: add a new version; after the next start
// new links use it, and links made with older versions still verify as
// long as those versions stay enabled. Never disable or delete a version
// while a retained audit month (AUDIT_RETENTION_MONTHS) has links that name
// it: those chains would no longer verify (unknown-key-version).
//
// Rotation of the pepper:
//  1. Add a new version of the secret. After the next LoadPeppers (at
//     start-up), new hashes use it because it is the newest enabled version.
//  2. Hashes made with older versions still verify, and Verify reports
//     needsRehash, so each user's hash moves to the new version the next
//     time they sign in.
//  3. Disable an old version only once the hashes that name it are gone:
//     everyone has signed in since, or the remaining accounts were made to
//     reset their passwords. A hash whose version is disabled no longer
//     verifies (passwords.ErrUnknownPepper).
//
// Never delete a version that hashes still use; disabling is reversible.
// Only the secret's name and version ids ever appear in errors, never a value.
package keyvault

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

var (
	// ErrNoUsableVersion is returned by LoadPeppers and LoadAuditKeys when
	// the secret has no version that is enabled and inside its validity
	// period.
	ErrNoUsableVersion = errors.New("keyvault: no usable secret version")
	// ErrBadPepper is returned by LoadPeppers and LoadAuditKeys when a
	// usable version's value is not standard base64 of at least 32 bytes
	// (passwords.MinPepperLen, audit.MinKeyLen).
	ErrBadPepper = errors.New("keyvault: unusable key value")
	// ErrInvalidVaultURL is returned by NewClient for a vault URL that is not
	// a bare https URL.
	ErrInvalidVaultURL = errors.New("keyvault: invalid vault URL")
)

// SecretClient is the consumer-side slice of *azsecrets.Client this package
// needs. A *azsecrets.Client satisfies it; tests pass a real one whose
// transport is the SDK's fake server.
type SecretClient interface {
	NewListSecretPropertiesVersionsPager(name string, options *azsecrets.ListSecretPropertiesVersionsOptions) *runtime.Pager[azsecrets.ListSecretPropertiesVersionsResponse]
	GetSecret(ctx context.Context, name string, version string, options *azsecrets.GetSecretOptions) (azsecrets.GetSecretResponse, error)
}

var _ SecretClient = (*azsecrets.Client)(nil)

// NewClient returns a Key Vault secrets client for vaultURL (such as
// https://myvault.vault.azure.net) authenticating with cred, typically an
// azidentity managed identity credential. The client checks that the
// vault's authentication challenge names a Key Vault resource, so a wrong
// URL cannot collect a token. It returns an error wrapping
// ErrInvalidVaultURL when vaultURL is not an https URL without path, query
// or credentials, or when cred is nil, and passes on errors from
// azsecrets.NewClient.
func NewClient(vaultURL string, cred azcore.TokenCredential) (*azsecrets.Client, error) {
	u, err := url.Parse(vaultURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: want https://<name>.vault.azure.net", ErrInvalidVaultURL)
	}
	if cred == nil {
		return nil, fmt.Errorf("%w: no credential", ErrInvalidVaultURL)
	}
	return azsecrets.NewClient(vaultURL, cred, nil)
}

// Open returns a client for the vault at vaultURL that authenticates with
// DefaultAzureCredential (the managed identity in Azure, the developer's
// az login for ops commands). It returns NewClient's errors and wraps the
// credential's.
func Open(vaultURL string) (SecretClient, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("keyvault: credential: %w", err)
	}
	c, err := NewClient(vaultURL, cred)
	if err != nil {
		return nil, err // not a nil *azsecrets.Client in a non-nil interface
	}
	return c, nil
}

// LoadPeppers reads every usable version of the secret secretName and
// returns them as pepper versions, with Current set to the usable version
// created last. A version is usable when it is enabled, its not-before time
// (if any) has passed at now and its expiry (if any) has not (the caller's
// clock: the wiring passes the wall clock). Unusable versions are not
// fetched.
//
// It returns an error wrapping ErrNoUsableVersion when there is no usable
// version, one wrapping ErrBadPepper when a usable version's value is not
// standard base64 of at least passwords.MinPepperLen bytes (naming the
// secret and version, never the value), and wraps errors from Key Vault
// (missing secret, no permission, network) and from Peppers.Validate.
func LoadPeppers(ctx context.Context, client SecretClient, secretName string, now time.Time) (passwords.Peppers, error) {
	current, keys, err := loadVersions(ctx, client, secretName, passwords.MinPepperLen, now)
	if err != nil {
		return passwords.Peppers{}, err
	}
	peppers := passwords.Peppers{Current: current, Keys: keys}
	if err := peppers.Validate(); err != nil {
		return passwords.Peppers{}, fmt.Errorf("keyvault: secret %q: %w", secretName, err)
	}
	return peppers, nil
}

// LoadAuditKeys reads the audit chain key's versions from the secret
// secretName exactly as LoadPeppers reads the pepper's: every usable
// version, Current the one created last. It returns the same errors, with
// audit.MinKeyLen as the shortest key and audit.Keys.Validate's errors.
func LoadAuditKeys(ctx context.Context, client SecretClient, secretName string, now time.Time) (audit.Keys, error) {
	current, keys, err := loadVersions(ctx, client, secretName, audit.MinKeyLen, now)
	if err != nil {
		return audit.Keys{}, err
	}
	k := audit.Keys{Current: current, Versions: keys}
	if err := k.Validate(); err != nil {
		return audit.Keys{}, fmt.Errorf("keyvault: secret %q: %w", secretName, err)
	}
	return k, nil
}

// LoadMFAKeys reads the MFA key's versions (accounts.MFAKeys: TOTP
// secrets are sealed and recovery codes keyed under them) from the secret
// secretName exactly as LoadPeppers reads the pepper's, with
// accounts.MFAKeyLen as the shortest key.
func LoadMFAKeys(ctx context.Context, client SecretClient, secretName string, now time.Time) (accounts.MFAKeys, error) {
	current, keys, err := loadVersions(ctx, client, secretName, accounts.MFAKeyLen, now)
	if err != nil {
		return accounts.MFAKeys{}, err
	}
	k := accounts.MFAKeys{Current: current, Versions: keys}
	if err := k.Validate(); err != nil {
		return accounts.MFAKeys{}, fmt.Errorf("keyvault: secret %q: %w", secretName, err)
	}
	return k, nil
}

// loadVersions fetches every usable version of secretName: the values by
// version id and the id of the newest.
func loadVersions(ctx context.Context, client SecretClient, secretName string, minLen int, now time.Time) (string, map[string][]byte, error) {
	versions, err := usableVersions(ctx, client, secretName, now)
	if err != nil {
		return "", nil, err
	}
	if len(versions) == 0 {
		return "", nil, fmt.Errorf("%w: secret %q has no enabled, currently valid version", ErrNoUsableVersion, secretName)
	}
	keys := make(map[string][]byte, len(versions))
	for _, v := range versions {
		key, err := fetch(ctx, client, secretName, v.id, minLen)
		if err != nil {
			return "", nil, err
		}
		keys[v.id] = key
	}
	// Sorted oldest first, so the last is the newest.
	return versions[len(versions)-1].id, keys, nil
}

type version struct {
	id      string
	created time.Time
}

// usableVersions lists the versions of secretName that may be used at now,
// oldest first; ties on the creation time are broken by id so the choice
// of Current does not depend on listing order.
func usableVersions(ctx context.Context, client SecretClient, secretName string, now time.Time) ([]version, error) {
	var out []version
	pager := client.NewListSecretPropertiesVersionsPager(secretName, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("keyvault: listing versions of secret %q: %w", secretName, err)
		}
		for _, p := range page.Value {
			if p == nil || p.ID == nil || p.Attributes == nil {
				continue
			}
			a := p.Attributes
			// A missing enabled flag is treated as disabled: a key that
			// is not clearly meant to be used must not become Current.
			if a.Enabled == nil || !*a.Enabled ||
				a.NotBefore != nil && now.Before(*a.NotBefore) ||
				a.Expires != nil && !now.Before(*a.Expires) {
				continue
			}
			id := p.ID.Version()
			if id == "" {
				continue
			}
			var created time.Time
			if a.Created != nil {
				created = *a.Created
			}
			out = append(out, version{id: id, created: created})
		}
	}
	slices.SortFunc(out, func(a, b version) int {
		return cmp.Or(a.created.Compare(b.created), strings.Compare(a.id, b.id))
	})
	return out, nil
}

// fetch reads and decodes one version's value.
func fetch(ctx context.Context, client SecretClient, secretName, id string, minLen int) ([]byte, error) {
	resp, err := client.GetSecret(ctx, secretName, id, nil)
	if err != nil {
		return nil, fmt.Errorf("keyvault: reading secret %q version %q: %w", secretName, id, err)
	}
	if resp.Value == nil {
		return nil, fmt.Errorf("%w: secret %q version %q has no value", ErrBadPepper, secretName, id)
	}
	// TrimSpace because values uploaded from a file often end in a newline.
	// The decoder's own error is dropped: it is not needed to fix the value
	// and should not risk quoting any of it.
	key, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(*resp.Value))
	if err != nil {
		return nil, fmt.Errorf("%w: secret %q version %q is not standard base64", ErrBadPepper, secretName, id)
	}
	if len(key) < minLen {
		return nil, fmt.Errorf("%w: secret %q version %q decodes to %d bytes, want at least %d random bytes",
			ErrBadPepper, secretName, id, len(key), minLen)
	}
	return key, nil
}
