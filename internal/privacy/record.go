package privacy

import (
	"fmt"
	"strings"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// Settings are what the record needs from the deployment's configuration.
type Settings struct {
	Controller    string // PRIVACY_CONTROLLER; "" prints a placeholder
	Contact       string // PRIVACY_CONTACT
	HostingRegion string // AZURE_REGION: where the data is stored
	EmailProvider string // EMAIL_PROVIDER: smtp | ses
	EmailRegion   string // SES_REGION (ses); the relay's host (smtp)
	Limits        Limits
}

// Document is the record of processing in one language.
type Document struct {
	Lang         Lang            `json:"lang"`
	Title        string          `json:"title"`
	Controller   string          `json:"controller"`
	Contact      string          `json:"contact"`
	Purposes     []PurposeEntry  `json:"purposes"`
	DataSubjects []string        `json:"dataSubjects"`
	Categories   []CategoryEntry `json:"categories"`
	Recipients   []string        `json:"recipients"`
	Transfers    string          `json:"transfers"`
	Regions      []string        `json:"regions"`
	Storage      []RowEntry      `json:"storage"`
	Measures     []string        `json:"measures"`
	SelfAccess   string          `json:"selfAccess"`
	headings     headings
}

// PurposeEntry is a purpose with its legal basis.
type PurposeEntry struct {
	ID    Purpose `json:"id"`
	Name  string  `json:"name"`
	Basis string  `json:"basis"`
}

// CategoryEntry is a category of personal data.
type CategoryEntry struct {
	ID   Category `json:"id"`
	Name string   `json:"name"`
}

// RowEntry is a kind of stored row.
type RowEntry struct {
	Table     string       `json:"table"`
	Kind      string       `json:"kind"`
	About     string       `json:"about"`
	Retention string       `json:"retention"`
	Fields    []FieldEntry `json:"fields"`
}

// FieldEntry is a stored property.
type FieldEntry struct {
	Name     string   `json:"name"`
	Personal bool     `json:"personal"`
	Category Category `json:"category"`
	Purpose  Purpose  `json:"purpose"`
	Basis    Basis    `json:"basis"`
	SeenBy   string   `json:"seenBy"`
}

var purposeNames = map[Purpose]Text{
	PurposeAccount:      {"Käyttäjähallinta: kuka käyttää käsikirjan ylläpitoa ja millä oikeuksilla", "Användaradministration: vem använder handbokens administration och med vilka rättigheter", "User administration: who uses the manual's administration, with which rights"},
	PurposeSignIn:       {"Tunnistautuminen ja tilien suojaaminen", "Autentisering och skydd av konton", "Authentication and keeping accounts safe"},
	PurposeAudit:        {"Tapahtumaloki ja vastuullisuus", "Händelselogg och ansvarsskyldighet", "The audit trail and accountability"},
	PurposeNotification: {"Palvelun sähköpostit (kutsut, palautukset, varoitukset)", "Tjänstens e-post (inbjudningar, återställningar, varningar)", "The service's emails (invitations, resets, warnings)"},
	PurposeLifecycle:    {"Käyttämättömien tilien sulkeminen ja suljettujen poistaminen", "Stängning av inaktiva konton och radering av stängda", "Closing inactive accounts and erasing closed ones"},
	PurposeOperation:    {"Tekninen kirjanpito (ei henkilötietoja)", "Teknisk bokföring (inga personuppgifter)", "Technical bookkeeping (no personal data)"},
}

// purposeShort and categoryShort name purposes and categories in the
// record's tables.
var purposeShort = map[Purpose]Text{
	PurposeAccount:      {"käyttäjähallinta", "användaradministration", "user administration"},
	PurposeSignIn:       {"tunnistautuminen", "autentisering", "authentication"},
	PurposeAudit:        {"tapahtumaloki", "händelselogg", "audit trail"},
	PurposeNotification: {"sähköpostit", "e-post", "emails"},
	PurposeLifecycle:    {"elinkaari", "livscykel", "lifecycle"},
	PurposeOperation:    {"tekninen", "teknisk", "technical"},
}

var categoryShort = map[Category]Text{
	CategoryName:           {"nimi", "namn", "name"},
	CategoryEmail:          {"sähköposti", "e-post", "email"},
	CategoryOrganisation:   {"organisaatio", "organisation", "organisation"},
	CategoryIdentifier:     {"tunniste", "id", "id"},
	CategoryAccess:         {"rooli ja tila", "roll och status", "role and status"},
	CategoryAuthentication: {"tunnistautuminen", "autentisering", "authentication"},
	CategoryActivity:       {"aika tai tapahtuma", "tid eller händelse", "time or event"},
	CategoryNone:           {"–", "–", "–"},
}

var basisNames = map[Basis]Text{
	BasisPublicTask:      {"Yleisen edun mukainen tehtävä, GDPR 6 art. 1 e", "Uppgift av allmänt intresse, GDPR art. 6.1 e", "Task in the public interest, GDPR Art. 6(1)(e)"},
	BasisLegalObligation: {"Lakisääteinen velvoite (käsittelyn turvallisuus, 32 art.), GDPR 6 art. 1 c", "Rättslig förpliktelse (säkerhet i behandlingen, art. 32), GDPR art. 6.1 c", "Legal obligation (security of processing, Art. 32), GDPR Art. 6(1)(c)"},
}

var categoryNames = map[Category]Text{
	CategoryName:           {"Etu- ja sukunimi", "För- och efternamn", "First and last name"},
	CategoryEmail:          {"Sähköpostiosoite (tai sen tiiviste)", "E-postadress (eller dess hash)", "Email address (or its digest)"},
	CategoryOrganisation:   {"Kotiorganisaatio", "Hemorganisation", "Home organisation"},
	CategoryIdentifier:     {"Satunnainen tilitunniste", "Slumpmässigt konto-id", "Random account id"},
	CategoryAccess:         {"Rooli, tila ja kieli", "Roll, status och språk", "Role, status and language"},
	CategoryAuthentication: {"Tunnistautumistiedot: salasanan tiiviste, istuntojen ja linkkien tiivisteet, lukitustila", "Autentiseringsuppgifter: lösenordshash, hashar av sessioner och länkar, spärrstatus", "Authentication data: password hash, session and link digests, lockout state"},
	CategoryActivity:       {"Aikaleimat ja lokitapahtumat", "Tidsstämplar och logghändelser", "Timestamps and audit events"},
	CategoryNone:           {"Ei henkilötieto", "Ingen personuppgift", "Not personal data"},
}

var roleNames = map[kernel.Role]Text{
	kernel.RoleAdmin:       {"ylläpito", "administrationen", "administration"},
	kernel.RolePrimaryUser: {"pääkäyttäjä", "huvudanvändare", "primary user"},
	kernel.RoleEditor:      {"toimittaja", "redaktör", "editor"},
	kernel.RoleExpert:      {"asiantuntija", "expert", "expert"},
}

var scopeNames = map[kernel.Scope]Text{
	kernel.ScopeAll:    {"kaikki", "alla", "everyone"},
	kernel.ScopeOwnOrg: {"oma organisaatio", "egen organisation", "own organisation"},
	kernel.ScopeSelf:   {"vain itse", "endast sig själv", "self only"},
}

// seenBy writes who can see a property through perms: each role with the
// widest scope the matrix gives it.
func seenBy(l Lang, perms []kernel.Permission) string {
	var parts []string
	for _, role := range []kernel.Role{kernel.RoleAdmin, kernel.RolePrimaryUser, kernel.RoleEditor, kernel.RoleExpert} {
		widest := kernel.ScopeNone
		for _, p := range perms {
			widest = max(widest, kernel.Matrix[p][role])
		}
		if widest != kernel.ScopeNone {
			parts = append(parts, roleNames[role].In(l)+": "+scopeNames[widest].In(l))
		}
	}
	if len(parts) == 0 {
		return Text{"ei kukaan (vain järjestelmä)", "ingen (endast systemet)", "no one (the system only)"}.In(l)
	}
	return strings.Join(parts, "; ")
}

func placeholder(l Lang, setting string) string {
	return Text{"[asettamatta: %s]", "[ej angivet: %s]", "[not set: %s]"}.In(l)
}

// Record is the record of processing in l, from the declaration and s.
func Record(l Lang, s Settings) Document {
	orUnset := func(v, setting string) string {
		if v == "" {
			return fmt.Sprintf(placeholder(l, setting), setting)
		}
		return v
	}
	d := Document{
		Lang:       l,
		Title:      Text{"Seloste käsittelytoimista (GDPR 30 art.): Palvelumanuaalin käyttäjähallinta", "Register över behandling (GDPR art. 30): Tjänstemanualens användaradministration", "Record of processing activities (GDPR Art. 30): the Employment Services Manual's user administration"}.In(l),
		Controller: orUnset(s.Controller, "PRIVACY_CONTROLLER"),
		Contact:    orUnset(s.Contact, "PRIVACY_CONTACT"),
		DataSubjects: []string{Text{
			"Käsikirjan ylläpitäjät: ylläpito, organisaatioiden pääkäyttäjät, toimittajat ja asiantuntijat (kutsutut ja entiset)",
			"Handbokens administratörer: administrationen, organisationernas huvudanvändare, redaktörer och experter (inbjudna och tidigare)",
			"The manual's staff: the administration, organisations' primary users, editors and experts (invited and former)"}.In(l)},
		Transfers: Text{"Ei siirtoja EU:n/ETA:n ulkopuolelle.", "Inga överföringar utanför EU/EES.", "No transfers outside the EU/EEA."}.In(l),
		SelfAccess: Text{
			"Jokainen näkee ja voi viedä kaikki itsestään tallennetut tiedot, korjata nimensä ja pyytää poistoa (P14).",
			"Var och en kan se och exportera alla uppgifter om sig själv, rätta sitt namn och begära radering (P14).",
			"Everyone can see and export all data held about them, correct their name and ask for erasure (P14)."}.In(l),
	}
	for _, p := range []Purpose{PurposeAccount, PurposeSignIn, PurposeAudit, PurposeNotification, PurposeLifecycle} {
		d.Purposes = append(d.Purposes, PurposeEntry{ID: p, Name: purposeNames[p].In(l), Basis: basisNames[p.Basis()].In(l)})
	}
	for _, c := range []Category{CategoryName, CategoryEmail, CategoryOrganisation, CategoryIdentifier, CategoryAccess, CategoryAuthentication, CategoryActivity} {
		d.Categories = append(d.Categories, CategoryEntry{ID: c, Name: categoryNames[c].In(l)})
	}
	provider := orUnset(s.EmailProvider, "EMAIL_PROVIDER")
	switch s.EmailProvider {
	case "ses":
		provider = "Amazon SES, " + orUnset(s.EmailRegion, "SES_REGION")
	case "smtp":
		provider = "SMTP, " + orUnset(s.EmailRegion, "SMTP_HOST")
	}
	d.Recipients = []string{
		fmt.Sprintf(Text{"Sähköpostipalvelu (%s): vastaanottajan osoite, nimi ja viesti", "E-posttjänst (%s): mottagarens adress, namn och meddelandet", "The email provider (%s): the recipient's address, name and the message"}.In(l), provider),
		Text{"Microsoft Azure (käsittelijä): tallennus, jonot, avainholvi", "Microsoft Azure (personuppgiftsbiträde): lagring, köer, nyckelvalv", "Microsoft Azure (processor): storage, queues, key vault"}.In(l),
	}
	d.Regions = []string{"Azure: " + orUnset(s.HostingRegion, "AZURE_REGION")}
	if s.EmailProvider == "ses" {
		d.Regions = append(d.Regions, "Amazon SES: "+orUnset(s.EmailRegion, "SES_REGION"))
	}
	for _, r := range Declaration() {
		e := RowEntry{Table: r.Table, Kind: r.Kind, About: r.About.In(l), Retention: r.Retention.Describe(l, s.Limits)}
		for _, f := range r.Fields {
			e.Fields = append(e.Fields, FieldEntry{Name: f.Name, Personal: f.Personal(), Category: f.Category,
				Purpose: f.Purpose, Basis: f.Purpose.Basis(), SeenBy: seenBy(l, f.Seen)})
		}
		d.Storage = append(d.Storage, e)
	}
	for _, m := range measures {
		d.Measures = append(d.Measures, m.In(l))
	}
	d.headings = headingsIn(l)
	return d
}

// measures are the technical and organisational measures: the security
// baseline (README, "Security in short").
var measures = []Text{
	{"Salasanat argon2id-tiivisteinä; pippuri Key Vaultissa ja vaihdettavissa; NIST SP 800-63B -säännöt ja estolista",
		"Lösenord som argon2id-hashar; peppar i Key Vault, utbytbar; NIST SP 800-63B-regler och spärrlista",
		"Passwords as argon2id hashes; the pepper in Key Vault, rotatable; NIST SP 800-63B rules and a blocklist"},
	{"Istunnot ja linkit tallennetaan vain SHA-256-tiivisteinä; istunnoilla käyttämättömyys- ja enimmäisaika",
		"Sessioner och länkar lagras endast som SHA-256-hashar; sessioner har tidsgräns för inaktivitet och maximal livslängd",
		"Sessions and links are stored as SHA-256 digests only; sessions have an idle and an absolute timeout"},
	{"Tilin lukitus toistuvista epäonnistuneista kirjautumisista ja pyyntöjen rajoitus",
		"Kontospärr efter upprepade misslyckade inloggningar och begränsning av förfrågningar",
		"Account lockout after repeated failed sign-ins, and request throttling"},
	{"Roolipohjainen pääsynhallinta yhdestä oikeusmatriisista; pääkäyttäjä vain oman organisaationsa tietoihin",
		"Rollbaserad åtkomst från en behörighetsmatris; huvudanvändare endast till den egna organisationens uppgifter",
		"Role-based access from one permission matrix; a primary user only to their own organisation's data"},
	{"Jokainen hallinnollinen toimenpide kirjataan HMAC-ketjutettuun, tarkistettavaan lokiin",
		"Varje administrativ åtgärd loggas i en HMAC-kedjad, verifierbar logg",
		"Every administrative action goes into an HMAC-chained, verifiable audit trail"},
	{"Ei henkilötietoja lokeissa eikä viesteissä (vain tunnisteita); salaisuudet Key Vaultissa, palveluiden välillä hallitut identiteetit",
		"Inga personuppgifter i loggar eller meddelanden (endast id:n); hemligheter i Key Vault, hanterade identiteter mellan tjänster",
		"No personal data in logs or queue messages (ids only); secrets in Key Vault, managed identities between services"},
	{"Tiedot vain EU:n/ETA:n alueilla; käyttämättömät tilit suljetaan ja suljetut poistetaan automaattisesti",
		"Uppgifter endast i EU/EES-regioner; inaktiva konton stängs och stängda raderas automatiskt",
		"Data in EU/EEA regions only; inactive accounts are closed and closed ones erased automatically"},
}

type headings struct {
	controller, contact, purposes, subjects, categories, recipients, transfers, regions, storage, measures, rights string
	purpose, basis, field, personal, category, seenBy, retention, yes, no                                          string
}

func headingsIn(l Lang) headings {
	switch l {
	case FI:
		return headings{"Rekisterinpitäjä", "Yhteyshenkilö", "Käsittelyn tarkoitukset ja oikeusperusteet", "Rekisteröityjen ryhmät", "Henkilötietoryhmät", "Vastaanottajat", "Siirrot", "Käytetyt alueet", "Tallennetut tiedot", "Tekniset ja organisatoriset suojatoimet", "Rekisteröidyn oikeudet",
			"Tarkoitus", "Oikeusperuste", "Kenttä", "Henkilötieto", "Ryhmä", "Kuka näkee", "Säilytys", "kyllä", "ei"}
	case SV:
		return headings{"Personuppgiftsansvarig", "Kontaktperson", "Ändamål och rättslig grund", "Kategorier av registrerade", "Kategorier av personuppgifter", "Mottagare", "Överföringar", "Regioner som används", "Lagrade uppgifter", "Tekniska och organisatoriska åtgärder", "Den registrerades rättigheter",
			"Ändamål", "Rättslig grund", "Fält", "Personuppgift", "Kategori", "Vem ser", "Lagring", "ja", "nej"}
	}
	return headings{"Controller", "Contact", "Purposes and legal bases", "Categories of data subjects", "Categories of personal data", "Recipients", "Transfers", "Regions in use", "Stored data", "Technical and organisational measures", "Data subjects' rights",
		"Purpose", "Legal basis", "Field", "Personal data", "Category", "Seen by", "Retention", "yes", "no"}
}

// Markdown is the document as Markdown.
func (d Document) Markdown() string {
	h := d.headings
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	list := func(items []string) {
		for _, i := range items {
			p("- %s\n", i)
		}
		p("\n")
	}
	p("# %s\n\n", d.Title)
	p("## %s\n\n%s\n\n## %s\n\n%s\n\n", h.controller, d.Controller, h.contact, d.Contact)
	p("## %s\n\n| %s | %s |\n|---|---|\n", h.purposes, h.purpose, h.basis)
	for _, e := range d.Purposes {
		p("| %s | %s |\n", e.Name, e.Basis)
	}
	p("\n## %s\n\n", h.subjects)
	list(d.DataSubjects)
	p("## %s\n\n", h.categories)
	var cats []string
	for _, c := range d.Categories {
		cats = append(cats, c.Name)
	}
	list(cats)
	p("## %s\n\n", h.recipients)
	list(d.Recipients)
	p("## %s\n\n%s\n\n## %s\n\n", h.transfers, d.Transfers, h.regions)
	list(d.Regions)
	p("## %s\n\n", h.storage)
	for _, r := range d.Storage {
		p("### %s / %s: %s\n\n%s: %s\n\n", r.Table, r.Kind, r.About, h.retention, r.Retention)
		p("| %s | %s | %s | %s | %s |\n|---|---|---|---|---|\n", h.field, h.personal, h.category, h.purpose, h.seenBy)
		for _, f := range r.Fields {
			yes := h.no
			if f.Personal {
				yes = h.yes
			}
			p("| %s | %s | %s | %s | %s |\n", f.Name, yes, categoryShort[f.Category].In(d.Lang), purposeShort[f.Purpose].In(d.Lang), f.SeenBy)
		}
		p("\n")
	}
	p("## %s\n\n%s\n\n## %s\n\n", h.rights, d.SelfAccess, h.measures)
	list(d.Measures)
	return strings.TrimRight(b.String(), "\n") + "\n"
}
