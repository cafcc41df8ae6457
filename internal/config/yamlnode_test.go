package config

import (
	"bytes"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestToNode_ScalarsAsEncode: the scalar nodes toNode builds directly encode
// to the same YAML as yaml.Node.Encode's (which toNode used to call for every
// key and value).
func TestToNode_ScalarsAsEncode(t *testing.T) {
	values := []any{
		"", "plain", "with space", " leading", "trailing ", "a: b", "a #b", "#c", "- x", "[x]", "{x}", "*x", "&x", "!x", "|x", ">x", "%x", "@x", "`x",
		"true", "false", "True", "FALSE", "yes", "no", "On", "OFF", "y", "N", "null", "Null", "~", "NULL",
		"1", "-1", "+1", "0x1F", "0o17", "017", "1.5", "1e3", ".5", ".inf", "-.Inf", ".nan", "1_000",
		"1:20", "190:20:30", "-1:30.5", "+1:2:3", "1:60", "1:6", "1:123", "a:1", "12:30:", ":30",
		"2025-04-14", "2025-04-14T07:59:07Z", "multi\nline", "trailing newline\n", "tab\there", "quote'", `dq"`, "é", "<butlerRoot>",
		"lsst.daf.butler.datastores.fileDatastore.FileDatastore", "sqlite:///<butlerRoot>/gen3.sqlite3",
		true, false, 0, 42, -7, int64(1) << 40,
	}
	for _, v := range values {
		var want yaml.Node
		if err := want.Encode(v); err != nil {
			t.Fatal(err)
		}
		if got, want := encodeNode(t, toNode(v)), encodeNode(t, &want); got != want {
			t.Errorf("toNode(%#v) encodes as %q, Encode gives %q", v, got, want)
		}
	}
}

func encodeNode(t *testing.T, n *yaml.Node) string {
	t.Helper()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "k"}, n}}
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
