package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

var (
	maildevOnce sync.Once
	maildev     process
)

// Mailbox is a MailDev instance: SMTP on SMTPPort, its REST API on APIURL.
type Mailbox struct {
	SMTPHost string
	SMTPPort int
	APIURL   string
}

// MailDev starts (once per test binary) a real SMTP catcher and returns its
// addresses. It fails the test when MailDev cannot be started.
func MailDev(tb testing.TB) Mailbox {
	tb.Helper()
	maildevOnce.Do(func() {
		maildev = startTool(tb, "maildev", func() ([]int, []string) {
			smtp, web := FreePort(tb), FreePort(tb)
			return []int{smtp, web}, []string{
				"--ip", "127.0.0.1", "--smtp", strconv.Itoa(smtp), "--web", strconv.Itoa(web), "--silent",
			}
		})
	})
	if maildev.err != nil {
		tb.Fatalf("testenv: maildev: %v", maildev.err)
	}
	return Mailbox{
		SMTPHost: "127.0.0.1",
		SMTPPort: maildev.ports[0],
		APIURL:   fmt.Sprintf("http://127.0.0.1:%d", maildev.ports[1]),
	}
}

// CaughtEmail is the part of MailDev's message JSON the tests read.
type CaughtEmail struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
	To      []struct {
		Address string `json:"address"`
		Name    string `json:"name"`
	} `json:"to"`
	From []struct {
		Address string `json:"address"`
	} `json:"from"`
	Headers map[string]any `json:"headers"`
	Time    time.Time      `json:"time"` // when MailDev received it
}

// MessageID is the message's Message-ID header ("" when absent).
func (e CaughtEmail) MessageID() string {
	id, _ := e.Headers["message-id"].(string)
	return id
}

// Emails returns every message MailDev caught for the recipient address.
func (m Mailbox) Emails(tb testing.TB, to string) []CaughtEmail {
	tb.Helper()
	resp, err := http.Get(m.APIURL + "/email")
	if err != nil {
		tb.Fatalf("testenv: maildev list: %v", err)
	}
	defer resp.Body.Close()
	var all []CaughtEmail
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		tb.Fatalf("testenv: maildev decode: %v", err)
	}
	var mine []CaughtEmail
	for _, e := range all {
		for _, r := range e.To {
			if r.Address == to {
				mine = append(mine, e)
				break
			}
		}
	}
	return mine
}

// WaitForEmails polls until the recipient has at least n messages or the
// limit passes, and returns what arrived. Delivery is asynchronous, so
// tests wait for an outcome rather than for a fixed time.
func (m Mailbox) WaitForEmails(tb testing.TB, to string, n int, limit time.Duration) []CaughtEmail {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := m.Emails(tb, to)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// RawURL returns the API URL of one message's raw source (headers included).
func (m Mailbox) RawURL(id string) string {
	return m.APIURL + "/email/" + url.PathEscape(id) + "/source"
}
