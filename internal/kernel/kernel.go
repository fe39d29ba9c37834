// Package kernel is the vocabulary every layer shares: the errors the
// domain packages and their adapters return, validation and field errors,
// the roles and the permission matrix, the request metadata that goes into
// audit events, and the entity tags clients see. It has no rules of its own
// beyond that vocabulary, and imports only the standard library, so the
// domain packages (accounts, organizations), the adapters and the HTTP edge
// can all depend on it without depending on each other.
package kernel

import (
	"crypto/sha256"
	"encoding/base64"
)

// Meta is what the edge knows about the request behind a call; it goes into
// audit events.
type Meta struct {
	RequestID string
}

// PublicETag is the entity tag clients see for a stored version: a digest
// of the storage ETag, so storage internals never reach a client.
func PublicETag(storageETag string) string {
	sum := sha256.Sum256([]byte("etag|" + storageETag))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}
