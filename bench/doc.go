// Package bench holds the benchmarks for the speed and memory targets,
// run against real Azurite (make bench). Targets are measured here and
// reported, never asserted in tests.
package bench
