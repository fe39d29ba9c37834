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
		maxConcurrent, 64,
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

// PWD-2, PWD-5 (DoS): past maxConcurrent running and maxQueued waiting, a
// hash is refused at once with ErrBusy instead of joining the line, and
// every hash that was let in still completes.
func TestQueueBound(t *testing.T) {
	const maxConcurrent, maxQueued = 1, 2
	h, err := NewHasher(
		Peppers{Current: "1", Keys: map[string][]byte{"1": bytes.Repeat([]byte{1}, 32)}},
		Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		maxConcurrent, maxQueued,
	)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	h.whileHeld = func() { <-release }

	var wg sync.WaitGroup
	errs := make(chan error, maxConcurrent+maxQueued)
	for range maxConcurrent + maxQueued {
		wg.Go(func() {
			_, err := h.Hash(context.Background(), "correct horse battery staple")
			errs <- err
		})
	}
	// Wait until one hash runs and the others wait in line.
	for wait := time.Now(); len(h.admitted) < maxConcurrent+maxQueued; time.Sleep(time.Millisecond) {
		if time.Since(wait) > 10*time.Second {
			close(release)
			t.Fatalf("places taken = %d, want %d: the line is not counted", len(h.admitted), maxConcurrent+maxQueued)
		}
	}

	// Without a bound these calls would wait for the blocked hash; the
	// deadline turns that into a failure instead of a hang.
	past, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.Run("a hash past the line is refused", func(t *testing.T) {
		if _, err := h.Hash(past, "correct horse battery staple"); !errors.Is(err, ErrBusy) {
			t.Errorf("Hash() error = %v, want ErrBusy", err)
		}
	})
	t.Run("a verify past the line is refused", func(t *testing.T) {
		if _, _, err := h.Verify(past, "correct horse battery staple", "$argon2id$v=19$m=64,t=1,p=1,pv=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrBusy) {
			t.Errorf("Verify() error = %v, want ErrBusy", err)
		}
	})
	t.Run("an admission past the line is refused", func(t *testing.T) {
		if _, _, err := h.Admit(past); !errors.Is(err, ErrBusy) {
			t.Errorf("Admit() error = %v, want ErrBusy", err)
		}
	})

	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a hash let in failed: %v", err)
		}
	}
	if got := len(h.admitted); got != 0 {
		t.Errorf("places still taken after every hash ended = %d, want 0", got)
	}
}

// PWD-2: a request admitted once runs all its hashes on that one place,
// however full the line is behind it, and gives the place back once.
func TestAdmissionCoversTheRequestsHashes(t *testing.T) {
	h, err := NewHasher(
		Peppers{Current: "1", Keys: map[string][]byte{"1": bytes.Repeat([]byte{1}, 32)}},
		Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		1, 0,
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, release, err := h.Admit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatalf("Hash() under the admission = %v", err)
	}
	if ok, _, err := h.Verify(ctx, "correct horse battery staple", encoded); !ok || err != nil {
		t.Fatalf("Verify() under the admission = %v, %v, want true, nil", ok, err)
	}
	past, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.Hash(past, "correct horse battery staple"); !errors.Is(err, ErrBusy) {
		t.Errorf("Hash() without an admission while the only place is taken = %v, want ErrBusy", err)
	}
	release()
	release() // a second call gives nothing back twice
	if got := len(h.admitted); got != 0 {
		t.Errorf("places taken after release = %d, want 0", got)
	}
	if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
		t.Errorf("Hash() once the place is free = %v", err)
	}
}
