package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/delivery"
)

// This file is the Azure Functions custom-handler invocation protocol:
// the one place that knows its shapes. Non-HTTP triggers (the Service Bus
// queue, the timer) arrive as POST /{FunctionName} with a JSON body of
// Data (the trigger value, by binding name) and Metadata (trigger data);
// the answer is JSON with Outputs, Logs and ReturnValue. Any non-2xx
// answer is a failed invocation: the host abandons a Service Bus message,
// which is redelivered until the queue's max delivery count dead-letters
// it. The proxied HTTP API never reaches these paths: the host forwards
// only /api/... to the handler.

// NotificationReceiver handles one delivered notification
// (delivery.Consumer).
type NotificationReceiver interface {
	Receive(ctx context.Context, d delivery.Delivery) error
}

type invocationRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

type invocationResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// maxInvocationBytes bounds an invocation body: a notification is a few
// hundred bytes, the metadata a few kilobytes.
const maxInvocationBytes = 256 << 10

// unwrap undoes the host's JSON-string encodings: trigger values and
// metadata strings arrive as JSON text inside a JSON string, sometimes
// twice ("\"{\\\"id\\\":…}\""). A value that is not a JSON string is
// returned as it is.
func unwrap(raw json.RawMessage) []byte {
	b := []byte(bytes.TrimSpace(raw))
	for i := 0; i < 2; i++ {
		var s string
		if len(b) == 0 || b[0] != '"' || json.Unmarshal(b, &s) != nil {
			break
		}
		b = []byte(s)
	}
	return b
}

// metaString reads a metadata string such as MessageId ("\"abc\"").
func metaString(md map[string]json.RawMessage, key string) string {
	return string(unwrap(md[key]))
}

// metaInt reads a metadata number, which the host sends as a string ("3").
func metaInt(md map[string]json.RawMessage, key string) int {
	n, err := strconv.Atoi(metaString(md, key))
	if err != nil {
		return 0
	}
	return n
}

// messageBody is the Service Bus message body: JSON (after unwrapping), or
// base64 of it when the binding's dataType is binary.
func messageBody(raw json.RawMessage) []byte {
	b := unwrap(raw)
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return b
	}
	if decoded, err := base64.StdEncoding.DecodeString(string(b)); err == nil {
		return decoded
	}
	return b
}

// handleSendNotification is the SendNotification function: a Service Bus
// message (binding "msg") to the notification consumer.
func (s *server) handleSendNotification(receiver NotificationReceiver, maxDeliveries int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.allowInvocationTime(w, r)
		var req invocationRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxInvocationBytes))
		if err := dec.Decode(&req); err != nil {
			// Not the host's shape: nothing to retry; answered as a failed
			// invocation so it shows up in the host's logs.
			s.log.Error("invocation body unreadable", "request_id", requestID(r.Context()))
			writeJSON(w, http.StatusBadRequest, invocationResponse{Outputs: map[string]any{}, Logs: []string{"invocation body unreadable"}})
			return
		}
		d := delivery.Delivery{
			MessageID:     metaString(req.Metadata, "MessageId"),
			Body:          messageBody(req.Data["msg"]),
			DeliveryCount: metaInt(req.Metadata, "DeliveryCount"),
			MaxDeliveries: maxDeliveries,
		}
		if err := receiver.Receive(r.Context(), d); err != nil {
			// Transient: fail the invocation so Service Bus redelivers.
			msg := "delivery failed, will be retried"
			if errors.Is(err, context.DeadlineExceeded) {
				msg = "delivery timed out, will be retried"
			}
			writeJSON(w, http.StatusInternalServerError, invocationResponse{Outputs: map[string]any{}, Logs: []string{msg}})
			return
		}
		writeJSON(w, http.StatusOK, invocationResponse{Outputs: map[string]any{}, Logs: []string{}})
	})
}

// allowInvocationTime lifts the server's write deadline, meant for the
// API, to the function timeout: the host waits that long (plus a minute)
// for an invocation's answer, and an answer cut by an earlier deadline is
// a failed invocation even though its work was done.
func (s *server) allowInvocationTime(w http.ResponseWriter, r *http.Request) {
	if s.opts.InvocationTimeout <= 0 {
		return
	}
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.InvocationTimeout)); err != nil {
		s.log.Warn("invocation write deadline not lifted", "request_id", requestID(r.Context()), "error", err.Error())
	}
}

// timerInfo is a timer trigger's value (binding "timer").
type timerInfo struct {
	IsPastDue      bool
	ScheduleStatus *struct{ Last, Next, LastUpdated string }
}

// handleTimer is a timer function (LifecycleSweep, OutboxDrain): run does
// the work as of now and returns a one-line summary (counts only). A
// past-due run (the host was down at the scheduled time) runs like any
// other. A failure fails the invocation; a timer is not retried, its next
// run carries on where this one stopped.
func (s *server) handleTimer(failed string, run func(ctx context.Context) (string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.allowInvocationTime(w, r)
		var req invocationRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxInvocationBytes)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, invocationResponse{Outputs: map[string]any{}, Logs: []string{"invocation body unreadable"}})
			return
		}
		var timer timerInfo
		_ = json.Unmarshal(unwrap(req.Data["timer"]), &timer) // absent or odd: run anyway
		logs := []string{}
		if timer.IsPastDue {
			logs = append(logs, "timer past due; running as of now")
		}
		summary, err := run(r.Context())
		logs = append(logs, summary)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, invocationResponse{Outputs: map[string]any{}, Logs: append(logs, failed)})
			return
		}
		writeJSON(w, http.StatusOK, invocationResponse{Outputs: map[string]any{}, Logs: logs})
	})
}
