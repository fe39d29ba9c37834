package smtp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/notify/notifytest"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

const testFrom = "Palvelumanuaali <no-reply@palvelumanuaali.fi>"

// uniqueAddress gives each test its own MailDev mailbox.
func uniqueAddress(t *testing.T) string {
	t.Helper()
	return testenv.UniqueName(t) + "@example.test"
}

func newSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func mailDevSender(t *testing.T) (*Sender, testenv.Mailbox) {
	t.Helper()
	m := testenv.MailDev(t)
	return newSender(t, Config{Host: m.SMTPHost, Port: m.SMTPPort, Security: SecurityNone, From: testFrom}), m
}

func rawSource(t *testing.T, m testenv.Mailbox, id string) string {
	t.Helper()
	resp, err := http.Get(m.RawURL(id))
	if err != nil {
		t.Fatalf("maildev source: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("maildev source: %v", err)
	}
	return string(b)
}

func TestSendDeliversToMailDev(t *testing.T) {
	rendered, err := notify.Render(notify.Content{
		Kind: notify.KindAccountClosed, Locale: "sv", FirstName: "Åsa",
		DueAt: time.Date(2027, 4, 1, 12, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	tests := []struct {
		name  string
		email notify.Email
	}{
		{
			name: "hand-written email with ä ö å arrives intact",
			email: notify.Email{
				MessageID: "msg-0001",
				Subject:   "Hyvää päivää – välkommen till Servicemanualen, Åsa",
				Text:      "Hei Äijö,\n\nÅ ä ö – tämä on testi.\n",
				HTML:      "<p>Hei <strong>Äijö</strong>,</p><p>Å ä ö – tämä on testi.</p>",
			},
		},
		{
			name: "rendered Swedish notification arrives intact",
			email: notify.Email{
				MessageID: "msg-0002",
				Subject:   rendered.Subject,
				Text:      rendered.Text,
				HTML:      rendered.HTML,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, m := mailDevSender(t)
			e := tt.email
			e.To = uniqueAddress(t)
			if err := s.Send(context.Background(), e); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := m.WaitForEmails(t, e.To, 1, 10*time.Second)
			if len(got) != 1 {
				t.Fatalf("MailDev caught %d emails for the recipient, want 1", len(got))
			}
			caught := got[0]
			if got, want := caught.Subject, e.Subject; got != want {
				t.Errorf("subject = %q, want %q", got, want)
			}
			if len(caught.From) != 1 || caught.From[0].Address != "no-reply@palvelumanuaali.fi" {
				t.Errorf("from = %+v, want no-reply@palvelumanuaali.fi", caught.From)
			}

			// MailDev's JSON re-serialises the HTML, so the parts are read
			// from the raw source the server received.
			raw := rawSource(t, m, caught.ID)
			msg, parts := parseMIME(t, raw)
			if diff := cmp.Diff(map[string]string{"text/plain": e.Text, "text/html": e.HTML}, parts); diff != "" {
				t.Errorf("MIME parts differ (-sent +caught):\n%s", diff)
			}
			for header, want := range map[string]string{
				"Message-Id":     "<" + e.MessageID + "@palvelumanuaali.fi>",
				"Auto-Submitted": "auto-generated",
				"To":             "<" + e.To + ">",
			} {
				if got := msg.Header.Get(header); got != want {
					t.Errorf("%s header = %q, want %q", header, got, want)
				}
			}
			if _, err := msg.Header.Date(); err != nil {
				t.Errorf("Date header: %v", err)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil || subject != e.Subject {
				t.Errorf("raw Subject decodes to %q (%v), want %q", subject, err, e.Subject)
			}
		})
	}
}

// parseMIME reads a raw message and returns it with the decoded body of
// each part of its multipart/alternative body, by media type. It fails the
// test unless every part is declared UTF-8.
func parseMIME(t *testing.T, raw string) (*mail.Message, map[string]string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("raw message does not parse: %v\n%s", err, raw)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		partType, partParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type: %v", err)
		}
		if got, want := strings.ToUpper(partParams["charset"]), "UTF-8"; got != want {
			t.Errorf("%s charset = %q, want %q", partType, got, want)
		}
		// multipart.Reader decodes quoted-printable itself; base64 is the
		// other encoding a sender may pick.
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("%s part: %v", partType, err)
		}
		parts[partType] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	return msg, parts
}

func TestSendWithoutHTMLSendsTextOnly(t *testing.T) {
	s, m := mailDevSender(t)
	e := notify.Email{MessageID: "text-only", To: uniqueAddress(t), Subject: "Vain teksti", Text: "Pelkkä tekstiosa.\n"}
	if err := s.Send(context.Background(), e); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := m.WaitForEmails(t, e.To, 1, 10*time.Second)
	if len(got) != 1 {
		t.Fatalf("MailDev caught %d emails, want 1", len(got))
	}
	raw := rawSource(t, m, got[0].ID)
	if strings.Contains(raw, "multipart/alternative") || strings.Contains(raw, "text/html") {
		t.Errorf("text-only email was sent with an HTML part:\n%s", raw)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	valid := Config{Host: "smtp.example.com", Port: 587, Security: SecurityStartTLS, From: testFrom}
	tests := []struct {
		name      string
		change    func(*Config)
		wantField string // "" means New succeeds
	}{
		{"accepted: starttls without credentials", func(c *Config) {}, ""},
		{"accepted: starttls with credentials", func(c *Config) { c.Username, c.Password = "user", "secret" }, ""},
		{"accepted: implicit tls with credentials", func(c *Config) { c.Security, c.Username, c.Password = SecurityTLS, "user", "secret" }, ""},
		{"accepted: plaintext with credentials to localhost", func(c *Config) {
			c.Host, c.Security, c.Username, c.Password = "localhost", SecurityNone, "user", "secret"
		}, ""},
		{"accepted: plaintext with credentials to 127.0.0.1", func(c *Config) {
			c.Host, c.Security, c.Username, c.Password = "127.0.0.1", SecurityNone, "user", "secret"
		}, ""},
		{"accepted: IPv6 loopback", func(c *Config) { c.Host, c.Security = "::1", SecurityNone }, ""},
		{"accepted: empty security means starttls", func(c *Config) { c.Security = "" }, ""},
		{"refused: plaintext with credentials to a remote host", func(c *Config) {
			c.Security, c.Username, c.Password = SecurityNone, "user", "secret"
		}, "Username"},
		{"refused: no host", func(c *Config) { c.Host = "" }, "Host"},
		{"refused: host with a scheme", func(c *Config) { c.Host = "smtp://smtp.example.com" }, "Host"},
		{"refused: host with a port", func(c *Config) { c.Host = "smtp.example.com:25" }, "Host"},
		{"refused: port out of range", func(c *Config) { c.Port = 70000 }, "Port"},
		{"refused: negative port", func(c *Config) { c.Port = -1 }, "Port"},
		{"refused: unknown security", func(c *Config) { c.Security = "ssl" }, "Security"},
		{"refused: username without password", func(c *Config) { c.Username = "user" }, "Username"},
		{"refused: password without username", func(c *Config) { c.Password = "secret" }, "Password"},
		{"refused: no from", func(c *Config) { c.From = "" }, "From"},
		{"refused: from that is not an address", func(c *Config) { c.From = "Palvelumanuaali" }, "From"},
		{"refused: from with a line break", func(c *Config) { c.From = "no-reply@palvelumanuaali.fi\r\nBcc: x@y" }, "From"},
		{"refused: negative timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)
			s, err := New(cfg)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if s == nil {
					t.Fatal("New returned no Sender")
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted the config")
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("error %q does not name the field %s", err, tt.wantField)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestSecretsStayOutOfFormattedValues(t *testing.T) {
	cfg := Config{Host: "smtp.example.com", Security: SecurityStartTLS, Username: "mailer", Password: "s3cret", From: testFrom}
	s := newSender(t, cfg)
	for name, v := range map[string]any{"Config": cfg, "*Config": &cfg, "*Sender": s} {
		for _, format := range []string{"%v", "%+v", "%s"} {
			if got := fmt.Sprintf(format, v); strings.Contains(got, "s3cret") {
				t.Errorf("%s formatted with %s shows the password: %s", name, format, got)
			}
		}
	}
}

func TestNewDefaults(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		wantPort int
	}{
		{"plaintext defaults to port 25", Config{Host: "localhost", Security: SecurityNone, From: testFrom}, 25},
		{"starttls defaults to port 587", Config{Host: "smtp.example.com", Security: SecurityStartTLS, From: testFrom}, 587},
		{"implicit tls defaults to port 465", Config{Host: "smtp.example.com", Security: SecurityTLS, From: testFrom}, 465},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSender(t, tt.cfg)
			if got, want := s.port, tt.wantPort; got != want {
				t.Errorf("port = %d, want %d", got, want)
			}
			if got, want := s.timeout, DefaultTimeout; got != want {
				t.Errorf("timeout = %s, want %s", got, want)
			}
		})
	}
}

func TestSendClassifiesFailures(t *testing.T) {
	tests := []struct {
		name          string
		script        fakeScript
		security      Security
		wantPermanent bool
		wantNotAsked  string // a command the fake must not have seen
	}{
		{
			name:          "permanent: 550 mailbox unavailable at RCPT TO",
			script:        fakeScript{Rcpt: "550 5.1.1 %s: Recipient address rejected: User unknown"},
			wantPermanent: true,
			wantNotAsked:  "DATA",
		},
		{
			name:          "permanent: 553 mailbox name not allowed at RCPT TO",
			script:        fakeScript{Rcpt: "553 5.1.3 %s: mailbox name not allowed"},
			wantPermanent: true,
		},
		{
			name:          "permanent: 553 sender not verified at MAIL FROM",
			script:        fakeScript{Mail: "553 5.7.1 %s: Sender address rejected: not verified"},
			wantPermanent: true,
		},
		{
			name:          "permanent: 554 message rejected after DATA",
			script:        fakeScript{DataEnd: "554 5.7.1 Message rejected as spam"},
			wantPermanent: true,
		},
		{
			name:          "transient: 451 greylisted at RCPT TO",
			script:        fakeScript{Rcpt: "451 4.7.1 %s: Recipient address rejected: greylisted, try again later"},
			wantPermanent: false,
		},
		{
			name:          "transient: 452 insufficient storage after DATA",
			script:        fakeScript{DataEnd: "452 4.3.1 Insufficient system storage"},
			wantPermanent: false,
		},
		{
			name:          "transient: 421 service not available at greeting",
			script:        fakeScript{Greeting: "421 4.3.2 Service not available"},
			wantPermanent: false,
		},
		{
			name:          "transient: 554 at greeting is about the server, not the message",
			script:        fakeScript{Greeting: "554 5.3.2 No SMTP service here"},
			wantPermanent: false,
		},
		{
			name:          "transient: mandatory STARTTLS not offered, nothing sent",
			script:        fakeScript{},
			security:      SecurityStartTLS,
			wantPermanent: false,
			wantNotAsked:  "MAIL",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeServer(t, tt.script)
			security := tt.security
			if security == "" {
				security = SecurityNone
			}
			s := newSender(t, Config{Host: f.Host, Port: f.Port, Security: security, From: testFrom, Timeout: 5 * time.Second})
			to := uniqueAddress(t)
			err := s.Send(context.Background(), notify.Email{MessageID: "m1", To: to, Subject: "Aihe", Text: "Teksti", HTML: "<p>Teksti</p>"})
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if got, want := notify.IsPermanent(err), tt.wantPermanent; got != want {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, want)
			}
			if strings.Contains(err.Error(), to) || strings.Contains(err.Error(), "@example.test") {
				t.Errorf("error %q contains the recipient address", err)
			}
			if tt.wantNotAsked != "" && f.saw(tt.wantNotAsked) {
				t.Errorf("client sent %s; commands: %q", tt.wantNotAsked, f.Commands())
			}
		})
	}
}

func TestSendConnectionRefusedIsTransient(t *testing.T) {
	port := testenv.FreePort(t) // free, so nothing listens there
	s := newSender(t, Config{Host: "127.0.0.1", Port: port, Security: SecurityNone, From: testFrom, Timeout: 5 * time.Second})
	err := s.Send(context.Background(), notify.Email{MessageID: "m1", To: uniqueAddress(t), Subject: "Aihe", Text: "Teksti"})
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	if got, want := notify.IsPermanent(err), false; got != want {
		t.Errorf("IsPermanent(%v) = %t, want %t", err, got, want)
	}
}

func TestSendRefusesUnsendableEmailsPermanently(t *testing.T) {
	// Nothing listens here: these must fail before any connection.
	s := newSender(t, Config{Host: "127.0.0.1", Port: testenv.FreePort(t), Security: SecurityNone, From: testFrom})
	ok := notify.Email{MessageID: "m1", To: "someone@example.test", Subject: "Aihe", Text: "Teksti", HTML: "<p>Teksti</p>"}
	for _, tt := range notifytest.Unsendable() {
		t.Run(tt.Name, func(t *testing.T) {
			e := ok
			tt.Change(&e)
			err := s.Send(context.Background(), e)
			if got, want := notify.IsPermanent(err), true; got != want {
				t.Fatalf("IsPermanent(%v) = %t, want %t", err, got, want)
			}
			if strings.Contains(err.Error(), "example.test") || strings.Contains(err.Error(), "not an address") {
				t.Errorf("error %q contains the recipient address", err)
			}
		})
	}
}

func TestSendHonoursDeadlines(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
		want    error
	}{
		{
			name:    "transient: per-send timeout against a silent server",
			timeout: 300 * time.Millisecond,
			ctx:     func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			want:    context.DeadlineExceeded,
		},
		{
			name:    "transient: caller cancels while the server is silent",
			timeout: time.Minute,
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(200*time.Millisecond, cancel)
				return ctx, cancel
			},
			want: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeServer(t, fakeScript{Silent: true})
			s := newSender(t, Config{Host: f.Host, Port: f.Port, Security: SecurityNone, From: testFrom, Timeout: tt.timeout})
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			err := s.Send(ctx, notify.Email{MessageID: "m1", To: uniqueAddress(t), Subject: "Aihe", Text: "Teksti"})
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Send took %s", elapsed)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Send error = %v, want %v", err, tt.want)
			}
			if got, want := notify.IsPermanent(err), false; got != want {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, want)
			}
		})
	}
}

func TestSendAcceptedMessageIsNotRetried(t *testing.T) {
	// The server accepts the message and then drops the connection instead
	// of answering RSET or QUIT; reporting an error would make the caller
	// send the same email again.
	f := startFakeServer(t, fakeScript{DropAfterData: true})
	s := newSender(t, Config{Host: f.Host, Port: f.Port, Security: SecurityNone, From: testFrom, Timeout: 5 * time.Second})
	if err := s.Send(context.Background(), notify.Email{MessageID: "m1", To: uniqueAddress(t), Subject: "Aihe", Text: "Teksti"}); err != nil {
		t.Fatalf("Send after the server accepted the message = %v, want nil", err)
	}
}

func TestSendAuthentication(t *testing.T) {
	tests := []struct {
		name      string
		script    fakeScript
		wantErr   bool
		wantSent  string // a command the fake must have seen
		wantNoCmd string // a command the fake must not have seen
	}{
		{
			name:     "authenticates with PLAIN when offered",
			script:   fakeScript{Extensions: []string{"AUTH CRAM-MD5 LOGIN PLAIN"}},
			wantSent: "AUTH PLAIN",
		},
		{
			name:     "authenticates with LOGIN when PLAIN is not offered",
			script:   fakeScript{Extensions: []string{"AUTH LOGIN"}},
			wantSent: "AUTH LOGIN",
		},
		{
			name:      "refused: neither PLAIN nor LOGIN offered",
			script:    fakeScript{Extensions: []string{"AUTH CRAM-MD5"}},
			wantErr:   true,
			wantNoCmd: "MAIL",
		},
		{
			name:      "refused: no AUTH offered",
			wantErr:   true,
			wantNoCmd: "MAIL",
		},
		{
			name:      "transient: 535 wrong credentials, fixable by configuration",
			script:    fakeScript{Extensions: []string{"AUTH PLAIN"}, Auth: "535 5.7.8 Authentication credentials invalid"},
			wantErr:   true,
			wantNoCmd: "MAIL",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeServer(t, tt.script)
			// Plaintext credentials are allowed here only because the fake
			// listens on 127.0.0.1.
			s := newSender(t, Config{
				Host: f.Host, Port: f.Port, Security: SecurityNone, From: testFrom,
				Username: "mailer", Password: "s3cret", Timeout: 5 * time.Second,
			})
			err := s.Send(context.Background(), notify.Email{MessageID: "m1", To: uniqueAddress(t), Subject: "Aihe", Text: "Teksti"})
			switch {
			case tt.wantErr && err == nil:
				t.Fatal("Send succeeded")
			case tt.wantErr:
				if got, want := notify.IsPermanent(err), false; got != want {
					t.Errorf("IsPermanent(%v) = %t, want %t", err, got, want)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q contains the password", err)
				}
			case err != nil:
				t.Fatalf("Send: %v", err)
			}
			if tt.wantSent != "" && !f.saw(tt.wantSent) {
				t.Errorf("client did not send %s; commands: %q", tt.wantSent, f.Commands())
			}
			if tt.wantNoCmd != "" && f.saw(tt.wantNoCmd) {
				t.Errorf("client sent %s; commands: %q", tt.wantNoCmd, f.Commands())
			}
		})
	}
}

func TestSanitizeMessageID(t *testing.T) {
	tests := []struct {
		name, id, want string
	}{
		{"uuid kept", "3f2b8c1e-7d4a-4e0b-9a53-1c2d3e4f5a6b", "3f2b8c1e-7d4a-4e0b-9a53-1c2d3e4f5a6b"},
		{"line break and header removed to plain characters", "a\r\nBcc: x@y", "aBccxy"},
		{"angle brackets cannot close the id", "a>b<c", "abc"},
		{"non-ASCII dropped", "ääkkönen-1", "kknen-1"},
		{"leading and trailing dots trimmed", "..id..", "id"},
		{"empty stays empty", "", ""},
		{"long id capped", strings.Repeat("x", 300), strings.Repeat("x", 128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := sanitizeMessageID(tt.id), tt.want; got != want {
				t.Errorf("sanitizeMessageID(%q) = %q, want %q", tt.id, got, want)
			}
		})
	}
}
