package campaign

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/google/uuid"
)

const (
	writerIDs = 6  // overlapping data IDs: detectors 0..writerIDs-1
	writerOps = 40 // puts or removes per writer
)

// TestWriterChild is one writer of TestConcurrentWriters: writerOps times it
// puts a dataset for a random one of writerIDs data IDs, or, when that data
// ID has one (ErrConflict), purges it. Each success goes to the ledger file
// ("put ID", "rm ID"); the errors the API documents for a race are counted
// ("expected KIND"): ErrConflict (the data ID has a dataset: from Put),
// ErrNotFound (another writer removed it between Find and Prune) and ErrBusy
// (a lock or a lost serialization, nothing committed). Anything else fails.
func TestWriterChild(t *testing.T) {
	root, ledgerPath := os.Getenv("BUTLER_CAMPAIGN_REPO"), os.Getenv("BUTLER_CAMPAIGN_LEDGER")
	if root == "" || ledgerPath == "" {
		t.Skip("the child of TestConcurrentWriters")
	}
	w, _ := strconv.Atoi(os.Getenv("BUTLER_CAMPAIGN_WRITER"))
	ledger, err := os.Create(ledgerPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	ctx := t.Context()
	b, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rng := rand.New(rand.NewPCG(uint64(w), 15))
	expected := func(err error) bool {
		for _, kind := range []error{errs.ErrConflict, errs.ErrNotFound, errs.ErrBusy} {
			if errors.Is(err, kind) {
				fmt.Fprintf(ledger, "expected %v\n", kind)
				return true
			}
		}
		return false
	}
	for i := range writerOps {
		id := dimensions.DataID{"instrument": "Dummy", "detector": rng.IntN(writerIDs)}
		ref, err := b.Put(ctx, fmt.Appendf(nil, "writer: %d\nop: %d\n", w, i), "dict", id, "run")
		if err == nil {
			fmt.Fprintf(ledger, "put %s\n", ref.ID)
			continue
		}
		if !expected(err) {
			t.Fatalf("put %v: %v", id, err)
		}
		old, err := b.Find(ctx, "dict", id, []string{"run"})
		if err != nil {
			if !expected(err) {
				t.Fatalf("find %v: %v", id, err)
			}
			continue
		}
		if err := b.Prune(ctx, []dataset.Ref{old}, butler.PruneOptions{Purge: true}); err != nil {
			if !expected(err) {
				t.Fatalf("purge %v: %v", id, err)
			}
			continue
		}
		fmt.Fprintf(ledger, "rm %s\n", old.ID)
	}
}

// TestConcurrentWriters runs writer processes (2 on SQLite, 8 on
// PostgreSQL) putting and purging overlapping data IDs at once. From their
// ledgers: every dataset a writer put is there unless a writer removed it
// (nothing lost), no data ID has two datasets and nothing is there that no
// writer put (nothing duplicated), each reads back what its writer wrote,
// no writer hit an error the API does not document for a race, and verify
// is clean.
func TestConcurrentWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("fault campaign: not with -short")
	}
	repotest.Binary(t)
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		writers := map[string]int{pgtest.SQLite: 2, pgtest.Postgres: 8}[dialect]
		root, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
		repotest.AddInstrument(t, b, "Dummy", writerIDs)
		if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := b.RegisterRun(t.Context(), "run", ""); err != nil {
			t.Fatal(err)
		}
		b.Close()
		dir := t.TempDir()
		var wg sync.WaitGroup
		outs := make([][]byte, writers)
		errs := make([]error, writers)
		for w := range writers {
			wg.Go(func() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestWriterChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), "BUTLER_CAMPAIGN_REPO="+root, "BUTLER_CAMPAIGN_WRITER="+strconv.Itoa(w),
					"BUTLER_CAMPAIGN_LEDGER="+filepath.Join(dir, fmt.Sprintf("w%d", w)))
				outs[w], errs[w] = cmd.CombinedOutput()
			})
		}
		wg.Wait()
		put, removed := map[dataset.ID]int{}, map[dataset.ID]bool{}
		expected := map[string]int{}
		for w := range writers {
			if errs[w] != nil {
				t.Errorf("writer %d: %v\n%s", w, errs[w], outs[w])
			}
			f, err := os.Open(filepath.Join(dir, fmt.Sprintf("w%d", w)))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				verb, arg, _ := strings.Cut(sc.Text(), " ")
				switch verb {
				case "put", "rm":
					id, err := uuid.Parse(arg)
					if err != nil {
						t.Fatal(err)
					}
					if verb == "put" {
						put[id] = w
					} else {
						removed[id] = true
					}
				case "expected":
					expected[arg]++
				}
			}
			f.Close()
		}
		b = repotest.Open(t, root)
		byDataID := map[int64]int{}
		present := map[dataset.ID]bool{}
		for ref, err := range b.Query().Collections("run").Datasets(t.Context(), "dict") {
			if err != nil {
				t.Fatal(err)
			}
			present[ref.ID] = true
			byDataID[ref.DataID["detector"].(int64)]++
			w, ok := put[ref.ID]
			if !ok {
				t.Errorf("dataset %s %v is there, but no writer put it", ref.ID, ref.DataID)
				continue
			}
			if data, err := b.GetRef(t.Context(), ref); err != nil || !strings.HasPrefix(string(data), fmt.Sprintf("writer: %d\n", w)) {
				t.Errorf("dataset %s: %q, %v; want writer %d's", ref.ID, data, err, w)
			}
			if removed[ref.ID] {
				t.Errorf("dataset %s %v is there, but a writer removed it", ref.ID, ref.DataID)
			}
		}
		for d, n := range byDataID {
			if n > 1 {
				t.Errorf("detector %d has %d datasets", d, n)
			}
		}
		lost := 0
		for id := range put {
			if !present[id] && !removed[id] {
				lost++
				t.Errorf("dataset %s was put, never removed, and is gone", id)
			}
		}
		b.Close()
		if left, code := verifyJSON(t, root); code != 0 {
			t.Errorf("verify after the writers: %v", left)
		}
		t.Logf("TALLY %d writers on %s: %d puts, %d removes, %d left, %d lost; expected errors %v", writers, dialect, len(put), len(removed), len(present), lost, expected)
	})
}
