package privacy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Retention is how long a kind of row is kept, as a rule over the
// configuration.
type Retention string

// The retention rules.
const (
	RetainAccount      Retention = "account"      // until the account is erased
	RetainSession      Retention = "session"      // until the session expires or ends
	RetainLink         Retention = "link"         // until the link is used or expires
	RetainResetLimit   Retention = "resetlimit"   // its hour, at most the account's life
	RetainUntilRelayed Retention = "relayed"      // until the relay delivers it
	RetainDelivery     Retention = "delivery"     // DELIVERY_RETENTION
	RetainAudit        Retention = "audit"        // AUDIT_RETENTION_MONTHS
	RetainTombstone    Retention = "tombstone"    // without end (an id and a time only)
	RetainOrganisation Retention = "organisation" // while the organisation exists
	RetainChallenge    Retention = "challenge"    // until the sign-in's second step, or its time
	RetainCeremony     Retention = "ceremony"     // until the passkey sign-in uses it, or soon after its time
)

// Limits are the configured values retention is computed from.
type Limits struct {
	InactivityMonths       int           // INACTIVITY_MONTHS
	WarningDays            []int         // WARNING_DAYS
	ErasureDelay           time.Duration // ERASURE_DELAY
	AuditRetentionMonths   int           // AUDIT_RETENTION_MONTHS
	DeliveryRetention      time.Duration // DELIVERY_RETENTION
	SessionIdleTimeout     time.Duration // SESSION_IDLE_TIMEOUT
	SessionAbsoluteTimeout time.Duration // SESSION_ABSOLUTE_TIMEOUT
	InvitationTTL          time.Duration // INVITATION_TTL
	PasswordResetTTL       time.Duration // PASSWORD_RESET_TTL
	ChallengeTTL           time.Duration // the second step's time (fixed in the code)
}

// Describe is the rule in l, with the periods from limits.
func (r Retention) Describe(l Lang, limits Limits) string {
	d := func(v time.Duration) string { return duration(l, v) }
	var t Text
	switch r {
	case RetainAccount:
		t = Text{
			fmt.Sprintf("Tilin elinajan: tili suljetaan %d kuukauden käyttämättömyyden jälkeen (varoitukset %s päivää ennen) tai pyynnöstä, ja tiedot poistetaan %s sulkemisen jälkeen (INACTIVITY_MONTHS, WARNING_DAYS, ERASURE_DELAY)", limits.InactivityMonths, days(limits.WarningDays), d(limits.ErasureDelay)),
			fmt.Sprintf("Kontots livstid: kontot stängs efter %d månader utan aktivitet (varningar %s dagar före) eller på begäran, och uppgifterna raderas %s efter stängningen (INACTIVITY_MONTHS, WARNING_DAYS, ERASURE_DELAY)", limits.InactivityMonths, days(limits.WarningDays), d(limits.ErasureDelay)),
			fmt.Sprintf("The account's life: it is closed after %d months without activity (warnings %s days before) or on request, and erased %s after closing (INACTIVITY_MONTHS, WARNING_DAYS, ERASURE_DELAY)", limits.InactivityMonths, days(limits.WarningDays), d(limits.ErasureDelay)),
		}
	case RetainSession:
		t = Text{
			fmt.Sprintf("Kunnes istunto päättyy: %s ilman käyttöä, enintään %s (SESSION_IDLE_TIMEOUT, SESSION_ABSOLUTE_TIMEOUT)", d(limits.SessionIdleTimeout), d(limits.SessionAbsoluteTimeout)),
			fmt.Sprintf("Tills sessionen upphör: %s utan användning, högst %s (SESSION_IDLE_TIMEOUT, SESSION_ABSOLUTE_TIMEOUT)", d(limits.SessionIdleTimeout), d(limits.SessionAbsoluteTimeout)),
			fmt.Sprintf("Until the session ends: %s idle, %s at most (SESSION_IDLE_TIMEOUT, SESSION_ABSOLUTE_TIMEOUT)", d(limits.SessionIdleTimeout), d(limits.SessionAbsoluteTimeout)),
		}
	case RetainLink:
		t = Text{
			fmt.Sprintf("Kunnes linkki käytetään tai vanhenee: kutsu %s, salasanan palautus %s (INVITATION_TTL, PASSWORD_RESET_TTL)", d(limits.InvitationTTL), d(limits.PasswordResetTTL)),
			fmt.Sprintf("Tills länken används eller går ut: inbjudan %s, lösenordsåterställning %s (INVITATION_TTL, PASSWORD_RESET_TTL)", d(limits.InvitationTTL), d(limits.PasswordResetTTL)),
			fmt.Sprintf("Until the link is used or expires: invitation %s, password reset %s (INVITATION_TTL, PASSWORD_RESET_TTL)", d(limits.InvitationTTL), d(limits.PasswordResetTTL)),
		}
	case RetainResetLimit:
		t = Text{"Tunnin laskentajakso; poistetaan viimeistään tilin mukana",
			"En timmes räkneperiod; raderas senast med kontot",
			"An hour's window; erased with the account at the latest"}
	case RetainUntilRelayed:
		t = Text{"Kunnes välitetty (tavallisesti sekunteja; OUTBOX_DRAIN_SCHEDULE hakee jääneet)",
			"Tills förmedlad (vanligen sekunder; OUTBOX_DRAIN_SCHEDULE hämtar kvarlämnade)",
			"Until relayed (seconds, as a rule; OUTBOX_DRAIN_SCHEDULE catches what a crash left)"}
	case RetainDelivery:
		t = Text{
			fmt.Sprintf("%s (DELIVERY_RETENTION)", d(limits.DeliveryRetention)),
			fmt.Sprintf("%s (DELIVERY_RETENTION)", d(limits.DeliveryRetention)),
			fmt.Sprintf("%s (DELIVERY_RETENTION)", d(limits.DeliveryRetention)),
		}
	case RetainAudit:
		t = Text{
			fmt.Sprintf("%d kuukautta, kokonaisina kalenterikuukausina (AUDIT_RETENTION_MONTHS)", limits.AuditRetentionMonths),
			fmt.Sprintf("%d månader, hela kalendermånader (AUDIT_RETENTION_MONTHS)", limits.AuditRetentionMonths),
			fmt.Sprintf("%d months, in whole calendar months (AUDIT_RETENTION_MONTHS)", limits.AuditRetentionMonths),
		}
	case RetainTombstone:
		t = Text{"Toistaiseksi (vain satunnainen tunniste ja poistoaika)",
			"Tills vidare (endast slumpmässigt id och raderingstid)",
			"Without end (a random id and the time of erasure only)"}
	case RetainOrganisation:
		t = Text{"Niin kauan kuin organisaatio on olemassa", "Så länge organisationen finns", "While the organisation exists"}
	case RetainChallenge:
		t = Text{
			fmt.Sprintf("Kunnes kirjautumisen toinen vaihe on tehty, enintään %s; vanhentuneet poistetaan seuraavassa kirjautumisessa ja tilin mukana", d(limits.ChallengeTTL)),
			fmt.Sprintf("Tills inloggningens andra steg är gjort, högst %s; utgångna raderas vid nästa inloggning och med kontot", d(limits.ChallengeTTL)),
			fmt.Sprintf("Until the sign-in's second step, %s at most; expired ones go at the next sign-in and with the account", d(limits.ChallengeTTL)),
		}
	case RetainCeremony:
		t = Text{
			fmt.Sprintf("Kunnes pääsyavaimella kirjautuminen käyttää sen, enintään %s; vanhentuneet poistetaan seuraavien kirjautumisten alkaessa", d(limits.ChallengeTTL)),
			fmt.Sprintf("Tills inloggningen med nyckel använder den, högst %s; utgångna raderas när följande inloggningar börjar", d(limits.ChallengeTTL)),
			fmt.Sprintf("Until the passkey sign-in uses it, %s at most; expired ones go as later sign-ins start", d(limits.ChallengeTTL)),
		}
	}
	return t.In(l)
}

func days(ds []int) string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, strconv.Itoa(d))
	}
	return strings.Join(out, ", ")
}

// duration writes a period in whole days, hours or minutes, in l.
func duration(l Lang, d time.Duration) string {
	units := []struct {
		size            time.Duration
		fi, sv, en, ens string
	}{
		{24 * time.Hour, "vrk", "dygn", "day", "days"},
		{time.Hour, "h", "h", "hour", "hours"},
		{time.Minute, "min", "min", "minute", "minutes"},
	}
	for _, u := range units {
		if d >= u.size && d%u.size == 0 {
			n := int(d / u.size)
			switch l {
			case FI:
				return fmt.Sprintf("%d %s", n, u.fi)
			case SV:
				return fmt.Sprintf("%d %s", n, u.sv)
			}
			if n == 1 {
				return "1 " + u.en
			}
			return fmt.Sprintf("%d %s", n, u.ens)
		}
	}
	return d.String()
}
