package butler_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/testutil/s3test"
	"github.com/gobutler/butler/storage"
	"github.com/gobutler/butler/storage/faulty"
)

// newVerifyRepo makes a repository that records checksums, with its
// registry in dialect and its datastore on POSIX or in an S3 bucket, an
// instrument of 20 detectors and the dataset type "dict".
func newVerifyRepo(t *testing.T, dialect, store string) (string, *butler.Butler) {
	t.Helper()
	seed := "datastore:\n  checksum: true\n"
	if store == "s3" {
		srv := s3test.NewServer(t)
		srv.SetEnv(t)
		seed += "  root: s3://" + srv.Bucket(t) + "/repo\n"
	}
	if dialect == pgtest.Postgres {
		pgtest.UseAdminAuth(t)
		host, port := pgtest.Host(t)
		seed += fmt.Sprintf("registry:\n  db: \"postgresql://%s:%s/%s\"\n  namespace: %q\n", host, port, pgtest.Database, pgtest.Schema(t))
	}
	seedFile := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(seedFile, []byte(seed), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "repo")
	if _, err := butler.Create(t.Context(), root, butler.CreateOptions{SeedConfig: seedFile, Override: true}); err != nil {
		t.Fatalf("create %s/%s repository: %v", dialect, store, err)
	}
	b := repotest.Open(t, root)
	repotest.AddInstrument(t, b, inst, 20)
	if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	return root, b
}

// problemKey is what a test compares of a problem.
func problemKey(p butler.Problem) string {
	return fmt.Sprintf("%s %s %s", p.Kind, p.ID, p.Path)
}

func verifyAll(t *testing.T, b *butler.Butler, opts butler.VerifyOptions) []butler.Problem {
	t.Helper()
	var out []butler.Problem
	for p, err := range b.Verify(t.Context(), opts) {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return problemKey(out[i]) < problemKey(out[j]) })
	return out
}

// storeKeys lists every key of the datastore with its size.
func storeKeys(t *testing.T, be storage.Backend) []string {
	t.Helper()
	var out []string
	if err := be.List(t.Context(), "", func(i storage.Info) error {
		out = append(out, fmt.Sprintf("%s %d", i.Key, i.Size))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func keyOf(t *testing.T, b *butler.Butler, ref dataset.Ref) string {
	t.Helper()
	uri, err := b.URI(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := strings.CutPrefix(uri, butler.DatastoreURI(b, ""))
	if !ok {
		t.Fatalf("URI %s is not in the datastore %s", uri, butler.DatastoreURI(b, ""))
	}
	return k
}

func putKey(t *testing.T, be storage.Backend, key string, data []byte) {
	t.Helper()
	if err := be.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

func getKey(t *testing.T, be storage.Backend, key string) []byte {
	t.Helper()
	rc, err := be.Get(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func execSQL(t testing.TB, b *butler.Butler, q string, args ...any) {
	t.Helper()
	if _, err := butler.RegistryDB(t, b).Conn().Exec(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func uuidArg(t testing.TB, b *butler.Butler, id dataset.ID) any {
	return butler.RegistryDB(t, b).Dialect.UUIDValue(id)
}

// zipOf puts datasets in a source repository, retrieves them as a zip and
// ingests the zip into b by copy; it returns the refs and the zip's key.
func zipOf(t *testing.T, b *butler.Butler, run string, dets ...int) ([]dataset.Ref, string) {
	t.Helper()
	ctx := t.Context()
	_, src := repotest.New(t)
	repotest.AddInstrument(t, src, inst, 20)
	if _, err := src.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	var refs []dataset.Ref
	for _, d := range dets {
		refs = append(refs, mustPut(t, src, fmt.Sprintf("zipped: %d\n", d), "dict", det(d), run))
	}
	zp, err := src.RetrieveArtifactsZip(ctx, refs, t.TempDir(), butler.RetrieveZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{Transfer: "copy"})
	if err != nil {
		t.Fatalf("IngestZip: %v", err)
	}
	return res.Refs, res.Path
}

// TestVerify_FaultsAndRepair damages a repository in every way verify knows
// (one dataset per fault), on SQLite and PostgreSQL, POSIX and S3: each
// fault is found with its kind; a dry-run repair changes nothing; a repair
// with Yes makes verify clean and leaves every other dataset as it was.
func TestVerify_FaultsAndRepair(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		for _, store := range []string{"posix", "s3"} {
			t.Run(store, func(t *testing.T) { testVerifyFaults(t, dialect, store) })
		}
	})
}

func testVerifyFaults(t *testing.T, dialect, store string) {
	ctx := t.Context()
	_, b := newVerifyRepo(t, dialect, store)
	be := butler.DatastoreBackend(b)
	refs := map[int]dataset.Ref{}
	for d := 0; d < 15; d++ {
		refs[d] = mustPut(t, b, fmt.Sprintf("value: %d\n", d), "dict", det(d), "run")
	}
	zipA, zipAKey := zipOf(t, b, "za", 16, 17)
	zipB, zipBKey := zipOf(t, b, "zb", 18, 19)
	healthy := []int{10, 11, 12, 13, 14}

	if got := verifyAll(t, b, butler.VerifyOptions{Checksums: true, Orphans: true}); len(got) != 0 {
		t.Fatalf("fresh repository: %d problem(s), first %+v", len(got), got[0])
	}

	ghost := uuid.New()
	key4 := keyOf(t, b, refs[4])
	type fault struct {
		name   string
		inject func()
		want   []string // problem keys
	}
	faults := []fault{
		{"delete a file", func() {
			if err := be.Delete(ctx, keyOf(t, b, refs[0])); err != nil {
				t.Fatal(err)
			}
		}, []string{problemKey(butler.Problem{Kind: butler.ProblemMissing, ID: refs[0].ID, Path: keyOf(t, b, refs[0])})}},
		{"truncate a file", func() {
			k := keyOf(t, b, refs[1])
			putKey(t, be, k, getKey(t, be, k)[:3])
		}, []string{problemKey(butler.Problem{Kind: butler.ProblemSize, ID: refs[1].ID, Path: keyOf(t, b, refs[1])})}},
		{"corrupt bytes", func() {
			k := keyOf(t, b, refs[2])
			data := getKey(t, be, k)
			data[0] ^= 0x20
			putKey(t, be, k, data)
		}, []string{problemKey(butler.Problem{Kind: butler.ProblemChecksum, ID: refs[2].ID, Path: keyOf(t, b, refs[2])})}},
		{"delete a zip", func() {
			if err := be.Delete(ctx, zipAKey); err != nil {
				t.Fatal(err)
			}
		}, []string{
			problemKey(butler.Problem{Kind: butler.ProblemZipMissing, ID: zipA[0].ID, Path: keyOf(t, b, zipA[0])}),
			problemKey(butler.Problem{Kind: butler.ProblemZipMissing, ID: zipA[1].ID, Path: keyOf(t, b, zipA[1])}),
		}},
		{"rewrite a zip without a member", func() {
			data := getKey(t, be, zipBKey)
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			_, drop, _ := strings.Cut(keyOf(t, b, zipB[0]), "#zip-path=")
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for _, f := range zr.File {
				if f.Name == drop {
					continue
				}
				if err := zw.Copy(f); err != nil {
					t.Fatal(err)
				}
			}
			zw.Close()
			putKey(t, be, zipBKey, buf.Bytes())
		}, []string{problemKey(butler.Problem{Kind: butler.ProblemZipMember, ID: zipB[0].ID, Path: keyOf(t, b, zipB[0])})}},
		{"delete a dataset's records", func() {
			execSQL(t, b, `DELETE FROM file_datastore_records WHERE dataset_id = ?`, uuidArg(t, b, refs[4].ID))
		}, []string{
			problemKey(butler.Problem{Kind: butler.ProblemNoFileRecord, ID: refs[4].ID}),
			problemKey(butler.Problem{Kind: butler.ProblemOrphan, Path: keyOf(t, b, refs[4])}),
		}},
		{"insert a record without dataset", func() {
			putKey(t, be, "ghost/ghost.yaml", []byte("ghost: 1\n"))
			execSQL(t, b, `INSERT INTO file_datastore_records (dataset_id, path, formatter, storage_class, component, checksum, file_size) VALUES (?, ?, ?, ?, ?, NULL, ?)`,
				uuidArg(t, b, ghost), "ghost/ghost.yaml", "lsst.daf.butler.formatters.yaml.YamlFormatter", "StructuredDataDict", "__NULL_STRING__", 9)
		}, []string{problemKey(butler.Problem{Kind: butler.ProblemRecordWithoutDataset, ID: ghost, Path: "ghost/ghost.yaml"})}},
		{"leave a trash row", func() {
			// daf_butler's trash(): the location row moves to the trash table.
			execSQL(t, b, `DELETE FROM dataset_location WHERE dataset_id = ?`, uuidArg(t, b, refs[5].ID))
			execSQL(t, b, `INSERT INTO dataset_location_trash (datastore_name, dataset_id) VALUES (?, ?)`, "FileDatastore@<butlerRoot>", uuidArg(t, b, refs[5].ID))
		}, []string{problemKey(butler.Problem{Kind: butler.ProblemTrash, ID: refs[5].ID})}},
		{"drop an orphan file", func() {
			putKey(t, be, "stray/orphan.txt", []byte("nobody's\n"))
		}, []string{problemKey(butler.Problem{Kind: butler.ProblemOrphan, Path: "stray/orphan.txt"})}},
	}
	if store == "posix" {
		src := filepath.Join(t.TempDir(), "linked.yaml")
		if err := os.WriteFile(src, []byte("linked: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := b.Ingest(ctx, "dict", "run", []butler.FileDataset{{Path: src, DataID: det(15)}}, butler.IngestOptions{Transfer: "symlink"})
		if err != nil {
			t.Fatal(err)
		}
		linked := res.Refs[0]
		faults = append(faults, fault{"break a symlink's target", func() {
			if err := os.Remove(src); err != nil {
				t.Fatal(err)
			}
		}, []string{problemKey(butler.Problem{Kind: butler.ProblemBrokenSymlink, ID: linked.ID, Path: keyOf(t, b, linked)})}})
	}
	var want []string
	for _, f := range faults {
		f.inject()
		want = append(want, f.want...)
	}
	slices.Sort(want)
	keys := func(ps []butler.Problem) []string {
		var out []string
		for _, p := range ps {
			out = append(out, problemKey(p))
		}
		slices.Sort(out)
		return out
	}
	found := verifyAll(t, b, butler.VerifyOptions{Checksums: true, Orphans: true, Workers: 3, PageSize: 4})
	if got := keys(found); !slices.Equal(got, want) {
		t.Fatalf("problems found:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, p := range found {
		if p.ID != (dataset.ID{}) && p.Kind != butler.ProblemRecordWithoutDataset && p.Kind != butler.ProblemTrash && (p.DatasetType != "dict" || p.Run == "" || p.DataID["detector"] == nil) {
			t.Errorf("%s problem of %s lacks its dataset: %+v", p.Kind, p.ID, p)
		}
	}
	// Without checksums the corrupt file passes, and a selection skips the
	// repository-wide checks.
	sel := verifyAll(t, b, butler.VerifyOptions{DatasetTypes: []string{"dict"}, Collections: []string{"run"}})
	wantSel := []string{
		problemKey(butler.Problem{Kind: butler.ProblemMissing, ID: refs[0].ID, Path: keyOf(t, b, refs[0])}),
		problemKey(butler.Problem{Kind: butler.ProblemSize, ID: refs[1].ID, Path: keyOf(t, b, refs[1])}),
		problemKey(butler.Problem{Kind: butler.ProblemNoFileRecord, ID: refs[4].ID}),
	}
	if store == "posix" {
		wantSel = append(wantSel, faults[len(faults)-1].want...)
	}
	slices.Sort(wantSel)
	if got := keys(sel); !slices.Equal(got, wantSel) {
		t.Errorf("selection found:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantSel, "\n  "))
	}

	// A where expression narrows the selection further.
	wantWhere := wantSel[:0:0]
	for _, k := range wantSel {
		if strings.Contains(k, refs[0].ID.String()) || strings.Contains(k, refs[1].ID.String()) {
			wantWhere = append(wantWhere, k)
		}
	}
	if got := keys(verifyAll(t, b, butler.VerifyOptions{Where: "detector IN (0, 1)"})); !slices.Equal(got, wantWhere) {
		t.Errorf("selection by where found:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantWhere, "\n  "))
	}

	// A records-only pass finds what the registry alone shows.
	wantRec := []string{
		problemKey(butler.Problem{Kind: butler.ProblemNoFileRecord, ID: refs[4].ID}),
		problemKey(butler.Problem{Kind: butler.ProblemRecordWithoutDataset, ID: ghost, Path: "ghost/ghost.yaml"}),
		problemKey(butler.Problem{Kind: butler.ProblemTrash, ID: refs[5].ID}),
	}
	slices.Sort(wantRec)
	if got := keys(verifyAll(t, b, butler.VerifyOptions{RecordsOnly: true, PageSize: 3})); !slices.Equal(got, wantRec) {
		t.Errorf("records-only found:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantRec, "\n  "))
	}

	// A dry run changes nothing.
	before := storeKeys(t, be)
	dry, err := b.Repair(ctx, found, butler.RepairOptions{})
	if err != nil {
		t.Fatalf("Repair (dry run): %v", err)
	}
	if !dry.DryRun || dry.Unstored == 0 || dry.TrashEmptied != 1 || dry.RecordsRemoved != 1 {
		t.Errorf("dry run result %+v", dry)
	}
	if after := storeKeys(t, be); !slices.Equal(after, before) {
		t.Errorf("dry run changed the datastore:\n%v\n%v", before, after)
	}
	if got := keys(verifyAll(t, b, butler.VerifyOptions{Checksums: true, Orphans: true})); !slices.Equal(got, want) {
		t.Errorf("after the dry run: %v", got)
	}

	wantQ := []string{keyOf(t, b, refs[1]), keyOf(t, b, refs[2]), key4, "ghost/ghost.yaml", "stray/orphan.txt"}
	// The repair, in two batches (as the command line gives them).
	all := countDatasets(t, b)
	var res butler.RepairResult
	q := butler.DefaultQuarantine(time.Now())
	for _, batch := range [][]butler.Problem{found[:len(found)/2], found[len(found)/2:]} {
		r, err := b.Repair(ctx, batch, butler.RepairOptions{Yes: true, Quarantine: q})
		if err != nil {
			t.Fatalf("Repair: %v", err)
		}
		res.Add(r)
	}
	if left := verifyAll(t, b, butler.VerifyOptions{Checksums: true, Orphans: true}); len(left) != 0 {
		t.Fatalf("after the repair (%+v): %d problem(s): %v", res, len(left), keys(left))
	}
	for _, k := range wantQ {
		if !slices.Contains(res.Quarantined, k) {
			t.Errorf("%s not quarantined (quarantined: %v)", k, res.Quarantined)
		}
		if _, err := be.Stat(ctx, q+"/"+k); err != nil {
			t.Errorf("quarantined %s: %v", k, err)
		}
	}
	if res.TrashEmptied != 1 || res.RecordsRemoved != 1 || res.Deleted != 1 {
		t.Errorf("repair result %+v", res)
	}
	// Nothing else changed: every dataset row is kept (unstored, not
	// purged) and the healthy datasets read back as they were put.
	if n := countDatasets(t, b); n != all {
		t.Errorf("%d datasets after the repair, want %d", n, all)
	}
	for _, d := range healthy {
		data, err := b.GetRef(ctx, refs[d])
		if err != nil || string(data) != fmt.Sprintf("value: %d\n", d) {
			t.Errorf("dataset %d after the repair: %q, %v", d, data, err)
		}
	}
	if data, err := b.GetRef(ctx, zipB[1]); err != nil || string(data) != "zipped: 19\n" {
		t.Errorf("the zip's remaining member: %q, %v", data, err)
	}
}

// TestVerify_RepairPurge removes a dataset whose file is lost entirely.
func TestVerify_RepairPurge(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := t.Context()
		_, b := newVerifyRepo(t, dialect, "posix")
		lost := mustPut(t, b, "a: 1\n", "dict", det(1), "run")
		kept := mustPut(t, b, "a: 2\n", "dict", det(2), "run")
		if err := butler.DatastoreBackend(b).Delete(ctx, keyOf(t, b, lost)); err != nil {
			t.Fatal(err)
		}
		ps := verifyAll(t, b, butler.VerifyOptions{})
		if len(ps) != 1 || ps[0].Kind != butler.ProblemMissing {
			t.Fatalf("problems %+v", ps)
		}
		res, err := b.Repair(ctx, ps, butler.RepairOptions{Yes: true, Purge: true})
		if err != nil || res.Purged != 1 {
			t.Fatalf("Repair(purge) = %+v, %v", res, err)
		}
		if ps := verifyAll(t, b, butler.VerifyOptions{Orphans: true}); len(ps) != 0 {
			t.Fatalf("after the purge: %+v", ps)
		}
		if got, err := b.Dataset(ctx, lost.ID); err == nil {
			t.Errorf("purged dataset still there: %+v", got)
		}
		if _, err := b.GetRef(ctx, kept); err != nil {
			t.Errorf("the other dataset: %v", err)
		}
	})
}

// damage puts six datasets in a new SQLite/POSIX repository and damages it:
// a file deleted, one truncated, one corrupted, one dataset's records
// deleted, a record without dataset, a trash row and two orphans.
func damage(t *testing.T) (string, []dataset.Ref) {
	t.Helper()
	ctx := t.Context()
	root, b := newVerifyRepo(t, pgtest.SQLite, "posix")
	be := butler.DatastoreBackend(b)
	var refs []dataset.Ref
	for d := range 6 {
		refs = append(refs, mustPut(t, b, fmt.Sprintf("value: %d\n", d), "dict", det(d), "run"))
	}
	if err := be.Delete(ctx, keyOf(t, b, refs[0])); err != nil {
		t.Fatal(err)
	}
	k := keyOf(t, b, refs[1])
	putKey(t, be, k, getKey(t, be, k)[:3])
	k = keyOf(t, b, refs[2])
	data := getKey(t, be, k)
	data[0] ^= 0x20
	putKey(t, be, k, data)
	execSQL(t, b, `DELETE FROM file_datastore_records WHERE dataset_id = ?`, uuidArg(t, b, refs[3].ID))
	putKey(t, be, "ghost/ghost.yaml", []byte("ghost: 1\n"))
	execSQL(t, b, `INSERT INTO file_datastore_records (dataset_id, path, formatter, storage_class, component, checksum, file_size) VALUES (?, ?, ?, ?, ?, NULL, ?)`,
		uuidArg(t, b, uuid.New()), "ghost/ghost.yaml", "lsst.daf.butler.formatters.yaml.YamlFormatter", "StructuredDataDict", "__NULL_STRING__", 9)
	execSQL(t, b, `DELETE FROM dataset_location WHERE dataset_id = ?`, uuidArg(t, b, refs[4].ID))
	execSQL(t, b, `INSERT INTO dataset_location_trash (datastore_name, dataset_id) VALUES (?, ?)`, "FileDatastore@<butlerRoot>", uuidArg(t, b, refs[4].ID))
	putKey(t, be, "stray/a.txt", []byte("a\n"))
	putKey(t, be, "stray/b.txt", []byte("b\n"))
	return root, refs
}

// TestRepair_Interrupted fails each storage write of a repair in turn (the
// quarantine copies and deletes, the trash deletes), before and after the
// write is done: a second verify and repair then always finishes the job,
// and the healthy dataset is intact.
func TestRepair_Interrupted(t *testing.T) {
	opts := butler.VerifyOptions{Checksums: true, Orphans: true}
	faults, reruns := 0, 0
	for _, after := range []bool{false, true} {
		for n := 0; ; n++ {
			root, refs := damage(t)
			inj := &faulty.Nth{N: n, AfterWrite: after, CountDeletes: true}
			fb, err := butler.Open(t.Context(), root, butler.OpenOptions{Writeable: true, Storage: faultyStorage(inj)})
			if err != nil {
				t.Fatal(err)
			}
			ps := verifyAll(t, fb, opts)
			if len(ps) != 9 {
				t.Fatalf("damaged repository: %d problems, want 9: %+v", len(ps), ps)
			}
			_, rerr := fb.Repair(t.Context(), ps, butler.RepairOptions{Yes: true})
			fb.Close()
			if !inj.Fired() {
				if rerr != nil {
					t.Fatalf("repair without a fault: %v", rerr)
				}
				break
			}
			faults++
			if rerr == nil && !after {
				t.Errorf("write %d failed but the repair reported no error", n)
			}
			// The rerun: verify and repair again, then nothing is left.
			b := repotest.Open(t, root)
			ps = verifyAll(t, b, opts)
			if _, err := b.Repair(t.Context(), ps, butler.RepairOptions{Yes: true}); err != nil {
				t.Fatalf("write %d (after=%v): the rerun's repair: %v", n, after, err)
			}
			reruns++
			if left := verifyAll(t, b, opts); len(left) != 0 {
				t.Errorf("write %d (after=%v): after the rerun %d problem(s): %+v", n, after, len(left), left)
			}
			if data, err := b.GetRef(t.Context(), refs[5]); err != nil || string(data) != "value: 5\n" {
				t.Errorf("write %d (after=%v): the healthy dataset: %q, %v", n, after, data, err)
			}
		}
	}
	t.Logf("%d repairs interrupted by a failed write, %d reruns, all clean", faults, reruns)
	if faults < 10 {
		t.Errorf("only %d faults fired; the repair writes fewer files than expected", faults)
	}
}

// TestVerify_StorageUnreachable: with the S3 server down, every artifact is
// unchecked (never missing), and a repair of what verify found does nothing.
func TestVerify_StorageUnreachable(t *testing.T) {
	srv := s3test.NewServer(t)
	srv.SetEnv(t)
	seed := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(seed, []byte("datastore:\n  root: s3://"+srv.Bucket(t)+"/repo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "repo")
	if _, err := butler.Create(t.Context(), root, butler.CreateOptions{SeedConfig: seed, Override: true}); err != nil {
		t.Fatal(err)
	}
	b := repotest.Open(t, root)
	repotest.AddInstrument(t, b, inst, 5)
	if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	for d := range 3 {
		mustPut(t, b, fmt.Sprintf("v: %d\n", d), "dict", det(d), "run")
	}
	srv.Kill()
	ps := verifyAll(t, b, butler.VerifyOptions{})
	if len(ps) != 3 {
		t.Fatalf("%d problems with the store down, want 3 unchecked: %+v", len(ps), ps)
	}
	for _, p := range ps {
		if p.Kind != butler.ProblemUnchecked {
			t.Errorf("with the store down: %s %s (%s), want %s", p.Kind, p.ID, p.Message, butler.ProblemUnchecked)
		}
	}
	res, err := b.Repair(t.Context(), ps, butler.RepairOptions{Yes: true})
	if err != nil || res.Skipped != 3 || res.Unstored != 0 || len(res.Quarantined) != 0 {
		t.Errorf("Repair of unchecked items = %+v, %v; want all 3 skipped", res, err)
	}
	if n := countDatasets(t, b); n != 3 {
		t.Errorf("%d datasets after the repair, want 3", n)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if ps := verifyAll(t, b, butler.VerifyOptions{Checksums: true}); len(ps) != 0 {
		t.Errorf("with the store back: %+v", ps)
	}
}
