package ses

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/notify/notifytest"
)

const (
	testRegion    = "eu-north-1"
	testFrom      = "Palvelumanuaali <no-reply@palvelumanuaali.fi>"
	testAccessKey = "AKIDSESADAPTERTEST"
	testSecretKey = "s3cr3t/never+in+errors/0123456789abcdef"
	testTo        = "matti.meikalainen@example.test"
)

// testOptions give the client static credentials, so no test reaches for
// the default chain, and a 1 ms retry backoff, so retries are quick.
func testOptions() []func(*sesv2.Options) {
	return []func(*sesv2.Options){
		func(o *sesv2.Options) {
			o.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""))
		},
		func(o *sesv2.Options) {
			o.Retryer = retry.AddWithMaxBackoffDelay(o.Retryer, time.Millisecond)
		},
	}
}

func newTestSender(t testing.TB, cfg Config, opts ...func(*sesv2.Options)) *Sender {
	t.Helper()
	if cfg.Region == "" {
		cfg.Region = testRegion
	}
	if cfg.From == "" {
		cfg.From = testFrom
	}
	s, err := New(context.Background(), cfg, append(testOptions(), opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func testEmail() notify.Email {
	return notify.Email{
		MessageID: "01JB8Z6Q7X3K9M2N4P5R6S7T8V",
		To:        testTo,
		Subject:   "Tervetuloa Palvelumanuaaliin – käyttäjätunnuksesi on luotu (å, Ä, Ö)",
		Text:      "Hei Matti,\n\nsinut on kutsuttu. Hyvää päivänjatkoa! Åsa och Örjan hälsar.",
		HTML:      "<p>Hei Matti,</p><p>sinut on kutsuttu. Hyvää päivänjatkoa! Åsa och Örjan hälsar.</p>",
	}
}

// checkSafeError fails the test if err's text contains the recipient
// address or the secret key.
func checkSafeError(t *testing.T, err error) {
	t.Helper()
	for _, secret := range []string{testTo, "example.test", testSecretKey} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains %q", err, secret)
		}
	}
}

func TestSendDeliversThroughSES(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		email func(*notify.Email)
		want  wireRequest
	}{
		{
			name: "delivered: subject, text and HTML in UTF-8 with the notification tag",
			want: wireRequest{
				FromEmailAddress: `"Palvelumanuaali" <no-reply@palvelumanuaali.fi>`,
				Destination:      wireDest{ToAddresses: []string{testTo}},
				Content: wireContent{Simple: wireMessage{
					Subject: wireText{Data: testEmail().Subject, Charset: "UTF-8"},
					Body: wireBody{
						Text: &wireText{Data: testEmail().Text, Charset: "UTF-8"},
						Html: &wireText{Data: testEmail().HTML, Charset: "UTF-8"},
					},
					Headers: []wirePair{{Name: "Auto-Submitted", Value: "auto-generated"}},
				}},
				EmailTags: []wirePair{{Name: "notification_id", Value: "01JB8Z6Q7X3K9M2N4P5R6S7T8V"}},
			},
		},
		{
			name: "delivered: configuration set, text only, id sanitised for a tag",
			cfg:  Config{ConfigurationSet: "palvelumanuaali-notifications"},
			email: func(e *notify.Email) {
				e.HTML = "  "
				e.MessageID = "msg.42:ä/b_c-d"
			},
			want: wireRequest{
				FromEmailAddress:     `"Palvelumanuaali" <no-reply@palvelumanuaali.fi>`,
				ConfigurationSetName: "palvelumanuaali-notifications",
				Destination:          wireDest{ToAddresses: []string{testTo}},
				Content: wireContent{Simple: wireMessage{
					Subject: wireText{Data: testEmail().Subject, Charset: "UTF-8"},
					Body:    wireBody{Text: &wireText{Data: testEmail().Text, Charset: "UTF-8"}},
					Headers: []wirePair{{Name: "Auto-Submitted", Value: "auto-generated"}},
				}},
				EmailTags: []wirePair{{Name: "notification_id", Value: "msg42b_c-d"}},
			},
		},
		{
			name: "delivered: display name in To is reduced to the address, no tag without an id",
			email: func(e *notify.Email) {
				e.To = "Matti Meikäläinen <" + testTo + ">"
				e.MessageID = ""
			},
			want: wireRequest{
				FromEmailAddress: `"Palvelumanuaali" <no-reply@palvelumanuaali.fi>`,
				Destination:      wireDest{ToAddresses: []string{testTo}},
				Content: wireContent{Simple: wireMessage{
					Subject: wireText{Data: testEmail().Subject, Charset: "UTF-8"},
					Body: wireBody{
						Text: &wireText{Data: testEmail().Text, Charset: "UTF-8"},
						Html: &wireText{Data: testEmail().HTML, Charset: "UTF-8"},
					},
					Headers: []wirePair{{Name: "Auto-Submitted", Value: "auto-generated"}},
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeSES(t, accept)
			cfg := tt.cfg
			cfg.Endpoint = f.URL
			s := newTestSender(t, cfg)
			e := testEmail()
			if tt.email != nil {
				tt.email(&e)
			}
			if err := s.Send(context.Background(), e); err != nil {
				t.Fatalf("Send: %v", err)
			}

			reqs := f.Requests()
			if got, want := len(reqs), 1; got != want {
				t.Fatalf("server received %d requests, want %d", got, want)
			}
			req := reqs[0]
			if got, want := req.Method+" "+req.Path, "POST /v2/email/outbound-emails"; got != want {
				t.Errorf("request = %q, want %q", got, want)
			}
			if got, want := req.Header.Get("Content-Type"), "application/json"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			auth := req.Header.Get("Authorization")
			if want := "AWS4-HMAC-SHA256 Credential=" + testAccessKey + "/"; !strings.HasPrefix(auth, want) {
				t.Errorf("Authorization = %q, want prefix %q", auth, want)
			}
			if want := "/" + testRegion + "/ses/aws4_request,"; !strings.Contains(auth, want) {
				t.Errorf("Authorization = %q, want credential scope %q", auth, want)
			}
			if !strings.Contains(auth, "Signature=") || req.Header.Get("X-Amz-Date") == "" {
				t.Errorf("request is not SigV4-signed: Authorization %q, X-Amz-Date %q", auth, req.Header.Get("X-Amz-Date"))
			}
			for name, values := range req.Header {
				if strings.Contains(strings.Join(values, " "), testSecretKey) {
					t.Errorf("header %s carries the secret key", name)
				}
			}

			var got wireRequest
			if err := decodeStrict(req.Body, &got); err != nil {
				t.Fatalf("decode request body %s: %v", req.Body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request body mismatch (-want +got):\n%s", diff)
			}
			// ä, ö and å travel as UTF-8, not as escapes that a
			// mis-declared charset could garble.
			if !strings.Contains(string(req.Body), "käyttäjätunnuksesi") || !strings.Contains(string(req.Body), "Åsa och Örjan") {
				t.Errorf("request body does not carry ä, ö, å as UTF-8: %s", req.Body)
			}
		})
	}
}

func TestSendClassifiesFailures(t *testing.T) {
	tests := []struct {
		name          string
		reply         reply
		wantPermanent bool
		wantAttempts  int
		wantInError   string
	}{
		{
			name:          "permanent: MessageRejected",
			reply:         apiError(400, "MessageRejected", "Email address is on the suppression list: %s"),
			wantPermanent: true,
			wantAttempts:  1,
			wantInError:   "MessageRejected (HTTP 400)",
		},
		{
			name:          "permanent: MailFromDomainNotVerifiedException",
			reply:         apiError(400, "MailFromDomainNotVerifiedException", "MAIL FROM domain not verified for mail to %s"),
			wantPermanent: true,
			wantAttempts:  1,
			wantInError:   "MailFromDomainNotVerifiedException (HTTP 400)",
		},
		{
			name:          "permanent: BadRequestException",
			reply:         apiError(400, "BadRequestException", "Illegal address: %s"),
			wantPermanent: true,
			wantAttempts:  1,
			wantInError:   "BadRequestException",
		},
		{
			name:          "permanent: NotFoundException",
			reply:         apiError(404, "NotFoundException", "Configuration set does not exist"),
			wantPermanent: true,
			wantAttempts:  1,
			wantInError:   "NotFoundException (HTTP 404)",
		},
		{
			name:          "permanent: a 4xx code outside SES's model",
			reply:         apiError(400, "InvalidParameterValue", "Missing final '@domain' in %s"),
			wantPermanent: true,
			wantAttempts:  1,
			wantInError:   "InvalidParameterValue (HTTP 400)",
		},
		{
			name:          "transient: TooManyRequestsException is retried by the SDK",
			reply:         apiError(429, "TooManyRequestsException", "Maximum sending rate exceeded for %s"),
			wantPermanent: false,
			wantAttempts:  3,
			wantInError:   "TooManyRequestsException (HTTP 429)",
		},
		{
			name:          "transient: TooManyRequestsException named only in the body",
			reply:         bodyTypedError(429, "TooManyRequestsException", "Maximum sending rate exceeded for %s"),
			wantPermanent: false,
			wantAttempts:  3,
			wantInError:   "TooManyRequestsException (HTTP 429)",
		},
		{
			name:          "transient: LimitExceededException is retried by the SDK",
			reply:         apiError(400, "LimitExceededException", "Daily message quota exceeded"),
			wantPermanent: false,
			wantAttempts:  3,
			wantInError:   "LimitExceededException (HTTP 400)",
		},
		{
			name:          "transient: SendingPausedException waits for an operator",
			reply:         apiError(400, "SendingPausedException", "Sending is paused for this account"),
			wantPermanent: false,
			wantAttempts:  1,
			wantInError:   "SendingPausedException",
		},
		{
			name:          "transient: AccountSuspendedException waits for an operator",
			reply:         apiError(400, "AccountSuspendedException", "Account suspended"),
			wantPermanent: false,
			wantAttempts:  1,
			wantInError:   "AccountSuspendedException",
		},
		{
			name:          "transient: AccessDeniedException is about this service's permissions",
			reply:         apiError(403, "AccessDeniedException", "User is not authorized to perform ses:SendEmail on identity for %s"),
			wantPermanent: false,
			wantAttempts:  1,
			wantInError:   "AccessDeniedException (HTTP 403)",
		},
		{
			name:          "transient: ExpiredTokenException is about this service's credentials",
			reply:         apiError(400, "ExpiredTokenException", "The security token included in the request is expired"),
			wantPermanent: false,
			wantAttempts:  1,
			wantInError:   "ExpiredTokenException",
		},
		{
			name:          "transient: InternalServiceErrorException is retried by the SDK",
			reply:         apiError(500, "InternalServiceErrorException", "Internal error while sending to %s"),
			wantPermanent: false,
			wantAttempts:  3,
			wantInError:   "HTTP 500",
		},
		{
			name:          "transient: 500 without an error type, at most 3 attempts",
			reply:         bareStatus(500),
			wantPermanent: false,
			wantAttempts:  3,
			wantInError:   "HTTP 500",
		},
		{
			name:          "transient: 503 without an error type, at most 3 attempts",
			reply:         bareStatus(503),
			wantPermanent: false,
			wantAttempts:  3,
			wantInError:   "HTTP 503",
		},
		{
			name:          "transient: 502 HTML page from a proxy that echoes the recipient",
			reply:         htmlStatus(502),
			wantPermanent: false,
			wantAttempts:  3,
			wantInError:   "HTTP 502",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeSES(t, tt.reply)
			s := newTestSender(t, Config{Endpoint: f.URL, Timeout: 10 * time.Second})
			err := s.Send(context.Background(), testEmail())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			t.Logf("Send error: %v", err)
			if got, want := notify.IsPermanent(err), tt.wantPermanent; got != want {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, want)
			}
			if got, want := len(f.Requests()), tt.wantAttempts; got != want {
				t.Errorf("server received %d requests, want %d", got, want)
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Errorf("error %q does not mention %q", err, tt.wantInError)
			}
			checkSafeError(t, err)
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
			name:    "transient: per-send timeout against a hanging server",
			timeout: 300 * time.Millisecond,
			ctx:     func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			want:    context.DeadlineExceeded,
		},
		{
			name:    "transient: caller cancels while the server hangs",
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
			release := make(chan struct{})
			f := startFakeSES(t, func(w http.ResponseWriter, r *http.Request, _ wireRequest) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			// Runs before the server's Close, which waits for handlers.
			t.Cleanup(func() { close(release) })
			s := newTestSender(t, Config{Endpoint: f.URL, Timeout: tt.timeout})
			ctx, cancel := tt.ctx()
			defer cancel()

			start := time.Now()
			err := s.Send(ctx, testEmail())
			t.Logf("Send error: %v", err)
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Send took %s", elapsed)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Send error = %v, want %v", err, tt.want)
			}
			if got, want := notify.IsPermanent(err), false; got != want {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, want)
			}
			if got, want := len(f.Requests()), 1; got != want {
				t.Errorf("server received %d requests, want %d: no retry after the deadline", got, want)
			}
			checkSafeError(t, err)
		})
	}
}

func TestSendTimeoutCutsRetryBackoffShort(t *testing.T) {
	f := startFakeSES(t, bareStatus(503))
	s := newTestSender(t, Config{Endpoint: f.URL, Timeout: 300 * time.Millisecond}, func(o *sesv2.Options) {
		o.Retryer = fixedDelay{RetryerV2: o.Retryer.(aws.RetryerV2), delay: time.Minute}
	})
	start := time.Now()
	err := s.Send(context.Background(), testEmail())
	t.Logf("Send error: %v", err)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Send took %s", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send error = %v, want %v", err, context.DeadlineExceeded)
	}
	if got, want := notify.IsPermanent(err), false; got != want {
		t.Errorf("IsPermanent(%v) = %t, want %t", err, got, want)
	}
	if got, want := len(f.Requests()), 1; got != want {
		t.Errorf("server received %d requests, want %d", got, want)
	}
}

// fixedDelay waits the same time before every retry.
type fixedDelay struct {
	aws.RetryerV2
	delay time.Duration
}

func (r fixedDelay) RetryDelay(int, error) (time.Duration, error) { return r.delay, nil }

func TestSendUnreachableEndpointIsTransient(t *testing.T) {
	f := startFakeSES(t, accept)
	s := newTestSender(t, Config{Endpoint: f.URL, Timeout: 10 * time.Second})
	f.Close()

	err := s.Send(context.Background(), testEmail())
	if err == nil {
		t.Fatal("Send to a closed endpoint succeeded")
	}
	if got, want := notify.IsPermanent(err), false; got != want {
		t.Errorf("IsPermanent(%v) = %t, want %t", err, got, want)
	}
	checkSafeError(t, err)
}

func TestSendRefusesUnsendableEmailsPermanently(t *testing.T) {
	f := startFakeSES(t, accept)
	s := newTestSender(t, Config{Endpoint: f.URL})
	for _, tt := range notifytest.Unsendable() {
		t.Run(tt.Name, func(t *testing.T) {
			e := testEmail()
			tt.Change(&e)
			err := s.Send(context.Background(), e)
			if got, want := notify.IsPermanent(err), true; got != want {
				t.Fatalf("IsPermanent(%v) = %t, want %t", err, got, want)
			}
			checkSafeError(t, err)
			if strings.Contains(err.Error(), "not an address") {
				t.Errorf("error %q contains the recipient", err)
			}
		})
	}
	if got, want := len(f.Requests()), 0; got != want {
		t.Errorf("server received %d requests, want %d", got, want)
	}
}

func TestAllowedRegions(t *testing.T) {
	want := []string{"eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"}
	got := AllowedRegions()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AllowedRegions() mismatch (-want +got):\n%s", diff)
	}
	got[0] = "us-east-1"
	if diff := cmp.Diff(want, AllowedRegions()); diff != "" {
		t.Errorf("changing the returned slice changed AllowedRegions (-want +got):\n%s", diff)
	}
}

func TestNewRefusesRegionsOutsideTheEU(t *testing.T) {
	tests := []struct{ name, region string }{
		{"refused: us-east-1 (United States)", "us-east-1"},
		{"refused: eu-west-2 (London, United Kingdom)", "eu-west-2"},
		{"refused: eu-central-2 (Zurich, Switzerland)", "eu-central-2"},
		{"refused: il-central-1 (Tel Aviv)", "il-central-1"},
		{"refused: empty region", ""},
		{"refused: region in capitals", "EU-NORTH-1"},
		{"refused: region with a space", "eu-north-1 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(context.Background(), Config{Region: tt.region, From: testFrom}, testOptions()...)
			if !errors.Is(err, ErrRegionNotInEU) {
				t.Fatalf("New(%q) = %v, %v; want ErrRegionNotInEU", tt.region, s, err)
			}
			if !strings.Contains(err.Error(), `"`+tt.region+`"`) {
				t.Errorf("error %q does not name the region %q", err, tt.region)
			}
			for _, allowed := range AllowedRegions() {
				if !strings.Contains(err.Error(), allowed) {
					t.Errorf("error %q does not list the allowed region %s", err, allowed)
				}
			}
		})
	}
}

func TestNewAcceptsEveryEURegionWithoutNetworkCalls(t *testing.T) {
	for _, region := range AllowedRegions() {
		t.Run("accepted: "+region, func(t *testing.T) {
			var calls atomic.Int32
			countCalls := func(o *sesv2.Options) {
				o.HTTPClient = httpClientFunc(func(*http.Request) (*http.Response, error) {
					calls.Add(1)
					return nil, errors.New("no network in New")
				})
			}
			// A cancelled context: New must not need one that works.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			// No opts at all: the default credential chain, unresolved.
			if _, err := New(ctx, Config{Region: region, From: testFrom}); err != nil {
				t.Fatalf("New(%s) with the default chain: %v", region, err)
			}
			s, err := New(ctx, Config{Region: region, From: testFrom}, countCalls)
			if err != nil {
				t.Fatalf("New(%s): %v", region, err)
			}
			if got, want := calls.Load(), int32(0); got != want {
				t.Errorf("New made %d HTTP calls, want %d", got, want)
			}
			if got, want := s.client.Options().Region, region; got != want {
				t.Errorf("client region = %q, want %q", got, want)
			}
			if got := s.client.Options().BaseEndpoint; got != nil {
				t.Errorf("client BaseEndpoint = %q, want none in production", *got)
			}
		})
	}
}

type httpClientFunc func(*http.Request) (*http.Response, error)

func (f httpClientFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"refused: From is not an address", Config{From: "Palvelumanuaali"}, "From"},
		{"refused: From with CR LF", Config{From: "no-reply@palvelumanuaali.fi\r\nBcc: x@example.test"}, "From"},
		{"refused: ConfigurationSet with a dot", Config{ConfigurationSet: "notifications.prod"}, "ConfigurationSet"},
		{"refused: ConfigurationSet too long", Config{ConfigurationSet: strings.Repeat("a", 65)}, "ConfigurationSet"},
		{"refused: Endpoint over http to a remote host", Config{Endpoint: "http://email.eu-north-1.amazonaws.com"}, "https"},
		{"refused: Endpoint not absolute", Config{Endpoint: "localhost:4566"}, "Endpoint"},
		{"refused: Endpoint with user information", Config{Endpoint: "https://user:pass@example.test"}, "Endpoint"},
		{"refused: Endpoint with a query", Config{Endpoint: "https://example.test/?a=b"}, "Endpoint"},
		{"refused: negative Timeout", Config{Timeout: -time.Second}, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Region = testRegion
			if cfg.From == "" {
				cfg.From = testFrom
			}
			_, err := New(context.Background(), cfg, testOptions()...)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "pass") {
				t.Errorf("error %q repeats the endpoint's user information", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	s := newTestSender(t, Config{})
	if got, want := s.timeout, DefaultTimeout; got != want {
		t.Errorf("timeout = %s, want %s", got, want)
	}
	if got, want := s.client.Options().Retryer.MaxAttempts(), 3; got != want {
		t.Errorf("max attempts = %d, want %d", got, want)
	}
	for _, endpoint := range []string{"http://127.0.0.1:4566", "http://localhost:4566", "http://[::1]:4566", "https://email.eu-north-1.amazonaws.com"} {
		if _, err := New(context.Background(), Config{Region: testRegion, From: testFrom, Endpoint: endpoint}, testOptions()...); err != nil {
			t.Errorf("New with Endpoint %s: %v", endpoint, err)
		}
	}
}

func TestOptionsCannotMoveOrStretchSends(t *testing.T) {
	f := startFakeSES(t, bareStatus(503))
	s := newTestSender(t, Config{Endpoint: f.URL, Timeout: 10 * time.Second}, func(o *sesv2.Options) {
		o.Region = "us-east-1"
		o.BaseEndpoint = aws.String("https://email.us-east-1.amazonaws.com")
		o.RetryMaxAttempts = 10
		o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 10)
	})
	if err := s.Send(context.Background(), testEmail()); err == nil {
		t.Fatal("Send succeeded against a failing server")
	}
	reqs := f.Requests()
	if got, want := len(reqs), 3; got != want {
		t.Errorf("server received %d requests, want %d", got, want)
	}
	for _, req := range reqs {
		if want := "/" + testRegion + "/ses/aws4_request"; !strings.Contains(req.Header.Get("Authorization"), want) {
			t.Errorf("Authorization = %q, want credential scope %q", req.Header.Get("Authorization"), want)
		}
	}
}

func TestEnvironmentCannotMoveOrStretchSends(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_DEFAULT_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", "https://email.us-east-1.amazonaws.com")
	t.Setenv("AWS_ENDPOINT_URL_SESV2", "https://email.us-east-1.amazonaws.com")
	t.Setenv("AWS_MAX_ATTEMPTS", "10")
	t.Setenv("AWS_RETRY_MODE", "adaptive")

	prod := newTestSender(t, Config{})
	if got, want := prod.client.Options().Region, testRegion; got != want {
		t.Errorf("client region = %q, want %q", got, want)
	}
	if got := prod.client.Options().BaseEndpoint; got != nil {
		t.Errorf("client BaseEndpoint = %q, want none: the environment must not move the endpoint", *got)
	}

	f := startFakeSES(t, bareStatus(500))
	s := newTestSender(t, Config{Endpoint: f.URL, Timeout: 10 * time.Second})
	if err := s.Send(context.Background(), testEmail()); err == nil {
		t.Fatal("Send succeeded against a failing server")
	}
	reqs := f.Requests()
	if got, want := len(reqs), 3; got != want {
		t.Errorf("server received %d requests, want %d", got, want)
	}
	for _, req := range reqs {
		if want := "/" + testRegion + "/ses/aws4_request"; !strings.Contains(req.Header.Get("Authorization"), want) {
			t.Errorf("Authorization = %q, want credential scope %q", req.Header.Get("Authorization"), want)
		}
	}
}

func TestTagValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"01JB8Z6Q7X3K9M2N4P5R6S7T8V", "01JB8Z6Q7X3K9M2N4P5R6S7T8V"},
		{"3f2b6c1e-8d4a-4b7e-9c1d-2a3b4c5d6e7f", "3f2b6c1e-8d4a-4b7e-9c1d-2a3b4c5d6e7f"},
		{"a.b:c/d e_f", "abcde_f"},
		{"äöå", ""},
		{"", ""},
		{strings.Repeat("x", 300), strings.Repeat("x", 256)},
	}
	for _, tt := range tests {
		if got := tagValue(tt.in); got != tt.want {
			t.Errorf("tagValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkSendAgainstLocalEndpoint(b *testing.B) {
	f := startFakeSES(b, accept)
	f.noRecord = true
	s := newTestSender(b, Config{Endpoint: f.URL})
	e := testEmail()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(ctx, e); err != nil {
			b.Fatalf("Send: %v", err)
		}
	}
}
