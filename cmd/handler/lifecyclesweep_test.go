package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The LifecycleSweep timer function as the Functions host drives it: the
// timer payload (IsPastDue, schedule status) in, the protocol's answer
// with a one-line summary out.
func TestLifecycleSweepInvocation(t *testing.T) {
	s := startFunctionsStack(t, nil)
	for _, pastDue := range []bool{false, true} {
		b := timerPayload(t, "LifecycleSweep", pastDue)
		resp, err := http.Post(s.baseURL+"/LifecycleSweep", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var answer struct {
			Outputs map[string]any
			Logs    []string
		}
		if err := json.Unmarshal(body, &answer); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("past due %v: %d %s", pastDue, resp.StatusCode, body)
		}
		if joined := strings.Join(answer.Logs, " | "); !strings.Contains(joined, "warned 0, closed 0, erased 0") {
			t.Fatalf("logs %q: want the sweep's summary", joined)
		}
	}
	if !strings.Contains(s.logs.String(), `"msg":"lifecycle sweep"`) {
		t.Fatal("the sweep left no summary in the log")
	}
}

// The ops command: a dry run as of a time prints what it would do and
// changes nothing.
func TestSweepCommandDryRun(t *testing.T) {
	s := startStack(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"handler", "sweep", "-now", "2027-06-01T02:00:00Z", "-dry-run"},
		func(k string) string { return s.env[k] }, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Dry run (nothing changed) as of 2027-06-01T02:00:00Z") {
		t.Fatalf("output %q", out.String())
	}
	if err := run(context.Background(), []string{"handler", "sweep", "-now", "yesterday"}, func(k string) string { return s.env[k] }, io.Discard, io.Discard); err == nil {
		t.Fatal("a bad -now was accepted")
	}
}

// Standalone mode has no trigger endpoints: nothing but the Functions host
// may post a notification or start a sweep.
func TestStandaloneHasNoTriggerEndpoints(t *testing.T) {
	s := startStack(t)
	for _, path := range []string{"/SendNotification", "/LifecycleSweep"} {
		resp, err := http.Post(s.baseURL+path, "application/json", strings.NewReader(`{"Data":{},"Metadata":{}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("POST %s in standalone mode: %d, want 404", path, resp.StatusCode)
		}
	}
}
