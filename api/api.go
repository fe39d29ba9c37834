// Package api is the HTTP contract, openapi.yaml, embedded in the binary so
// the edge can serve it (GET /api/openapi.yaml and /api/openapi.json).
// go:embed cannot reach a parent directory, so the package sits beside the
// file. The document is served exactly as written; JSON is the same
// document converted, keys in the order they are written.
package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var document string

// YAML returns the document as written in api/openapi.yaml.
func YAML() []byte { return []byte(document) }

// JSON returns the document converted to JSON. YAML readings JSON lacks are
// refused rather than guessed: a key given twice, a key that is not a
// scalar, a value tagged as something other than JSON's types.
func JSON() ([]byte, error) { return toJSON(document) }

func toJSON(src string) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := writeJSON(&b, &n); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: want one document", n.Line)
		}
		return writeJSON(b, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(b, n.Alias)
	case yaml.MappingNode:
		b.WriteByte('{')
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: a key must be a plain scalar", k.Line)
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: key %q given twice", k.Line, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k.Value)
			b.WriteByte(':')
			if err := writeJSON(b, v); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return writeScalar(b, n)
	}
	return fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

func writeScalar(b *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		b.WriteString("null")
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		fmt.Fprint(b, v)
	case "!!int", "!!float":
		// A number JSON can write as it stands keeps its text; YAML-only
		// spellings (0x1f, 1_000, .inf) are refused.
		if !json.Valid([]byte(n.Value)) {
			return fmt.Errorf("line %d: %q is not a JSON number", n.Line, n.Value)
		}
		b.WriteString(n.Value)
	case "!!str", "!!timestamp":
		// An unquoted date stays the text it was written as.
		writeString(b, n.Value)
	default:
		return fmt.Errorf("line %d: tag %s has no JSON form", n.Line, n.ShortTag())
	}
	return nil
}

// writeString writes s as a JSON string, without HTML escaping: the
// document is data, never embedded in a page.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode ends with a newline
}
