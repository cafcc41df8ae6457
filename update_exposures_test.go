package butler_test

import (
	"errors"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
)

// TestUpdateExposuresFromRaws damages exposure records and has
// update-exposures-from-raws restore them from the raws' headers.
func TestUpdateExposuresFromRaws(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		if _, err := ingest.RegisterInstrument(ctx, b, "lsst.obs.lsst.LsstCam", false); err != nil {
			t.Fatal(err)
		}
		files := rawtest.Write(t, t.TempDir(), "LSSTCam", 4, 3)
		if _, err := ingest.Raws(ctx, b, files, ingest.Options{Transfer: "symlink"}); err != nil {
			t.Fatal(err)
		}
		good := records(t, b, "exposure")
		var damaged []dimensions.Record
		for _, r := range good {
			d := dimensions.Record{Element: r.Element, Values: map[string]any{}}
			for k, v := range r.Values {
				d.Values[k] = v
			}
			d.Values["target_name"] = "wrong"
			damaged = append(damaged, d)
		}
		if err := b.InsertRecords(ctx, "exposure", damaged[:2], butler.InsertReplace); err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.UpdateExposures(ctx, b, "LSSTCam", " ", nil, ingest.Options{}); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("empty where: %v, want ErrInvalid", err)
		}
		if _, err := ingest.UpdateExposures(ctx, b, "NoCam", "exposure > 0", nil, ingest.Options{}); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("unknown instrument: %v, want ErrNotFound", err)
		}
		res, err := ingest.UpdateExposures(ctx, b, "lsst.obs.lsst.LsstCam", "exposure.day_obs > 0", nil, ingest.Options{Processes: 2})
		if err != nil || res.Exposures != 4 || res.ExposuresWritten != 2 || len(res.Failures) != 0 || res.Ingested != 0 {
			t.Fatalf("update: %+v, %v; want 4 exposures read, 2 changed", res, err)
		}
		for k, r := range records(t, b, "exposure") {
			if d := valueDiff(r, good[k], nil); d != "" {
				t.Errorf("exposure %s not restored: %s", k, d)
			}
		}
		res, err = ingest.UpdateExposures(ctx, b, "LSSTCam", "exposure.day_obs > 0", []string{"LSSTCam/raw/all"}, ingest.Options{})
		if err != nil || res.ExposuresWritten != 0 {
			t.Errorf("second update: %+v, %v; want nothing changed", res, err)
		}
	})
}
