package butler_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/timespan"
)

// TestQuerySuite_DataIDRewrite: data IDs that name exposures and visits by
// their records' fields (day_obs + seq_num, exposure.obs_id, visit.name, an
// obs_id or a detector's full name given for the integer key) are rewritten
// to dimension keys, as daf_butler's Butler._rewrite_data_id does, for put,
// find, get and every query; ambiguous or unmatched ones fail as upstream's do.
func TestQuerySuite_DataIDRewrite(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		loadExports(t, b, "lsstcam-subset.yaml")
		for _, dt := range []struct {
			name string
			dims []string
		}{{"exp_dict", []string{"instrument", "exposure", "detector"}}, {"vis_dict", []string{"instrument", "visit", "detector"}}} {
			if _, err := b.RegisterDatasetType(ctx, dt.name, "StructuredDataDict", dt.dims, false); err != nil {
				t.Fatal(err)
			}
		}
		// Put itself rewrites: exposure 439 by day_obs + seq_num.
		ref, err := b.Put(ctx, []byte("e: 439\nd: 10\n"), "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "day_obs": 20251202, "seq_num": 439, "detector": 10}, "r")
		if err != nil {
			t.Fatalf("put by day_obs+seq_num: %v", err)
		}
		if ref.DataID["exposure"] != int64(2025120200439) {
			t.Fatalf("put by day_obs+seq_num: data ID %s, want exposure 2025120200439", ref.DataID)
		}
		for _, p := range []struct {
			typ string
			id  dimensions.DataID
		}{
			{"exp_dict", dimensions.DataID{"instrument": "LSSTCam", "exposure": 2025120200440, "detector": 10}},
			{"exp_dict", dimensions.DataID{"instrument": "LSSTCam", "exposure": 2025120200440, "detector": 11}},
			{"vis_dict", dimensions.DataID{"instrument": "LSSTCam", "visit": 2025120200439, "detector": 10}},
			{"vis_dict", dimensions.DataID{"instrument": "LSSTCam", "visit": 2025120200440, "detector": 10}},
		} {
			key := map[string]string{"exp_dict": "exposure", "vis_dict": "visit"}[p.typ]
			content := fmt.Sprintf("e: %d\nd: %d\n", p.id[key].(int)%1000, p.id["detector"])
			if _, err := b.Put(ctx, []byte(content), p.typ, p.id, "r"); err != nil {
				t.Fatal(err)
			}
		}

		const e439, e440 = int64(2025120200439), int64(2025120200440)
		cases := []struct {
			name, typ string
			id        dimensions.DataID
			want      string // "exposure-or-visit/detector" of the dataset found
			wantErr   string
			kind      error
		}{
			{"day_obs and seq_num", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "day_obs": 20251202, "seq_num": 440, "detector": 10}, "440/10", "", nil},
			{"exposure.seq_num and exposure.day_obs", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "exposure.day_obs": 20251202, "exposure.seq_num": 439, "detector": 10}, "439/10", "", nil},
			{"exposure.obs_id", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "exposure.obs_id": "MC_O_20251202_000440", "detector": 11}, "440/11", "", nil},
			{"obs_id for exposure, full_name for detector", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "exposure": "MC_O_20251202_000440", "detector": "R02_S02"}, "440/11", "", nil},
			{"bare obs_id", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "obs_id": "MC_O_20251202_000439", "detector": 10}, "439/10", "", nil},
			{"seq_num of a visit type is the visit's", "vis_dict", dimensions.DataID{"instrument": "LSSTCam", "day_obs": 20251202, "seq_num": 440, "detector": 10}, "440/10", "", nil},
			{"visit.name", "vis_dict", dimensions.DataID{"instrument": "LSSTCam", "visit.name": "MC_O_20251202_000439", "detector": "R02_S01"}, "439/10", "", nil},
			{"visit name for visit", "vis_dict", dimensions.DataID{"instrument": "LSSTCam", "visit": "MC_O_20251202_000440", "detector": 10}, "440/10", "", nil},
			{"key and agreeing field", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "exposure": e439, "exposure.seq_num": 439, "detector": 10}, "439/10", "", nil},

			{"no such seq_num", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "day_obs": 20251202, "seq_num": 3, "detector": 10}, "", "dimension exposure matched no records when constrained by {day_obs: 20251202, exposure.seq_num: 3, instrument: 'LSSTCam'}", errs.ErrNotFound},
			{"no such day_obs", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "day_obs": 20250414, "seq_num": 439, "detector": 10}, "", "dimension exposure matched no records", errs.ErrNotFound},
			{"ambiguous", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "day_obs": 20251202, "observation_type": "science", "detector": 10}, "", "dimension exposure is not uniquely constrained to a single record by {day_obs: 20251202, exposure.observation_type: 'science', instrument: 'LSSTCam'}: got 2 results", errs.ErrInvalid},
			{"unknown key", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "seq_nm": 3, "detector": 10}, "", `"seq_nm" is neither a dimension nor a field of the records of`, errs.ErrInvalid},
			{"key of another type", "vis_dict", dimensions.DataID{"instrument": "LSSTCam", "obs_id": "MC_O_20251202_000439", "detector": 10}, "", `"obs_id" is neither a dimension nor a field`, errs.ErrInvalid},
			{"unknown field", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "exposure.obs_idd": "x", "detector": 10}, "", `exposure records have no field "obs_idd"; did you mean obs_id`, errs.ErrInvalid},
			{"key and disagreeing field", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "exposure": e439, "exposure.seq_num": 440, "detector": 10}, "", "dimension exposure has explicit value 2025120200439 inconsistent with its record: seq_num (439 != 440)", errs.ErrInvalid},
			{"unknown obs_id", "exp_dict", dimensions.DataID{"instrument": "LSSTCam", "exposure": "MC_O_20991231_000001", "detector": 10}, "", "matched no records when constrained by {exposure.obs_id: 'MC_O_20991231_000001', instrument: 'LSSTCam'}", errs.ErrNotFound},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ref, err := b.Find(ctx, c.typ, c.id, []string{"r"})
				if c.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, c.kind) {
						t.Fatalf("Find(%s) = %v, %v; want a %v error containing %q", c.id, ref.DataID, err, c.kind, c.wantErr)
					}
					// Queries with that data ID fail alike.
					err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{c.typ}, Collections: []string{"r"}, DataID: c.id}, func(dataset.Ref) error { return nil })
					if err == nil || !strings.Contains(err.Error(), c.wantErr) {
						t.Fatalf("QueryDatasets(%s): %v, want an error containing %q", c.id, err, c.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Find(%s): %v", c.id, err)
				}
				key := "exposure"
				if c.typ == "vis_dict" {
					key = "visit"
				}
				if got := fmt.Sprintf("%d/%d", ref.DataID[key].(int64)%1000, ref.DataID["detector"]); got != c.want {
					t.Fatalf("Find(%s) = %s, want %s", c.id, ref.DataID, c.want)
				}
				data, _, err := b.Get(ctx, c.typ, c.id, []string{"r"})
				if want := fmt.Sprintf("e: %s\nd: %s\n", strings.Split(c.want, "/")[0], strings.Split(c.want, "/")[1]); err != nil || string(data) != want {
					t.Fatalf("Get(%s) = %q, %v; want %q", c.id, data, err, want)
				}
			})
		}

		// Two visits with seq_num 439: the one in the instrument's default
		// visit system (2, by-seq-start-end) is meant, as upstream decides.
		visit := b.Universe.MustElement("visit")
		extra := dimensions.Record{Element: visit, Values: map[string]any{"instrument": "LSSTCam", "id": int64(2025120200941), "name": "MC_O_20251202_000439_one", "physical_filter": "z_20", "day_obs": int64(20251202), "seq_num": int64(439)}}
		if err := b.InsertRecords(ctx, "visit", []dimensions.Record{extra}, butler.InsertNew); err != nil {
			t.Fatal(err)
		}
		member := dimensions.Record{Element: b.Universe.MustElement("visit_system_membership"), Values: map[string]any{"instrument": "LSSTCam", "visit_system": int64(0), "visit": int64(2025120200941)}}
		if err := b.InsertRecords(ctx, "visit_system_membership", []dimensions.Record{member}, butler.InsertNew); err != nil {
			t.Fatal(err)
		}
		if ref, err := b.Find(ctx, "vis_dict", dimensions.DataID{"instrument": "LSSTCam", "day_obs": 20251202, "seq_num": 439, "detector": 10}, []string{"r"}); err != nil || ref.DataID["visit"] != int64(2025120200439) {
			t.Errorf("visit by seq_num with a second visit outside the default system = %v, %v; want visit 2025120200439", ref.DataID, err)
		}
		// Visits 439 and 440 both took 30 s and are both in the default system: ambiguous.
		if _, err := b.Find(ctx, "vis_dict", dimensions.DataID{"instrument": "LSSTCam", "visit.target_name": "lowdust", "visit.exposure_time": 30, "detector": 10}, []string{"r"}); err != nil {
			t.Errorf("visit by target_name and exposure_time: %v", err)
		}
		if _, err := b.Find(ctx, "vis_dict", dimensions.DataID{"instrument": "LSSTCam", "visit.exposure_time": 30, "detector": 10}, []string{"r"}); err == nil || !strings.Contains(err.Error(), "got 2 results") {
			t.Errorf("visit by exposure_time (two visits in the default system): %v, want ambiguous", err)
		}

		// A calibration is found at the time of the exposure that day_obs +
		// seq_num name (seq_num is a field of the temporal exposure and visit:
		// exposure wins). The bias is valid until 08:00 TAI, so for 439 only.
		if _, err := b.RegisterDatasetType(ctx, "cal_dict", "StructuredDataDict", []string{"instrument", "detector"}, true); err != nil {
			t.Fatal(err)
		}
		cal, err := b.Put(ctx, []byte("bias: 1\n"), "cal_dict", dimensions.DataID{"instrument": "LSSTCam", "detector": 10}, "cal/run")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.RegisterCollection(ctx, "cal", dataset.Calibration, ""); err != nil {
			t.Fatal(err)
		}
		until, err := timespan.ParseTAI("2025-12-03T08:00:00")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Certify(ctx, "cal", []dataset.Ref{cal}, timespan.New(timespan.Min, until)); err != nil {
			t.Fatal(err)
		}
		if ref, err := b.Find(ctx, "cal_dict", dimensions.DataID{"instrument": "LSSTCam", "detector": 10, "day_obs": 20251202, "seq_num": 439}, []string{"cal"}); err != nil || ref.ID != cal.ID {
			t.Errorf("calibration at day_obs+seq_num 439 = %v, %v; want %s", ref, err, cal.ID)
		}
		if ref, err := b.Find(ctx, "cal_dict", dimensions.DataID{"instrument": "LSSTCam", "detector": 10, "day_obs": 20251202, "seq_num": 440}, []string{"cal"}); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("calibration at day_obs+seq_num 440 (after its validity) = %v, %v; want not found", ref, err)
		}

		// Queries: datasets, data IDs and records by day_obs + seq_num or obs_id.
		var found []string
		if err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"exp_dict"}, Collections: []string{"r"}, DataID: dimensions.DataID{"day_obs": 20251202, "seq_num": 440}}, func(r dataset.Ref) error {
			found = append(found, fmt.Sprint(r.DataID["exposure"], "/", r.DataID["detector"]))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sort.Strings(found)
		if strings.Join(found, " ") != "2025120200440/10 2025120200440/11" {
			t.Errorf("query-datasets by day_obs+seq_num = %v", found)
		}
		// Several types: each names the record its own way (exposure.seq_num,
		// visit.seq_num).
		found = nil
		if err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"*_dict"}, Collections: []string{"r"}, DataID: dimensions.DataID{"seq_num": 439}}, func(r dataset.Ref) error {
			found = append(found, fmt.Sprint(r.Type.Name, " ", r.DataID["exposure"], r.DataID["visit"], "/", r.DataID["detector"]))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(found, "; ") != "exp_dict 2025120200439 <nil>/10; vis_dict <nil> 2025120200439/10" {
			t.Errorf("query of two types by seq_num = %v", found)
		}
		var ids []string
		if err := b.QueryDataIDs(ctx, butler.DataIDSearch{Dimensions: []string{"exposure"}, DataID: dimensions.DataID{"instrument": "LSSTCam", "seq_num": 439}}, func(id dimensions.DataID) error {
			ids = append(ids, fmt.Sprint(id["exposure"]))
			return nil
		}); err != nil || strings.Join(ids, " ") != "2025120200439" {
			t.Errorf("query-data-ids by seq_num = %v, %v", ids, err)
		}
		for _, c := range []struct {
			id   dimensions.DataID
			want string
		}{
			{dimensions.DataID{"exposure.obs_id": "MC_O_20251202_000440"}, "2025120200440"},
			{dimensions.DataID{"exposure": "MC_O_20251202_000439"}, "2025120200439"},
			{dimensions.DataID{"day_obs": 20251202}, "2025120200439 2025120200440"}, // an implied dimension constrains records too
			{dimensions.DataID{"day_obs": 20251203}, ""},
		} {
			var recs []string
			if err := b.QueryRecords(ctx, butler.RecordSearch{Element: "exposure", DataID: c.id}, func(r dimensions.Record) error {
				recs = append(recs, fmt.Sprint(r.Values["id"]))
				return nil
			}); err != nil || strings.Join(recs, " ") != c.want {
				t.Errorf("query-dimension-records exposure %s = %v, %v; want %s", c.id, recs, err, c.want)
			}
		}
	})
}
