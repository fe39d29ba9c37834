package testenv

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"

	"github.com/palvelumanuaali/useradmin/internal/audit"
)

// AuditKeys returns the audit chain keys tests open their stores with: two
// fixed versions, the newer current. A test that checks a chain outside
// the store verifies with the same keys.
func AuditKeys() audit.Keys {
	return audit.Keys{Current: "test2", Versions: map[string][]byte{
		"test1": []byte("test-audit-chain-key-version-one"),
		"test2": []byte("test-audit-chain-key-version-two"),
	}}
}

// AuditKeysSetting returns AuditKeys as the AUDIT_KEYS and
// AUDIT_KEY_CURRENT settings, for tests that start the handler.
func AuditKeysSetting() (keys, current string) {
	k := AuditKeys()
	var pairs []string
	for _, v := range slices.Sorted(maps.Keys(k.Versions)) {
		pairs = append(pairs, v+":"+base64.StdEncoding.EncodeToString(k.Versions[v]))
	}
	return strings.Join(pairs, ","), k.Current
}
