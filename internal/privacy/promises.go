package privacy

//go:generate go test -run TestPromiseTableIsCurrent -update .

// Promise is one of the privacy notice's promises (P1–P14) with the tests
// that prove it: the tests that name it in a comment.
type Promise struct {
	ID    string
	Text  string
	Tests []string // "package: TestName", sorted
}

// promiseTexts are the promises, in short.
var promiseTexts = []Text{
	{EN: "Every user has a personal account; the email address is the username (unique, case-insensitive)"},
	{EN: "The user sets the password at first sign-in; nobody else sees or sets it"},
	{EN: "Only the administration or the organisation's primary user adds a user, with a home organisation and a role"},
	{EN: "Administrators and primary users add and remove users and manage organisations and access; a primary user only in their own organisation"},
	{EN: "The role determines what a person can see and do; the administration changes any role at once"},
	{EN: "An account is closed after the configured months of inactivity, after warnings; signing in reactivates it"},
	{EN: "A closed account's data is erased after the erasure delay"},
	{EN: "The administration can restore a closed account until it is erased"},
	{EN: "Only first name, last name, email and home organisation are processed about a person, plus what authentication needs"},
	{EN: "No disclosure: no endpoint, log or message shows a person's data to anyone without the right to see it"},
	{EN: "Every administrative action and account-lifecycle change leaves an audit event"},
	{EN: "Data stays in the EU/EEA, and so does every external service"},
	{EN: "Sign-in is with personal, system-specific credentials (email and password)"},
	{EN: "A person can see and export their data, correct their name and ask for erasure"},
}

// Promises lists P1–P14 with their tests (promises_gen.go, written by go
// generate from the tests' comments).
func Promises() []Promise {
	out := make([]Promise, 0, len(promiseTexts))
	for i, t := range promiseTexts {
		id := "P" + itoa(i+1)
		out = append(out, Promise{ID: id, Text: t.EN, Tests: promiseTests[id]})
	}
	return out
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
