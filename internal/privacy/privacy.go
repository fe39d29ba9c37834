// Package privacy is the record of processing (GDPR Art. 30) as code: one
// declaration of every property stored about a person, table by table and
// row kind by row kind, with its purpose, legal basis, category, retention
// and who can see it (P9). The record the data protection officer files is
// printed from it (Record, Markdown, JSON), and tablestore's drift test
// reads every stored row raw and fails on a property declared nowhere
// here, or on a personal value in a property not declared to hold one.
//
// Retention is declared as a rule over the configuration (Limits), so the
// printed periods are the live ones. Who can see a property is declared as
// permissions of the matrix (kernel.Matrix), so the roles and their reach
// come from the one place access is decided.
package privacy

import "github.com/palvelumanuaali/useradmin/internal/kernel"

// Lang is a language the record is printed in.
type Lang string

// The record's languages.
const (
	FI Lang = "fi"
	SV Lang = "sv"
	EN Lang = "en"
)

// Langs are the record's languages in print order.
var Langs = []Lang{FI, SV, EN}

// Text is one text in the three languages.
type Text struct{ FI, SV, EN string }

// In returns the text in l (English for an unknown language).
func (t Text) In(l Lang) string {
	switch l {
	case FI:
		return t.FI
	case SV:
		return t.SV
	}
	return t.EN
}

// Purpose is why a property is processed.
type Purpose string

// The purposes.
const (
	PurposeAccount      Purpose = "account"      // who may use the manual's administration, with which rights
	PurposeSignIn       Purpose = "sign_in"      // authentication and keeping accounts safe
	PurposeAudit        Purpose = "audit"        // accountability: the audit trail (P11)
	PurposeNotification Purpose = "notification" // the service's emails (invitations, resets, warnings)
	PurposeLifecycle    Purpose = "lifecycle"    // closing inactive accounts and erasing closed ones (P6, P7)
	PurposeOperation    Purpose = "operation"    // technical bookkeeping that holds nothing about a person
)

// Basis is a legal basis of processing (GDPR Art. 6(1)).
type Basis string

// The legal bases in use.
const (
	BasisPublicTask      Basis = "art6_1_e" // a task in the public interest
	BasisLegalObligation Basis = "art6_1_c" // a legal obligation (security of processing, Art. 32)
)

// Basis is the purpose's legal basis.
func (p Purpose) Basis() Basis {
	if p == PurposeSignIn || p == PurposeAudit {
		return BasisLegalObligation
	}
	return BasisPublicTask
}

// Category is what kind of data a property holds. Every category but
// CategoryNone is personal data.
type Category string

// The categories.
const (
	CategoryName           Category = "name"           // first and last name (P9)
	CategoryEmail          Category = "email"          // email address, or a digest of it (P9)
	CategoryOrganisation   Category = "organisation"   // home organisation (P9)
	CategoryIdentifier     Category = "identifier"     // a person's random account id
	CategoryAccess         Category = "access"         // role, status, language
	CategoryAuthentication Category = "authentication" // password hash, session and link digests, lockout state
	CategoryActivity       Category = "activity"       // when things happened to or by the person
	CategoryNone           Category = "none"           // not personal data
)

// Personal reports whether the category is personal data.
func (c Category) Personal() bool { return c != CategoryNone && c != "" }

// Field is one stored property.
type Field struct {
	Name     string
	Category Category
	Purpose  Purpose
	// Seen are the permissions through which the property reaches someone
	// other than the system; none: no one (it is never shown).
	Seen []kernel.Permission
}

// Personal reports whether the field holds personal data.
func (f Field) Personal() bool { return f.Category.Personal() }

// Row is one kind of row in a table.
type Row struct {
	Table     string // the table's name after the configured prefix
	Kind      string // stable name of the kind
	About     Text   // what the row is
	Retention Retention
	Fields    []Field // PartitionKey and RowKey included: keys hold data too
}

// Field returns the row's declared field called name.
func (r Row) Field(name string) (Field, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Lookup returns the declared row of a table and kind.
func Lookup(table, kind string) (Row, bool) {
	for _, r := range Declaration() {
		if r.Table == table && r.Kind == kind {
			return r, true
		}
	}
	return Row{}, false
}
