package accounts_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

func ptr(s string) *string { return &s }

// P14: a person corrects their own name; the change is conditional on the
// version they saw (If-Match) and its event names the changed fields only.
func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, in := env.activeUser("maija@example.fi")
	p := env.authenticate(in.Token)

	t.Run("If-Match with the current version applies", func(t *testing.T) {
		before, err := env.svc.Me(env.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := env.svc.UpdateProfile(env.ctx, p, accounts.ProfilePatch{FirstName: ptr(" Maija-Liisa "), LastName: ptr("Meikäläinen")}, kernel.PublicETag(before.ETag), testMeta)
		if err != nil {
			t.Fatal(err)
		}
		if got.FirstName != "Maija-Liisa" || got.LastName != "Meikäläinen" {
			t.Errorf("names = %q %q, want Maija-Liisa Meikäläinen", got.FirstName, got.LastName)
		}
		stored := env.user(u.ID)
		if got.ETag != stored.ETag || got.ETag == before.ETag {
			t.Errorf("returned ETag %q, stored %q, before %q: want the new stored one", got.ETag, stored.ETag, before.ETag)
		}
		updated := env.eventsWith(u.ID, audit.ActionProfileUpdated)
		if len(updated) != 1 {
			t.Fatalf("%d profile.updated events, want 1", len(updated))
		}
		// Only the first name changed; the last name was sent as it was.
		if diff := cmp.Diff([]string{"firstName"}, updated[0].Fields); diff != "" {
			t.Errorf("event fields (-want +got):\n%s", diff)
		}
	})

	t.Run("a stale If-Match is refused and changes nothing", func(t *testing.T) {
		stale := env.user(u.ID).ETag
		if _, err := env.svc.UpdateProfile(env.ctx, p, accounts.ProfilePatch{Locale: ptr("sv")}, "", testMeta); err != nil {
			t.Fatal(err)
		}
		current := env.user(u.ID)
		for _, ifMatch := range []string{kernel.PublicETag(stale), stale, current.ETag, "*", "garbage"} {
			_, err := env.svc.UpdateProfile(env.ctx, p, accounts.ProfilePatch{LastName: ptr("Virtanen")}, ifMatch, testMeta)
			if !errors.Is(err, kernel.ErrPreconditionFailed) {
				t.Errorf("If-Match %q: %v, want ErrPreconditionFailed", ifMatch, err)
			}
		}
		if got := env.user(u.ID); got.LastName != "Meikäläinen" || got.ETag != current.ETag {
			t.Errorf("refused update changed the account: last name %q", got.LastName)
		}
	})

	t.Run("event lists each changed field", func(t *testing.T) {
		before := len(env.eventsWith(u.ID, audit.ActionProfileUpdated))
		if _, err := env.svc.UpdateProfile(env.ctx, p, accounts.ProfilePatch{FirstName: ptr("Maija"), LastName: ptr("Virtanen"), Locale: ptr("en")}, "", testMeta); err != nil {
			t.Fatal(err)
		}
		events := env.eventsWith(u.ID, audit.ActionProfileUpdated)
		if len(events) != before+1 {
			t.Fatalf("%d new events, want 1", len(events)-before)
		}
		if diff := cmp.Diff([]string{"firstName", "lastName", "locale"}, events[len(events)-1].Fields); diff != "" {
			t.Errorf("event fields (-want +got):\n%s", diff)
		}
	})

	t.Run("a patch that changes nothing writes nothing", func(t *testing.T) {
		before := env.user(u.ID)
		events := len(env.eventsWith(u.ID, audit.ActionProfileUpdated))
		got, err := env.svc.UpdateProfile(env.ctx, p, accounts.ProfilePatch{FirstName: ptr("Maija"), Locale: ptr("en")}, kernel.PublicETag(before.ETag), testMeta)
		if err != nil {
			t.Fatal(err)
		}
		if got.ETag != before.ETag || env.user(u.ID).ETag != before.ETag {
			t.Errorf("unchanged patch rewrote the account")
		}
		if n := len(env.eventsWith(u.ID, audit.ActionProfileUpdated)); n != events {
			t.Errorf("unchanged patch left %d events", n-events)
		}
	})

	t.Run("bad values are reported together", func(t *testing.T) {
		before := env.user(u.ID)
		_, err := env.svc.UpdateProfile(env.ctx, p, accounts.ProfilePatch{FirstName: ptr("  "), LastName: ptr("x\r\nBcc: a@b"), Locale: ptr("de")}, "", testMeta)
		want := []kernel.FieldError{
			{Field: "firstName", Code: "required"},
			{Field: "lastName", Code: "invalid_characters"},
			{Field: "locale", Code: "invalid_locale"},
		}
		if diff := cmp.Diff(want, fieldErrors(t, err)); diff != "" {
			t.Errorf("field errors (-want +got):\n%s", diff)
		}
		if env.user(u.ID).ETag != before.ETag {
			t.Errorf("refused patch changed the account")
		}
	})
}
