package servicebus

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// recordingSender stands in for Service Bus, which has no local emulator
// that runs here.
type recordingSender struct {
	sent []*azservicebus.Message
	err  error
}

func (r *recordingSender) SendMessage(_ context.Context, m *azservicebus.Message, _ *azservicebus.SendMessageOptions) error {
	if r.err != nil {
		return r.err
	}
	r.sent = append(r.sent, m)
	return nil
}

func (r *recordingSender) Close(context.Context) error { return nil }

func TestMessageCarriesIDKindAndMinimalBody(t *testing.T) {
	m := notify.Message{ID: "n-1", Kind: notify.KindInvitation, UserID: "u-1", CreatedAt: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)}
	rec := &recordingSender{}
	p := &Publisher{sender: rec}
	if err := p.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := rec.sent[0]
	// Duplicate detection keys on MessageId: it must be the notification id.
	if *got.MessageID != "n-1" || *got.ContentType != "application/json" || got.ApplicationProperties["kind"] != "invitation" {
		t.Fatalf("message = id %q, content type %q, properties %v", *got.MessageID, *got.ContentType, got.ApplicationProperties)
	}
	// P7, P9: ids only. No address, no name, no language, no token: the
	// consumer reads the recipient from the stored account, so nothing
	// personal sits on the queue or in its dead-letter queue.
	var fields map[string]any
	if err := json.Unmarshal(got.Body, &fields); err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for k := range fields {
		keys = append(keys, k)
	}
	want := map[string]bool{"id": true, "kind": true, "userId": true, "createdAt": true}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("body carries %q", k)
		}
	}
	var back notify.Message
	if err := json.Unmarshal(got.Body, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, back); diff != "" {
		t.Fatalf("body round trip (-want +got):\n%s", diff)
	}
}

func TestPublishReportsSendFailures(t *testing.T) {
	p := &Publisher{sender: &recordingSender{err: errors.New("amqp: link detached")}}
	if err := p.Publish(context.Background(), notify.Message{ID: "n-1", Kind: notify.KindPasswordChanged}); err == nil {
		t.Fatal("a failed send was reported as published; the relay would drop it from the outbox")
	}
}

// TestOpenChecksItsConfiguration: Open makes no network call, refuses an
// ambiguous or empty configuration, and never quotes a connection string
// (it holds a key).
func TestOpenChecksItsConfiguration(t *testing.T) {
	const key = "c2VjcmV0LWtleS12YWx1ZQ=="
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"opened: a developer's connection string", Config{ConnectionString: "Endpoint=sb://dev.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=" + key, Queue: "notifications"}, true},
		{"refused: nothing set", Config{Queue: "notifications"}, false},
		{"refused: both set", Config{Namespace: "ua.servicebus.windows.net", ConnectionString: "Endpoint=sb://x/", Queue: "notifications"}, false},
		{"refused: not a connection string", Config{ConnectionString: "SharedAccessKey=" + key, Queue: "notifications"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Open(tt.cfg)
			if got := err == nil; got != tt.ok {
				t.Fatalf("Open error = %v, want ok %t", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("error %q quotes the key", err)
			}
			if p != nil {
				_ = p.Close(context.Background())
			}
		})
	}
}
