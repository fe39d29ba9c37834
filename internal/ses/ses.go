// Package ses delivers notification emails through Amazon Simple Email
// Service (API v2). It implements notify.Sender on top of the AWS SDK for Go
// v2 and decides which failures are permanent (SES refused this message or
// its sender) and which are worth retrying (everything else).
//
// # Data residency (P12)
//
// Principle P12 keeps personal data in the EU/EEA. An email carries a
// recipient address, a first name and a link, so the SES endpoint that
// receives it must be in the EU/EEA: New accepts only the regions that
// AllowedRegions lists and refuses every other one with ErrRegionNotInEU.
// Two European AWS regions are refused on purpose: eu-west-2 (London) is in
// the United Kingdom and eu-central-2 (Zurich) is in Switzerland, neither of
// which is in the EU or the EEA.
//
// The region and the endpoint come only from Config. The shared AWS
// configuration and the environment (AWS_REGION, AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_SESV2, an endpoint_url in a profile) cannot move the
// traffic elsewhere, and neither can the options passed to New.
//
// # Credentials
//
// New uses the default AWS credential chain (environment, shared files, web
// identity, container or instance roles). Credentials are resolved on the
// first Send, never in New, and never appear in errors.
//
// # Retries and duplicates
//
// The SDK's standard retryer stays on, capped at three attempts per Send so
// that one Send stays well inside Config.Timeout and the function's own time
// limit; everything beyond that is the queue's job. SES v2 SendEmail has no
// idempotency token, so a retry after a reply that was lost on the way back
// can send an email twice. Duplicates are prevented upstream: the consumer
// claims a notification by its id before sending, and the id travels to SES
// as the notification_id email tag so that events can be matched to it.
package ses

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// DefaultTimeout bounds one Send, retries included, when Config.Timeout is
// zero.
const DefaultTimeout = 15 * time.Second

// maxAttempts caps the SDK's attempts per Send.
const maxAttempts = 3

// charset is the character set declared for the subject and both bodies, so
// that ä, ö and å arrive intact.
const charset = "UTF-8"

// tagNotificationID names the email tag that carries notify.Email.MessageID.
const tagNotificationID = "notification_id"

// ErrRegionNotInEU is returned by New for a region outside the EU/EEA.
var ErrRegionNotInEU = errors.New("region is not in the EU/EEA")

// allowedRegions are the SES regions inside the EU/EEA, in name order.
var allowedRegions = []string{
	"eu-central-1", // Frankfurt, Germany
	"eu-north-1",   // Stockholm, Sweden
	"eu-south-1",   // Milan, Italy
	"eu-south-2",   // Aragón, Spain
	"eu-west-1",    // Dublin, Ireland
	"eu-west-3",    // Paris, France
}

// AllowedRegions returns the AWS regions New accepts: those in the EU/EEA.
// The caller may modify the returned slice.
func AllowedRegions() []string { return slices.Clone(allowedRegions) }

// Config configures a Sender.
type Config struct {
	// Region is the AWS region of the SES endpoint; it must be one of
	// AllowedRegions (P12: data stays in the EU/EEA).
	Region string
	// From is the sender, e.g. "Palvelumanuaali <no-reply@palvelumanuaali.fi>".
	// Its address or domain must be a verified SES identity.
	From string
	// ConfigurationSet is the optional SES configuration set that every
	// email is sent with, e.g. for event publishing.
	ConfigurationSet string
	// Endpoint optionally replaces the regional SES endpoint with a base
	// URL. It is meant for tests against a local server and is empty in
	// production. It must use https, except for a loopback host.
	Endpoint string
	// Timeout bounds one Send, retries included; zero means DefaultTimeout.
	Timeout time.Duration
}

// Sender sends notification emails through Amazon SES. It is safe for
// concurrent use.
type Sender struct {
	client           *sesv2.Client
	from             string
	configurationSet string
	timeout          time.Duration
}

// New validates cfg, loads the default AWS configuration for cfg.Region and
// returns a Sender. It makes no network calls. opts adjust the SES client
// after the defaults, e.g. static credentials or a shorter retry backoff in
// tests; they cannot change the region, the endpoint or the attempt cap.
//
// New returns an error wrapping ErrRegionNotInEU when cfg.Region is not one
// of AllowedRegions, and an error naming the offending field when From is
// not an email address, ConfigurationSet is not a valid name, Endpoint is
// not an absolute https URL (http is allowed for a loopback host only), or
// Timeout is negative. It returns the error from loading the shared AWS
// configuration if that fails.
func New(ctx context.Context, cfg Config, opts ...func(*sesv2.Options)) (*Sender, error) {
	if !slices.Contains(allowedRegions, cfg.Region) {
		return nil, fmt.Errorf("ses: Region %q: %w; allowed regions: %s",
			cfg.Region, ErrRegionNotInEU, strings.Join(allowedRegions, ", "))
	}
	from, err := notify.ParseAddress(cfg.From)
	if err != nil {
		return nil, errors.New("ses: From is not a valid email address")
	}
	if cfg.ConfigurationSet != "" && !validConfigurationSet(cfg.ConfigurationSet) {
		return nil, errors.New("ses: ConfigurationSet must be 1 to 64 letters, digits, '_' or '-'")
	}
	var endpoint *string
	if cfg.Endpoint != "" {
		if err := checkEndpoint(cfg.Endpoint); err != nil {
			return nil, err
		}
		endpoint = aws.String(cfg.Endpoint)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("ses: Timeout %s is negative", cfg.Timeout)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}

	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.Region))
	if err != nil {
		return nil, fmt.Errorf("ses: load AWS configuration: %w", err)
	}
	// A fresh standard retryer, so that AWS_RETRY_MODE or AWS_MAX_ATTEMPTS
	// cannot make one Send outlast its timeout.
	defaults := func(o *sesv2.Options) {
		o.Retryer = retry.NewStandard()
	}
	// Applied last, over the caller's options: where the email goes and how
	// often it is attempted are this package's decisions.
	pin := func(o *sesv2.Options) {
		o.Region = cfg.Region
		o.BaseEndpoint = endpoint
		o.EndpointResolverV2 = sesv2.NewDefaultEndpointResolverV2()
		o.Retryer = retry.AddWithMaxAttempts(o.Retryer, maxAttempts)
		// Non-zero would make the client wrap the retryer once more with
		// this value, which may come from AWS_MAX_ATTEMPTS.
		o.RetryMaxAttempts = 0
	}
	all := make([]func(*sesv2.Options), 0, len(opts)+2)
	all = append(all, defaults)
	all = append(all, opts...)
	all = append(all, pin)

	return &Sender{
		client: sesv2.NewFromConfig(awsCfg, all...),
		// String quotes the display name and encodes a non-ASCII one as
		// RFC 2047 requires; SES refuses a raw non-ASCII From.
		from:             from.String(),
		configurationSet: cfg.ConfigurationSet,
		timeout:          timeout,
	}, nil
}

// Send delivers e and returns nil once SES has accepted it. It returns an
// error wrapping notify.ErrPermanent when e cannot be sent as it is (a
// control character in To or Subject, an invalid recipient address, an
// empty subject or text body) or when SES refuses the message for good:
// MessageRejected, MailFromDomainNotVerifiedException, BadRequestException,
// NotFoundException, or another 4xx reply that is neither throttling nor
// about this service's credentials. Every other failure (throttling, a
// paused or suspended account, 5xx replies, credential or permission
// trouble, network errors, an expired Timeout or a cancelled ctx) is
// returned as a plain, retryable error; an expired or cancelled ctx is
// wrapped in it. Error messages never contain the recipient address.
func (s *Sender) Send(ctx context.Context, e notify.Email) error {
	in, err := s.input(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.client.SendEmail(ctx, in); err != nil {
		return classify(ctx, err)
	}
	return nil
}

// input builds the SendEmail request for e, refusing what would change the
// headers or cannot reach anyone.
func (s *Sender) input(e notify.Email) (*sesv2.SendEmailInput, error) {
	to, err := e.Check()
	if err != nil {
		return nil, fmt.Errorf("ses: %w", err)
	}

	body := &types.Body{Text: content(e.Text)}
	if strings.TrimSpace(e.HTML) != "" {
		body.Html = content(e.HTML)
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: []string{to.Address}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: content(e.Subject),
			Body:    body,
			// RFC 3834: tells auto-responders (out-of-office replies) to
			// stay quiet.
			Headers: []types.MessageHeader{{Name: aws.String("Auto-Submitted"), Value: aws.String("auto-generated")}},
		}},
	}
	if s.configurationSet != "" {
		in.ConfigurationSetName = aws.String(s.configurationSet)
	}
	if id := tagValue(e.MessageID); id != "" {
		in.EmailTags = []types.MessageTag{{Name: aws.String(tagNotificationID), Value: aws.String(id)}}
	}
	return in, nil
}

func content(data string) *types.Content {
	return &types.Content{Data: aws.String(data), Charset: aws.String(charset)}
}

// classify turns an SDK error into the error Send returns.
//
// SES's own refusals of this message or sender are permanent:
// MessageRejected (e.g. a virus, or an address on the account's
// suppression list), MailFromDomainNotVerifiedException, BadRequestException
// and NotFoundException. TooManyRequestsException, LimitExceededException,
// SendingPausedException and AccountSuspendedException are transient even
// though SES sends them as 4xx: they are states of the account that an
// operator fixes, and the queue's retries and dead-lettering bound the cost
// of waiting, whereas a permanent failure would drop every email sent
// meanwhile. Errors outside SES's model are classified by the SDK's
// throttling codes, then by HTTP status: 5xx, 429 and 408 are transient,
// and so are 401, 403 and the expired-credential codes, which are about
// this service's credentials and permissions, not the message; any other
// 4xx is permanent. No HTTP reply at all (a network error, a timeout,
// missing credentials) is transient.
//
// SES echoes recipient addresses in its error messages, so the message
// returned here is built from the error code, the HTTP status and the
// request id only, and the SDK error is not wrapped when SES replied.
func classify(ctx context.Context, err error) error {
	status, requestID := httpReply(err)
	var apiErr smithy.APIError
	hasAPIErr := errors.As(err, &apiErr)
	if !hasAPIErr && status == 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("ses: send interrupted: %w", context.Cause(ctx))
		}
		// Transport, credential and endpoint errors name no recipient,
		// and keeping them wrapped lets callers see net errors.
		return fmt.Errorf("ses: %w", err)
	}

	detail := "HTTP " + fmt.Sprint(status)
	if hasAPIErr {
		detail = safeCode(apiErr.ErrorCode()) + " (" + detail + ")"
	}
	if requestID != "" {
		detail += ", request id " + safeCode(requestID)
	}
	if permanent(err, status) {
		return fmt.Errorf("ses: SES refused the email: %s: %w", detail, notify.ErrPermanent)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("ses: SES did not accept the email: %s: %w", detail, context.Cause(ctx))
	}
	return fmt.Errorf("ses: SES did not accept the email: %s", detail)
}

// permanent reports whether err, a reply from SES with the given status,
// is one a retry cannot fix. See classify.
func permanent(err error, status int) bool {
	switch {
	case as[*types.MessageRejected](err),
		as[*types.MailFromDomainNotVerifiedException](err),
		as[*types.BadRequestException](err),
		as[*types.NotFoundException](err):
		return true
	case as[*types.TooManyRequestsException](err),
		as[*types.LimitExceededException](err),
		as[*types.SendingPausedException](err),
		as[*types.AccountSuspendedException](err):
		return false
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return false
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && credentialCodes[apiErr.ErrorCode()] {
		return false
	}
	switch status {
	case 401, 403, 408, 429:
		return false
	}
	return status >= 400 && status <= 499
}

// credentialCodes are AWS error codes about this service's credentials that
// some endpoints send with status 400.
var credentialCodes = map[string]bool{
	"ExpiredToken":          true,
	"ExpiredTokenException": true,
	"RequestExpired":        true,
	"InvalidClientTokenId":  true,
	"IncompleteSignature":   true,
	"RequestTimeTooSkewed":  true,
}

// as reports whether err's chain holds a T.
func as[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// httpReply returns the HTTP status and request id of SES's reply, or zero
// and "" when no reply came back.
func httpReply(err error) (status int, requestID string) {
	var respErr *smithyhttp.ResponseError
	if !errors.As(err, &respErr) || respErr.Response == nil || respErr.Response.Response == nil {
		return 0, ""
	}
	var withID interface{ ServiceRequestID() string }
	if errors.As(err, &withID) {
		requestID = withID.ServiceRequestID()
	}
	return respErr.HTTPStatusCode(), requestID
}

// safeCode keeps a wire value that goes into an error message to the
// characters of an error code or request id, so that nothing else the
// reply carried can reach a log.
func safeCode(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && (r == '-' || r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
		if b.Len() == 64 {
			break
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// tagValue keeps the characters SES allows in an email tag value: ASCII
// letters, digits, '_' and '-', at most 256 of them.
func tagValue(id string) string {
	var b strings.Builder
	for _, r := range id {
		if isTagChar(r) {
			b.WriteRune(r)
		}
		if b.Len() == 256 {
			break
		}
	}
	return b.String()
}

func isTagChar(r rune) bool {
	return r < 0x80 && (r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r))
}

// validConfigurationSet checks SES's rule for configuration set names.
func validConfigurationSet(name string) bool {
	return len(name) <= 64 && strings.IndexFunc(name, func(r rune) bool { return !isTagChar(r) }) == -1
}

// checkEndpoint accepts an absolute https URL, or http to a loopback host
// so that tests need no certificate. The URL is not repeated in the error:
// it might carry user information.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("ses: Endpoint must be an absolute URL without user information, query or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("ses: Endpoint must use https unless its host is loopback")
	default:
		return errors.New("ses: Endpoint must use https")
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
