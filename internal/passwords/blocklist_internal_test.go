package passwords

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestBlocklistFile(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(blocklistText, "\n"), "\n")
	if len(blocklistText) >= 1<<20 {
		t.Errorf("blocklist.txt is %d bytes, want under 1 MiB", len(blocklistText))
	}
	if got := len(lines); got < 10000 {
		t.Errorf("blocklist.txt has %d entries, want at least 10000", got)
	}
	if got, want := len(blocklist()), len(lines); got != want {
		t.Errorf("blocklist set has %d entries, want %d (one per line)", got, want)
	}
	if !slices.IsSorted(lines) {
		t.Error("blocklist.txt is not sorted")
	}
	if got, want := len(slices.Compact(slices.Clone(lines))), len(lines); got != want {
		t.Errorf("blocklist.txt has %d duplicate lines", want-got)
	}
	for i, l := range lines {
		if l == "" || l != strings.ToLower(l) || l != strings.TrimSpace(l) || !norm.NFKC.IsNormalString(l) {
			t.Errorf("line %d is not a trimmed, lowercase, NFKC entry", i+1)
		}
	}
}

func TestBlocklistHasCommonPasswords(t *testing.T) {
	for _, pw := range []string{"123456", "password", "qwerty", "iloveyou", "passwordpassword", "0123456789"} {
		t.Run(pw+" is listed", func(t *testing.T) {
			if !listed(pw) {
				t.Errorf("listed(%q) = false, want true", pw)
			}
		})
	}
}
