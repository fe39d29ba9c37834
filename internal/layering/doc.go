// Package layering holds no code: its test reads the module's import
// graph and fails when a package reaches across the layers the
// architecture is built on (ARCHITECTURE.md). The rules are written once,
// in layering_test.go.
package layering
