package passkeys

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"
)

// Config is the relying party: who the passkeys are for and which pages
// may run the ceremonies.
type Config struct {
	// RPID is the relying party id: the domain a passkey is bound to. It is
	// every origin's host or a registrable suffix of it ("example.fi" for
	// "https://app.example.fi"); "localhost" locally.
	RPID string
	// RPName is the name authenticators show next to the account.
	RPName string
	// Origins are the frontend origins (scheme://host[:port]) that call
	// navigator.credentials; https, except http for localhost.
	Origins []string
	// CeremonyTTL is how long a ceremony may take, from Begin to Finish;
	// DefaultCeremonyTTL when zero. The browser is given the same timeout.
	CeremonyTTL time.Duration
}

// DefaultCeremonyTTL is the ceremony lifetime when Config.CeremonyTTL is
// zero.
const DefaultCeremonyTTL = 5 * time.Minute

// Validate checks the relying party. Its error lists every problem, one
// per line, naming the fields by their setting's meaning.
func (c Config) Validate() error {
	var problems []string
	rpID := strings.ToLower(c.RPID)
	switch {
	case rpID == "":
		problems = append(problems, "the relying party id must be set")
	case net.ParseIP(strings.Trim(rpID, "[]")) != nil:
		problems = append(problems, "the relying party id must be a domain name, not an IP address")
	case strings.ContainsAny(rpID, ":/ ") || strings.HasPrefix(rpID, ".") || strings.HasSuffix(rpID, "."):
		problems = append(problems, "the relying party id must be a domain name such as example.fi (no scheme, port or path)")
	case !localHost(rpID) && publicSuffix(rpID):
		problems = append(problems, fmt.Sprintf("the relying party id %q is a public suffix: use the service's own domain", rpID))
	}
	if strings.TrimSpace(c.RPName) == "" {
		problems = append(problems, "the relying party name must be set")
	}
	if len(c.Origins) == 0 {
		problems = append(problems, "at least one origin must be set")
	}
	for _, o := range c.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			problems = append(problems, fmt.Sprintf("%q is not an origin (scheme://host[:port])", o))
			continue
		}
		host := strings.ToLower(u.Hostname())
		if !(u.Scheme == "https" || (u.Scheme == "http" && localHost(host))) {
			problems = append(problems, fmt.Sprintf("origin %q must be https (http only for localhost)", o))
		}
		if rpID != "" && host != rpID && !strings.HasSuffix(host, "."+rpID) {
			problems = append(problems, fmt.Sprintf("origin %q is not on the relying party id %q or a subdomain of it", o, rpID))
		}
	}
	if c.CeremonyTTL < 0 || c.CeremonyTTL > 10*time.Minute {
		problems = append(problems, "the ceremony lifetime must be at most 10 minutes")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func (c Config) ttl() time.Duration {
	if c.CeremonyTTL == 0 {
		return DefaultCeremonyTTL
	}
	return c.CeremonyTTL
}

func localHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1" || strings.HasSuffix(h, ".localhost")
}

// publicSuffix reports whether a domain is a public suffix ("fi",
// "github.io"), which no relying party may claim.
func publicSuffix(domain string) bool {
	suffix, _ := publicsuffix.PublicSuffix(domain)
	return suffix == domain
}
