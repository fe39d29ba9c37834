package passwords

import (
	_ "embed"
	"strings"
	"sync"
)

// blocklistText is the embedded list of common and breached passwords; see
// README.md for its sources and licences.
//
//go:embed blocklist.txt
var blocklistText string

// blocklist is the lookup set over blocklistText, built on first use rather
// than in init so programs that never check a password do not pay for it.
// The keys are substrings of the embedded text, so building the set copies
// no password data, and the set is never written after it is built.
var blocklist = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(blocklistText, "\n")+1)
	for line := range strings.Lines(blocklistText) {
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			set[line] = struct{}{}
		}
	}
	return set
})
