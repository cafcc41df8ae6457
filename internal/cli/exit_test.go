package cli_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/repotest"
)

func TestExitCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	did := "instrument=Dummy,detector=1"
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantMsg  []string // on stderr
	}{
		{"ok", []string{"query-collections", f.root}, "", 0, nil},
		{"unknown dataset type", []string{"put", f.root, "nosuch", "run/a", "-", "--data-id", did}, "x: 1\n", 1, []string{"nosuch"}},
		{"bad data ID key", []string{"put", f.root, "dict", "run/a", "-", "--data-id", did + ",visitt=3"}, "x: 1\n", 1, []string{"visitt"}},
		{"missing data ID key", []string{"put", f.root, "dict", "run/a", "-", "--data-id", "instrument=Dummy"}, "x: 1\n", 1, []string{"detector"}},
		{"unknown dimension value", []string{"put", f.root, "dict", "run/a", "-", "--data-id", "instrument=Dummy,detector=99"}, "x: 1\n", 1, []string{"99"}},
		{"duplicate dataset", []string{"put", f.root, "dict", "run/a", "-", "--data-id", did}, "x: 1\n", 1, []string{"run/a"}},
		{"put into a TAGGED collection", []string{"put", f.root, "dict", "tag", "-", "--data-id", "instrument=Dummy,detector=5"}, "x: 1\n", 1, []string{"tag"}},
		{"missing collection in get", []string{"get", f.root, "dict", "--data-id", did, "--collections", "nosuch"}, "", 1, []string{"nosuch"}},
		{"missing dataset in get", []string{"get", f.root, "dict", "--data-id", "instrument=Dummy,detector=7", "--collections", "run/a"}, "", 1, []string{"dict", "run/a"}},
		{"missing collection in query", []string{"query-datasets", f.root, "dict", "--collections", "nosuch"}, "", 1, []string{"nosuch"}},
		{"unknown type in query", []string{"query-datasets", f.root, "nosuch", "--collections", "run/a"}, "", 1, []string{"nosuch"}},
		{"bad where", []string{"query-datasets", f.root, "dict", "--collections", "run/a", "--where", "detector = = 1"}, "", 1, nil},
		{"unknown storage class", []string{"register-dataset-type", f.root, "x", "NoSuchClass", "instrument"}, "", 1, []string{"NoSuchClass"}},
		{"unknown dimension", []string{"register-dataset-type", f.root, "x", "StructuredDataDict", "nosuchdim"}, "", 1, []string{"nosuchdim"}},
		{"bad dataset type name", []string{"register-dataset-type", f.root, "1bad", "StructuredDataDict", "instrument"}, "", 1, []string{"1bad"}},
		{"no repository", []string{"query-collections", filepath.Join(f.root, "nosuch")}, "", 1, []string{"nosuch"}},
		{"remove type with datasets", []string{"remove-dataset-type", f.root, "dict"}, "", 1, []string{"dict"}},
		{"no arguments", []string{"put"}, "", 2, nil},
		{"too few arguments", []string{"put", f.root, "dict"}, "", 2, nil},
		{"unknown flag", []string{"query-collections", f.root, "--nosuch"}, "", 2, []string{"nosuch"}},
		{"unknown command", []string{"nosuch-command"}, "", 2, []string{"nosuch-command"}},
		{"bad chains mode", []string{"query-collections", f.root, "--chains", "SIDEWAYS"}, "", 2, []string{"SIDEWAYS"}},
		{"bad collection type", []string{"query-collections", f.root, "--collection-type", "BAG"}, "", 2, []string{"BAG"}},
		{"bad format", []string{"query-datasets", f.root, "--format", "xml"}, "", 2, []string{"xml"}},
		{"bad data ID syntax", []string{"get", f.root, "dict", "--data-id", "detector", "--collections", "run/a"}, "", 2, []string{"detector"}},
		{"bad id mode", []string{"put", f.root, "dict", "run/a", "-", "--data-id", did, "--id-generation-mode", "RANDOM"}, "x: 1\n", 2, []string{"RANDOM"}},
	}
	t.Run("cases", func(t *testing.T) { // returns once every parallel case is done
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res := repotest.Cmd{Args: tt.args, Stdin: tt.stdin}.Run(t)
				if res.Code != tt.wantCode {
					t.Fatalf("butler %s: exit %d, want %d\n%s", strings.Join(tt.args, " "), res.Code, tt.wantCode, res)
				}
				switch tt.wantCode {
				case 0:
					return
				case 1:
					if tt.name == "bad where" {
						// A syntax error shows the expression with a caret under the column.
						want := "butler: 1:12: expected an expression, found '='\n  detector = = 1\n             ^\n"
						if res.Stderr != want {
							t.Errorf("stderr = %q, want %q", res.Stderr, want)
						}
						break
					}
					oneLine(t, res, tt.wantMsg...)
				default:
					for _, w := range tt.wantMsg {
						if !strings.Contains(res.Stderr, w) {
							t.Errorf("stderr %q does not name %q", res.Stderr, w)
						}
					}
				}
				if !strings.HasPrefix(res.Stderr, "butler: ") && !strings.HasPrefix(res.Stderr, "Error: ") {
					t.Errorf("stderr %q does not start with the program name", res.Stderr)
				}
			})
		}
	})
	// None of the failures above changed the repository's datasets.
	if got := datasetRows(t, f.root); len(got) != 5 { // five datasets, each listed once (run/a dict 1 is also in tag)
		t.Errorf("datasets after failing commands: %v", got)
	}
}

// commandNames reads the subcommands listed by `butler --help`.
func commandNames(t *testing.T) []string {
	t.Helper()
	out := run(t, "--help").Stdout
	_, after, ok := strings.Cut(out, "Available Commands:")
	if !ok {
		t.Fatalf("butler --help lists no commands:\n%s", out)
	}
	var names []string
	for _, l := range strings.Split(after, "\n") {
		if strings.TrimSpace(l) == "" {
			if len(names) > 0 {
				break
			}
			continue
		}
		if !strings.HasPrefix(l, "  ") {
			break
		}
		names = append(names, strings.Fields(l)[0])
	}
	return names
}

func TestHelp(t *testing.T) {
	t.Parallel()
	names := commandNames(t)
	// The daf_butler commands this issue covers must all be there.
	for _, want := range []string{
		"associate", "collection-chain", "config-dump", "config-validate", "create", "ingest-files",
		"prune-datasets", "query-collections", "query-dataset-types", "query-datasets", "register-dataset-type",
		"remove-collections", "remove-dataset-type", "remove-runs", "retrieve-artifacts", "put", "get",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("butler --help does not list %s", want)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, flag := range []string{"--help", "-h"} {
				res := repotest.Run(t, name, flag)
				if res.Code != 0 {
					t.Fatalf("butler %s %s: %s", name, flag, res)
				}
				if !strings.Contains(res.Stdout, "Usage:") || !strings.Contains(res.Stdout, "butler "+name) {
					t.Errorf("butler %s %s printed no usage:\n%s", name, flag, res.Stdout)
				}
			}
		})
	}
}
