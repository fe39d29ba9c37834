package tablestore

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
)

// The second factor's rows in an account's partition (see the package
// doc): its factors, its unused recovery codes and its pending sign-in
// challenges. Erasure deletes them with the partition.
const (
	rkFactorPrefix    = "factor|"    // + factor id
	rkRecoveryPrefix  = "recovery|"  // + the code's keyed hash
	rkChallengePrefix = "challenge|" // + sha256 of the challenge's secret
)

// factorEntity is a factor row. Secret is the sealed TOTP secret
// (accounts.MFAKeys): never the secret itself. A passkey's row holds its
// credential (the id and COSE public key base64url, the sign count in
// decimal: Table Storage's numbers stop at 32 bits without a type
// annotation) and, while it is pending, its registration ceremony.
type factorEntity struct {
	PartitionKey   string
	RowKey         string
	Type           string
	Name           string
	CreatedAt      string
	LastUsedAt     string `json:",omitempty"`
	Confirmed      bool
	Secret         string
	LastStep       int64
	CredentialID   string `json:",omitempty"`
	PublicKey      string `json:",omitempty"`
	Algorithm      int64  `json:",omitempty"`
	SignCount      string `json:",omitempty"`
	AAGUID         string `json:",omitempty"`
	Transports     string `json:",omitempty"`
	UserVerified   bool   `json:",omitempty"`
	BackupEligible bool   `json:",omitempty"`
	BackupState    bool   `json:",omitempty"`
	Ceremony       string `json:",omitempty"`
}

var b64 = base64.RawURLEncoding

func toFactorEntity(f accounts.Factor) factorEntity {
	e := factorEntity{PartitionKey: f.UserID, RowKey: rkFactorPrefix + f.ID, Type: string(f.Type), Name: f.Name,
		CreatedAt: formatTime(f.CreatedAt), LastUsedAt: formatTime(f.LastUsedAt), Confirmed: f.Confirmed, Secret: f.Secret, LastStep: f.LastStep,
		Ceremony: string(f.Ceremony)}
	if c := f.Passkey; len(c.ID) > 0 {
		e.CredentialID, e.PublicKey, e.Algorithm = b64.EncodeToString(c.ID), b64.EncodeToString(c.PublicKey), c.Algorithm
		e.SignCount, e.AAGUID, e.Transports = strconv.FormatUint(uint64(c.SignCount), 10), b64.EncodeToString(c.AAGUID), strings.Join(c.Transports, ",")
		e.UserVerified, e.BackupEligible, e.BackupState = c.UserVerified, c.BackupEligible, c.BackupState
	}
	return e
}

func (e factorEntity) factor(etag string) accounts.Factor {
	f := accounts.Factor{UserID: e.PartitionKey, ID: strings.TrimPrefix(e.RowKey, rkFactorPrefix), Type: accounts.FactorType(e.Type),
		Name: e.Name, CreatedAt: parseTime(e.CreatedAt), LastUsedAt: parseTime(e.LastUsedAt), Confirmed: e.Confirmed,
		Secret: e.Secret, LastStep: e.LastStep, ETag: etag}
	if e.Ceremony != "" {
		f.Ceremony = []byte(e.Ceremony)
	}
	if e.CredentialID != "" {
		// A row that does not decode yields a credential no login matches.
		id, _ := b64.DecodeString(e.CredentialID)
		key, _ := b64.DecodeString(e.PublicKey)
		aaguid, _ := b64.DecodeString(e.AAGUID)
		count, _ := strconv.ParseUint(e.SignCount, 10, 32)
		var transports []string
		if e.Transports != "" {
			transports = strings.Split(e.Transports, ",")
		}
		f.Passkey = passkeys.Credential{ID: id, PublicKey: key, Algorithm: e.Algorithm, SignCount: uint32(count), AAGUID: aaguid,
			Transports: transports, UserVerified: e.UserVerified, BackupEligible: e.BackupEligible, BackupState: e.BackupState,
			CreatedAt: f.CreatedAt}
	}
	return f
}

type recoveryEntity struct {
	PartitionKey string
	RowKey       string
	CreatedAt    string
}

type challengeEntity struct {
	PartitionKey  string
	RowKey        string
	CreatedAt     string
	ExpiresAt     string
	Attempts      int
	PasswordStamp string
	// Ceremony is the passkey login ceremony the challenge offered.
	Ceremony string `json:",omitempty"`
}

func toChallengeEntity(c accounts.Challenge) challengeEntity {
	return challengeEntity{PartitionKey: c.UserID, RowKey: rkChallengePrefix + c.Hash, CreatedAt: formatTime(c.CreatedAt),
		ExpiresAt: formatTime(c.ExpiresAt), Attempts: c.Attempts, PasswordStamp: c.PasswordStamp, Ceremony: string(c.Ceremony)}
}

func (e challengeEntity) challenge(etag string) accounts.Challenge {
	c := accounts.Challenge{UserID: e.PartitionKey, Hash: strings.TrimPrefix(e.RowKey, rkChallengePrefix),
		CreatedAt: parseTime(e.CreatedAt), ExpiresAt: parseTime(e.ExpiresAt), Attempts: e.Attempts, PasswordStamp: e.PasswordStamp, ETag: etag}
	if e.Ceremony != "" {
		c.Ceremony = []byte(e.Ceremony)
	}
	return c
}

// factorActions are the change's second-factor writes.
func factorActions(ch accounts.Change) []aztables.TransactionAction {
	var actions []aztables.TransactionAction
	add := func(e any) {
		actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(e)})
	}
	for _, f := range ch.PutFactors {
		add(toFactorEntity(f))
	}
	for _, f := range ch.UpdateFactors {
		actions = append(actions, replace(toFactorEntity(f), f.ETag))
	}
	for _, f := range ch.DeleteFactors {
		actions = append(actions, remove(ch.UserID, rkFactorPrefix+f.ID))
	}
	for _, c := range ch.PutRecoveryCodes {
		add(recoveryEntity{PartitionKey: c.UserID, RowKey: rkRecoveryPrefix + c.Hash, CreatedAt: formatTime(c.CreatedAt)})
	}
	for _, c := range ch.DeleteRecoveryCodes {
		actions = append(actions, remove(ch.UserID, rkRecoveryPrefix+c.Hash))
	}
	for _, c := range ch.PutChallenges {
		add(toChallengeEntity(c))
	}
	for _, c := range ch.UpdateChallenges {
		actions = append(actions, replace(toChallengeEntity(c), c.ETag))
	}
	for _, c := range ch.DeleteChallenges {
		actions = append(actions, remove(ch.UserID, rkChallengePrefix+c.Hash))
	}
	return actions
}
