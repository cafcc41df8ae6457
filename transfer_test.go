package butler_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/exportfile"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/testutil/s3test"
)

// transferSource makes a SQLite repository (newRepo's) holding 10 dict
// datasets in run/a and 5 meta datasets in run/b, each with its own content.
func transferSource(t *testing.T) (*butler.Butler, []dataset.Ref, map[dataset.ID][]byte) {
	t.Helper()
	_, src := newRepo(t)
	content := map[dataset.ID][]byte{}
	var refs []dataset.Ref
	for _, p := range []struct {
		typ, run string
		n        int
	}{{"dict", "run/a", 10}, {"meta", "run/b", 5}} {
		for d := range p.n {
			data := fmt.Sprintf("type: %s\nrun: %s\ndetector: %d\n", p.typ, p.run, d)
			ref := mustPut(t, src, data, p.typ, det(d), p.run)
			refs = append(refs, ref)
			content[ref.ID] = []byte(data)
		}
	}
	return src, refs, content
}

// checkTransferred checks that dst holds every ref under the same ID, type, run
// and data ID, with the same bytes as the source.
func checkTransferred(t *testing.T, dst *butler.Butler, refs []dataset.Ref, content map[dataset.ID][]byte, uriPrefix string) {
	t.Helper()
	for _, ref := range refs {
		got, err := dst.Dataset(t.Context(), ref.ID)
		if err != nil {
			t.Errorf("Dataset(%s) in the destination: %v", ref.ID, err)
			continue
		}
		if got.Type.Name != ref.Type.Name || got.Run != ref.Run || got.DataID.String() != ref.DataID.String() {
			t.Errorf("Dataset(%s) = %s, want %s", ref.ID, got, ref)
		}
		data, err := dst.GetRef(t.Context(), got)
		if err != nil || !bytes.Equal(data, content[ref.ID]) {
			t.Errorf("GetRef(%s) in the destination = %q, %v; want %q", ref, data, err, content[ref.ID])
		}
		if uri, err := dst.URI(t.Context(), got); err != nil || !strings.HasPrefix(uri, uriPrefix) {
			t.Errorf("URI(%s) = %q, %v; want it under %s", ref, uri, err, uriPrefix)
		}
	}
}

// TestTransferFrom_SQLiteToS3Postgres copies datasets from a SQLite+directory
// repository into a PostgreSQL+S3 one and from there into a fresh
// SQLite+directory one: IDs, data IDs and bytes are preserved, a second run
// skips everything, dry runs count without writing, batches are smaller than
// the refs.
func TestTransferFrom_SQLiteToS3Postgres(t *testing.T) {
	ctx := t.Context()
	srv := s3test.NewServer(t)
	src, refs, content := transferSource(t)
	_, bucket, _, dst := newS3PGRepo(t, srv, "shared/repo")
	prefix := "s3://" + bucket + "/shared/repo/"

	// The destination lacks the dataset types: without RegisterDatasetTypes
	// that is an error naming the type, and nothing is written.
	_, err := dst.TransferFrom(ctx, src, refs, butler.TransferOptions{TransferDimensions: true})
	if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "dataset type dict") {
		t.Errorf("TransferFrom without the dataset types = %v, want errs.ErrNotFound naming dataset type dict", err)
	}
	if cols, err := dst.Collections(ctx, nil); err != nil || len(cols) != 0 {
		t.Errorf("collections after the refused transfer = %v, %v; want none", cols, err)
	}
	if keys := bucketKeys(t, srv, bucket); len(keys) != 0 {
		t.Errorf("bucket after the refused transfer holds %q", keys)
	}

	opts := butler.TransferOptions{RegisterDatasetTypes: true, TransferDimensions: true}
	dry := opts
	dry.DryRun = true
	res, err := dst.TransferFrom(ctx, src, refs, dry)
	if err != nil || res != (butler.TransferResult{Transferred: len(refs)}) {
		t.Errorf("dry run into an empty repository = %+v, %v; want %d to transfer", res, err, len(refs))
	}
	if n := countDatasets(t, dst); n != 0 {
		t.Errorf("after a dry run the destination holds %d datasets", n)
	}
	if keys := bucketKeys(t, srv, bucket); len(keys) != 0 {
		t.Errorf("bucket after a dry run holds %q", keys)
	}

	var progress []int
	opts.BatchSize = 4
	opts.Progress = func(done int) { progress = append(progress, done) }
	res, err = dst.TransferFrom(ctx, src, refs, opts)
	if err != nil || res != (butler.TransferResult{Transferred: len(refs)}) {
		t.Fatalf("TransferFrom = %+v, %v; want %d transferred", res, err, len(refs))
	}
	if want := []int{4, 8, 12, 15}; !slices.Equal(progress, want) {
		t.Errorf("progress after each batch = %v, want %v", progress, want)
	}
	checkTransferred(t, dst, refs, content, prefix)
	if keys := bucketKeys(t, srv, bucket); len(keys) != len(refs) {
		t.Errorf("bucket holds %d objects, want %d: %q", len(keys), len(refs), keys)
	}
	recs, err := dst.Records(ctx, "detector", dimensions.DataID{"instrument": inst})
	if err != nil || len(recs) != 10 {
		t.Errorf("destination has %d detector records, %v; want the 10 the data IDs use", len(recs), err)
	}

	// Again: everything is there already.
	opts.Progress = nil
	res, err = dst.TransferFrom(ctx, src, refs, opts)
	if err != nil || res != (butler.TransferResult{Skipped: len(refs)}) {
		t.Errorf("second TransferFrom = %+v, %v; want all %d skipped", res, err, len(refs))
	}
	res, err = dst.TransferFrom(ctx, src, refs, dry)
	if err != nil || res != (butler.TransferResult{Skipped: len(refs)}) {
		t.Errorf("dry run after the transfer = %+v, %v; want all %d already present", res, err, len(refs))
	}
	if n := countDatasets(t, dst); n != len(refs) {
		t.Errorf("destination holds %d datasets after the reruns, want %d", n, len(refs))
	}

	// And back, from S3 and PostgreSQL into a fresh directory repository,
	// with the refs as the destination lists them.
	back := queryAll(t, dst)
	if len(back) != len(refs) {
		t.Fatalf("destination lists %d datasets, want %d", len(back), len(refs))
	}
	root, local := repotest.New(t)
	res, err = local.TransferFrom(ctx, dst, back, butler.TransferOptions{RegisterDatasetTypes: true, TransferDimensions: true, BatchSize: 7})
	if err != nil || res != (butler.TransferResult{Transferred: len(refs)}) {
		t.Fatalf("TransferFrom the S3 repository = %+v, %v; want %d transferred", res, err, len(refs))
	}
	checkTransferred(t, local, refs, content, "file://"+root+"/")
	repotest.CheckConsistent(t, local)
}

func queryAll(t *testing.T, b *butler.Butler) []dataset.Ref {
	t.Helper()
	var refs []dataset.Ref
	err := b.QueryDatasets(t.Context(), butler.DatasetSearch{Collections: []string{"*"}}, func(r dataset.Ref) error {
		refs = append(refs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("QueryDatasets: %v", err)
	}
	return refs
}

// TestTransferFrom_Errors: refusals leave the destination as it was.
func TestTransferFrom_Errors(t *testing.T) {
	ctx := t.Context()
	src, refs, _ := transferSource(t)
	tests := []struct {
		name   string
		setup  func(t *testing.T, dst *butler.Butler)
		opts   butler.TransferOptions
		wantIs error
		want   string
	}{
		{name: "missing dataset type", opts: butler.TransferOptions{TransferDimensions: true}, wantIs: errs.ErrNotFound, want: "dataset type dict"},
		{
			name: "dataset type defined differently",
			setup: func(t *testing.T, dst *butler.Butler) {
				if _, err := dst.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument"}, false); err != nil {
					t.Fatal(err)
				}
				if _, err := dst.RegisterDatasetType(ctx, "meta", "TaskMetadata", []string{"instrument", "detector"}, false); err != nil {
					t.Fatal(err)
				}
			},
			opts: butler.TransferOptions{TransferDimensions: true}, wantIs: errs.ErrConflict, want: "dataset type dict",
		},
		{name: "move", opts: butler.TransferOptions{Transfer: "move", RegisterDatasetTypes: true, TransferDimensions: true}, wantIs: errs.ErrInvalid, want: "move"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, dst := repotest.New(t)
			if tt.setup != nil {
				tt.setup(t, dst)
			}
			types, _ := dst.DatasetTypes(ctx)
			_, err := dst.TransferFrom(ctx, src, refs, tt.opts)
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("TransferFrom = %v, want %v naming %q", err, tt.wantIs, tt.want)
			}
			if after, _ := dst.DatasetTypes(ctx); len(after) != len(types) {
				t.Errorf("dataset types %v became %v", types, after)
			}
			if n := countDatasets(t, dst); n != 0 {
				t.Errorf("the destination holds %d datasets", n)
			}
			if files := repotest.DatastoreFiles(t, root); len(files) != 0 {
				t.Errorf("the destination holds files %q", files)
			}
		})
	}
	// The source's files are where they were.
	for _, ref := range refs {
		if _, err := src.GetRef(ctx, ref); err != nil {
			t.Errorf("source GetRef(%s) after the refused transfers: %v", ref, err)
		}
	}
}

// TestExport_FilesThenImport exports datasets with their files into a
// directory (exportfile.ExportDir) and imports them into a fresh repository by
// copy: the same IDs and bytes, the source untouched.
func TestExport_FilesThenImport(t *testing.T) {
	ctx := t.Context()
	src, refs, content := transferSource(t)
	dir := filepath.Join(t.TempDir(), "export")
	if _, err := exportfile.ExportDir(ctx, src, refs, dir, "", "copy", butler.ExportOptions{}); err != nil {
		t.Fatalf("ExportDir: %v", err)
	}
	root, dst := repotest.New(t)
	res, err := exportfile.ImportFile(ctx, dst, filepath.Join(dir, exportfile.DefaultExportFile), butler.ImportOptions{Transfer: "copy"}, nil)
	if err != nil || res.Datasets != len(refs) || res.Files != len(refs) {
		t.Fatalf("ImportFile = %+v, %v; want %d datasets with files", res, err, len(refs))
	}
	checkTransferred(t, dst, refs, content, "file://"+root+"/")
	repotest.CheckConsistent(t, dst)
	// Exporting into the same directory again would overwrite the file: refused.
	if _, err := exportfile.ExportDir(ctx, src, refs, dir, "", "copy", butler.ExportOptions{}); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("ExportDir over an existing export = %v, want errs.ErrConflict", err)
	}
}

// benchSource makes a repository of n tiny dict datasets in runs of at most
// 1,000 (one per detector), ingested by hard link from a thousand files.
func benchSource(b *testing.B, n int) (*butler.Butler, []dataset.Ref) {
	b.Helper()
	ctx := b.Context()
	_, src := repotest.New(b)
	per := min(n, 1000)
	repotest.AddInstrument(b, src, inst, per)
	if _, err := src.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	files := make([]butler.FileDataset, per)
	for d := range per {
		p := filepath.Join(dir, fmt.Sprintf("d%04d.yaml", d))
		if err := os.WriteFile(p, []byte(fmt.Sprintf("detector: %d\n", d)), 0o644); err != nil {
			b.Fatal(err)
		}
		files[d] = butler.FileDataset{Path: p, DataID: dimensions.DataID{"instrument": inst, "detector": d}}
	}
	var runs []string
	for r := 0; r*per < n; r++ {
		run := fmt.Sprintf("bench/%03d", r)
		runs = append(runs, run)
		if _, err := src.Ingest(ctx, "dict", run, files[:min(per, n-r*per)], butler.IngestOptions{Transfer: "hardlink", Parallel: 4}); err != nil {
			b.Fatalf("ingest into %s: %v", run, err)
		}
	}
	var refs []dataset.Ref
	err := src.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"dict"}, Collections: runs}, func(r dataset.Ref) error {
		refs = append(refs, r)
		return nil
	})
	if err != nil || len(refs) != n {
		b.Fatalf("source holds %d datasets, %v; want %d", len(refs), err, n)
	}
	return src, refs
}

// BenchmarkTransfer100k copies 100,000 small datasets (files, records, runs,
// type) from one SQLite+directory repository into a fresh one. Building the
// source takes minutes, so it runs only when BUTLER_BENCH_TRANSFER is set (to
// 1, or to another number of datasets).
func BenchmarkTransfer100k(b *testing.B) {
	v := os.Getenv("BUTLER_BENCH_TRANSFER")
	if v == "" || testing.Short() {
		b.Skip("set BUTLER_BENCH_TRANSFER=1 (or a number of datasets) to run")
	}
	n := 100_000
	if k, err := strconv.Atoi(v); err == nil && k > 1 {
		n = k
	}
	src, refs := benchSource(b, n)
	total := 0
	for b.Loop() {
		b.StopTimer()
		_, dst := repotest.New(b)
		b.StartTimer()
		res, err := dst.TransferFrom(b.Context(), src, refs, butler.TransferOptions{RegisterDatasetTypes: true, TransferDimensions: true})
		if err != nil || res.Transferred != n {
			b.Fatalf("TransferFrom = %+v, %v; want %d transferred", res, err, n)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "datasets/s")
}

// BenchmarkImportHSCRC2 reads and imports hsc-rc2-subset.yaml (1,592
// dimension records, registry only) into a fresh SQLite repository.
func BenchmarkImportHSCRC2(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(corpustest.Dir(b), "daf_butler", "exports", "hsc-rc2-subset.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	records := 0
	for b.Loop() {
		b.StopTimer()
		_, dst := repotest.New(b)
		b.StartTimer()
		bun, _, err := exportfile.Read(bytes.NewReader(data), dst.Universe, exportfile.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := dst.Import(b.Context(), bun, butler.ImportOptions{RegistryOnly: true})
		if err != nil || res.Records != 1592 {
			b.Fatalf("Import = %+v, %v; want 1592 records", res, err)
		}
		records += res.Records
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkImportCopy1000 imports an export of 1,000 datasets with their
// files, copying them into a fresh SQLite repository.
func BenchmarkImportCopy1000(b *testing.B) {
	const n = 1000
	src, refs := benchSource(b, n)
	dir := filepath.Join(b.TempDir(), "export")
	if _, err := exportfile.ExportDir(b.Context(), src, refs, dir, "", "copy", butler.ExportOptions{}); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(dir, exportfile.DefaultExportFile)
	total := 0
	for b.Loop() {
		b.StopTimer()
		_, dst := repotest.New(b)
		b.StartTimer()
		res, err := exportfile.ImportFile(b.Context(), dst, file, butler.ImportOptions{Transfer: "copy"}, nil)
		if err != nil || res.Files != n {
			b.Fatalf("ImportFile = %+v, %v; want %d files", res, err, n)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "datasets/s")
}

// Importing (or transferring) datasets that are already there skips them even
// when their type has implied dimensions (exposure → physical_filter, band,
// day_obs, group), which the stored refs carry and the incoming ones do not.
func TestImport_SkipsPresentWithImpliedDimensions(t *testing.T) {
	_, b := repotest.New(t)
	loadExports(t, b, "lsstcam-subset.yaml")
	raw := dataset.Type{Name: "raw", StorageClass: "Exposure"}
	var err error
	if raw.Dimensions, err = b.Universe.Group("instrument", "detector", "exposure"); err != nil {
		t.Fatal(err)
	}
	bun := &butler.Bundle{DatasetTypes: []dataset.Type{raw}, Collections: []butler.CollectionSpec{{Name: "raws", Type: dataset.Run}}}
	for _, det := range []int64{10, 11} {
		id, err := dataset.NewID(dataset.DataIDTypeRun, "raw", "raws", dimensions.DataID{"instrument": "LSSTCam", "exposure": int64(2025120200439), "detector": det})
		if err != nil {
			t.Fatal(err)
		}
		bun.Files = append(bun.Files, butler.BundleFile{Refs: []dataset.Ref{{ID: id, Type: raw, Run: "raws", DataID: dimensions.DataID{"instrument": "LSSTCam", "exposure": 2025120200439, "detector": det}}}})
	}
	for i, want := range []butler.ImportResult{{Datasets: 2}, {Skipped: 2}} {
		res, err := b.Import(t.Context(), bun, butler.ImportOptions{RegistryOnly: true})
		if err != nil {
			t.Fatalf("import %d: %v", i+1, err)
		}
		if res.Datasets != want.Datasets || res.Skipped != want.Skipped {
			t.Fatalf("import %d: %+v, want %d new and %d skipped", i+1, res, want.Datasets, want.Skipped)
		}
	}
}

// Direct-ingested files are exported as their file:// URIs (with -t none) and
// import again, directly, into another repository.
func TestExport_DirectFilesImportDirect(t *testing.T) {
	ctx := t.Context()
	_, a := repotest.New(t)
	repotest.AddInstrument(t, a, inst, 3)
	if _, err := a.RegisterDatasetType(ctx, "blob", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "d1.json")
	if err := os.WriteFile(src, []byte(`{"a": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := a.Ingest(ctx, "blob", "run", []butler.FileDataset{{Path: src, DataID: det(1)}}, butler.IngestOptions{Transfer: "direct"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "export")
	if _, err := exportfile.ExportDir(ctx, a, res.Refs, dir, "", "none", butler.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	_, b := repotest.New(t)
	if _, err := exportfile.ImportFile(ctx, b, filepath.Join(dir, exportfile.DefaultExportFile), butler.ImportOptions{Transfer: "direct"}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetRef(ctx, res.Refs[0])
	if err != nil || string(got) != `{"a": 1}` {
		t.Fatalf("imported direct file: %q, %v", got, err)
	}
	if u, _ := b.URI(ctx, res.Refs[0]); u != "file://"+src {
		t.Fatalf("URI %s, want file://%s", u, src)
	}
}
