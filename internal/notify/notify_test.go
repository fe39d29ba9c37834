package notify_test

import (
	"strings"
	"testing"

	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/notify/notifytest"
)

func sendable() notify.Email {
	return notify.Email{MessageID: "m1", To: "someone@example.test", Subject: "Aihe", Text: "Teksti", HTML: "<p>Teksti</p>"}
}

// TestCheckRefusesUnsendableEmailsPermanently: the one check both
// providers run before sending (CWE-93 header injection, P9: no address
// in errors, which reach the logs).
func TestCheckRefusesUnsendableEmailsPermanently(t *testing.T) {
	t.Parallel()
	for _, tt := range notifytest.Unsendable() {
		t.Run(tt.Name, func(t *testing.T) {
			e := sendable()
			tt.Change(&e)
			_, err := e.Check()
			if got, want := notify.IsPermanent(err), true; got != want {
				t.Fatalf("IsPermanent(%v) = %t, want %t", err, got, want)
			}
			if strings.Contains(err.Error(), "example.test") || strings.Contains(err.Error(), "not an address") {
				t.Errorf("error %q contains the recipient address", err)
			}
		})
	}
}

func TestCheckAcceptsAndParsesTheRecipient(t *testing.T) {
	t.Parallel()
	e := sendable()
	e.To = "Matti Meikäläinen <matti@example.test>"
	to, err := e.Check()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := to.Address, "matti@example.test"; got != want {
		t.Errorf("recipient = %q, want %q", got, want)
	}
}

func TestParseAddressRefusesLineBreaksAndNonAddresses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "not an address", "no-reply@example.test\r\nBcc: x@example.test", "no-reply@example.test\u2028"} {
		if _, err := notify.ParseAddress(s); err == nil {
			t.Errorf("ParseAddress(%q) accepted it", s)
		} else if strings.Contains(err.Error(), "example.test") {
			t.Errorf("ParseAddress error %q quotes the address", err)
		}
	}
	if _, err := notify.ParseAddress("Palvelumanuaali <no-reply@example.test>"); err != nil {
		t.Errorf("ParseAddress(a sender with a name) = %v", err)
	}
}
