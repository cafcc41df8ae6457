package butler_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
)

// TestUpdateDimensionRegions moves visit 1 to visit 2's pointing through a
// visit_geometry dataset (obs_base's VisitGeometry JSON).
func TestUpdateDimensionRegions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		visitRepo(t, b, []expSpec{{seq: 1, start: 1, end: 1}, {seq: 2, start: 2, end: 2, ra: 20}})
		if _, err := b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{}); err != nil {
			t.Fatal(err)
		}
		key := func(visit int64) string { return dimensions.DataID{"instrument": "LSSTCam", "visit": visit}.String() }
		vdrKey := func(visit, det int64) string {
			return dimensions.DataID{"instrument": "LSSTCam", "detector": det, "visit": visit}.String()
		}
		visits, vdrs, exps := records(t, b, "visit"), records(t, b, "visit_detector_region"), records(t, b, "exposure")
		src := exps[dimensions.DataID{"instrument": "LSSTCam", "exposure": expID(2)}.String()].Values
		geom := map[string]any{
			"boresight_ra": src["tracking_ra"], "boresight_dec": src["tracking_dec"], "orientation": src["sky_angle"],
			"visit_region":     hex.EncodeToString(visits[key(expID(2))].Values["region"].([]byte)),
			"detector_regions": map[string]string{"94": hex.EncodeToString(vdrs[vdrKey(expID(2), 94)].Values["region"].([]byte))},
		}
		data, err := json.Marshal(geom)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.RegisterDatasetType(ctx, "visit_geometry", "StructuredDataDict", []string{"instrument", "visit"}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Put(ctx, data, "visit_geometry", dimensions.DataID{"instrument": "LSSTCam", "visit": expID(1)}, "geom"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.UpdateDimensionRegions(ctx, "LSSTCam", butler.UpdateDimensionRegionsOptions{}); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("no collections: %v, want ErrInvalid", err)
		}
		n, err := b.UpdateDimensionRegions(ctx, "lsst.obs.lsst.LsstCam", butler.UpdateDimensionRegionsOptions{Collections: []string{"geom"}})
		if err != nil || n != 1 {
			t.Fatalf("update: %d, %v", n, err)
		}
		visits2, vdrs2, exps2 := records(t, b, "visit"), records(t, b, "visit_detector_region"), records(t, b, "exposure")
		if fmt.Sprint(visits2[key(expID(1))].Values["region"]) != fmt.Sprint(visits[key(expID(2))].Values["region"]) {
			t.Error("visit region not updated")
		}
		if fmt.Sprint(vdrs2[vdrKey(expID(1), 94)].Values["region"]) != fmt.Sprint(vdrs[vdrKey(expID(2), 94)].Values["region"]) {
			t.Error("detector 94 region not updated")
		}
		if fmt.Sprint(vdrs2[vdrKey(expID(1), 93)].Values["region"]) != fmt.Sprint(vdrs[vdrKey(expID(1), 93)].Values["region"]) {
			t.Error("detector 93 region changed, but the dataset has none for it")
		}
		if got := exps2[dimensions.DataID{"instrument": "LSSTCam", "exposure": expID(1)}.String()].Values["tracking_ra"]; got != src["tracking_ra"] {
			t.Errorf("exposure tracking_ra %v, want %v", got, src["tracking_ra"])
		}
		// The overlap rows follow: visit 1 is found at visit 2's position.
		found := 0
		err = b.QueryDataIDs(ctx, butler.DataIDSearch{Dimensions: []string{"visit"}, Where: "visit.region OVERLAPS POINT(170.0, -30.0)"},
			func(id dimensions.DataID) error {
				if id["visit"] == expID(1) {
					found++
				}
				return nil
			})
		if err != nil || found != 1 {
			t.Errorf("visit 1 at its new position: %d, %v", found, err)
		}
	})
}
