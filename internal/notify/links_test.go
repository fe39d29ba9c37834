package notify

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestNewLinkBuilderRefusesUnsafeBase(t *testing.T) {
	tests := []struct {
		name, base string
	}{
		{"refused when empty", ""},
		{"refused when relative", "/app"},
		{"refused without a scheme", "//palvelumanuaali.fi"},
		{"refused for ftp", "ftp://palvelumanuaali.fi"},
		{"refused for javascript", "javascript:alert(1)"},
		{"refused for plain http to a public host", "http://palvelumanuaali.fi"},
		{"refused with a query", "https://palvelumanuaali.fi/?next=https://evil.example"},
		{"refused with an empty query", "https://palvelumanuaali.fi/?"},
		{"refused with a fragment", "https://palvelumanuaali.fi/#x"},
		{"refused with user info", "https://user:secret@palvelumanuaali.fi"},
		{"refused when it does not parse", "https://user:secret@palvelumanuaali.fi:port/%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewLinkBuilder(tt.base)
			if got, want := errors.Is(err, ErrInvalidBaseURL), true; got != want {
				t.Fatalf("NewLinkBuilder(%q) error = %v, want ErrInvalidBaseURL", tt.base, err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q repeats the user info", err)
			}
		})
	}
}

func TestLinkBuilderBuildsFromBaseOnly(t *testing.T) {
	tests := []struct {
		name, base, want string
		link             func(LinkBuilder) string
	}{
		{
			name: "invitation under the site root",
			base: "https://palvelumanuaali.fi",
			link: func(b LinkBuilder) string { return b.Invitation("abc") },
			want: "https://palvelumanuaali.fi/invitation?token=abc",
		},
		{
			name: "password reset under a path prefix with trailing slash",
			base: "https://palvelumanuaali.fi/app/",
			link: func(b LinkBuilder) string { return b.PasswordReset("abc") },
			want: "https://palvelumanuaali.fi/app/password-reset?token=abc",
		},
		{
			name: "sign-in without a token",
			base: "https://palvelumanuaali.fi/app",
			link: LinkBuilder.SignIn,
			want: "https://palvelumanuaali.fi/app/sign-in",
		},
		{
			name: "plain http allowed for localhost",
			base: "http://localhost:3000",
			link: func(b LinkBuilder) string { return b.Invitation("abc") },
			want: "http://localhost:3000/invitation?token=abc",
		},
		{
			name: "plain http allowed for 127.0.0.1",
			base: "http://127.0.0.1:8080/",
			link: LinkBuilder.SignIn,
			want: "http://127.0.0.1:8080/sign-in",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewLinkBuilder(tt.base)
			if err != nil {
				t.Fatalf("NewLinkBuilder(%q): %v", tt.base, err)
			}
			if got, want := tt.link(b), tt.want; got != want {
				t.Errorf("link = %q, want %q", got, want)
			}
		})
	}
}

func TestLinkBuilderEscapesTokens(t *testing.T) {
	b, err := NewLinkBuilder("https://palvelumanuaali.fi")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token, wantQuery string
	}{
		{"plus, slash and equals are escaped", "a+b/c==", "token=a%2Bb%2Fc%3D%3D"},
		{"ampersand cannot add a parameter", "x&next=https://evil.example", "token=x%26next%3Dhttps%3A%2F%2Fevil.example"},
		{"hash cannot start a fragment", "x#y", "token=x%23y"},
		{"space, question mark and percent are escaped", "a b?%", "token=a+b%3F%25"},
		{"line breaks are escaped", "a\r\nb", "token=a%0D%0Ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, link := range map[string]string{
				"invitation":     b.Invitation(tt.token),
				"password reset": b.PasswordReset(tt.token),
			} {
				u, err := url.Parse(link)
				if err != nil {
					t.Fatalf("%s link %q does not parse: %v", name, link, err)
				}
				if got, want := u.RawQuery, tt.wantQuery; got != want {
					t.Errorf("%s link query = %q, want %q", name, got, want)
				}
				if got, want := u.Query().Get(TokenParam), tt.token; got != want {
					t.Errorf("%s link token = %q, want %q", name, got, want)
				}
				if got, want := u.Fragment, ""; got != want {
					t.Errorf("%s link fragment = %q, want none", name, got)
				}
			}
		})
	}
}
