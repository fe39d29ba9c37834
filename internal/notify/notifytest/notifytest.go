// Package notifytest holds what the email providers' tests share: the
// emails every provider must refuse before it contacts anyone.
package notifytest

import "github.com/palvelumanuaali/useradmin/internal/notify"

// Change turns a sendable email into one a provider must refuse.
type Change struct {
	Name   string
	Change func(*notify.Email)
}

// Unsendable are the changes that make an email unsendable: a line break
// that would add a header (CWE-93), a recipient that is no address, an
// empty subject or text. notify.Email.Check refuses each with
// notify.ErrPermanent, and so must every provider's Send, without any
// request and without the address in the error.
func Unsendable() []Change {
	return []Change{
		{"refused: CR LF in Subject", func(e *notify.Email) { e.Subject = "Aihe\r\nBcc: other@example.test" }},
		{"refused: LF in Subject", func(e *notify.Email) { e.Subject = "Aihe\nX-Evil: 1" }},
		{"refused: CR in Subject", func(e *notify.Email) { e.Subject = "Aihe\rX-Evil: 1" }},
		{"refused: CR LF in To", func(e *notify.Email) { e.To += "\r\nBcc: other@example.test" }},
		{"refused: LF in To", func(e *notify.Email) { e.To += "\nBcc: other@example.test" }},
		{"refused: LF at the end of To", func(e *notify.Email) { e.To += "\n" }},
		{"refused: invalid recipient address", func(e *notify.Email) { e.To = "not an address" }},
		{"refused: recipient without a domain", func(e *notify.Email) { e.To = "someone@" }},
		{"refused: empty recipient", func(e *notify.Email) { e.To = "" }},
		{"refused: empty subject", func(e *notify.Email) { e.Subject = " " }},
		{"refused: empty text", func(e *notify.Email) { e.Text = "" }},
	}
}
