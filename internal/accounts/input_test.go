package accounts_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// P1: the email is the username, compared in one canonical form.
func TestCanonicalEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raw    string
		want   string
		wantOK bool
	}{
		{"mixed case and spaces are one address", "  Alice@Example.COM ", "alice@example.com", true},
		{"canonical form is kept", "alice@example.com", "alice@example.com", true},
		{"full-width letters fold to ASCII", "ａｌｉｃｅ@example.com", "alice@example.com", true},
		{"plus and dots in the local part are kept", "Maija.M+manual@kunta.example.fi", "maija.m+manual@kunta.example.fi", true},
		{"64-character local part is accepted", strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com", true},
		{"empty is refused", "", "", false},
		{"only spaces are refused", "   ", "", false},
		{"missing @ is refused", "alice.example.com", "", false},
		{"empty local part is refused", "@example.com", "", false},
		{"two @ are refused", "a@b@example.com", "", false},
		{"display name is refused", "Alice <alice@example.com>", "", false},
		{"domain without a dot is refused", "alice@localhost", "", false},
		{"domain ending in a dot is refused", "alice@example.com.", "", false},
		{"CR LF header injection is refused", "alice@example.com\r\nBcc: x@example.com", "", false},
		{"tab inside is refused", "ali\tce@example.com", "", false},
		{"65-character local part is refused", strings.Repeat("a", 65) + "@example.com", "", false},
		{"over 254 characters is refused", "a@" + strings.Repeat("b", 250) + ".fi", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := accounts.CanonicalEmail(tt.raw)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("CanonicalEmail(%q) = %q, %v; want %q, %v", tt.raw, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestInviteValidation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	tests := []struct {
		name string
		edit func(*accounts.InviteInput)
		want []kernel.FieldError
	}{
		{
			name: "every bad field is reported together",
			edit: func(in *accounts.InviteInput) {
				in.Email = "not-an-email"
				in.FirstName = "   "
				in.LastName = "x\r\nBcc: a@b"
				in.OrganizationID = "Org 1"
				in.Role = "owner"
				in.Locale = "de"
			},
			want: []kernel.FieldError{
				{Field: "email", Code: "invalid_email"},
				{Field: "firstName", Code: "required"},
				{Field: "lastName", Code: "invalid_characters"},
				{Field: "organizationId", Code: "invalid_id"},
				{Field: "role", Code: "invalid_role"},
				{Field: "locale", Code: "invalid_locale"},
			},
		},
		{
			name: "bad email is invalid_email",
			edit: func(in *accounts.InviteInput) { in.Email = "bad@localhost" },
			want: []kernel.FieldError{{Field: "email", Code: "invalid_email"}},
		},
		{
			name: "empty names are required",
			edit: func(in *accounts.InviteInput) { in.FirstName, in.LastName = "", " " },
			want: []kernel.FieldError{{Field: "firstName", Code: "required"}, {Field: "lastName", Code: "required"}},
		},
		{
			name: "CR LF in a name is invalid_characters",
			edit: func(in *accounts.InviteInput) { in.FirstName = "x\r\nBcc: a@b" },
			want: []kernel.FieldError{{Field: "firstName", Code: "invalid_characters"}},
		},
		{
			name: "line separator in a name is invalid_characters",
			edit: func(in *accounts.InviteInput) { in.LastName = "Meikä\u2028läinen" },
			want: []kernel.FieldError{{Field: "lastName", Code: "invalid_characters"}},
		},
		{
			name: "name over 100 characters is too_long",
			edit: func(in *accounts.InviteInput) { in.LastName = strings.Repeat("ä", accounts.MaxNameLength+1) },
			want: []kernel.FieldError{{Field: "lastName", Code: "too_long"}},
		},
		{
			name: "unknown role is invalid_role",
			edit: func(in *accounts.InviteInput) { in.Role = "superuser" },
			want: []kernel.FieldError{{Field: "role", Code: "invalid_role"}},
		},
		{
			name: "empty role is invalid_role",
			edit: func(in *accounts.InviteInput) { in.Role = "" },
			want: []kernel.FieldError{{Field: "role", Code: "invalid_role"}},
		},
		{
			name: "unknown locale is invalid_locale",
			edit: func(in *accounts.InviteInput) { in.Locale = "de" },
			want: []kernel.FieldError{{Field: "locale", Code: "invalid_locale"}},
		},
		{
			name: "organisation id with a slash is invalid_id",
			edit: func(in *accounts.InviteInput) { in.OrganizationID = "org/1" },
			want: []kernel.FieldError{{Field: "organizationId", Code: "invalid_id"}},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := inviteInput("valid" + strings.Repeat("x", i) + "@example.com")
			tt.edit(&in)
			_, err := env.svc.Invite(env.ctx, "admin-1", in, testMeta)
			if diff := cmp.Diff(tt.want, fieldErrors(t, err)); diff != "" {
				t.Errorf("field errors (-want +got):\n%s", diff)
			}
			// P10: an error never echoes what was typed.
			if msg := mustJSON(t, err); strings.Contains(msg, "Bcc") || strings.Contains(msg, "Meikä") {
				t.Errorf("validation error echoes input: %s", msg)
			}
			// Nothing was stored or claimed.
			if canonical, ok := accounts.CanonicalEmail(in.Email); ok {
				if _, err := env.store.UserIDByEmail(env.ctx, canonical); !errors.Is(err, kernel.ErrNotFound) {
					t.Errorf("email claimed by a refused invitation: %v", err)
				}
			}
		})
	}
}

func TestInviteCleansNamesAndDefaultsLocale(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	in := inviteInput("  Maija.Meikalainen@Kunta.Example.FI ")
	in.FirstName = "  Maija "
	in.LastName = "Meika\u0308la\u0308inen" // decomposed ä
	in.Locale = ""
	u, err := env.svc.Invite(env.ctx, "admin-1", in, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	got := struct{ Email, FirstName, LastName, Locale string }{u.Email, u.FirstName, u.LastName, u.Locale}
	want := struct{ Email, FirstName, LastName, Locale string }{"Maija.Meikalainen@Kunta.Example.FI", "Maija", "Meikäläinen", "fi"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cleaned invitation (-want +got):\n%s", diff)
	}
}
