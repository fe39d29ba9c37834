package testenv

import (
	"net"
	"strings"
	"testing"
)

func TestAzuriteStartsAndListens(t *testing.T) {
	cs := AzuriteConnectionString(t)
	i := strings.Index(cs, "TableEndpoint=http://")
	if i < 0 {
		t.Fatalf("no table endpoint in %q", cs)
	}
	host := strings.SplitN(strings.TrimPrefix(cs[i:], "TableEndpoint=http://"), "/", 2)[0]
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatalf("azurite not listening at %s: %v", host, err)
	}
	c.Close()
}

func TestMailDevStartsAndAnswers(t *testing.T) {
	m := MailDev(t)
	if got := m.Emails(t, "nobody@example.invalid"); len(got) != 0 {
		t.Fatalf("fresh catcher has %d emails for an unused address", len(got))
	}
}
