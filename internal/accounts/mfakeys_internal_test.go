package accounts

import (
	"bytes"
	"testing"
)

// AUTH (second factor): one MFA key version serves two purposes, sealing
// TOTP secrets (AES-256-GCM) and keying recovery-code hashes (HMAC-SHA256),
// through keys derived apart (HKDF), so neither algorithm ever sees the
// other's key, nor the key as stored.
func TestMFAKeyPurposesUseKeysDerivedApart(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 48)
	seal, err := subkey(key, "totp-seal")
	if err != nil {
		t.Fatal(err)
	}
	recovery, err := subkey(key, "recovery-code")
	if err != nil {
		t.Fatal(err)
	}
	if len(seal) != MFAKeyLen || len(recovery) != MFAKeyLen {
		t.Fatalf("derived keys of %d and %d bytes, want %d", len(seal), len(recovery), MFAKeyLen)
	}
	if bytes.Equal(seal, recovery) || bytes.Equal(seal, key[:MFAKeyLen]) || bytes.Equal(recovery, key[:MFAKeyLen]) {
		t.Fatal("the purposes share key bytes, or use the stored key itself")
	}
	k := MFAKeys{Current: "m1", Versions: map[string][]byte{"m1": key}}
	sealed, err := k.seal("JBSWY3DPEHPK3PXP", "u-1", "f-1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.open(sealed, "u-1", "f-1"); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("open = %q, %v", got, err)
	}
}
