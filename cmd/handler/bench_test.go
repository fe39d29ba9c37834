package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// BenchmarkStartToReady measures run() from its call to the "listening"
// line (the moment the Functions host's readiness probe gets an answer)
// and to "ready" (wired: tables ensured, API served). Target: ≤ 20 ms to
// listening. Tables already exist, as on every start but the first.
func BenchmarkStartToReady(b *testing.B) {
	env := testEnv(b, testenv.MailDev(b))
	getenv := func(k string) string { return env[k] }
	var listening, ready time.Duration
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- run(ctx, []string{"handler"}, getenv, pw, io.Discard); pw.Close() }()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line struct{ Msg string }
			_ = json.Unmarshal(sc.Bytes(), &line)
			if line.Msg == "listening" {
				listening += time.Since(start)
			}
			if line.Msg == "ready" {
				ready += time.Since(start)
				break
			}
		}
		cancel()
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(listening.Microseconds())/float64(b.N)/1000, "ms-to-listening")
	b.ReportMetric(float64(ready.Microseconds())/float64(b.N)/1000, "ms-to-ready")
}
