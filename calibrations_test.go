package butler_test

import (
	"errors"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/timespan"
)

// A calibration is found through a chain by the time of the exposure in the data ID.
func TestFind_CalibrationByExposureTime(t *testing.T) {
	ctx := t.Context()
	_, b := repotest.New(t)
	if _, err := ingest.RegisterInstrument(ctx, b, "lsst.obs.lsst.LsstCam", false); err != nil {
		t.Fatal(err)
	}
	files := rawtest.Write(t, t.TempDir(), "LSSTCam", 2, 1)
	if _, err := ingest.Raws(ctx, b, files, ingest.Options{Transfer: "symlink"}); err != nil {
		t.Fatal(err)
	}
	var exps []dimensions.DataID
	if err := b.QueryDataIDs(ctx, butler.DataIDSearch{Dimensions: []string{"exposure", "detector"}}, func(id dimensions.DataID) error { exps = append(exps, id); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(exps) < 2 {
		t.Fatalf("%d exposures ingested, want 2", len(exps))
	}
	if _, err := b.RegisterDatasetType(ctx, "bias", "StructuredDataDict", []string{"instrument", "detector"}, true); err != nil {
		t.Fatal(err)
	}
	det := dimensions.DataID{"instrument": "LSSTCam", "detector": exps[0]["detector"]}
	refA, err := b.Put(ctx, []byte("a: 1\n"), "bias", det, "calib/run/a")
	if err != nil {
		t.Fatal(err)
	}
	refB, err := b.Put(ctx, []byte("b: 2\n"), "bias", det, "calib/run/b")
	if err != nil {
		t.Fatal(err)
	}
	// A is valid up to the second exposure's start, B from then on.
	recs, err := b.Records(ctx, "exposure", dimensions.DataID{"instrument": "LSSTCam", "exposure": exps[1]["exposure"]})
	if err != nil || len(recs) != 1 {
		t.Fatalf("exposure record: %v %v", recs, err)
	}
	split := recs[0].Values["timespan"].(timespan.Timespan).Begin
	if err := b.Certify(ctx, "LSSTCam/calib", []dataset.Ref{refA}, timespan.New(timespan.Min, split)); err != nil {
		t.Fatal(err)
	}
	if err := b.Certify(ctx, "LSSTCam/calib", []dataset.Ref{refB}, timespan.New(split, timespan.Max)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ChainCollections(ctx, "LSSTCam/defaults", []string{"LSSTCam/raw/all", "LSSTCam/calib"}, butler.ChainOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []dataset.ID{refA.ID, refB.ID} {
		got, err := b.Find(ctx, "bias", exps[i], []string{"LSSTCam/defaults"})
		if err != nil || got.ID != want {
			t.Errorf("Find(bias, exposure %v) = %v, %v; want %s", exps[i]["exposure"], got.ID, err, want)
		}
	}
	// Without a time the CALIBRATION collection cannot answer.
	if _, err := b.Find(ctx, "bias", det, []string{"LSSTCam/calib"}); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Find without a time: %v, want not found", err)
	}
}
