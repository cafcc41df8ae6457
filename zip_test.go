package butler_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/storage/faulty"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// zipSource is a repository with three datasets in two runs, and their content.
type zipSource struct {
	root    string
	b       *butler.Butler
	refs    []dataset.Ref
	content map[dataset.ID]string
}

func newZipSource(t *testing.T) *zipSource {
	t.Helper()
	root, b := newRepo(t)
	s := &zipSource{root: root, b: b, content: map[dataset.ID]string{}}
	for _, p := range []struct {
		typ, run string
		det      int
	}{{"dict", "run/a", 1}, {"dict", "run/a", 2}, {"meta", "run/b", 3}} {
		data := fmt.Sprintf("key: %s %s %d\n", p.typ, p.run, p.det)
		if p.typ == "meta" {
			data = fmt.Sprintf(`{"det": %d}`, p.det)
		}
		ref := mustPut(t, b, data, p.typ, det(p.det), p.run)
		s.refs = append(s.refs, ref)
		s.content[ref.ID] = data
	}
	return s
}

// zipTarget is an empty repository with the source's instrument and detectors
// 0-9, and no dataset types.
func zipTarget(t *testing.T) (string, *butler.Butler) {
	t.Helper()
	root, b := repotest.New(t)
	repotest.AddInstrument(t, b, inst, 10)
	return root, b
}

// readZip returns a zip's member names in order, their content and methods.
func readZip(t *testing.T, p string) ([]string, map[string][]byte, map[string]uint16) {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	data, methods := map[string][]byte{}, map[string]uint16{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, f.Name)
		data[f.Name], methods[f.Name] = b, f.Method
	}
	return names, data, methods
}

// writeZip writes members (index first when present) into a new zip file.
func writeZip(t *testing.T, p string, members map[string][]byte) {
	t.Helper()
	var names []string
	for n := range members {
		if n != butler.ZipIndexName {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if _, ok := members[butler.ZipIndexName]; ok {
		names = append([]string{butler.ZipIndexName}, names...)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(members[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// repoState renders what a failed ingest must not change: dataset types,
// collections, datasets with their files, dimension records and datastore files.
func repoState(t *testing.T, b *butler.Butler) string {
	t.Helper()
	ctx := t.Context()
	var sb strings.Builder
	types, err := b.DatasetTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range types {
		fmt.Fprintln(&sb, "type", dt)
	}
	cols, err := b.Collections(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		fmt.Fprintln(&sb, "collection", c.Name, c.Type)
	}
	var lines []string
	err = b.QueryDatasets(ctx, butler.DatasetSearch{Collections: []string{"*"}}, func(r dataset.Ref) error {
		u, _ := b.URI(ctx, r)
		lines = append(lines, fmt.Sprintln("dataset", r, u))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	sb.WriteString(strings.Join(lines, ""))
	for _, el := range []string{"instrument", "detector"} {
		recs, err := b.Records(ctx, el, nil)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&sb, el, len(recs))
	}
	fmt.Fprintln(&sb, "files", repotest.DatastoreFiles(t, b.Root))
	return sb.String()
}

var zipNameRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.zip$`)

// TestZip_RoundTrip: datasets zipped in one repository and ingested in another
// keep their IDs, types, runs, data IDs and bytes; the zip is stored whole and
// goes away only with the last dataset that reads it.
func TestZip_RoundTrip(t *testing.T) {
	ctx := t.Context()
	src := newZipSource(t)
	dest := t.TempDir()
	zp, err := src.b.RetrieveArtifactsZip(ctx, src.refs, dest, butler.RetrieveZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(zp)
	if filepath.Dir(zp) != dest || !zipNameRE.MatchString(name) {
		t.Errorf("zip written at %s, want <uuid5>.zip in %s", zp, dest)
	}
	names, data, methods := readZip(t, zp)
	if names[0] != butler.ZipIndexName {
		t.Errorf("first member is %q, want the index", names[0])
	}
	members := names[1:]
	if want := uuid.NewSHA1(dataset.Namespace, []byte(strings.Join(members, ","))).String() + ".zip"; name != want {
		t.Errorf("zip named %s, want %s (uuid5 of the member names)", name, want)
	}
	var idx struct {
		IndexVersion string `json:"index_version"`
		Refs         struct {
			ContainerVersion string                    `json:"container_version"`
			UniverseVersion  int                       `json:"universe_version"`
			DatasetTypes     map[string]map[string]any `json:"dataset_types"`
			CompactRefs      map[string]struct {
				Type   string         `json:"dataset_type_name"`
				Run    string         `json:"run"`
				DataID map[string]any `json:"data_id"`
			} `json:"compact_refs"`
			Records map[string][][]any `json:"dimension_records"`
		} `json:"refs"`
		ArtifactMap map[string]struct {
			Info map[string]any `json:"info"`
			IDs  []string       `json:"ids"`
		} `json:"artifact_map"`
	}
	if err := json.Unmarshal(data[butler.ZipIndexName], &idx); err != nil {
		t.Fatalf("decode index: %v", err)
	}
	if idx.IndexVersion != "V1" || idx.Refs.ContainerVersion != "V1" || idx.Refs.UniverseVersion != src.b.Universe.Version {
		t.Errorf("index versions %q/%q/%d", idx.IndexVersion, idx.Refs.ContainerVersion, idx.Refs.UniverseVersion)
	}
	if got := idx.Refs.DatasetTypes["dict"]; got["storageClass"] != "StructuredDataDict" || fmt.Sprint(got["dimensions"]) != "[instrument detector]" {
		t.Errorf("dataset type dict in the index: %v", got)
	}
	if len(idx.Refs.Records["detector"]) != 3 || len(idx.Refs.Records["instrument"]) != 1 {
		t.Errorf("index records: %v", idx.Refs.Records)
	}
	for _, r := range src.refs {
		// Member names start with the first 8 characters of the ID; time-ordered
		// IDs share them, so the index says which member is whose.
		found := false
		for _, m := range members {
			if slices.Contains(idx.ArtifactMap[m].IDs, r.ID.String()) {
				if !strings.HasPrefix(m, r.ID.String()[:8]+"-") {
					t.Errorf("member %s of %s does not start with its ID", m, r.ID)
				}
				found = true
				if string(data[m]) != src.content[r.ID] || methods[m] != zip.Store {
					t.Errorf("member %s: %q (method %d), want %q stored", m, data[m], methods[m], src.content[r.ID])
				}
				if a := idx.ArtifactMap[m]; !slices.Equal(a.IDs, []string{r.ID.String()}) || a.Info["storage_class"] != r.Type.StorageClass {
					t.Errorf("artifact %s: %+v", m, a)
				}
			}
		}
		if !found {
			t.Errorf("no member for %s", r)
		}
		if cr := idx.Refs.CompactRefs[r.ID.String()]; cr.Type != r.Type.Name || cr.Run != r.Run || fmt.Sprint(cr.DataID["detector"]) != fmt.Sprint(r.DataID["detector"]) {
			t.Errorf("compact ref of %s: %+v", r, cr)
		}
	}
	if _, err := src.b.RetrieveArtifactsZip(ctx, src.refs, dest, butler.RetrieveZipOptions{}); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("retrieve over an existing zip: %v, want ErrConflict", err)
	}
	if _, err := src.b.RetrieveArtifactsZip(ctx, src.refs, dest, butler.RetrieveZipOptions{Overwrite: true}); err != nil {
		t.Errorf("retrieve with Overwrite: %v", err)
	}

	root, b := zipTarget(t)
	res, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "zips/" + name[:4] + "/" + name; res.Path != want || len(res.Refs) != 3 || res.Files != 3 {
		t.Errorf("IngestZip = %+v, want path %s, 3 refs, 3 files", res, want)
	}
	if files := repotest.DatastoreFiles(t, root); !slices.Equal(files, []string{res.Path}) {
		t.Errorf("datastore files %v, want just the zip", files)
	}
	for _, r := range src.refs {
		got, err := b.Dataset(ctx, r.ID)
		if err != nil {
			t.Fatalf("dataset %s in the target: %v", r.ID, err)
		}
		if got.Type.Name != r.Type.Name || got.Type.StorageClass != r.Type.StorageClass || got.Run != r.Run || got.DataID.String() != r.DataID.String() {
			t.Errorf("ingested %s, want %s", got, r)
		}
		data, found, err := b.Get(ctx, r.Type.Name, r.DataID, []string{r.Run})
		if err != nil {
			t.Fatalf("get %s: %v", r, err)
		}
		if found.ID != r.ID || string(data) != src.content[r.ID] {
			t.Errorf("get %s: %s %q, want %s %q", r, found.ID, data, r.ID, src.content[r.ID])
		}
		if u, _ := b.URI(ctx, r); !strings.Contains(u, name+"#zip-path="+r.ID.String()[:8]+"-"+r.Type.Name) {
			t.Errorf("URI of %s = %s, want a member of the zip", r, u)
		}
	}
	var v map[string]any
	if _, err := b.GetValue(ctx, &v, "meta", det(3), []string{"run/b"}); err != nil || fmt.Sprint(v["det"]) != "3" {
		t.Errorf("GetValue of a zip member = %v, %v", v, err)
	}
	repotest.CheckConsistent(t, b)

	// Zipping the ingested datasets again gives the same zip name and index
	// entries: members of a stored zip keep their names and original records.
	zp2, err := b.RetrieveArtifactsZip(ctx, src.refs, t.TempDir(), butler.RetrieveZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(zp2) != name {
		t.Errorf("re-zipped as %s, want %s", filepath.Base(zp2), name)
	}
	_, data2, _ := readZip(t, zp2)
	var idx2 map[string]any
	var idx1 map[string]any
	json.Unmarshal(data2[butler.ZipIndexName], &idx2)
	json.Unmarshal(data[butler.ZipIndexName], &idx1)
	if d := cmp.Diff(idx1["artifact_map"], idx2["artifact_map"]); d != "" {
		t.Errorf("artifact map of the re-zipped datasets differs (-first +second):\n%s", d)
	}
	for _, m := range members {
		if !bytes.Equal(data[m], data2[m]) {
			t.Errorf("re-zipped member %s differs", m)
		}
	}

	// Removing one dataset keeps the zip for the others; removing all deletes it.
	if err := b.Remove(ctx, src.refs[:1]); err != nil {
		t.Fatal(err)
	}
	if files := repotest.DatastoreFiles(t, root); !slices.Equal(files, []string{res.Path}) {
		t.Errorf("after removing one dataset: files %v, want the zip", files)
	}
	if got, err := b.GetRef(ctx, src.refs[1]); err != nil || string(got) != src.content[src.refs[1].ID] {
		t.Errorf("get the other dataset after a removal: %q, %v", got, err)
	}
	if err := b.Unstore(ctx, src.refs[1:2]); err != nil {
		t.Fatal(err)
	}
	if files := repotest.DatastoreFiles(t, root); len(files) != 1 {
		t.Errorf("after unstoring a second dataset: files %v, want the zip", files)
	}
	if _, err := b.RemoveRuns(ctx, []string{"run/a", "run/b"}, false); err != nil {
		t.Fatal(err)
	}
	if files := repotest.DatastoreFiles(t, root); len(files) != 0 {
		t.Errorf("after removing every dataset of the zip: files %v, want none", files)
	}
	repotest.CheckConsistent(t, b)
	// The datasets are gone, so the same zip goes in again.
	if _, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{}); err != nil {
		t.Errorf("ingest the zip again after removing its datasets: %v", err)
	}
}

// TestZip_TransferModes: the zip reaches the datastore by each mode; move
// removes the source only on success, direct leaves it where it is.
func TestZip_TransferModes(t *testing.T) {
	src := newZipSource(t)
	zp, err := src.b.RetrieveArtifactsZip(t.Context(), src.refs, t.TempDir(), butler.RetrieveZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"copy", "move", "link", "symlink", "direct"} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			in := filepath.Join(t.TempDir(), filepath.Base(zp))
			data, _ := os.ReadFile(zp)
			os.WriteFile(in, data, 0o644)
			root, b := zipTarget(t)
			res, err := b.IngestZip(ctx, in, butler.IngestZipOptions{Transfer: mode})
			if err != nil {
				t.Fatal(err)
			}
			_, srcErr := os.Stat(in)
			if gone := errors.Is(srcErr, os.ErrNotExist); gone != (mode == "move") {
				t.Errorf("source zip gone = %v after %s", gone, mode)
			}
			files := repotest.DatastoreFiles(t, root)
			if mode == "direct" {
				if len(files) != 0 || res.Path != "file://"+in {
					t.Errorf("direct: files %v, path %s", files, res.Path)
				}
			} else if len(files) != 1 || files[0] != res.Path {
				t.Errorf("%s: files %v, path %s", mode, files, res.Path)
			}
			for _, r := range src.refs {
				if got, err := b.GetRef(ctx, r); err != nil || string(got) != src.content[r.ID] {
					t.Errorf("%s: get %s = %q, %v", mode, r, got, err)
				}
			}
			if err := b.Remove(ctx, src.refs); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(in); (mode == "move") != (err != nil) {
				t.Errorf("%s: after removal, source zip stat: %v", mode, err)
			}
			if files := repotest.DatastoreFiles(t, root); len(files) != 0 {
				t.Errorf("%s: files left after removal: %v", mode, files)
			}
		})
	}
}

// TestZip_DimensionRecords: a repository without the data IDs' records refuses
// the zip, naming the record, unless told to take them from the index.
func TestZip_DimensionRecords(t *testing.T) {
	ctx := t.Context()
	src := newZipSource(t)
	dir := t.TempDir()
	zp, err := src.b.RetrieveArtifactsZip(ctx, src.refs, dir, butler.RetrieveZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, b := repotest.New(t)
	before := repoState(t, b)
	_, err = b.IngestZip(ctx, zp, butler.IngestZipOptions{})
	if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "instrument") || !strings.Contains(err.Error(), "--transfer-dimensions") {
		t.Errorf("ingest without records: %v, want ErrNotFound naming instrument and --transfer-dimensions", err)
	}
	if after := repoState(t, b); after != before {
		t.Errorf("failed ingest changed the repository (-before +after):\n%s", cmp.Diff(before, after))
	}
	if _, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{TransferDimensions: true}); err != nil {
		t.Fatal(err)
	}
	for _, el := range []string{"instrument", "detector"} {
		want, err := src.b.Records(ctx, el, dimensions.DataID{"instrument": inst})
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.Records(ctx, el, nil)
		if err != nil {
			t.Fatal(err)
		}
		var keep []dimensions.Record
		for _, r := range want {
			if el == "instrument" || slices.Contains([]any{int64(1), int64(2), int64(3)}, r.Values["id"]) {
				keep = append(keep, r)
			}
		}
		if d := cmp.Diff(recordValues(keep), recordValues(got)); d != "" {
			t.Errorf("%s records copied from the zip (-source +target):\n%s", el, d)
		}
	}
	for _, r := range src.refs {
		if got, err := b.GetRef(ctx, r); err != nil || string(got) != src.content[r.ID] {
			t.Errorf("get %s = %q, %v", r, got, err)
		}
	}

	// Without records in the index there is nothing to transfer: the error
	// names the record and gives no hint.
	zp2, err := src.b.RetrieveArtifactsZip(ctx, src.refs, t.TempDir(), butler.RetrieveZipOptions{NoRecords: true})
	if err != nil {
		t.Fatal(err)
	}
	_, data, _ := readZip(t, zp2)
	if !bytes.Contains(data[butler.ZipIndexName], []byte(`"dimension_records":null`)) {
		t.Errorf("index without records: %s", data[butler.ZipIndexName])
	}
	_, b2 := repotest.New(t)
	_, err = b2.IngestZip(ctx, zp2, butler.IngestZipOptions{TransferDimensions: true})
	if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "instrument") || strings.Contains(err.Error(), "--transfer-dimensions") {
		t.Errorf("ingest of a zip without records: %v, want ErrNotFound naming instrument", err)
	}
}

func recordValues(recs []dimensions.Record) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		out = append(out, r.Values)
	}
	return out
}

// pythonIndex is an index in the shape the Python butler writes (see
// daf_butler tests/data/zip_index_with_records.json): an older universe
// version, nulls for absent fields, one file for two datasets (as DECam raws),
// records as key-value lists including the band view.
const pythonIndex = `{
  "index_version": "V1",
  "refs": {
    "container_version": "V1",
    "universe_version": 7,
    "universe_namespace": "daf_butler",
    "dataset_types": {
      "det_meta": {"name": "det_meta", "storageClass": "StructuredDataDict", "dimensions": ["instrument", "detector"],
                   "parentStorageClass": null, "isCalibration": false},
      "det_table": {"name": "det_table", "storageClass": "StructuredDataDict", "dimensions": ["instrument", "detector"],
                    "parentStorageClass": null, "isCalibration": false}
    },
    "compact_refs": {
      "3f452f1d-b8a5-5202-8190-4e723004a6ba": {"dataset_type_name": "det_meta", "run": "HSC/raw/all",
        "data_id": {"instrument": "HSC", "detector": 16}},
      "5d32ede2-f2ca-5d3b-b900-bba4a00c3bf9": {"dataset_type_name": "det_meta", "run": "HSC/raw/all",
        "data_id": {"instrument": "HSC", "detector": 17}},
      "ac08556d-d6ab-43c5-9307-3bb7132548fd": {"dataset_type_name": "det_table", "run": "demo_collection",
        "data_id": {"instrument": "HSC", "detector": 16}}
    },
    "dimension_records": {
      "instrument": [["HSC", 21474800, 0, 21474800, 200, "lsst.obs.subaru.HyperSuprimeCam"]],
      "detector": [["HSC", 16, "0_30", "30", "0", "SCIENCE"], ["HSC", 17, "0_31", "31", "0", "SCIENCE"]],
      "band": [["i"]]
    }
  },
  "artifact_map": {
    "3f452f1d-shared.yaml": {
      "info": {"formatter": "lsst.daf.butler.formatters.yaml.YamlFormatter", "path": "HSC/raw/all/shared.yaml",
               "storage_class": "StructuredDataDict", "component": null, "checksum": null, "file_size": 12},
      "ids": ["3f452f1d-b8a5-5202-8190-4e723004a6ba", "5d32ede2-f2ca-5d3b-b900-bba4a00c3bf9"]
    },
    "ac08556d-det_table_HSC_16.yaml": {
      "info": {"formatter": "lsst.daf.butler.formatters.yaml.YamlFormatter",
               "path": "demo_collection/det_table/det_table_HSC_16_demo_collection.yaml",
               "storage_class": "StructuredDataDict", "component": null, "checksum": null, "file_size": 9},
      "ids": ["ac08556d-d6ab-43c5-9307-3bb7132548fd"]
    }
  }
}`

// TestZip_PythonIndex ingests a zip whose index has the Python butler's shape.
func TestZip_PythonIndex(t *testing.T) {
	ctx := t.Context()
	zp := filepath.Join(t.TempDir(), "python.zip")
	writeZip(t, zp, map[string][]byte{
		butler.ZipIndexName:              []byte(pythonIndex),
		"3f452f1d-shared.yaml":           []byte("shared: yes\n"),
		"ac08556d-det_table_HSC_16.yaml": []byte("table: 1\n"),
	})
	root, b := repotest.New(t)
	res, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{TransferDimensions: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refs) != 3 || res.Files != 2 {
		t.Errorf("IngestZip = %+v, want 3 datasets from 2 files", res)
	}
	for _, c := range []struct {
		typ, run string
		det      int
		id, want string
	}{
		{"det_meta", "HSC/raw/all", 16, "3f452f1d-b8a5-5202-8190-4e723004a6ba", "shared: yes\n"},
		{"det_meta", "HSC/raw/all", 17, "5d32ede2-f2ca-5d3b-b900-bba4a00c3bf9", "shared: yes\n"},
		{"det_table", "demo_collection", 16, "ac08556d-d6ab-43c5-9307-3bb7132548fd", "table: 1\n"},
	} {
		data, ref, err := b.Get(ctx, c.typ, dimensions.DataID{"instrument": "HSC", "detector": c.det}, []string{c.run})
		if err != nil {
			t.Errorf("get %s detector %d: %v", c.typ, c.det, err)
			continue
		}
		if ref.ID.String() != c.id || string(data) != c.want {
			t.Errorf("get %s detector %d = %s %q, want %s %q", c.typ, c.det, ref.ID, data, c.id, c.want)
		}
	}
	recs, err := b.Records(ctx, "detector", dimensions.DataID{"instrument": "HSC", "detector": 16})
	if err != nil || len(recs) != 1 || recs[0].Values["full_name"] != "0_30" || recs[0].Values["purpose"] != "SCIENCE" {
		t.Errorf("detector 16 record from the index: %v, %v", recs, err)
	}
	inst, err := b.Records(ctx, "instrument", nil)
	if err != nil || len(inst) != 1 || inst[0].Values["detector_max"] != int64(200) || inst[0].Values["class_name"] != "lsst.obs.subaru.HyperSuprimeCam" {
		t.Errorf("instrument record from the index: %v, %v", inst, err)
	}
	repotest.CheckConsistent(t, b)
	// One member read by two datasets: removing one keeps the zip.
	ref, _ := b.Find(ctx, "det_meta", dimensions.DataID{"instrument": "HSC", "detector": 16}, []string{"HSC/raw/all"})
	if err := b.Remove(ctx, []dataset.Ref{ref}); err != nil {
		t.Fatal(err)
	}
	if files := repotest.DatastoreFiles(t, root); len(files) != 1 {
		t.Errorf("files after removing one of two datasets sharing a member: %v", files)
	}
}

// zipEdit changes an index (as generic JSON) and the zip's other members.
type zipEdit func(idx map[string]any, members map[string][]byte)

func compactRefs(idx map[string]any) map[string]any {
	return idx["refs"].(map[string]any)["compact_refs"].(map[string]any)
}

// TestZip_BadInput: each bad zip or conflicting repository is a clear error of
// the right kind, and the repository is left as it was.
func TestZip_BadInput(t *testing.T) {
	src := newZipSource(t)
	good, err := src.b.RetrieveArtifactsZip(t.Context(), src.refs, t.TempDir(), butler.RetrieveZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, goodData, _ := readZip(t, good)
	d1, d3 := src.refs[0], src.refs[2]
	var goodIdx struct {
		ArtifactMap map[string]struct {
			IDs []string `json:"ids"`
		} `json:"artifact_map"`
	}
	if err := json.Unmarshal(goodData[butler.ZipIndexName], &goodIdx); err != nil {
		t.Fatal(err)
	}
	memberOf := func(r dataset.Ref) string {
		for m, a := range goodIdx.ArtifactMap {
			if slices.Contains(a.IDs, r.ID.String()) {
				return m
			}
		}
		t.Fatalf("no member for %s", r)
		return ""
	}
	// onlyD1 keeps dataset d1 alone in the zip.
	onlyD1 := func(idx map[string]any, members map[string][]byte) {
		cr := compactRefs(idx)
		am := idx["artifact_map"].(map[string]any)
		for _, r := range src.refs[1:] {
			delete(cr, r.ID.String())
			delete(am, memberOf(r))
			delete(members, memberOf(r))
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, b *butler.Butler)
		edit  zipEdit
		raw   []byte // the whole file, instead of a zip
		kind  error
		says  []string
	}{
		{name: "not a zip", raw: []byte("PK? no"), kind: errs.ErrInvalid, says: []string{"not a readable zip"}},
		{name: "no index", edit: func(idx map[string]any, m map[string][]byte) { delete(m, butler.ZipIndexName) },
			kind: errs.ErrInvalid, says: []string{butler.ZipIndexName}},
		{name: "index not JSON", edit: func(idx map[string]any, m map[string][]byte) { m[butler.ZipIndexName] = []byte("{") },
			kind: errs.ErrInvalid, says: []string{butler.ZipIndexName}},
		{name: "index version", edit: func(idx map[string]any, m map[string][]byte) { idx["index_version"] = "V2" },
			kind: errs.ErrUnsupported, says: []string{"V2"}},
		{name: "member missing", edit: func(idx map[string]any, m map[string][]byte) { delete(m, memberOf(d3)) },
			kind: errs.ErrInvalid, says: []string{memberOf(d3), "not in the zip"}},
		{name: "unknown dataset type", edit: func(idx map[string]any, m map[string][]byte) {
			compactRefs(idx)[d1.ID.String()].(map[string]any)["dataset_type_name"] = "nosuch"
		}, kind: errs.ErrInvalid, says: []string{"nosuch", d1.ID.String()}},
		{name: "unknown storage class", edit: func(idx map[string]any, m map[string][]byte) {
			idx["refs"].(map[string]any)["dataset_types"].(map[string]any)["dict"].(map[string]any)["storageClass"] = "NoSuchClass"
		}, kind: errs.ErrInvalid, says: []string{"NoSuchClass"}},
		{name: "member of an unknown dataset", edit: func(idx map[string]any, m map[string][]byte) {
			a := idx["artifact_map"].(map[string]any)[memberOf(d3)].(map[string]any)
			a["ids"] = append(a["ids"].([]any), "0bd5e47c-7c5e-4a61-8a6b-0d4c8a3a0c11")
		}, kind: errs.ErrInvalid, says: []string{"0bd5e47c-7c5e-4a61-8a6b-0d4c8a3a0c11"}},
		{name: "missing detector record", edit: func(idx map[string]any, m map[string][]byte) {
			compactRefs(idx)[d1.ID.String()].(map[string]any)["data_id"].(map[string]any)["detector"] = 15
		}, kind: errs.ErrNotFound, says: []string{"detector", "15"}},
		{name: "dataset type differs", setup: func(t *testing.T, b *butler.Butler) {
			if _, err := b.RegisterDatasetType(t.Context(), "dict", "TaskMetadata", []string{"instrument", "detector"}, false); err != nil {
				t.Fatal(err)
			}
		}, kind: errs.ErrConflict, says: []string{"dict", "TaskMetadata", "StructuredDataDict"}},
		{name: "same data ID, another dataset", setup: func(t *testing.T, b *butler.Butler) {
			if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
				t.Fatal(err)
			}
			mustPut(t, b, "other: 1\n", "dict", det(1), "run/a")
		}, kind: errs.ErrConflict, says: []string{"dict", "run/a"}},
		{name: "already ingested", setup: func(t *testing.T, b *butler.Butler) {
			if _, err := b.IngestZip(t.Context(), good, butler.IngestZipOptions{}); err != nil {
				t.Fatal(err)
			}
		}, kind: errs.ErrConflict, says: []string{"already stored"}},
		{name: "stored ID in another run", setup: func(t *testing.T, b *butler.Butler) {
			if _, err := b.IngestZip(t.Context(), good, butler.IngestZipOptions{}); err != nil {
				t.Fatal(err)
			}
		}, edit: func(idx map[string]any, m map[string][]byte) {
			compactRefs(idx)[d1.ID.String()].(map[string]any)["run"] = "run/other"
		}, kind: errs.ErrConflict, says: []string{d1.ID.String(), "run/a", "run/other"}},
		{name: "unstored ID of another type", setup: func(t *testing.T, b *butler.Butler) {
			if _, err := b.IngestZip(t.Context(), good, butler.IngestZipOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := b.Unstore(t.Context(), []dataset.Ref{d1}); err != nil {
				t.Fatal(err)
			}
		}, edit: func(idx map[string]any, m map[string][]byte) {
			onlyD1(idx, m)
			compactRefs(idx)[d1.ID.String()].(map[string]any)["dataset_type_name"] = "meta"
		}, kind: errs.ErrConflict, says: []string{d1.ID.String(), "as dict", "as meta"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			zp := filepath.Join(t.TempDir(), "bad.zip")
			switch {
			case tt.raw != nil:
				os.WriteFile(zp, tt.raw, 0o644)
			case tt.edit != nil:
				members := map[string][]byte{}
				for k, v := range goodData {
					members[k] = v
				}
				var idx map[string]any
				if err := json.Unmarshal(members[butler.ZipIndexName], &idx); err != nil {
					t.Fatal(err)
				}
				tt.edit(idx, members)
				if _, ok := members[butler.ZipIndexName]; ok && string(members[butler.ZipIndexName]) != "{" {
					members[butler.ZipIndexName], _ = json.Marshal(idx)
				}
				writeZip(t, zp, members)
			default:
				zp = good
			}
			_, b := zipTarget(t)
			if tt.setup != nil {
				tt.setup(t, b)
			}
			before := repoState(t, b)
			_, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{})
			if !errors.Is(err, tt.kind) {
				t.Fatalf("IngestZip: %v, want %v", err, tt.kind)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if after := repoState(t, b); after != before {
				t.Errorf("failed ingest changed the repository (-before +after):\n%s", cmp.Diff(before, after))
			}
			repotest.CheckConsistent(t, b)
		})
	}
}

// TestZip_FailedTransfer: the zip lands but the transfer reports failure; no
// file and no dataset may be left.
func TestZip_FailedTransfer(t *testing.T) {
	src := newZipSource(t)
	zp, err := src.b.RetrieveArtifactsZip(t.Context(), src.refs, t.TempDir(), butler.RetrieveZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"copy", "link"} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			root, b := zipTarget(t)
			before := repoState(t, b)
			inj := faulty.NthWrite(0)
			inj.AfterWrite = true
			fb, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true, Storage: faultyStorage(inj)})
			if err != nil {
				t.Fatal(err)
			}
			defer fb.Close()
			if _, err := fb.IngestZip(ctx, zp, butler.IngestZipOptions{Transfer: mode}); !errors.Is(err, faulty.ErrInjected) {
				t.Fatalf("IngestZip with a failing transfer: %v, want the injected error", err)
			}
			if after := repoState(t, b); after != before {
				t.Errorf("failed transfer changed the repository (-before +after):\n%s", cmp.Diff(before, after))
			}
			if _, err := os.Stat(zp); err != nil {
				t.Errorf("source zip after a failed transfer: %v", err)
			}
		})
	}
}

// TestZip_DryRunAndSkipExisting: a dry run changes nothing; a second ingest is
// a conflict, or a no-op with SkipExisting.
func TestZip_DryRunAndSkipExisting(t *testing.T) {
	ctx := t.Context()
	src := newZipSource(t)
	zp, err := src.b.RetrieveArtifactsZip(ctx, src.refs, t.TempDir(), butler.RetrieveZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, b := zipTarget(t)
	before := repoState(t, b)
	res, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{DryRun: true})
	if err != nil || len(res.Refs) != 3 {
		t.Fatalf("dry run = %+v, %v; want 3 datasets", res, err)
	}
	if after := repoState(t, b); after != before {
		t.Errorf("dry run changed the repository (-before +after):\n%s", cmp.Diff(before, after))
	}
	if _, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{}); err != nil {
		t.Fatal(err)
	}
	ingested := repoState(t, b)
	res, err = b.IngestZip(ctx, zp, butler.IngestZipOptions{SkipExisting: true})
	if err != nil || res.Skipped != 3 || len(res.Refs) != 0 {
		t.Errorf("second ingest with SkipExisting = %+v, %v; want 3 skipped", res, err)
	}
	if after := repoState(t, b); after != ingested {
		t.Errorf("skipped ingest changed the repository:\n%s", cmp.Diff(ingested, after))
	}
	if _, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{DryRun: true}); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("dry run of an ingested zip: %v, want ErrConflict", err)
	}
}

// TestZip_Postgres ingests a zip into a PostgreSQL repository, reads it back,
// refuses it twice, and removes it with its last dataset.
func TestZip_Postgres(t *testing.T) {
	ctx := t.Context()
	src := newZipSource(t)
	zp, err := src.b.RetrieveArtifactsZip(ctx, src.refs, t.TempDir(), butler.RetrieveZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root, b := repotest.NewOn(t, pgtest.Postgres, butler.CreateOptions{})
	before := repoState(t, b)
	if _, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{}); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("ingest without records: %v, want ErrNotFound", err)
	}
	if after := repoState(t, b); after != before {
		t.Errorf("failed ingest changed the repository:\n%s", cmp.Diff(before, after))
	}
	if _, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{TransferDimensions: true}); err != nil {
		t.Fatal(err)
	}
	for _, r := range src.refs {
		if got, err := b.GetRef(ctx, r); err != nil || string(got) != src.content[r.ID] {
			t.Errorf("get %s = %q, %v", r, got, err)
		}
	}
	if _, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{}); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("second ingest: %v, want ErrConflict", err)
	}
	if err := b.Remove(ctx, src.refs[:2]); err != nil {
		t.Fatal(err)
	}
	if files := repotest.DatastoreFiles(t, root); len(files) != 1 {
		t.Errorf("files after removing 2 of 3 datasets: %v, want the zip", files)
	}
	if err := b.Remove(ctx, src.refs[2:]); err != nil {
		t.Fatal(err)
	}
	if files := repotest.DatastoreFiles(t, root); len(files) != 0 {
		t.Errorf("files after removing every dataset: %v", files)
	}
}

// Plain retrieve-artifacts of datasets ingested from a zip writes each member
// under its own name (next to where the zip is stored), not the zip path.
func TestZip_RetrieveMembers(t *testing.T) {
	ctx := t.Context()
	src := newZipSource(t)
	zp, err := src.b.RetrieveArtifactsZip(ctx, src.refs, t.TempDir(), butler.RetrieveZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, b := zipTarget(t)
	res, err := b.IngestZip(ctx, zp, butler.IngestZipOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, preserve := range []bool{true, false} {
		dest := t.TempDir()
		paths, err := b.RetrieveArtifacts(ctx, res.Refs, dest, butler.RetrieveOptions{PreservePath: preserve})
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) != len(src.refs) {
			t.Fatalf("preserve=%v: %d files, want %d", preserve, len(paths), len(src.refs))
		}
		for i, p := range paths {
			if strings.Contains(p, "#") || strings.HasSuffix(p, ".zip") {
				t.Errorf("retrieved to %s: the zip path, not the member's", p)
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != src.content[res.Refs[i].ID] {
				t.Errorf("%s: %q, %v; want %q", p, got, err, src.content[res.Refs[i].ID])
			}
		}
	}
}
