package privacy

import "github.com/palvelumanuaali/useradmin/internal/kernel"

// Through whom a property can be seen, as rows of the permission matrix.
var (
	byUsers = []kernel.Permission{kernel.PermSeeUsers}
	byAudit = []kernel.Permission{kernel.PermSeeAuditEvents}
	byOrg   = []kernel.Permission{kernel.PermSeeOrganization}
)

// field builds a Field.
func field(name string, c Category, p Purpose, seen []kernel.Permission) Field {
	return Field{Name: name, Category: c, Purpose: p, Seen: seen}
}

// technical is a property that holds nothing about a person.
func technical(names ...string) []Field {
	out := make([]Field, 0, len(names))
	for _, n := range names {
		out = append(out, field(n, CategoryNone, PurposeOperation, nil))
	}
	return out
}

// inAccountPartition are the keys of a row in an account's partition: the
// account's id, and a row key naming the row's kind.
func inAccountPartition(p Purpose, more ...Field) []Field {
	return append([]Field{field("PartitionKey", CategoryIdentifier, p, nil), field("RowKey", CategoryNone, PurposeOperation, nil)}, more...)
}

// auditFields are an audit event's properties, in its chain and in its
// index copies.
func auditFields(keys ...Field) []Field {
	return append(keys,
		field("EventID", CategoryNone, PurposeAudit, byAudit),
		field("At", CategoryActivity, PurposeAudit, byAudit),
		field("Action", CategoryActivity, PurposeAudit, byAudit),
		field("ActorID", CategoryIdentifier, PurposeAudit, byAudit),
		field("SubjectID", CategoryIdentifier, PurposeAudit, byAudit),
		field("Organization", CategoryOrganisation, PurposeAudit, byAudit),
		field("Fields", CategoryActivity, PurposeAudit, byAudit),
		field("Reason", CategoryActivity, PurposeAudit, byAudit),
		field("RequestID", CategoryNone, PurposeAudit, byAudit),
		field("Shard", CategoryNone, PurposeOperation, nil),
		field("Seq", CategoryNone, PurposeAudit, nil),
		field("PrevHash", CategoryNone, PurposeAudit, nil),
		field("Hash", CategoryNone, PurposeAudit, nil),
		field("KeyVersion", CategoryNone, PurposeAudit, nil),
	)
}

// Declaration is every kind of row the system stores, with every property
// it may have. A property missing here fails tablestore's drift test.
func Declaration() []Row {
	return []Row{
		{Table: "users", Kind: "account", Retention: RetainAccount,
			About: Text{"Käyttäjätili", "Användarkonto", "The account"},
			Fields: inAccountPartition(PurposeAccount,
				field("Email", CategoryEmail, PurposeAccount, byUsers),
				field("FirstName", CategoryName, PurposeAccount, byUsers),
				field("LastName", CategoryName, PurposeAccount, byUsers),
				field("OrganizationID", CategoryOrganisation, PurposeAccount, byUsers),
				field("Role", CategoryAccess, PurposeAccount, byUsers),
				field("Status", CategoryAccess, PurposeAccount, byUsers),
				field("Locale", CategoryAccess, PurposeNotification, byUsers),
				field("CreatedAt", CategoryActivity, PurposeAccount, byUsers),
				field("ActivatedAt", CategoryActivity, PurposeAccount, nil),
				field("InvitedAt", CategoryActivity, PurposeAccount, nil),
				field("InvitedElsewhere", CategoryAccess, PurposeAccount, nil),
				field("NeverAdmin", CategoryAccess, PurposeAccount, nil),
				field("PrivacyNoticeVersion", CategoryActivity, PurposeAccount, nil),
				field("PrivacyNoticeAcceptedAt", CategoryActivity, PurposeAccount, nil),
				field("PasswordHash", CategoryAuthentication, PurposeSignIn, nil),
				field("FailedSignIns", CategoryAuthentication, PurposeSignIn, nil),
				field("FailureTimes", CategoryAuthentication, PurposeSignIn, nil),
				field("Lockouts", CategoryAuthentication, PurposeSignIn, nil),
				field("LockedUntil", CategoryAuthentication, PurposeSignIn, nil),
				field("LockedForReset", CategoryAuthentication, PurposeSignIn, nil),
				field("LastActiveAt", CategoryActivity, PurposeLifecycle, byUsers),
				field("ClosedAt", CategoryActivity, PurposeLifecycle, byUsers),
				field("ClosedReason", CategoryActivity, PurposeLifecycle, byUsers),
				field("WarnedFor", CategoryActivity, PurposeLifecycle, nil),
				field("WarnedDays", CategoryActivity, PurposeLifecycle, nil),
				field("WarnedAt", CategoryActivity, PurposeLifecycle, nil),
				field("ErasingSince", CategoryActivity, PurposeLifecycle, nil),
				field("Version", CategoryNone, PurposeOperation, nil),
			)},
		{Table: "users", Kind: "session", Retention: RetainSession,
			About: Text{"Istunto (vain salaisuuden tiiviste)", "Session (endast hash av hemligheten)", "A session (only its secret's digest)"},
			Fields: inAccountPartition(PurposeSignIn,
				field("ID", CategoryAuthentication, PurposeSignIn, nil),
				field("CreatedAt", CategoryActivity, PurposeSignIn, nil),
				field("LastSeenAt", CategoryActivity, PurposeSignIn, nil),
				field("ExpiresAt", CategoryAuthentication, PurposeSignIn, nil),
				field("ActivityAt", CategoryActivity, PurposeLifecycle, nil),
				field("AccessRole", CategoryAccess, PurposeSignIn, nil),
				field("AccessOrganizationID", CategoryOrganisation, PurposeSignIn, nil),
				field("AccessStatus", CategoryAccess, PurposeSignIn, nil),
			)},
		{Table: "users", Kind: "token", Retention: RetainLink,
			About: Text{"Kutsu- tai salasanalinkin tiiviste", "Hash av inbjudnings- eller lösenordslänk", "An invitation or password-reset link's digest"},
			Fields: inAccountPartition(PurposeSignIn,
				field("CreatedAt", CategoryActivity, PurposeSignIn, nil),
				field("ExpiresAt", CategoryAuthentication, PurposeSignIn, nil),
			)},
		{Table: "users", Kind: "resetlimit", Retention: RetainResetLimit,
			About: Text{"Salasanan palautuspyyntöjen laskuri", "Räknare för begäran om lösenordsåterställning", "The password-reset request counter"},
			Fields: inAccountPartition(PurposeSignIn,
				field("WindowStart", CategoryActivity, PurposeSignIn, nil),
				field("Count", CategoryActivity, PurposeSignIn, nil),
			)},
		{Table: "users", Kind: "outbox", Retention: RetainUntilRelayed,
			About: Text{"Välittämätön tapahtuma tai ilmoitus (vain tunnisteita)", "Ej förmedlad händelse eller avisering (endast id:n)", "An undelivered audit event or notification (ids only)"},
			Fields: inAccountPartition(PurposeAudit,
				field("Kind", CategoryNone, PurposeOperation, nil),
				field("Payload", CategoryActivity, PurposeAudit, nil),
			)},
		{Table: "users", Kind: "delivery", Retention: RetainDelivery,
			About: Text{"Sähköpostin toimitusvaraus", "Reservation av e-postleverans", "An email's delivery claim"},
			Fields: inAccountPartition(PurposeNotification,
				field("State", CategoryNone, PurposeNotification, nil),
				field("QueuedAt", CategoryActivity, PurposeNotification, nil),
				field("ClaimedAt", CategoryActivity, PurposeNotification, nil),
				field("SentAt", CategoryActivity, PurposeNotification, nil),
			)},
		{Table: "users", Kind: "directory", Retention: RetainAccount,
			About: Text{"Osoitin tilin hakemistoriveihin", "Pekare till kontots katalograder", "Where the account's directory entries are"},
			Fields: inAccountPartition(PurposeAccount,
				field("Version", CategoryNone, PurposeOperation, nil),
				field("Entries", CategoryName, PurposeAccount, nil),
			)},
		{Table: "users", Kind: "lifecycle", Retention: RetainAccount,
			About: Text{"Osoitin tilin elinkaarimerkintään", "Pekare till kontots livscykelpost", "Where the account's lifecycle entry is"},
			Fields: inAccountPartition(PurposeLifecycle,
				field("Day", CategoryActivity, PurposeLifecycle, nil),
			)},
		{Table: "users", Kind: "erased", Retention: RetainTombstone,
			About: Text{"Poistetun tilin jäänne: tunniste ja aika", "Spår av raderat konto: id och tid", "What is left of an erased account: its id and when"},
			Fields: inAccountPartition(PurposeLifecycle,
				field("ErasedAt", CategoryActivity, PurposeLifecycle, nil),
			)},
		{Table: "emails", Kind: "claim", Retention: RetainAccount,
			About: Text{"Sähköpostiosoitteen yksilöllisyys (osoitteen tiiviste)", "E-postadressens unikhet (hash av adressen)", "The email address's uniqueness (a digest of the address)"},
			Fields: []Field{
				field("PartitionKey", CategoryEmail, PurposeAccount, nil),
				field("RowKey", CategoryNone, PurposeOperation, nil),
				field("UserID", CategoryIdentifier, PurposeAccount, nil),
				field("ClaimedAt", CategoryActivity, PurposeAccount, nil),
			}},
		{Table: "orgs", Kind: "organisation", Retention: RetainOrganisation,
			About: Text{"Organisaatio", "Organisation", "An organisation"},
			Fields: append(technical("PartitionKey", "RowKey", "NameFI", "NameSV", "NameEN", "Type", "BusinessID", "MunicipalityCode", "CreatedAt"),
				// A functional address, but it may be a person's.
				field("ContactEmail", CategoryEmail, PurposeAccount, byOrg)),
		},
		{Table: "orgs", Kind: "outbox", Retention: RetainUntilRelayed,
			About:  Text{"Organisaation välittämätön tapahtuma (vain tunnisteita)", "Organisationens ej förmedlade händelse (endast id:n)", "An organisation's undelivered audit event (ids only)"},
			Fields: append(technical("PartitionKey", "RowKey", "Kind"), field("Payload", CategoryActivity, PurposeAudit, nil)),
		},
		{Table: "orgs", Kind: "registry", Retention: RetainAccount,
			About:  Text{"Aktiiviset pääkäyttäjät (viimeisen pääkäyttäjän suoja)", "Aktiva administratörer (skydd för den sista)", "The active administrators (the last-admin guard)"},
			Fields: append(technical("PartitionKey", "RowKey"), field("Admins", CategoryIdentifier, PurposeAccount, nil)),
		},
		{Table: "members", Kind: "entry", Retention: RetainAccount,
			About: Text{"Organisaation käyttäjähakemiston rivi", "Rad i organisationens användarkatalog", "An entry of the organisation's user directory"},
			Fields: []Field{
				field("PartitionKey", CategoryOrganisation, PurposeAccount, byUsers),
				// The name order key: the names, folded, and the id.
				field("RowKey", CategoryName, PurposeAccount, nil),
				field("UserID", CategoryIdentifier, PurposeAccount, byUsers),
				field("Email", CategoryEmail, PurposeAccount, byUsers),
				field("FirstName", CategoryName, PurposeAccount, byUsers),
				field("LastName", CategoryName, PurposeAccount, byUsers),
				field("Role", CategoryAccess, PurposeAccount, byUsers),
				field("Status", CategoryAccess, PurposeAccount, byUsers),
				field("Locale", CategoryAccess, PurposeAccount, byUsers),
				field("CreatedAt", CategoryActivity, PurposeAccount, byUsers),
				field("LastActiveAt", CategoryActivity, PurposeLifecycle, byUsers),
				field("ClosedAt", CategoryActivity, PurposeLifecycle, byUsers),
				field("ClosedReason", CategoryActivity, PurposeLifecycle, byUsers),
				field("Version", CategoryNone, PurposeOperation, nil),
			}},
		{Table: "audit", Kind: "event", Retention: RetainAudit,
			About:  Text{"Lokitapahtuma (kuukauden HMAC-ketjussa)", "Logghändelse (i månadens HMAC-kedja)", "An audit event (in its month's HMAC chain)"},
			Fields: auditFields(field("PartitionKey", CategoryOrganisation, PurposeAudit, nil), field("RowKey", CategoryNone, PurposeAudit, nil)),
		},
		{Table: "audit", Kind: "head", Retention: RetainAudit,
			About:  Text{"Lokiketjun pää", "Loggkedjans huvud", "An audit chain's head"},
			Fields: technical("PartitionKey", "RowKey", "Seq", "Hash", "RecentIDs"),
		},
		{Table: "auditidx", Kind: "copy", Retention: RetainAudit,
			About:  Text{"Lokitapahtuman kopio henkilön tai päivän mukaan", "Kopia av logghändelse per person eller dag", "An audit event's copy by person or by day"},
			Fields: auditFields(field("PartitionKey", CategoryIdentifier, PurposeAudit, nil), field("RowKey", CategoryActivity, PurposeAudit, nil)),
		},
		{Table: "pending", Kind: "mark", Retention: RetainUntilRelayed,
			About: Text{"Merkintä välittämättömistä muutoksista", "Markering av ej förmedlade ändringar", "A mark that an outbox may hold undelivered items"},
			Fields: []Field{
				field("PartitionKey", CategoryNone, PurposeOperation, nil),
				field("RowKey", CategoryIdentifier, PurposeAudit, nil),
				field("MarkedAt", CategoryActivity, PurposeAudit, nil),
			}},
		{Table: "deliveries", Kind: "claim", Retention: RetainDelivery,
			About: Text{"Vanha toimitusvaraus (ei enää kirjoiteta)", "Gammal leveransreservation (skrivs inte längre)", "An old delivery claim (no longer written)"},
			Fields: append(technical("PartitionKey", "RowKey", "State"),
				field("UserID", CategoryIdentifier, PurposeNotification, nil),
				field("QueuedAt", CategoryActivity, PurposeNotification, nil),
				field("ClaimedAt", CategoryActivity, PurposeNotification, nil),
				field("SentAt", CategoryActivity, PurposeNotification, nil)),
		},
		{Table: "failed", Kind: "failure", Retention: RetainDelivery,
			About: Text{"Ilmoitus, jonka toimitus epäonnistui (syykoodi)", "Avisering som inte kunde levereras (orsakskod)", "A notification given up on (a reason code)"},
			Fields: append(technical("PartitionKey", "RowKey", "Kind", "Reason", "DeliveryCount"),
				field("UserID", CategoryIdentifier, PurposeNotification, nil),
				field("At", CategoryActivity, PurposeNotification, nil)),
		},
		{Table: "lifecycle", Kind: "entry", Retention: RetainAccount,
			About: Text{"Elinkaaren seuraavan vaiheen päivä", "Dag för livscykelns nästa steg", "The day the account's next lifecycle step is due"},
			Fields: []Field{
				field("PartitionKey", CategoryActivity, PurposeLifecycle, nil),
				field("RowKey", CategoryIdentifier, PurposeLifecycle, nil),
				field("DueAt", CategoryActivity, PurposeLifecycle, nil),
			}},
	}
}
