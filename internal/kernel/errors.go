package kernel

import "errors"

// Errors shared by the domain packages and the adapters that implement
// their stores. The HTTP edge maps each to one status.
var (
	ErrNotFound           = errors.New("not found")
	ErrConflict           = errors.New("changed by someone else")
	ErrPreconditionFailed = errors.New("the stored version does not match If-Match")
	ErrForbidden          = errors.New("not allowed for this role")
	ErrInvalidCursor      = errors.New("invalid cursor")
	// ErrUnavailable is storage that cannot answer now (throttled, down);
	// the caller may retry later.
	ErrUnavailable = errors.New("storage unavailable")
)
