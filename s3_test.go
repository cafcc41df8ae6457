package butler_test

// The repository workflow with its datastore in an S3 bucket (a private versitygw per test,
// see internal/testutil/s3test) and its registry in SQLite beside butler.yaml: create,
// register instruments, ingest the corpus raws by copy, query, read back, retrieve, remove.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/rawgen"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/s3test"
)

// s3Corpus finds the shared corpus like the other corpus tests: $BUTLER_TEST_CORPUS, else
// ../shared/corpus beside the module root; it skips without one.
func s3Corpus(t testing.TB) string {
	return corpustest.Dir(t)
}

var s3InstrumentClasses = []string{"lsst.obs.lsst.LsstCam", "lsst.obs.lsst.LsstComCam", "lsst.obs.lsst.Latiss", "lsst.obs.lsst.LsstCamSim"}

// newS3Repo creates a repository in a temporary directory whose datastore root is
// s3://<new bucket>/<prefix> on srv, points the AWS environment at srv (as a user would) and
// opens it for writing.
func newS3Repo(t testing.TB, srv *s3test.Server, prefix string) (root, bucket string, b *butler.Butler) {
	t.Helper()
	bucket = srv.Bucket(t)
	srv.SetEnv(t)
	root = filepath.Join(t.TempDir(), "repo")
	seed := filepath.Join(t.TempDir(), "seed.yaml")
	dsRoot := "s3://" + bucket + "/" + prefix
	if err := os.WriteFile(seed, []byte("datastore:\n  root: "+dsRoot+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := butler.Create(t.Context(), root, butler.CreateOptions{SeedConfig: seed, Override: true}); err != nil {
		t.Fatalf("Create(%s) with datastore root %s: %v", root, dsRoot, err)
	}
	b, err := butler.Open(t.Context(), root, butler.OpenOptions{Writeable: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", root, err)
	}
	t.Cleanup(func() { b.Close() })
	if got, want := butler.DatastoreURI(b, ""), dsRoot+"/"; got != want {
		t.Fatalf("datastore root URI = %q, want %q", got, want)
	}
	for _, c := range s3InstrumentClasses {
		if _, err := ingest.RegisterInstrument(t.Context(), b, c, false); err != nil {
			t.Fatalf("RegisterInstrument(%s): %v", c, err)
		}
	}
	return root, bucket, b
}

var s3RawName = regexp.MustCompile(`\.fits(\.fz)?$`)

// sourceSums maps the sha256 of every raw file under dir to its path.
func sourceSums(t *testing.T, dir string) map[[32]byte]string {
	t.Helper()
	sums := map[[32]byte]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !s3RawName.MatchString(d.Name()) {
			return err
		}
		data, err := os.ReadFile(p)
		sums[sha256.Sum256(data)] = p
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func queryRaws(t *testing.T, b *butler.Butler, where string) []dataset.Ref {
	t.Helper()
	runs, err := b.Collections(t.Context(), nil, dataset.Run)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
	}
	var refs []dataset.Ref
	if len(names) == 0 {
		return nil
	}
	err = b.QueryDatasets(t.Context(), butler.DatasetSearch{Types: []string{"raw"}, Collections: names, Where: where}, func(r dataset.Ref) error {
		refs = append(refs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("QueryDatasets(raw, where %q): %v", where, err)
	}
	return refs
}

func bucketKeys(t *testing.T, srv *s3test.Server, bucket string) []string {
	t.Helper()
	keys, err := srv.Keys(t.Context(), bucket)
	if err != nil {
		t.Fatalf("list bucket %s: %v", bucket, err)
	}
	sort.Strings(keys)
	return keys
}

func TestS3Datastore_Workflow(t *testing.T) {
	raws := filepath.Join(s3Corpus(t), "raws")
	srv := s3test.NewServer(t)
	root, bucket, b := newS3Repo(t, srv, "repo")
	ctx := t.Context()

	// The registry stays local; the config keeps the S3 root as given.
	if _, err := os.Stat(filepath.Join(root, "gen3.sqlite3")); err != nil {
		t.Errorf("registry database: %v", err)
	}
	cfg, err := os.ReadFile(filepath.Join(root, "butler.yaml"))
	if err != nil || !strings.Contains(string(cfg), "s3://"+bucket+"/repo") {
		t.Errorf("butler.yaml does not keep the datastore root s3://%s/repo (%v):\n%s", bucket, err, cfg)
	}

	sums := sourceSums(t, raws)
	res, err := ingest.Raws(ctx, b, []string{raws}, ingest.Options{Transfer: "copy", Processes: 2})
	if err != nil {
		t.Fatalf("ingest raws by copy into S3: %v", err)
	}
	for _, f := range res.Failures {
		t.Errorf("ingest %s: %v", f.Path, f.Err)
	}
	if res.Ingested != len(sums) {
		t.Errorf("ingested %d raws, want the %d of the corpus", res.Ingested, len(sums))
	}

	// Every raw is an object under the prefix, byte-identical to its source (gzip streams
	// named .fits are stored as they are).
	refs := queryRaws(t, b, "")
	if len(refs) != len(sums) {
		t.Fatalf("query raw: %d datasets, want %d", len(refs), len(sums))
	}
	seen := map[[32]byte]bool{}
	for _, ref := range refs {
		uri, err := b.URI(ctx, ref)
		if err != nil || !strings.HasPrefix(uri, "s3://"+bucket+"/repo/") {
			t.Errorf("URI(%s) = %q, %v; want it under s3://%s/repo/", ref, uri, err, bucket)
		}
		data, err := b.GetRef(ctx, ref)
		if err != nil {
			t.Fatalf("GetRef(%s): %v", ref, err)
		}
		sum := sha256.Sum256(data)
		if _, ok := sums[sum]; !ok {
			t.Errorf("GetRef(%s) returned %d bytes that match no source raw", ref, len(data))
		}
		seen[sum] = true
	}
	if len(seen) != len(sums) {
		t.Errorf("the stored raws match %d distinct sources, want %d", len(seen), len(sums))
	}
	keys := bucketKeys(t, srv, bucket)
	if len(keys) != len(sums) {
		t.Errorf("bucket holds %d objects, want %d: %q", len(keys), len(sums), keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "repo/") {
			t.Errorf("object %q is outside the datastore prefix repo/", k)
		}
	}

	// A query with a where clause, and the one LATISS raw read back through Open.
	latiss := queryRaws(t, b, "instrument = 'LATISS'")
	if len(latiss) != 1 {
		t.Fatalf("query raw where instrument = 'LATISS': %d datasets, want 1", len(latiss))
	}
	want, err := os.ReadFile(filepath.Join(raws, "latiss", "raw", "2018-09-20", "3018092000065-det000.fits"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := b.Open(ctx, latiss[0])
	if err != nil {
		t.Fatalf("Open(%s): %v", latiss[0], err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("LATISS raw read back: %d bytes (%v), want the %d bytes of the source, identical", len(got), err, len(want))
	}

	// retrieve-artifacts copies from the bucket to a local directory.
	dest := t.TempDir()
	paths, err := b.RetrieveArtifacts(ctx, latiss, dest, butler.RetrieveOptions{})
	if err != nil || len(paths) != 1 {
		t.Errorf("RetrieveArtifacts: %q, %v", paths, err)
	} else if data, err := os.ReadFile(paths[0]); err != nil || !bytes.Equal(data, want) {
		t.Errorf("retrieved artifact %s: %d bytes, %v; want the source bytes", paths[0], len(data), err)
	}

	// A second process (here: a second Open) reads through the same configuration.
	ro, err := butler.Open(ctx, root, butler.OpenOptions{})
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	if data, err := ro.GetRef(ctx, latiss[0]); err != nil || !bytes.Equal(data, want) {
		t.Errorf("GetRef through a read-only butler: %d bytes, %v", len(data), err)
	}
	ro.Close()

	// Links cannot point into a bucket: a clear error, nothing registered, nothing written.
	_, err = b.Ingest(ctx, "raw", "symlinked", []butler.FileDataset{{Path: filepath.Join(raws, "latiss", "raw", "2018-09-20", "3018092000065-det000.fits"), DataID: latiss[0].DataID}},
		butler.IngestOptions{Transfer: "symlink"})
	if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), "s3://"+bucket+"/repo/") {
		t.Errorf("ingest with transfer symlink into S3: error = %v, want errs.ErrUnsupported naming the datastore", err)
	}
	if n := len(queryRaws(t, b, "")); n != len(sums) {
		t.Errorf("after the refused symlink ingest: %d raws, want %d", n, len(sums))
	}
	res, err = ingest.Raws(ctx, b, []string{raws}, ingest.Options{Transfer: "hardlink", Run: "hardlinked"})
	if err == nil && len(res.Failures) == 0 {
		t.Errorf("ingest-raws with transfer hardlink into S3 succeeded (%d ingested)", res.Ingested)
	}
	for _, f := range res.Failures {
		if !errors.Is(f.Err, errs.ErrUnsupported) {
			t.Errorf("hardlink ingest of %s: error = %v, want errs.ErrUnsupported", f.Path, f.Err)
		}
	}
	if err != nil && !errors.Is(err, errs.ErrUnsupported) {
		t.Errorf("ingest-raws with transfer hardlink: error = %v, want errs.ErrUnsupported", err)
	}
	if got := bucketKeys(t, srv, bucket); len(got) != len(keys) {
		t.Errorf("bucket holds %d objects after refused link ingests, want %d", len(got), len(keys))
	}

	// remove-runs deletes the objects.
	runs, err := b.Collections(ctx, nil, dataset.Run)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
	}
	n, err := b.RemoveRuns(ctx, names, true)
	if err != nil || n != len(sums) {
		t.Errorf("RemoveRuns(%q) = %d, %v; want %d datasets removed", names, n, err, len(sums))
	}
	if got := bucketKeys(t, srv, bucket); len(got) != 0 {
		t.Errorf("bucket after remove-runs holds %q, want nothing", got)
	}
	if refs := queryRaws(t, b, ""); len(refs) != 0 {
		t.Errorf("query raw after remove-runs: %d datasets", len(refs))
	}
}

// TestS3Datastore_PutGetPrune puts a dataset through the butler API, reads it back and
// removes it with its file (prune --purge).
func TestS3Datastore_PutGetPrune(t *testing.T) {
	srv := s3test.NewServer(t)
	_, bucket, b := newS3Repo(t, srv, "repo")
	ctx := t.Context()
	if _, err := b.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RegisterRun(ctx, "u/run", ""); err != nil {
		t.Fatal(err)
	}
	id := dimensions.DataID{"instrument": "LATISS", "detector": 0}
	data := []byte("a: 1\nb: [2, 3]\n")
	ref, err := b.Put(ctx, data, "dict", id, "u/run")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	uri, err := b.URI(ctx, ref)
	if err != nil || !strings.HasPrefix(uri, "s3://"+bucket+"/repo/u/run/dict/") {
		t.Errorf("URI = %q, %v; want it under s3://%s/repo/u/run/dict/", uri, err, bucket)
	}
	got, _, err := b.Get(ctx, "dict", id, []string{"u/run"})
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get = %q, %v; want %q", got, err, data)
	}
	if keys := bucketKeys(t, srv, bucket); len(keys) != 1 {
		t.Errorf("bucket holds %q, want one object", keys)
	}
	if err := b.Remove(ctx, []dataset.Ref{ref}); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if keys := bucketKeys(t, srv, bucket); len(keys) != 0 {
		t.Errorf("bucket after Remove holds %q, want nothing", keys)
	}
	if _, err := b.Find(ctx, "dict", id, []string{"u/run"}); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Find after Remove: error = %v, want errs.ErrNotFound", err)
	}
}

// TestS3Datastore_OpenErrors checks that a repository whose bucket is missing or whose
// credentials are wrong fails to open with the kind and a message naming what to fix.
func TestS3Datastore_OpenErrors(t *testing.T) {
	srv := s3test.NewServer(t)
	root, bucket, b := newS3Repo(t, srv, "repo")
	b.Close()

	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-0000")
	_, err := butler.Open(t.Context(), root, butler.OpenOptions{})
	if !errors.Is(err, errs.ErrPermission) || !strings.Contains(err.Error(), srv.AccessKey) || strings.Contains(err.Error(), "wrong-secret-0000") {
		t.Errorf("Open with a wrong secret: error = %v, want errs.ErrPermission naming the access key id, not the secret", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)

	if err := srv.DeleteBucket(t.Context(), bucket); err != nil {
		t.Fatal(err)
	}
	_, err = butler.Open(t.Context(), root, butler.OpenOptions{})
	if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), bucket) {
		t.Errorf("Open with the bucket gone: error = %v, want errs.ErrNotFound naming bucket %s", err, bucket)
	}
	if _, err := srv.Client().HeadBucket(t.Context(), &awss3.HeadBucketInput{Bucket: &bucket}); err == nil {
		t.Error("opening the repository created the missing bucket")
	}
}

// TestS3Datastore_ServerKilledMidIngest kills the S3 server while a large raw is uploading:
// the ingest fails, the raw is not registered, nothing is visible in the bucket after the
// server restarts on the same directory, and ingesting again succeeds.
func TestS3Datastore_ServerKilledMidIngest(t *testing.T) {
	srv := s3test.NewServer(t)
	_, bucket, b := newS3Repo(t, srv, "repo")
	ctx := t.Context()
	// One LATISS raw of about 40 MB: 16 amplifiers of 800×800 pixels.
	paths := rawtest.WriteOptions(t, t.TempDir(), rawgen.Options{Instrument: rawtest.LATISS, Exposures: 1, Seed: rawtest.Seed, PixelsPerAmp: 800})
	if len(paths) != 1 {
		t.Fatalf("rawtest wrote %d files, want 1", len(paths))
	}
	src := paths[0]
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 24<<20 {
		t.Fatalf("synthetic raw is %d bytes, want several multipart parts", fi.Size())
	}

	// Kill the server from a goroutine watching the bucket directory, once the upload is
	// under way: the ingest reads the file itself, so the kill cannot ride on its reads.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if uploadStarted(srv.Dir, bucket) {
				srv.Kill()
				return
			}
		}
	}()
	res, err := ingest.Raws(ctx, b, []string{src}, ingest.Options{Transfer: "copy"})
	if err == nil && len(res.Failures) == 0 {
		t.Fatalf("ingest succeeded although the server was killed during the upload: %+v", res)
	}
	t.Logf("ingest with the server killed: err=%v failures=%v", err, res.Failures)
	if n := len(queryRaws(t, b, "")); n != 0 {
		t.Errorf("after the failed ingest: %d raws registered, want 0", n)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if keys := bucketKeys(t, srv, bucket); len(keys) != 0 {
		t.Errorf("bucket after restart holds %q, want nothing", keys)
	}
	res, err = ingest.Raws(ctx, b, []string{src}, ingest.Options{Transfer: "copy"})
	if err != nil || len(res.Failures) != 0 || res.Ingested != 1 {
		t.Fatalf("ingest retried after restart: %+v, %v", res, err)
	}
	refs := queryRaws(t, b, "")
	if len(refs) != 1 {
		t.Fatalf("after the retry: %d raws registered, want 1", len(refs))
	}
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetRef(ctx, refs[0]); err != nil || !bytes.Equal(got, want) {
		t.Errorf("raw read back after the retry: %d bytes, %v; want the %d source bytes", len(got), err, len(want))
	}
}

// uploadStarted reports whether versitygw holds multipart upload data for bucket: its posix
// backend keeps parts under <bucket>/.sgwtmp until the upload completes.
func uploadStarted(dir, bucket string) bool {
	found := false
	filepath.WalkDir(filepath.Join(dir, bucket, ".sgwtmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil && fi.Size() > 0 {
				found = true
				return fs.SkipAll
			}
		}
		return nil
	})
	return found
}

// BenchmarkS3IngestRaws ingests small synthetic raws by copy into an S3 datastore, beside a
// plain PutObject loop over the same files against the same server (the limit an
// `aws s3 cp`-style upload reaches), measured in the same run.
func BenchmarkS3IngestRaws(b *testing.B) {
	const n = 500
	srv := s3test.NewServer(b)
	src := b.TempDir()
	files := rawtest.Write(b, src, rawtest.LATISS, n, 0)
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		total += fi.Size()
	}
	report := func(b *testing.B, done int) {
		b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "files/s")
		b.ReportMetric(float64(total)*float64(done)/float64(n)/b.Elapsed().Seconds()/1e6, "MB/s")
	}
	for _, procs := range []int{1, 4} {
		// The same ingest into a local directory, to tell the registry's share from S3's.
		b.Run(fmt.Sprintf("ingest-posix/files=%d/procs=%d", n, procs), func(b *testing.B) {
			done := 0
			for b.Loop() {
				b.StopTimer()
				root := filepath.Join(b.TempDir(), "repo")
				if _, err := butler.Create(b.Context(), root, butler.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
				bu, err := butler.Open(b.Context(), root, butler.OpenOptions{Writeable: true})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ingest.RegisterInstrument(b.Context(), bu, "lsst.obs.lsst.Latiss", false); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := ingest.Raws(b.Context(), bu, []string{src}, ingest.Options{Transfer: "copy", Processes: procs})
				if err != nil || res.Ingested != n {
					b.Fatalf("ingest: %d ingested, %v (%v)", res.Ingested, err, res.Failures)
				}
				b.StopTimer()
				bu.Close()
				b.StartTimer()
				done += n
			}
			report(b, done)
		})
		b.Run(fmt.Sprintf("ingest/files=%d/procs=%d", n, procs), func(b *testing.B) {
			done := 0
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				_, _, bu := newS3Repo(b, srv, fmt.Sprintf("repo%d", i))
				b.StartTimer()
				res, err := ingest.Raws(b.Context(), bu, []string{src}, ingest.Options{Transfer: "copy", Processes: procs})
				if err != nil || res.Ingested != n {
					b.Fatalf("ingest: %d ingested, %v (%v)", res.Ingested, err, res.Failures)
				}
				done += n
			}
			report(b, done)
		})
		b.Run(fmt.Sprintf("putobject/files=%d/procs=%d", n, procs), func(b *testing.B) {
			bucket := srv.Bucket(b)
			c := srv.Client()
			done := 0
			for i := 0; b.Loop(); i++ {
				work := make(chan string)
				errc := make(chan error, procs)
				for range procs {
					go func() {
						var err error
						for f := range work {
							if err == nil {
								err = putFile(b.Context(), c, bucket, fmt.Sprintf("loop%d/%s", i, filepath.Base(f)), f)
							}
						}
						errc <- err
					}()
				}
				for _, f := range files {
					work <- f
				}
				close(work)
				for range procs {
					if err := <-errc; err != nil {
						b.Fatal(err)
					}
				}
				done += n
			}
			report(b, done)
		})
	}
}

func putFile(ctx context.Context, c *awss3.Client, bucket, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: &key, Body: f, ContentLength: &size})
	return err
}
