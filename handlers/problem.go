package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

// problem is an RFC 9457 problem document with our stable machine code,
// the request id for support, and per-field errors for validation.
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Code      string         `json:"code"`
	RequestID string         `json:"requestId,omitempty"`
	Errors    []problemField `json:"errors,omitempty"`
}

// problemField is one invalid field as the problem's errors list it: the
// wire form of a kernel.FieldError, with the detail in the reader's
// language.
type problemField struct {
	Field  string `json:"field"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

// errorStatus is the one table from domain errors to HTTP answers.
var errorStatus = []struct {
	err    error
	status int
	code   string
}{
	{kernel.ErrNotFound, http.StatusNotFound, "not_found"},
	{accounts.ErrEmailTaken, http.StatusConflict, "email_taken"},
	{kernel.ErrConflict, http.StatusConflict, "conflict"},
	{kernel.ErrPreconditionFailed, http.StatusPreconditionFailed, "precondition_failed"},
	{accounts.ErrInvalidCredentials, http.StatusUnauthorized, "invalid_credentials"},
	{accounts.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{accounts.ErrInvalidToken, http.StatusBadRequest, "invalid_token"},
	{accounts.ErrWrongPassword, http.StatusForbidden, "wrong_password"},
	{accounts.ErrAdminExists, http.StatusConflict, "admin_exists"},
	{kernel.ErrForbidden, http.StatusForbidden, "forbidden"},
	{accounts.ErrLastAdmin, http.StatusConflict, "last_admin"},
	{accounts.ErrRestoreWindow, http.StatusGone, "restore_window_passed"},
	{accounts.ErrNotClosed, http.StatusConflict, "not_closed"},
	{accounts.ErrClosed, http.StatusConflict, "account_closed"},
	{accounts.ErrNotInvited, http.StatusConflict, "not_invited"},
	{accounts.ErrEnrolmentRequired, http.StatusForbidden, codeEnrolmentRequired},
	{accounts.ErrReauthenticationRequired, http.StatusForbidden, "reauthentication_required"},
	{accounts.ErrLastFactor, http.StatusConflict, "last_second_factor"},
	{accounts.ErrNoSecondFactor, http.StatusConflict, "no_second_factor"},
	{kernel.ErrInvalidCursor, http.StatusBadRequest, "invalid_cursor"},
	{organizations.ErrNotFound, http.StatusNotFound, "not_found"},
	{organizations.ErrNotEmpty, http.StatusConflict, "organization_not_empty"},
	{organizations.ErrExists, http.StatusConflict, "conflict"},
	{kernel.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{passwords.ErrBusy, http.StatusServiceUnavailable, codeBusy},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable"},
}

// Edge-only codes.
const (
	codeInvalidJSON      = "invalid_json"
	codeInvalidField     = "invalid_field"
	codeUnknownField     = "unknown_field"
	codeTooLarge         = "too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeMethodNotAllowed = "method_not_allowed"
	// codeEnrolmentRequired: an enrol-only session (no second factor yet)
	// asked for anything but adding one.
	codeEnrolmentRequired = "second_factor_enrolment_required"
	codeInternal          = "internal"
	// codeBusy: too many password hashes wait already (PWD-2); a hash
	// takes a fraction of a second, so the line frees quickly.
	codeBusy = "busy"
)

// writeError answers with the problem for err. Unknown errors are logged
// with the request id and answered with a generic 500: no SDK text or
// stack ever reaches a client.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var de *decodeError
	if errors.As(err, &de) {
		writeProblem(w, r, de.status, de.code, de.fields)
		return
	}
	var v *kernel.ValidationError
	if errors.As(err, &v) {
		writeProblem(w, r, http.StatusBadRequest, codeInvalidField, v.Fields)
		return
	}
	for _, e := range errorStatus {
		if errors.Is(err, e.err) {
			if e.status >= 500 {
				log.Warn("request failed", "request_id", requestID(r.Context()), "code", e.code, "error", err.Error())
				retry := "5"
				if e.code == codeBusy {
					retry = "1"
				}
				w.Header().Set("Retry-After", retry)
			}
			if e.status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
			}
			writeProblem(w, r, e.status, e.code, nil)
			return
		}
	}
	log.Error("internal error", "request_id", requestID(r.Context()), "error", err.Error())
	writeProblem(w, r, http.StatusInternalServerError, codeInternal, nil)
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, code string, fields []kernel.FieldError) {
	lang := language(r)
	p := problem{
		Type:      "https://palvelumanuaali.fi/problems/" + strings.ReplaceAll(code, "_", "-"),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail(code, lang),
		Code:      code,
		RequestID: requestID(r.Context()),
		Errors:    localizeFields(fields, lang),
	}
	w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	_ = jsonEncode(w, p)
}

// language picks fi, sv or en from Accept-Language; Finnish by default.
func language(r *http.Request) string {
	best, bestQ := "fi", -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			parsed, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = parsed
		}
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		switch primary {
		case "fi", "sv", "en":
			if q > bestQ {
				best, bestQ = primary, q
			}
		}
	}
	return best
}

// details are the human-readable explanations of each code, in the three
// languages people read.
var details = map[string][3]string{ // fi, sv, en
	"not_found":                 {"Kohdetta ei löytynyt.", "Objektet hittades inte.", "The resource was not found."},
	"email_taken":               {"Sähköpostiosoite on jo käytössä.", "E-postadressen används redan.", "The email address is already in use."},
	"conflict":                  {"Joku muu muutti tietoja samaan aikaan. Hae tiedot uudelleen ja yritä uudestaan.", "Någon annan ändrade uppgifterna samtidigt. Hämta dem på nytt och försök igen.", "Someone else changed this at the same time. Reload and try again."},
	"precondition_failed":       {"Tiedot ovat muuttuneet sen jälkeen, kun hait ne. Hae tiedot uudelleen.", "Uppgifterna har ändrats sedan du hämtade dem. Hämta dem på nytt.", "The data changed after you loaded it. Reload it first."},
	"invalid_credentials":       {"Sähköpostiosoite tai salasana on väärin, tai tili on lukittu.", "E-postadressen eller lösenordet är fel, eller kontot är låst.", "The email or password is wrong, or the account is locked."},
	"unauthenticated":           {"Kirjaudu sisään.", "Logga in.", "Please sign in."},
	"invalid_token":             {"Linkki on vanhentunut tai jo käytetty.", "Länken har gått ut eller redan använts.", "The link has expired or was already used."},
	"wrong_password":            {"Nykyinen salasana on väärin.", "Det nuvarande lösenordet är fel.", "The current password is wrong."},
	"forbidden":                 {"Sinulla ei ole oikeutta tähän toimintoon.", "Du har inte behörighet till den här åtgärden.", "You are not allowed to do this."},
	"last_admin":                {"Viimeistä aktiivista ylläpitäjää ei voi poistaa eikä alentaa.", "Den sista aktiva administratören kan inte tas bort eller degraderas.", "The last active administrator cannot be removed or demoted."},
	"restore_window_passed":     {"Tiliä ei voi enää palauttaa: palautusaika on päättynyt. Luo uusi tili.", "Kontot kan inte längre återställas: återställningstiden har gått ut. Skapa ett nytt konto.", "The account can no longer be restored: the restore window has passed. Create a new account."},
	"account_closed":            {"Tili on suljettu. Palauta se ensin.", "Kontot är stängt. Återställ det först.", "The account is closed. Restore it first."},
	"not_closed":                {"Tili ei ole suljettu.", "Kontot är inte stängt.", "The account is not closed."},
	"not_invited":               {"Tili ei odota kutsun hyväksymistä.", "Kontot väntar inte på att en inbjudan godkänns.", "The account is not waiting for an invitation."},
	"invalid_cursor":            {"Sivutustunniste ei kelpaa näille hakuehdoille.", "Sidmarkören gäller inte för dessa sökvillkor.", "The paging cursor does not fit these filters."},
	"organization_not_empty":    {"Organisaatiossa on vielä käyttäjiä.", "Organisationen har fortfarande användare.", "The organisation still has users."},
	"admin_exists":              {"Aktiivinen ylläpitäjä on jo olemassa.", "Det finns redan en aktiv administratör.", "An active administrator already exists."},
	codeEnrolmentRequired:       {"Ota ensin käyttöön toinen tunnistautumistapa.", "Ta först i bruk en andra inloggningsmetod.", "Set up a second sign-in method first."},
	"reauthentication_required": {"Vahvista henkilöllisyytesi uudelleen: anna salasana ja koodi.", "Bekräfta din identitet på nytt: ange lösenordet och koden.", "Confirm it is you again: enter your password and code."},
	"last_second_factor":        {"Viimeistä tunnistautumistapaa ei voi poistaa, koska roolisi vaatii sen.", "Den sista inloggningsmetoden kan inte tas bort eftersom din roll kräver den.", "The last sign-in method cannot be removed: your role requires one."},
	"no_second_factor":          {"Ota ensin käyttöön tunnistautumistapa.", "Ta först i bruk en inloggningsmetod.", "Set up a sign-in method first."},
	"unavailable":               {"Palvelu on tilapäisesti poissa käytöstä. Yritä hetken kuluttua uudelleen.", "Tjänsten är tillfälligt otillgänglig. Försök igen om en stund.", "The service is temporarily unavailable. Try again shortly."},
	codeBusy:                    {"Palvelu on juuri nyt ruuhkainen. Yritä hetken kuluttua uudelleen.", "Tjänsten är överbelastad just nu. Försök igen om en stund.", "The service is busy right now. Try again shortly."},
	codeRateLimited:             {"Liian monta yritystä. Odota hetki ja yritä uudelleen.", "För många försök. Vänta en stund och försök igen.", "Too many attempts. Wait a moment and try again."},
	codeInvalidJSON:             {"Pyyntö ei ole kelvollista JSONia.", "Begäran är inte giltig JSON.", "The request is not valid JSON."},
	codeInvalidField:            {"Osa kentistä on virheellisiä.", "Några fält är ogiltiga.", "Some fields are invalid."},
	codeUnknownField:            {"Pyynnössä on kenttä, jota ei voi asettaa.", "Begäran innehåller ett fält som inte kan anges.", "The request has a field that cannot be set."},
	codeTooLarge:                {"Pyyntö on liian suuri.", "Begäran är för stor.", "The request is too large."},
	codeUnsupportedMedia:        {"Lähetä pyyntö JSON-muodossa.", "Skicka begäran som JSON.", "Send the request as JSON."},
	codeMethodNotAllowed:        {"Tätä toimintoa ei voi käyttää tässä osoitteessa.", "Metoden stöds inte på den här adressen.", "The method is not allowed here."},
	codeInternal:                {"Odottamaton virhe. Yritä uudelleen; jos virhe toistuu, kerro pyynnön tunniste tuelle.", "Ett oväntat fel. Försök igen; om felet upprepas, ge begärans id till supporten.", "An unexpected error. Try again; if it repeats, give the request id to support."},
}

func detail(code, lang string) string {
	d, ok := details[code]
	if !ok {
		return ""
	}
	switch lang {
	case "sv":
		return d[1]
	case "en":
		return d[2]
	}
	return d[0]
}

// fieldDetails explain each field-error code in the three languages; the
// domain's own detail (English, for developers) is replaced by them.
var fieldDetails = map[string][3]string{ // fi, sv, en
	"required":                {"Pakollinen tieto puuttuu.", "Uppgiften är obligatorisk.", "This field is required."},
	"invalid_code":            {"Koodi ei kelpaa. Anna sovelluksen nykyinen koodi.", "Koden är ogiltig. Ange appens nuvarande kod.", "The code is not valid. Enter the app's current code."},
	"invalid_passkey":         {"Pääsyavainta ei voitu lisätä. Aloita alusta.", "Nyckeln kunde inte läggas till. Börja om.", "The passkey could not be added. Start again."},
	"too_many_factors":        {"Tunnistautumistapoja on jo enimmäismäärä.", "Det finns redan högsta antalet inloggningsmetoder.", "There are already as many sign-in methods as allowed."},
	"invalid":                 {"Arvo ei kelpaa.", "Värdet är ogiltigt.", "The value is not valid."},
	"too_long":                {"Teksti on liian pitkä.", "Texten är för lång.", "The text is too long."},
	"invalid_characters":      {"Tekstissä on merkkejä, joita ei voi käyttää.", "Texten innehåller otillåtna tecken.", "The text contains characters that are not allowed."},
	"invalid_email":           {"Sähköpostiosoite ei ole kelvollinen.", "E-postadressen är ogiltig.", "The email address is not valid."},
	"email_ip_literal":        {"Sähköpostiosoitteen verkkotunnus ei voi olla IP-osoite.", "E-postadressens domän kan inte vara en IP-adress.", "The email address's domain cannot be an IP address."},
	"email_quoted_local_part": {"Sähköpostiosoitteen @-merkkiä edeltävä osa ei voi olla lainausmerkeissä.", "Delen före @ i e-postadressen kan inte stå inom citattecken.", "The part of the email address before the @ cannot be quoted."},
	"invalid_role":            {"Tuntematon rooli.", "Okänd roll.", "Unknown role."},
	"invalid_locale":          {"Kielen on oltava fi, sv tai en.", "Språket ska vara fi, sv eller en.", "The language must be fi, sv or en."},
	"invalid_id":              {"Tunniste ei ole kelvollinen.", "Identifieraren är ogiltig.", "The identifier is not valid."},
	"invalid_type":            {"Arvo on väärää tyyppiä.", "Värdet har fel typ.", "The value has the wrong type."},
	"unknown_organization":    {"Organisaatiota ei ole.", "Organisationen finns inte.", "The organisation does not exist."},
	"invited_elsewhere": {"Kutsun osoitteella on käyttäjätili toisessa organisaatiossa: siirrä se käyttäjätili.",
		"Inbjudans adress har ett konto i en annan organisation: flytta det kontot.",
		"The invitation's address has an account in another organisation: move that account instead."},
	"invalid_business_id":       {"Y-tunnus ei ole kelvollinen.", "FO-numret är ogiltigt.", "The business ID is not valid."},
	"invalid_municipality_code": {"Kuntanumerossa on oltava kolme numeroa.", "Kommunnumret ska ha tre siffror.", "The municipality code must have three digits."},
	"only_for_municipalities":   {"Kuntanumero kuuluu vain kunnille.", "Kommunnummer gäller bara kommuner.", "Only municipalities have a municipality code."},
	"invalid_time":              {"Aika ei ole RFC 3339 -muodossa.", "Tiden är inte i RFC 3339-format.", "The time is not in RFC 3339 format."},
	"out_of_range":              {"Arvo on sallitun alueen ulkopuolella.", "Värdet ligger utanför det tillåtna intervallet.", "The value is out of range."},
	"invalid_sort":              {"Tuntematon lajittelu.", "Okänd sortering.", "Unknown sort order."},
	"invalid_status":            {"Tuntematon tila.", "Okänd status.", "Unknown status."},
	"invalid_search":            {"Hakuteksti on liian pitkä tai siinä on kiellettyjä merkkejä.", "Söktexten är för lång eller har otillåtna tecken.", "The search text is too long or has characters that are not allowed."},
	"requires_organization":     {"Lajittelu edellyttää organisaatiota.", "Sortering kräver en organisation.", "Sorting needs an organisation."},
	"too_many_to_sort":          {"Liian monta tulosta lajiteltavaksi; tarkenna hakua.", "För många träffar att sortera; begränsa sökningen.", "Too many results to sort; narrow the filters."},
	"not_allowed":               {"Tätä kenttää ei voi asettaa.", "Fältet kan inte anges.", "This field cannot be set."},
	"password_too_short":        {"Salasanassa on oltava vähintään 15 merkkiä.", "Lösenordet måste ha minst 15 tecken.", "The password must have at least 15 characters."},
	"password_too_long":         {"Salasana on liian pitkä.", "Lösenordet är för långt.", "The password is too long."},
	"password_blocklisted":      {"Salasana on yleisesti käytetty tai vuotanut. Valitse toinen.", "Lösenordet är vanligt eller har läckt. Välj ett annat.", "The password is common or has been leaked. Choose another."},
	"password_context_word":     {"Salasana perustuu liikaa nimeesi, sähköpostiosoitteeseesi tai palvelun nimeen.", "Lösenordet bygger för mycket på ditt namn, din e-postadress eller tjänstens namn.", "The password relies too much on your name, your email address or the service's name."},
	"password_repetitive":       {"Salasana on liian toisteinen tai ennalta arvattava.", "Lösenordet är för upprepande eller förutsägbart.", "The password is too repetitive or predictable."},
}

// localizeFields turns the domain's field errors into their wire form, in
// the reader's language.
func localizeFields(fields []kernel.FieldError, lang string) []problemField {
	out := make([]problemField, len(fields))
	for i, f := range fields {
		pf := problemField{Field: f.Field, Code: f.Code}
		if d, ok := fieldDetails[f.Code]; ok {
			switch lang {
			case "sv":
				pf.Detail = d[1]
			case "en":
				pf.Detail = d[2]
			default:
				pf.Detail = d[0]
			}
		}
		out[i] = pf
	}
	return out
}
