package tablestore

import (
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
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
// (accounts.MFAKeys): never the secret itself.
type factorEntity struct {
	PartitionKey string
	RowKey       string
	Type         string
	Name         string
	CreatedAt    string
	LastUsedAt   string `json:",omitempty"`
	Confirmed    bool
	Secret       string
	LastStep     int64
}

func toFactorEntity(f accounts.Factor) factorEntity {
	return factorEntity{PartitionKey: f.UserID, RowKey: rkFactorPrefix + f.ID, Type: string(f.Type), Name: f.Name,
		CreatedAt: formatTime(f.CreatedAt), LastUsedAt: formatTime(f.LastUsedAt), Confirmed: f.Confirmed, Secret: f.Secret, LastStep: f.LastStep}
}

func (e factorEntity) factor(etag string) accounts.Factor {
	return accounts.Factor{UserID: e.PartitionKey, ID: strings.TrimPrefix(e.RowKey, rkFactorPrefix), Type: accounts.FactorType(e.Type),
		Name: e.Name, CreatedAt: parseTime(e.CreatedAt), LastUsedAt: parseTime(e.LastUsedAt), Confirmed: e.Confirmed,
		Secret: e.Secret, LastStep: e.LastStep, ETag: etag}
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
}

func toChallengeEntity(c accounts.Challenge) challengeEntity {
	return challengeEntity{PartitionKey: c.UserID, RowKey: rkChallengePrefix + c.Hash, CreatedAt: formatTime(c.CreatedAt),
		ExpiresAt: formatTime(c.ExpiresAt), Attempts: c.Attempts, PasswordStamp: c.PasswordStamp}
}

func (e challengeEntity) challenge(etag string) accounts.Challenge {
	return accounts.Challenge{UserID: e.PartitionKey, Hash: strings.TrimPrefix(e.RowKey, rkChallengePrefix),
		CreatedAt: parseTime(e.CreatedAt), ExpiresAt: parseTime(e.ExpiresAt), Attempts: e.Attempts, PasswordStamp: e.PasswordStamp, ETag: etag}
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
