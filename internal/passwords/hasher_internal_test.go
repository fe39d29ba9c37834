package passwords

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func testHasher(t *testing.T, maxConcurrent int) *Hasher {
	t.Helper()
	h, err := NewHasher(
		Peppers{Current: "1", Keys: map[string][]byte{"1": bytes.Repeat([]byte{1}, 32)}},
		Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		maxConcurrent,
	)
	if err != nil {
		t.Fatalf("NewHasher() = %v", err)
	}
	return h
}

func TestConcurrencyCap(t *testing.T) {
	const maxConcurrent, callers = 2, 6
	h := testHasher(t, maxConcurrent)
	entered := make(chan struct{}, callers)
	release := make(chan struct{})
	var mu sync.Mutex
	inside, most := 0, 0
	h.whileHeld = func() {
		mu.Lock()
		inside++
		most = max(most, inside)
		mu.Unlock()
		entered <- struct{}{}
		<-release
		mu.Lock()
		inside--
		mu.Unlock()
	}

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := h.Hash(context.Background(), "correct horse battery staple")
			errs <- err
		})
	}
	for range maxConcurrent {
		<-entered
	}
	select {
	case <-entered:
		t.Fatalf("a hash started while %d were running, want at most %d at once", maxConcurrent, maxConcurrent)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Hash() = %v", err)
		}
	}
	if got, want := most, maxConcurrent; got != want {
		t.Errorf("most hashes at once = %d, want %d", got, want)
	}
	if got, want := len(entered), callers-maxConcurrent; got != want {
		t.Errorf("hashes started after release = %d, want %d", got, want)
	}
}

func TestWaitingForSlotHonoursContext(t *testing.T) {
	h := testHasher(t, 1)
	h.sem <- struct{}{} // another hash holds the only slot
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	tests := []struct {
		name string
		run  func() error
	}{
		{name: "Hash gives up with the context error", run: func() error {
			_, err := h.Hash(ctx, "correct horse battery staple")
			return err
		}},
		{name: "Verify gives up with the context error", run: func() error {
			_, _, err := h.Verify(ctx, "correct horse battery staple", "$argon2id$v=19$m=64,t=1,p=1,pv=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error = %v, want context.DeadlineExceeded", err)
			}
		})
	}
}

func TestTooLongIsNotHashed(t *testing.T) {
	h := testHasher(t, 1)
	runs := 0
	h.whileHeld = func() { runs++ }
	huge := strings.Repeat("x", 1<<20)
	encoded, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	runs = 0
	tests := []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{name: "Hash refuses", run: func() error { _, err := h.Hash(context.Background(), huge); return err }, wantErr: ErrTooLong},
		{name: "Verify refuses", run: func() error { _, _, err := h.Verify(context.Background(), huge, encoded); return err }, wantErr: ErrTooLong},
		{name: "VerifyDummy returns early", run: func() error { h.VerifyDummy(context.Background(), huge); return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if got, want := runs, 0; got != want {
				t.Errorf("argon2id runs = %d, want %d", got, want)
			}
		})
	}
}

func TestVerifyDummyRunsArgon2Once(t *testing.T) {
	h := testHasher(t, 1)
	runs := 0
	h.whileHeld = func() { runs++ }
	h.VerifyDummy(context.Background(), "correct horse battery staple")
	if got, want := runs, 1; got != want {
		t.Errorf("argon2id runs = %d, want %d", got, want)
	}
}
