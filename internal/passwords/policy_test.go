package passwords_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

func TestPolicyCheck(t *testing.T) {
	passphrase64 := "Kuusi pientä kissaa istui ikkunalaudalla katsellen sadetta ulos."
	if got, want := utf8.RuneCountInString(passphrase64), 64; got != want {
		t.Fatalf("test passphrase has %d code points, want %d", got, want)
	}
	userContext := []string{"aino.virtanen", "Aino", "Virtanen"}
	tests := []struct {
		name     string
		password string
		context  []string
		want     passwords.Reason // "" means accepted
	}{
		{name: "14 code points is too short", password: "Kesäyö järvell", want: passwords.ReasonTooShort},
		{name: "14 code points after NFKC is too short even when the input has 17", password: "Kesa\u0308yo\u0308 ja\u0308rvell", want: passwords.ReasonTooShort},
		{name: "15 code points is accepted", password: "Kesäyö järvellä"},
		{name: "15 code points after NFKC from decomposed input is accepted", password: "Kesa\u0308yo\u0308 ja\u0308rvella\u0308"},
		{name: "15 emojis are accepted", password: "😀🎉🐍🚀🌍🍕🎸📚🔥💡🌈🐱🍀⚡🎯"},
		{name: "64 character passphrase is accepted", password: passphrase64},
		{name: "correct horse battery staple is accepted", password: "correct horse battery staple"},
		{name: "random digits are accepted", password: "839201748362941"},
		{name: "short listed word before random digits is accepted", password: "abc839201748362"},
		{name: "random mixed characters are accepted", password: "Xk9#mP2$vL7!qR4@"},
		{name: "257 code points is too long", password: strings.Repeat("Kesäyö järvellä ", 16) + "x", want: passwords.ReasonTooLong},
		{name: "1025 bytes is too long", password: strings.Repeat("x", 1025), want: passwords.ReasonTooLong},
		{name: "1 MiB is too long", password: strings.Repeat("y", 1<<20), want: passwords.ReasonTooLong},
		{name: "listed word repeated is blocklisted", password: "passwordpassword", want: passwords.ReasonBlocklisted},
		{name: "listed word repeated with spaces is blocklisted", password: "pass word pass word", want: passwords.ReasonBlocklisted},
		{name: "listed keyboard word repeated is blocklisted", password: "qwertyqwertyqwerty", want: passwords.ReasonBlocklisted},
		{name: "listed word with year and punctuation is blocklisted", password: "Password2025!!!!!", want: passwords.ReasonBlocklisted},
		{name: "listed word with substitutions is blocklisted", password: "P@ssw0rd2025!!!!", want: passwords.ReasonBlocklisted},
		{name: "listed name with digit sequence is blocklisted", password: "michael123456789", want: passwords.ReasonBlocklisted},
		{name: "single character repeated is repetitive", password: "aaaaaaaaaaaaaaa", want: passwords.ReasonRepetitive},
		{name: "short unit repeated is repetitive", password: "abcabcabcabcabc", want: passwords.ReasonRepetitive},
		{name: "digit sequence is repetitive", password: "123456789012345", want: passwords.ReasonRepetitive},
		{name: "letter sequence is repetitive", password: "abcdefghijklmnop", want: passwords.ReasonRepetitive},
		{name: "keyboard row is repetitive", password: "qwertyuiopasdfgh", want: passwords.ReasonRepetitive},
		{name: "only decoration is repetitive", password: "2025!!!!!!!!!!!!", want: passwords.ReasonRepetitive},
		{name: "product name with year and punctuation is context", password: "Palvelumanuaali2025!!!!!", want: passwords.ReasonContext},
		{name: "product name with substitutions is context", password: "P4lvelumanuaali2025!!!!!", want: passwords.ReasonContext},
		{name: "Finnish product name with diacritics is context", password: "Työllisyyspalvelut2024!", want: passwords.ReasonContext},
		{name: "Swedish product name is context", password: "Servicemanualen-2024", want: passwords.ReasonContext},
		{name: "email local part with digits is context", password: "aino.virtanen123456789", context: userContext, want: passwords.ReasonContext},
		{name: "whole email local part alone splits into names", password: "aino.virtanen123456789", context: []string{"aino.virtanen"}, want: passwords.ReasonContext},
		{name: "whole email address splits into names", password: "Virtanen Aino 1985!!!", context: []string{"aino.virtanen@example.fi"}, want: passwords.ReasonContext},
		{name: "names with a short word is context", password: "ainovirtanen2024rocks", context: userContext, want: passwords.ReasonContext},
		{name: "email local part with digits but no context is accepted", password: "aino.virtanen123456789"},
		{name: "name with enough else is accepted", password: "Aino kesäyö järvellä", context: userContext},
		{name: "context words shorter than three characters are ignored", password: "alkave sunrise 2025!", context: []string{"al", "ka", "ve"}},
		{name: "the same password with three-letter context words is context", password: "alkave sunrise 2025!", context: []string{"alk", "ave"}, want: passwords.ReasonContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := passwords.DefaultPolicy().Check(tt.password, tt.context...)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			var rej *passwords.Rejection
			if !errors.As(err, &rej) {
				t.Fatalf("Check() = %v, want a *Rejection", err)
			}
			if got, want := rej.Reason, tt.want; got != want {
				t.Errorf("Check() reason = %q, want %q", got, want)
			}
			if len(tt.password) >= 4 && strings.Contains(err.Error(), tt.password) {
				t.Errorf("Check() error %q contains the password", err)
			}
		})
	}
}

func TestPolicyLimits(t *testing.T) {
	tests := []struct {
		name     string
		policy   passwords.Policy
		password string
		want     error
	}{
		{name: "zero policy uses the default minimum", policy: passwords.Policy{}, password: "Kesäyö järvell", want: &passwords.Rejection{Reason: passwords.ReasonTooShort}},
		{name: "lower minimum accepts a shorter password", policy: passwords.Policy{MinLength: 8}, password: "Kesäyö järvell"},
		{name: "lower maximum rejects a longer password", policy: passwords.Policy{MaxLength: 20}, password: "correct horse battery staple", want: &passwords.Rejection{Reason: passwords.ReasonTooLong}},
		{name: "byte limit above MaxBytes is capped", policy: passwords.Policy{MaxLength: 5000, MaxBytes: 1 << 20}, password: strings.Repeat("xy1", 342), want: &passwords.Rejection{Reason: passwords.ReasonTooLong}},
		{name: "lower byte limit counts bytes not code points", policy: passwords.Policy{MaxBytes: 20}, password: "Kesäyö järvellä ööö", want: &passwords.Rejection{Reason: passwords.ReasonTooLong}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.Check(tt.password)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(sameRejection)); diff != "" {
				t.Errorf("Check() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func sameRejection(a, b error) bool {
	var ra, rb *passwords.Rejection
	if !errors.As(a, &ra) || !errors.As(b, &rb) {
		return a == nil && b == nil
	}
	return ra.Reason == rb.Reason
}

func TestDefaultPolicy(t *testing.T) {
	want := passwords.Policy{MinLength: 15, MaxLength: 256, MaxBytes: 1024}
	if diff := cmp.Diff(want, passwords.DefaultPolicy()); diff != "" {
		t.Errorf("DefaultPolicy() mismatch (-want +got):\n%s", diff)
	}
}

func TestRejectionError(t *testing.T) {
	tests := []struct {
		reason passwords.Reason
		want   string
	}{
		{passwords.ReasonTooShort, "password is too short"},
		{passwords.ReasonTooLong, "password is too long"},
		{passwords.ReasonBlocklisted, "password is too common"},
		{passwords.ReasonContext, "password is too close to your name, email address or the name of the service"},
		{passwords.ReasonRepetitive, "password is too repetitive or predictable"},
		{"other", "password rejected: other"},
	}
	for _, tt := range tests {
		t.Run(string(tt.reason)+" has a fixed message", func(t *testing.T) {
			if got, want := (&passwords.Rejection{Reason: tt.reason}).Error(), tt.want; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

func BenchmarkPolicyCheck(b *testing.B) {
	policy := passwords.DefaultPolicy()
	inputs := []string{
		"correct horse battery staple",
		"Password2025!!!!!",
		"Kesäyö järvellä ja sauna lämpenee",
		"aino.virtanen123456789",
		"Xk9#mP2$vL7!qR4@",
	}
	policy.Check(inputs[0]) // build the blocklist outside the timed loop
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = policy.Check(inputs[i%len(inputs)], "aino.virtanen", "Aino", "Virtanen")
		i++
	}
}
