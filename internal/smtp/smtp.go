// Package smtp delivers notification emails over SMTP. It implements
// notify.Sender on top of github.com/wneessen/go-mail and decides which
// failures are permanent (the server refused this message or recipient) and
// which are worth retrying (everything else).
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	mail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// Security is how the connection to the SMTP server is protected.
type Security string

// The security modes.
const (
	// SecurityNone sends in plaintext. It is meant for a local catcher such
	// as MailDev; New refuses credentials with it unless the host is
	// localhost.
	SecurityNone Security = "none"
	// SecurityStartTLS requires the server to offer STARTTLS and upgrades
	// before anything else is sent (usually port 587).
	SecurityStartTLS Security = "starttls"
	// SecurityTLS connects with TLS from the start (usually port 465).
	SecurityTLS Security = "tls"
)

// DefaultTimeout bounds one Send when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Config configures a Sender.
type Config struct {
	Host string
	// Port defaults to 25 for SecurityNone, 587 for SecurityStartTLS and
	// 465 for SecurityTLS.
	Port int
	// Username and Password are optional; when set, the Sender
	// authenticates with PLAIN or LOGIN, and only over TLS (or to localhost).
	Username, Password string
	// Security defaults to SecurityStartTLS, so that plaintext is always a
	// deliberate choice.
	Security Security
	// From is the sender, e.g. "Palvelumanuaali <no-reply@palvelumanuaali.fi>".
	From string
	// Timeout bounds one Send, connecting included; zero means DefaultTimeout.
	Timeout time.Duration
}

// String formats c for logs with the password redacted.
func (c Config) String() string {
	password := ""
	if c.Password != "" {
		password = "[redacted]"
	}
	return fmt.Sprintf("{Host:%s Port:%d Security:%s Username:%s Password:%s From:%s Timeout:%s}",
		c.Host, c.Port, c.Security, c.Username, password, c.From, c.Timeout)
}

// Sender sends notification emails through one SMTP server, dialling a new
// connection for each email. It is safe for concurrent use.
type Sender struct {
	host     string
	port     int
	security Security
	// auth makes the authenticator for one send, nil without credentials.
	// The credentials live in its closure, which fmt cannot print.
	auth          func() gosmtp.Auth
	from          *netmail.Address
	messageDomain string
	timeout       time.Duration
}

// New validates cfg and returns a Sender. It returns an error naming the
// offending field when Host is missing or malformed, Port is out of range,
// Security is unknown, only one of Username and Password is set,
// credentials would travel in plaintext to a host other than localhost,
// From is not an email address, or Timeout is negative.
func New(cfg Config) (*Sender, error) {
	s := &Sender{
		host:     strings.TrimSpace(cfg.Host),
		port:     cfg.Port,
		security: cfg.Security,
		timeout:  cfg.Timeout,
	}
	if s.host == "" {
		return nil, errors.New("smtp: Host is required")
	}
	if net.ParseIP(s.host) == nil && (strings.ContainsAny(s.host, ":/@ ") || notify.BreaksLine(s.host)) {
		return nil, errors.New("smtp: Host must be a host name or IP address, without a scheme or port")
	}
	switch s.security {
	case "":
		s.security = SecurityStartTLS
	case SecurityNone, SecurityStartTLS, SecurityTLS:
	default:
		return nil, fmt.Errorf("smtp: Security %q is not one of none, starttls, tls", s.security)
	}
	if s.port == 0 {
		switch s.security {
		case SecurityNone:
			s.port = mail.DefaultPort
		case SecurityTLS:
			s.port = mail.DefaultPortSSL
		default:
			s.port = mail.DefaultPortTLS
		}
	}
	if s.port < 1 || s.port > 65535 {
		return nil, fmt.Errorf("smtp: Port %d is out of range", s.port)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("smtp: Username and Password must be set together")
	}
	if cfg.Username != "" {
		if s.security == SecurityNone && !isLocalhost(s.host) {
			return nil, errors.New("smtp: Username and Password need Security starttls or tls: credentials are not sent in plaintext except to localhost")
		}
		user, pass, host := cfg.Username, cfg.Password, s.host
		s.auth = func() gosmtp.Auth { return &plainOrLogin{user: user, pass: pass, host: host} }
	}
	from, err := notify.ParseAddress(cfg.From)
	if err != nil {
		return nil, errors.New("smtp: From is not a valid email address")
	}
	s.from = from
	s.messageDomain = messageIDDomain(from.Address)
	if s.timeout < 0 {
		return nil, fmt.Errorf("smtp: Timeout %s is negative", s.timeout)
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	return s, nil
}

// isLocalhost matches the names go-mail's PLAIN and LOGIN accept without
// TLS, so New refuses exactly what the library would refuse later.
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Send delivers e and returns nil once the server has accepted it. It
// returns an error wrapping notify.ErrPermanent when e cannot be sent as it
// is (a control character in To or Subject, an invalid recipient address,
// an empty body) or when the server refuses the sender, the recipient or the
// message with a 5xx reply. Every other failure (connection refused,
// timeouts, 4xx replies, TLS or authentication trouble, a cancelled ctx) is
// returned as a plain, retryable error; a cancelled or expired ctx is
// wrapped in it. Error messages never contain the recipient address.
func (s *Sender) Send(ctx context.Context, e notify.Email) error {
	msg, err := s.message(e)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	dialer := &ctxDialer{
		ctx:         ctx,
		addr:        net.JoinHostPort(s.host, strconv.Itoa(s.port)),
		implicitTLS: s.security == SecurityTLS,
		tlsConfig:   s.tlsConfig(),
	}
	defer dialer.stop()

	client, err := mail.NewClient(s.host, s.clientOptions(dialer)...)
	if err != nil {
		return fmt.Errorf("smtp: client: %w", err)
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if msg.IsDelivered() {
		// The server took responsibility for the message. A failure after
		// that (RSET, QUIT) must not make the caller retry and send it twice.
		return nil
	}
	if err == nil {
		return errors.New("smtp: send finished without the server accepting the message")
	}
	return classify(ctx, err)
}

// message builds the MIME message for e, refusing what would change the
// headers or cannot reach anyone.
func (s *Sender) message(e notify.Email) (*mail.Msg, error) {
	to, err := e.Check()
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}

	// UTF-8 with quoted-printable is go-mail's default; it is spelled out
	// because ä, ö and å must survive any 7-bit relay on the way.
	m := mail.NewMsg(mail.WithCharset(mail.CharsetUTF8), mail.WithEncoding(mail.EncodingQP), mail.WithNoDefaultUserAgent())
	m.FromMailAddress(s.from)
	m.ToMailAddress(to)
	m.Subject(e.Subject)
	m.SetDate()
	if id := sanitizeMessageID(e.MessageID); id != "" {
		// A Message-ID that is the same on every retry lets mail systems
		// drop a duplicate if a retry follows a send that did get through.
		m.SetMessageIDWithValue(id + "@" + s.messageDomain)
	} else {
		m.SetMessageID()
	}
	// RFC 3834: tells auto-responders (out-of-office replies) to stay quiet.
	m.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	m.SetBodyString(mail.TypeTextPlain, e.Text)
	if strings.TrimSpace(e.HTML) != "" {
		m.AddAlternativeString(mail.TypeTextHTML, e.HTML)
	}
	return m, nil
}

func (s *Sender) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
}

func (s *Sender) clientOptions(d *ctxDialer) []mail.Option {
	opts := []mail.Option{
		mail.WithPort(s.port),
		// go-mail's timeout is per command; the send's context, which
		// closes the connection, is the one bound, so go-mail's must not
		// fire first and hide that the context expired.
		mail.WithTimeout(s.timeout + time.Second),
		mail.WithDialContextFunc(d.dial),
		mail.WithTLSConfig(s.tlsConfig()),
	}
	switch s.security {
	case SecurityNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case SecurityStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case SecurityTLS:
		// The dialer does the handshake; this only stops go-mail from
		// attempting STARTTLS inside the TLS connection.
		opts = append(opts, mail.WithSSL())
	}
	if s.auth != nil {
		opts = append(opts, mail.WithSMTPAuthCustom(s.auth()))
	}
	return opts
}

// ctxDialer opens the connection for one send and closes it when the
// send's context ends. go-mail honours a context only while dialling; after
// that it relies on per-command deadlines, so without this a cancelled
// consumer would wait for a slow server anyway.
type ctxDialer struct {
	ctx         context.Context
	addr        string // host:port, bracketed for IPv6, which go-mail does not do
	implicitTLS bool
	tlsConfig   *tls.Config

	mu    sync.Mutex
	stops []func() bool
}

func (d *ctxDialer) dial(dialCtx context.Context, network, _ string) (net.Conn, error) {
	nd := &net.Dialer{}
	var conn net.Conn
	var err error
	if d.implicitTLS {
		// The *tls.Conn is returned as is: go-mail's PLAIN and LOGIN check
		// for that type before sending credentials.
		conn, err = (&tls.Dialer{NetDialer: nd, Config: d.tlsConfig}).DialContext(dialCtx, network, d.addr)
	} else {
		conn, err = nd.DialContext(dialCtx, network, d.addr)
	}
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(d.ctx, func() { _ = conn.Close() })
	d.mu.Lock()
	d.stops = append(d.stops, stop)
	d.mu.Unlock()
	return conn, nil
}

func (d *ctxDialer) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, stop := range d.stops {
		stop()
	}
}

// plainOrLogin authenticates with PLAIN, or LOGIN when the server offers
// only that. It delegates to go-mail's implementations, which refuse to
// send credentials over a connection that is neither TLS nor to localhost.
type plainOrLogin struct {
	user, pass, host string
	chosen           gosmtp.Auth
}

var errNoPlainOrLogin = errors.New("server offers neither PLAIN nor LOGIN authentication")

func (a *plainOrLogin) Start(server *gosmtp.ServerInfo) (string, []byte, error) {
	switch {
	case slices.Contains(server.Auth, "PLAIN"):
		a.chosen = gosmtp.PlainAuth("", a.user, a.pass, a.host, false)
	case slices.Contains(server.Auth, "LOGIN"):
		a.chosen = gosmtp.LoginAuth(a.user, a.pass, a.host, false)
	default:
		return "", nil, errNoPlainOrLogin
	}
	return a.chosen.Start(server)
}

func (a *plainOrLogin) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.chosen.Next(fromServer, more)
}

// classify turns a go-mail error into the error Send returns. Replies to
// the mail transaction (MAIL FROM, RCPT TO, DATA) come as *mail.SendError
// with the reply code: a 5xx there is about this sender, recipient or
// message and is permanent. A reply during session set-up (greeting, EHLO,
// STARTTLS, AUTH) is about the server or this service's configuration, not
// the message, so it stays retryable even when it is a 5xx: once the
// configuration is fixed, the queued emails should still go out.
//
// go-mail's own error texts list the recipients, so they are never passed
// on; the returned message is built from the reason and the codes only.
func classify(ctx context.Context, err error) error {
	ctxErr := context.Cause(ctx)
	if ctx.Err() == nil {
		ctxErr = nil
	}

	var sendErr *mail.SendError
	if errors.As(err, &sendErr) {
		code := sendErr.ErrorCode()
		detail := sendErr.Reason.String()
		if code != 0 {
			detail += fmt.Sprintf(": server replied %d", code)
			if esc := sendErr.EnhancedStatusCode(); esc != "" {
				detail += " " + esc
			}
		}
		if code >= 500 && code <= 599 {
			return fmt.Errorf("smtp: %s: %w", detail, notify.ErrPermanent)
		}
		if ctxErr != nil {
			return fmt.Errorf("smtp: %s: %w", detail, ctxErr)
		}
		return fmt.Errorf("smtp: %s", detail)
	}

	if ctxErr != nil {
		return fmt.Errorf("smtp: send interrupted: %w", ctxErr)
	}
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return fmt.Errorf("smtp: session set-up: server replied %d", reply.Code)
	}
	// Dialling, TLS and authentication errors do not contain the
	// recipient, and keeping them wrapped lets callers see net errors.
	return fmt.Errorf("smtp: %w", err)
}

// sanitizeMessageID keeps the characters that are safe on the left of a
// Message-ID, so that an id can never end the header or the angle brackets.
func sanitizeMessageID(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r < 0x80 && (r == '-' || r == '.' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
		if b.Len() == 128 {
			break
		}
	}
	return strings.Trim(b.String(), ".")
}

// messageIDDomain takes the right-hand side of Message-IDs from the From
// domain, so that ids are unique to this service's mail domain.
func messageIDDomain(from string) string {
	_, domain, _ := strings.Cut(from, "@")
	var b strings.Builder
	for _, r := range strings.ToLower(domain) {
		if r < 0x80 && (r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	if d := strings.Trim(b.String(), ".-"); d != "" {
		return d
	}
	return "palvelumanuaali"
}
