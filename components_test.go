package butler_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/fits"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/obsinfo"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/google/go-cmp/cmp"
)

// TestGet_Components reads components of ingested raws: bbox, dimensions and
// xy0 from the amplifier headers, metadata as the merged primary, REB_COND and
// CONFIG_COND headers; any other component is an error, never the parent's
// bytes.
func TestGet_Components(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		if _, err := ingest.RegisterInstrument(ctx, b, "lsst.obs.lsst.LsstCam", false); err != nil {
			t.Fatal(err)
		}
		files := rawtest.Write(t, t.TempDir(), "LSSTCam", 1, 1)
		if _, err := ingest.Raws(ctx, b, files, ingest.Options{Transfer: "symlink"}); err != nil {
			t.Fatal(err)
		}
		coll := []string{"LSSTCam/raw/all"}
		refs := queryRefs(t, b, butler.DatasetSearch{Types: []string{"raw"}, Collections: coll})
		if len(refs) != 1 {
			t.Fatalf("%d raws, want 1", len(refs))
		}
		id := dimensions.DataID{"instrument": "LSSTCam", "exposure": refs[0].DataID["exposure"], "detector": refs[0].DataID["detector"]}

		// 16 amplifiers of 8×8 pixels in 2 rows of 8.
		wantYAML := map[string]string{
			"bbox":       "minimum:\n  x: 0\n  \"y\": 0\nmaximum:\n  x: 63\n  \"y\": 15\n",
			"dimensions": "x: 64\n\"y\": 16\n",
			"xy0":        "x: 0\n\"y\": 0\n",
		}
		for comp, want := range wantYAML {
			data, ref, err := b.Get(ctx, "raw."+comp, id, coll)
			if err != nil {
				t.Fatalf("Get(raw.%s): %v", comp, err)
			}
			if string(data) != want {
				t.Errorf("Get(raw.%s) = %q, want %q", comp, data, want)
			}
			if ref.Type.Name != "raw."+comp || ref.ID != refs[0].ID {
				t.Errorf("Get(raw.%s) ref = %s, want type raw.%s of dataset %s", comp, ref, comp, refs[0].ID)
			}
		}
		var box butler.Box
		if _, err := b.GetValue(ctx, &box, "raw.bbox", id, coll); err != nil {
			t.Fatal(err)
		}
		if want := (butler.Box{Maximum: butler.Point{X: 63, Y: 15}}); box != want {
			t.Errorf("GetValue(raw.bbox) = %+v, want %+v", box, want)
		}
		var ext butler.Extent
		if _, err := b.GetValue(ctx, &ext, "raw.dimensions", id, coll); err != nil || ext != (butler.Extent{X: 64, Y: 16}) {
			t.Errorf("GetValue(raw.dimensions) = %+v, %v; want {64 16}", ext, err)
		}

		// metadata: every primary key with its value, then the condition tables' keys.
		f, err := os.Open(files[0])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, _ := f.Stat()
		hdrs, err := fits.ReadHeaders(f, fi.Size(), 0)
		if err != nil {
			t.Fatal(err)
		}
		fixed, err := obsinfo.FixHeader(hdrs[0].Map(), obsinfo.Options{}) // ingest's corrections apply
		if err != nil {
			t.Fatal(err)
		}
		var md butler.Metadata
		ref, err := b.GetValue(ctx, &md, "raw.metadata", id, coll)
		if err != nil {
			t.Fatal(err)
		}
		if ref.Type.StorageClass != "PropertyList" {
			t.Errorf("raw.metadata storage class = %q, want PropertyList", ref.Type.StorageClass)
		}
		for i, c := range hdrs[0].Cards {
			if c.Key == "" || c.Key == "COMMENT" || c.Key == "HISTORY" {
				continue
			}
			if got, ok := md.Get(c.Key); !ok || !cmp.Equal(got, fixed[c.Key]) {
				t.Errorf("metadata %s = %v (present %v), want %v", c.Key, got, ok, fixed[c.Key])
			}
			if i < 4 && md[i].Key != c.Key {
				t.Errorf("metadata key %d = %s, want %s (file order)", i, md[i].Key, c.Key)
			}
		}
		for _, k := range []string{"CCDTEMP", "HVBIAS", "FPDAQCS"} {
			if _, ok := md.Get(k); !ok {
				t.Errorf("metadata lacks %s (REB_COND / CONFIG_COND)", k)
			}
		}
		if v, _ := md.Get("NAXIS"); v != int64(0) {
			t.Errorf("metadata NAXIS = %v, want the primary's 0 (keys already present win)", v)
		}
		var asMap map[string]any
		if _, err := b.GetValue(ctx, &asMap, "raw.metadata", id, coll); err != nil {
			t.Fatal(err)
		}
		if asMap["INSTRUME"] == nil || len(asMap) != len(md) {
			t.Errorf("GetValue(raw.metadata) into a map: %d keys, INSTRUME %v; want %d keys", len(asMap), asMap["INSTRUME"], len(md))
		}
		data, _, err := b.Get(ctx, "raw.metadata", id, coll)
		if err != nil || !strings.HasPrefix(string(data), "SIMPLE: true\nBITPIX: 8\nNAXIS: 0\n") {
			t.Errorf("Get(raw.metadata) = %.60q, %v; want YAML in file order", data, err)
		}

		tests := []struct {
			typ     string
			kind    error
			wantErr string
		}{
			{"raw.wcs", errs.ErrUnsupported, "component wcs of storage class Exposure is not readable by this butler"},
			{"raw.image", errs.ErrUnsupported, "component image of storage class Exposure is not readable by this butler"},
			{"raw.foo", errs.ErrInvalid, `storage class Exposure has no component "foo"; valid components: apCorrMap, bbox, coaddInputs, detector, dimensions, filter, id, image, mask, metadata,`},
			{"raw.", errs.ErrInvalid, `storage class Exposure has no component ""`},
		}
		for _, tt := range tests {
			for name, get := range map[string]func() error{
				"Get":      func() error { _, _, err := b.Get(ctx, tt.typ, id, coll); return err },
				"GetValue": func() error { var v any; _, err := b.GetValue(ctx, &v, tt.typ, id, coll); return err },
			} {
				err := get()
				if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("%s(%s) error = %v, want %v containing %q", name, tt.typ, err, tt.kind, tt.wantErr)
				}
			}
		}
	})
}

// TestGet_ComponentOfNonExposure: a storage class without components, or
// whose components this butler cannot compute, is an error.
func TestGet_ComponentOfNonExposure(t *testing.T) {
	_, b := newRepo(t)
	mustRun(t, b, "run")
	mustPut(t, b, "a: 1\n", "dict", det(1), "run")
	_, _, err := b.Get(t.Context(), "dict.foo", det(1), []string{"run"})
	if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), `storage class StructuredDataDict has no components (asked for "foo")`) {
		t.Errorf("Get(dict.foo) error = %v", err)
	}
	if _, err := b.RegisterDatasetType(t.Context(), "cat", "ArrowAstropy", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Get(t.Context(), "cat.schema", det(1), []string{"run"})
	if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), "component schema of storage class ArrowAstropy is not readable by this butler") {
		t.Errorf("Get(cat.schema) error = %v", err)
	}
}

// TestGet_ComponentsCorpus reads the components of a real LSSTCam raw in a
// registry the Python butler wrote: 16 amplifiers of 576×2048 assemble into
// 4608×4096, as obs_lsst's raw formatter assembles them.
func TestGet_ComponentsCorpus(t *testing.T) {
	src := filepath.Join(corpustest.Dir(t), "raws", "lsstCam")
	root := filepath.Join(t.TempDir(), "lsstCam")
	if out, err := exec.Command("cp", "-r", src, root).CombinedOutput(); err != nil {
		t.Fatalf("copy corpus: %v: %s", err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", root).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v: %s", err, out)
	}
	b := repotest.Open(t, root)
	id := dimensions.DataID{"instrument": "LSSTCam", "detector": 29, "exposure": 3019031900001}
	coll := []string{"LSSTCam/raw/all"}
	var box butler.Box
	ref, err := b.GetValue(t.Context(), &box, "raw.bbox", id, coll)
	if err != nil {
		t.Fatal(err)
	}
	if want := (butler.Box{Maximum: butler.Point{X: 4607, Y: 4095}}); box != want {
		t.Errorf("raw.bbox = %+v, want %+v", box, want)
	}
	if ref.Type.StorageClass != "Box2I" {
		t.Errorf("raw.bbox storage class = %s, want Box2I", ref.Type.StorageClass)
	}
	var md butler.Metadata
	if _, err := b.GetValue(t.Context(), &md, "raw.metadata", id, coll); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"INSTRUME": "lsstCam", "RAFTBAY": "R10", "CCDSLOT": "S02", "IMGTYPE": "BIAS"} {
		if got, _ := md.Get(k); got != want {
			t.Errorf("raw.metadata %s = %v, want %v", k, got, want)
		}
	}
	// The parent dataset still reads as its file.
	parent, err := b.Find(t.Context(), "raw", id, coll)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ComponentOf(t.Context(), parent, "dimensions"); err != nil {
		t.Error(err)
	}
	var _ dataset.Ref = parent
}
