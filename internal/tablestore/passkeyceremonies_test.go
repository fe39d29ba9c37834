package tablestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// P13: a passkey sign-in's ceremony is taken once (the second take finds
// nothing), and abandoned ones go as new ones are made in their shard, at
// most passkeySweep at a time, the live ones left alone.
func TestPasskeyCeremoniesAreTakenOnceAndSwept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	hash := func(i int) string { return "a" + strings.Repeat("0", 60) + fmt.Sprintf("%03d", i) }
	put := func(i int, at time.Time) {
		t.Helper()
		c := accounts.PasskeyCeremony{Hash: hash(i), CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute), Ceremony: []byte(`{"kind":"discoverable"}`)}
		if err := s.PutPasskeyCeremony(ctx, c, at); err != nil {
			t.Fatal(err)
		}
	}
	for i := range passkeySweep + 2 {
		put(i, t0)
	}
	put(100, t0.Add(3*time.Minute)) // still live at the sweep below
	put(200, t0.Add(7*time.Minute))
	gone := 0
	for i := range passkeySweep + 2 {
		if _, err := s.TakePasskeyCeremony(ctx, hash(i)); errors.Is(err, kernel.ErrNotFound) {
			gone++
		}
	}
	if gone != passkeySweep {
		t.Errorf("%d abandoned ceremonies swept, want %d (bounded)", gone, passkeySweep)
	}
	c, err := s.TakePasskeyCeremony(ctx, hash(100))
	if err != nil || string(c.Ceremony) != `{"kind":"discoverable"}` || !c.ExpiresAt.Equal(t0.Add(8*time.Minute)) {
		t.Fatalf("live ceremony = %+v, %v", c, err)
	}
	if _, err := s.TakePasskeyCeremony(ctx, hash(100)); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("a ceremony was taken twice: %v", err)
	}
}
