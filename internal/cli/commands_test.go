package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// TestCommands_OneBuiltAsInFull: each entry of commands has its command's
// name, and the tree Main builds for one subcommand prints the same help as
// the full tree, with global flags before the subcommand too.
func TestCommands_OneBuiltAsInFull(t *testing.T) {
	g := &globals{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	full := newRootCmd(g)
	for _, c := range commands() {
		if got := c.new(g).Name(); got != c.name {
			t.Errorf("commands() entry %q builds command %q", c.name, got)
		}
		for _, args := range [][]string{
			{c.name, "--help"},
			{"--log-level", "DEBUG", "--long-log", c.name, "--help"},
			{"--log-file=" + t.TempDir() + "/x.log", c.name, "--help"},
		} {
			root := newRootFor(g, args)
			if len(root.Commands()) != 1 {
				t.Errorf("newRootFor(%q) built %d commands, want 1", args, len(root.Commands()))
			}
			if got, want := helpOf(t, root, args), helpOf(t, full, args); got != want {
				t.Errorf("help of %q differs from the full tree's:\n%s\nwant:\n%s", args, got, want)
			}
		}
	}
	for _, args := range [][]string{nil, {"--help"}, {"help", "create"}, {"verify", "--help"}, {"no-such-command"}, {"--log-level", "create"}, {"__complete", "cre"}} {
		if n := len(newRootFor(g, args).Commands()); n < len(commands()) {
			t.Errorf("newRootFor(%q) built %d commands, want all", args, n)
		}
	}
}

func helpOf(t *testing.T, root interface {
	SetArgs([]string)
	SetOut(io.Writer)
	SetErr(io.Writer)
	ExecuteContext(context.Context) error
}, args []string) string {
	t.Helper()
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return out.String()
}
