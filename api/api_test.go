package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// The JSON form is the YAML document converted, in the written order.
func TestJSONKeepsTheDocumentsOrder(t *testing.T) {
	raw, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(raw) {
		t.Fatal("JSON() is not JSON")
	}
	s := string(raw)
	if !strings.HasPrefix(s, `{"openapi":"3.1.0","jsonSchemaDialect":`) {
		t.Errorf("JSON starts %q, want the document's first keys in order", s[:min(len(s), 60)])
	}
	if i, j := strings.Index(s, `"paths":`), strings.Index(s, `"components":`); i < 0 || j < i {
		t.Errorf("paths at %d, components at %d: want the written order", i, j)
	}
}

// What JSON cannot say is refused, never guessed: two operations under one
// key would otherwise hide each other.
func TestToJSONRefusesWhatJSONCannotSay(t *testing.T) {
	for _, src := range []string{
		"a: 1\na: 2\n",       // a key twice
		"? [a]\n: 1\n",       // a key that is not a scalar
		"a: 0x1f\n",          // a YAML-only number
		"a: !!binary aGk=\n", // a tag JSON lacks
		"a: .inf\n",
	} {
		if out, err := toJSON(src); err == nil {
			t.Errorf("%q converted to %s, want an error", src, out)
		}
	}
	out, err := toJSON("b: [1, 2.5, true, null, 2026-03-02, '<&>']\na: x\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"b":[1,2.5,true,null,"2026-03-02","<&>"],"a":"x"}`; string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}
