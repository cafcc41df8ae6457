package butler_test

// The seed-config workflow with both remote parts: the registry in a PostgreSQL schema and
// the datastore in an S3 bucket, as a shared deployment runs it. Only butler.yaml is local.

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/s3test"
)

// newS3PGRepo creates a repository from a seed config naming a fresh PostgreSQL schema
// (as the test server's superuser, through a db-auth file) and s3://<new bucket>/<prefix>
// on srv, and opens it for writing.
func newS3PGRepo(t testing.TB, srv *s3test.Server, prefix string) (root, bucket, schema string, b *butler.Butler) {
	t.Helper()
	schema = pgtest.Schema(t)
	pgtest.UseAdminAuth(t)
	bucket = srv.Bucket(t)
	srv.SetEnv(t)
	host, port := pgtest.Host(t)
	dsRoot := "s3://" + bucket + "/" + prefix
	seed := filepath.Join(t.TempDir(), "butler-seed.yaml")
	body := fmt.Sprintf("registry:\n  db: \"postgresql://%s:%s/%s\"\n  namespace: %q\ndatastore:\n  root: %s\n",
		host, port, pgtest.Database, schema, dsRoot)
	if err := os.WriteFile(seed, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(t.TempDir(), "repo")
	if _, err := butler.Create(t.Context(), root, butler.CreateOptions{SeedConfig: seed, Override: true}); err != nil {
		t.Fatalf("Create(%s) with registry schema %s and datastore %s: %v", root, schema, dsRoot, err)
	}
	b, err := butler.Open(t.Context(), root, butler.OpenOptions{Writeable: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", root, err)
	}
	t.Cleanup(func() { b.Close() })
	if got, want := butler.DatastoreURI(b, ""), dsRoot+"/"; got != want {
		t.Fatalf("datastore root URI = %q, want %q", got, want)
	}
	return root, bucket, schema, b
}

func TestS3Postgres_SeedWorkflow(t *testing.T) {
	srv := s3test.NewServer(t)
	root, bucket, schema, b := newS3PGRepo(t, srv, "shared/repo")
	ctx := t.Context()
	prefix := "s3://" + bucket + "/shared/repo/"

	cfg, err := os.ReadFile(filepath.Join(root, "butler.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"postgresql://", schema, "s3://" + bucket + "/shared/repo"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("butler.yaml lacks %q:\n%s", want, cfg)
		}
	}
	if n, err := ingest.RegisterInstrument(ctx, b, "lsst.obs.lsst.LsstCam", false); err != nil || n < 190 {
		t.Fatalf("register-instrument LsstCam: %d records, %v", n, err)
	}
	raws := rawtest.Write(t, t.TempDir(), rawtest.LSSTCam, 2, 3)
	sums := map[[32]byte]string{}
	for _, p := range raws {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sums[sha256.Sum256(data)] = p
	}
	if len(sums) != len(raws) {
		t.Fatalf("%d synthetic raws have %d distinct contents", len(raws), len(sums))
	}
	res, err := ingest.Raws(ctx, b, raws, ingest.Options{Transfer: "copy", Processes: 2})
	if err != nil || res.Ingested != len(raws) || len(res.Failures) > 0 {
		t.Fatalf("ingest-raws by copy: %+v, %v", res, err)
	}
	if res, err := ingest.Raws(ctx, b, raws, ingest.Options{Transfer: "copy"}); err != nil || res.Skipped != len(raws) {
		t.Errorf("second ingest-raws: %+v, %v; want all %d skipped", res, err, len(raws))
	}
	keys := bucketKeys(t, srv, bucket)
	if len(keys) != len(raws) {
		t.Errorf("bucket holds %d objects, want %d: %q", len(keys), len(raws), keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "shared/repo/LSSTCam/raw/all/") {
			t.Errorf("object %q is not under shared/repo/LSSTCam/raw/all/", k)
		}
	}

	// Nothing of the registry or the datastore is local: no SQLite file, no dataset directory.
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".sqlite3") || strings.HasSuffix(p, ".fits")) {
			t.Errorf("repository directory holds %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	refs := queryRaws(t, b, "")
	if len(refs) != len(raws) {
		t.Fatalf("query raw: %d datasets, want %d", len(refs), len(raws))
	}
	one := queryRaws(t, b, "instrument = 'LSSTCam' AND exposure = "+fmt.Sprint(refs[0].DataID["exposure"])+" AND detector = "+fmt.Sprint(refs[0].DataID["detector"]))
	if len(one) != 1 || one[0].ID != refs[0].ID {
		t.Fatalf("query raw by exposure and detector of %s: %v", refs[0], one)
	}
	for _, ref := range refs {
		uri, err := b.URI(ctx, ref)
		if err != nil || !strings.HasPrefix(uri, prefix) {
			t.Errorf("URI(%s) = %q, %v; want it under %s", ref, uri, err, prefix)
		}
		data, err := b.GetRef(ctx, ref)
		if err != nil {
			t.Fatalf("GetRef(%s): %v", ref, err)
		}
		if _, ok := sums[sha256.Sum256(data)]; !ok {
			t.Errorf("GetRef(%s) returned %d bytes that match no source raw", ref, len(data))
		}
	}

	// retrieve-artifacts brings one back byte-identical.
	want := func(ref dataset.Ref) []byte {
		t.Helper()
		data, err := b.GetRef(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(sums[sha256.Sum256(data)])
		if err != nil {
			t.Fatal(err)
		}
		return src
	}(refs[0])
	paths, err := b.RetrieveArtifacts(ctx, refs[:1], t.TempDir(), butler.RetrieveOptions{})
	if err != nil || len(paths) != 1 {
		t.Fatalf("RetrieveArtifacts: %q, %v", paths, err)
	}
	if data, err := os.ReadFile(paths[0]); err != nil || !bytes.Equal(data, want) {
		t.Errorf("retrieved artifact %s: %d bytes, %v; want the %d source bytes", paths[0], len(data), err, len(want))
	}

	// A second, read-only butler reads the same registry and bucket.
	ro, err := butler.Open(ctx, root, butler.OpenOptions{})
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	if data, err := ro.GetRef(ctx, refs[0]); err != nil || !bytes.Equal(data, want) {
		t.Errorf("GetRef through a read-only butler: %d bytes, %v", len(data), err)
	}
	ro.Close()

	// Links cannot point into a bucket: ErrUnsupported naming the datastore, nothing written.
	_, err = b.Ingest(ctx, "raw", "symlinked", []butler.FileDataset{{Path: sums[sha256.Sum256(want)], DataID: refs[0].DataID}},
		butler.IngestOptions{Transfer: "symlink"})
	if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), prefix) {
		t.Errorf("ingest with transfer symlink into S3: error = %v, want errs.ErrUnsupported naming %s", err, prefix)
	}
	res, err = ingest.Raws(ctx, b, raws, ingest.Options{Transfer: "symlink", Run: "symlinked/raws"})
	if err == nil && len(res.Failures) == 0 {
		t.Errorf("ingest-raws with transfer symlink into S3 succeeded: %+v", res)
	}
	if err != nil && !errors.Is(err, errs.ErrUnsupported) {
		t.Errorf("ingest-raws with transfer symlink: error = %v, want errs.ErrUnsupported", err)
	}
	for _, f := range res.Failures {
		if !errors.Is(f.Err, errs.ErrUnsupported) {
			t.Errorf("symlink ingest of %s: error = %v, want errs.ErrUnsupported", f.Path, f.Err)
		}
	}
	if n := len(queryRaws(t, b, "")); n != len(raws) {
		t.Errorf("after the refused symlink ingests: %d raws, want %d", n, len(raws))
	}
	if got := bucketKeys(t, srv, bucket); !slices.Equal(got, keys) {
		t.Errorf("bucket after the refused symlink ingests holds %q, want %q", got, keys)
	}

	// prune-datasets --purge: the dataset and its object go.
	uri, err := b.URI(ctx, refs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Remove(ctx, refs[:1]); err != nil {
		t.Fatalf("Remove(%s): %v", refs[0], err)
	}
	gone := strings.TrimPrefix(uri, "s3://"+bucket+"/")
	left := bucketKeys(t, srv, bucket)
	if slices.Contains(left, gone) || len(left) != len(keys)-1 {
		t.Errorf("bucket after Remove holds %d objects (%q), want %d without %s", len(left), left, len(keys)-1, gone)
	}
	if _, err := b.GetRef(ctx, refs[0]); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("GetRef after Remove: error = %v, want errs.ErrNotFound", err)
	}
	if n := len(queryRaws(t, b, "")); n != len(raws)-1 {
		t.Errorf("after Remove: %d raws, want %d", n, len(raws)-1)
	}

	// remove-runs takes the rest.
	n, err := b.RemoveRuns(ctx, []string{"LSSTCam/raw/all"}, true)
	if err != nil || n != len(raws)-1 {
		t.Errorf("RemoveRuns(LSSTCam/raw/all) = %d, %v; want %d datasets removed", n, err, len(raws)-1)
	}
	if got := bucketKeys(t, srv, bucket); len(got) != 0 {
		t.Errorf("bucket after remove-runs holds %q, want nothing", got)
	}
	if refs := queryRaws(t, b, ""); len(refs) != 0 {
		t.Errorf("query raw after remove-runs: %d datasets", len(refs))
	}
}
