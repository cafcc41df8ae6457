package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
)

// corpusRoot finds the shared corpus: $BUTLER_TEST_CORPUS, else ../shared/corpus
// beside the module root. It skips the test when there is none.
func corpusRoot(t *testing.T) string {
	return corpustest.Dir(t)
}

// newRepo creates an empty repository in a temporary directory and opens it
// for writing.
func newRepo(t *testing.T) *butler.Butler {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	if _, err := butler.Create(ctx, root, butler.CreateOptions{}); err != nil {
		t.Fatalf("Create(%s): %v", root, err)
	}
	b, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true})
	if err != nil {
		t.Fatalf("Open(%s, writeable): %v", root, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// openCorpus opens a corpus registry read-only.
func openCorpus(t *testing.T, dir string) *butler.Butler {
	t.Helper()
	b, err := butler.Open(context.Background(), dir, butler.OpenOptions{})
	if err != nil {
		t.Fatalf("Open(%s, read-only): %v", dir, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// expectedDump holds the parts of an EXPECTED.<dir>.txt these tests use: the
// exposure rows (section 8) and the raw datasets (section 9).
type expectedDump struct {
	exposures []map[string]string
	raws      []map[string]string
}

var (
	kvLine    = regexp.MustCompile(`^\s*([a-z_]+) +=(.*)$`)
	sectionRE = regexp.MustCompile(`^## (\d+)\.`)
)

func readExpected(t *testing.T, path string) expectedDump {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var e expectedDump
	sec := 0
	var cur map[string]string
	var header []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if m := sectionRE.FindStringSubmatch(l); m != nil {
			sec, _ = strconv.Atoi(m[1])
			continue
		}
		switch sec {
		case 8:
			m := kvLine.FindStringSubmatch(l)
			if m == nil {
				cur = nil
				continue
			}
			if cur == nil {
				cur = map[string]string{}
				e.exposures = append(e.exposures, cur)
			}
			cur[m[1]] = strings.TrimSpace(m[2])
		case 9:
			if !strings.Contains(l, " | ") {
				continue
			}
			cells := strings.Split(l, " | ")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			if header == nil {
				header = cells
				continue
			}
			row := map[string]string{}
			for i, h := range header {
				if i < len(cells) {
					row[h] = cells[i]
				}
			}
			e.raws = append(e.raws, row)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(e.exposures) == 0 || len(e.raws) == 0 || header[0] != "uuid_ver" {
		t.Fatalf("%s: parsed %d exposures and %d raws (header %v); the dump format changed", path, len(e.exposures), len(e.raws), header)
	}
	return e
}

// sameValue compares a record value with the sqlite3 shell's rendering of it:
// "" is NULL, REALs are printed with 15 significant digits, booleans as 0/1.
func sameValue(got any, want string) bool {
	if got == nil {
		return want == ""
	}
	switch g := got.(type) {
	case float64:
		w, err := strconv.ParseFloat(want, 64)
		return err == nil && strconv.FormatFloat(g, 'g', 15, 64) == strconv.FormatFloat(w, 'g', 15, 64)
	case bool:
		return (want == "1") == g && (want == "1" || want == "0")
	}
	return fmt.Sprint(got) == want
}

func uuidHex(id dataset.ID) string { return strings.ReplaceAll(id.String(), "-", "") }

// records reads every record of an element, keyed by its data ID.
func records(t *testing.T, b *butler.Butler, element string) map[string]dimensions.Record {
	t.Helper()
	recs, err := b.Records(context.Background(), element, nil)
	if err != nil {
		t.Fatalf("Records(%s): %v", element, err)
	}
	out := make(map[string]dimensions.Record, len(recs))
	for _, r := range recs {
		out[r.DataID().String()] = r
	}
	return out
}

// rawRefs lists every raw dataset of the repository, by ID.
func rawRefs(t *testing.T, b *butler.Butler) map[dataset.ID]dataset.Ref {
	t.Helper()
	out := map[dataset.ID]dataset.Ref{}
	if _, err := b.DatasetType(context.Background(), "raw"); err != nil {
		return out // nothing ingested yet
	}
	err := b.QueryDatasets(context.Background(), butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"*"}, WithImplied: true},
		func(r dataset.Ref) error {
			out[r.ID] = r
			return nil
		})
	if err != nil {
		t.Fatalf("QueryDatasets(raw, *): %v", err)
	}
	return out
}

// repoFiles lists the files and symlinks under the repository root other than
// the registry and its config, relative to the root.
func repoFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "butler.yaml" || strings.HasPrefix(rel, "gen3.sqlite3") {
			return nil
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
