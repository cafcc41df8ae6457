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
	"github.com/google/uuid"
)

// whereCase is one where expression and what it must give: the exposure (or
// visit) IDs, space-separated, in ascending order ("" for none), or an error
// containing wantErr.
type whereCase struct {
	name, where string
	want        string
	wantErr     string
}

// Exposures (and visits) of lsstcam-subset.yaml: 2025120200439 spans
// [07:59:07.425363958, 07:59:38.355) TAI on 2025-12-03, 2025120200440
// [08:00:33.880859613, 08:01:04.811); seq_num 439 and 440; zenith_angle 18.1
// and 19.6; exposure_time 30 for both; can_see_sky true, has_simulated false.
const (
	e439     = "2025120200439"
	e440     = "2025120200440"
	both     = e439 + " " + e440
	tBefore  = "T'2025-12-03T07:00:00/tai'"
	tBetween = "T'2025-12-03T08:00:00/tai'" // after 439 ends, before 440 begins
	tIn439   = "T'2025-12-03T07:59:20/tai'"
	tBegin   = "T'2025-12-03T07:59:07.425363958/tai'" // 439's begin, exactly
)

// TestQuerySuite_WhereKinds checks every comparison operator (and OVERLAPS
// and IN) against every column kind, with daf_butler's type rules: each
// either selects the right rows or fails with an error that says why, on both
// the data ID and the dimension record query paths and on both dialects.
func TestQuerySuite_WhereKinds(t *testing.T) {
	exposureCases := []whereCase{
		// int: exposure.seq_num
		{"int =", "exposure.seq_num = 439", e439, ""},
		{"int !=", "exposure.seq_num != 439", e440, ""},
		{"int <", "exposure.seq_num < 440", e439, ""},
		{"int <=", "exposure.seq_num <= 440", both, ""},
		{"int >", "exposure.seq_num > 439", e440, ""},
		{"int >=", "exposure.seq_num >= 439", both, ""},
		{"int OVERLAPS", "exposure.seq_num OVERLAPS 439", "", "invalid types int, int for OVERLAPS"},
		{"int vs float", "exposure.seq_num = 439.0", e439, ""},
		{"int vs string", "exposure.seq_num = '439'", "", "column types for comparison exposure.seq_num = '439' do not agree (int, string)"},
		{"int IN", "exposure.seq_num IN (439, 500)", e439, ""},
		{"int IN range", "exposure.seq_num IN (400..439)", e439, ""},
		{"int NOT IN range", "exposure.seq_num NOT IN (400..439)", e440, ""},
		{"int = NULL", "exposure.seq_num = NULL", "", ""},
		{"int != NULL", "exposure.seq_num != NULL", both, ""},
		{"int < NULL", "exposure.seq_num < NULL", "", "NULL can only be tested with = NULL or != NULL"},
		{"int arithmetic", "exposure.seq_num % 2 = 0", e440, ""},
		{"int is no condition", "exposure.seq_num", "", "is a int, not a condition"},
		// float: exposure.zenith_angle, exposure.exposure_time
		{"float =", "exposure.exposure_time = 30", both, ""},
		{"float !=", "exposure.exposure_time != 30.0", "", ""},
		{"float <", "exposure.zenith_angle < 19", e439, ""},
		{"float <=", "exposure.zenith_angle <= 19.7", both, ""},
		{"float >", "exposure.zenith_angle > 19", e440, ""},
		{"float >=", "exposure.zenith_angle >= 19.0", e440, ""},
		{"float OVERLAPS", "exposure.zenith_angle OVERLAPS 1.5", "", "invalid types float, float for OVERLAPS"},
		{"float vs string", "exposure.zenith_angle > 'x'", "", "do not agree (float, string)"},
		{"float IN range", "exposure.zenith_angle IN (18..19)", "", "needs an integer on the left of IN, not float"},
		// string: exposure.obs_id
		{"string =", "exposure.obs_id = 'MC_O_20251202_000439'", e439, ""},
		{"string !=", "exposure.obs_id != 'MC_O_20251202_000439'", e440, ""},
		{"string <", "exposure.obs_id < 'MC_O_20251202_000440'", e439, ""},
		{"string <=", "exposure.obs_id <= 'MC_O_20251202_000440'", both, ""},
		{"string >", "exposure.obs_id > 'MC_O_20251202_000439'", e440, ""},
		{"string >=", "exposure.obs_id >= 'MC_O_20251202_000439'", both, ""},
		{"string OVERLAPS", "exposure.obs_id OVERLAPS 'x'", "", "invalid types string, string for OVERLAPS"},
		{"string vs int", "exposure.obs_id = 439", "", "do not agree (string, int)"},
		{"string IN", "exposure.obs_id IN ('MC_O_20251202_000440', 'x')", e440, ""},
		{"string GLOB", "GLOB(exposure.obs_id, '*_000440')", e440, ""},
		{"string arithmetic", "exposure.obs_id + 1 = 2", "", "invalid types string, int for operator +"},
		// bool: exposure.can_see_sky (true), exposure.has_simulated (false)
		{"bool alone", "exposure.can_see_sky", both, ""},
		{"bool NOT", "NOT exposure.can_see_sky", "", ""},
		{"bool false", "exposure.has_simulated", "", ""},
		{"bool in AND", "NOT exposure.has_simulated AND exposure.seq_num = 440", e440, ""},
		{"bool =", "exposure.can_see_sky = 1", "", "a boolean field is a condition by itself"},
		{"bool !=", "exposure.can_see_sky != exposure.has_simulated", "", "a boolean field is a condition by itself"},
		{"bool <", "exposure.can_see_sky < 1", "", "a boolean field is a condition by itself"},
		{"bool OVERLAPS", "exposure.can_see_sky OVERLAPS exposure.has_simulated", "", "invalid types bool, bool for OVERLAPS"},
		{"bool = NULL", "exposure.can_see_sky = NULL", "", ""},
		{"bool IN", "exposure.can_see_sky IN (1)", "", "may not be used in IN expressions"},
		{"int AND", "exposure.seq_num AND exposure.can_see_sky", "", "invalid types int, bool for operator AND"},
		// time: exposure.timespan.begin / .end
		{"time =", "exposure.timespan.begin = " + tBegin, e439, ""},
		{"time !=", "exposure.timespan.begin != " + tBegin, e440, ""},
		{"time <", "exposure.timespan.begin < " + tBetween, e439, ""},
		{"time <=", "exposure.timespan.begin <= " + tBegin, e439, ""},
		{"time >", "exposure.timespan.begin > " + tBegin, e440, ""},
		{"time >=", "exposure.timespan.begin >= " + tBegin, both, ""},
		{"time end <=", "exposure.timespan.end <= " + tBetween, e439, ""},
		{"time OVERLAPS", "exposure.timespan.begin OVERLAPS " + tBetween, "", "invalid types datetime, datetime for OVERLAPS"},
		{"time vs string", "exposure.timespan.begin > '2025-12-03'", "", "a time is written with a T prefix"},
		{"time vs int", "exposure.timespan.end > 5", "", "do not agree (datetime, int)"},
		{"time IN", "exposure.timespan.begin IN (" + tBegin + ")", e439, ""},
		{"time field typo", "exposure.timespan.start > " + tBefore, "", `unknown field "start" of exposure.timespan: a timespan has begin and end`},
		// timespan: exposure.timespan
		{"timespan OVERLAPS time", "exposure.timespan OVERLAPS " + tIn439, e439, ""},
		{"timespan OVERLAPS time between", "exposure.timespan OVERLAPS " + tBetween, "", ""},
		{"time OVERLAPS timespan", tIn439 + " OVERLAPS exposure.timespan", e439, ""},
		{"timespan OVERLAPS its begin", "exposure.timespan OVERLAPS " + tBegin, e439, ""},
		{"timespan OVERLAPS span", "exposure.timespan OVERLAPS (" + tBefore + ", " + tBetween + ")", e439, ""},
		{"span OVERLAPS timespan", "(" + tBetween + ", NULL) OVERLAPS exposure.timespan", e440, ""},
		{"timespan OVERLAPS unbounded", "exposure.timespan OVERLAPS (NULL, NULL)", both, ""},
		{"timespan OVERLAPS empty span", "exposure.timespan OVERLAPS (" + tBetween + ", " + tBefore + ")", "", ""},
		{"timespan OVERLAPS bad tuple", "exposure.timespan OVERLAPS ('2025-12-03', NULL)", "", "times need the T prefix"},
		// < and > on timespans: all of one before (after) the other, as
		// daf_butler before 2025 (kept deliberately; current upstream refuses).
		{"timespan <", "exposure.timespan < " + tBetween, e439, ""},
		{"timespan >", "exposure.timespan > " + tBetween, e440, ""},
		{"timespan < inside", "exposure.timespan < " + tIn439, "", ""},
		{"timespan > its begin", "exposure.timespan > " + tBegin, e440, ""},
		{"time < timespan", tBetween + " < exposure.timespan", e440, ""},
		{"time > timespan", tBetween + " > exposure.timespan", e439, ""},
		{"timespan > timespan", "exposure.timespan > (" + tBefore + ", " + tBetween + ")", e440, ""},
		{"timespan <=", "exposure.timespan <= " + tBetween, "", "do not agree (timespan, datetime)"},
		{"timespan >=", tBetween + " >= exposure.timespan", "", "do not agree (datetime, timespan)"},
		{"timespan < timespan", "exposure.timespan < (" + tBetween + ", NULL)", e439, ""},
		{"timespan <= timespan", "exposure.timespan <= (" + tBetween + ", NULL)", "", "invalid column type timespan for operator <="},
		{"timespan = timespan", "exposure.timespan = (" + tBefore + ", " + tBetween + ")", "", "timespans cannot be compared with ="},
		{"timespan != timespan", "exposure.timespan != (" + tBefore + ", " + tBetween + ")", "", "timespans cannot be compared with !="},
		{"timespan = NULL", "exposure.timespan = NULL", "", ""},
		{"timespan != NULL", "exposure.timespan != NULL", both, ""},
		{"timespan IN", "exposure.timespan IN (" + tBetween + ")", "", "may not be used in IN expressions"},
		{"timespan vs int", "exposure.timespan OVERLAPS 5", "", "invalid types timespan, int for OVERLAPS"},
		{"timespan typo", "exposure.timespn OVERLAPS " + tBetween, "", "did you mean timespan?"},
		// literals alone: constant conditions, on every dialect
		{"literal true", "1 = 1", both, ""},
		{"literal false", "1 = 2", "", ""},
		{"literal string", "'a' != 'b'", both, ""},
		{"literal arithmetic", "2 * 3 > 5", both, ""},
		{"literal AND column", "1 < 2 AND exposure.seq_num = 440", e440, ""},
		{"literal float", "1.5 < 2", both, ""},
		{"literal time", tBefore + " < " + tBetween, both, ""},
		{"literal IN", "3 IN (1..5)", both, ""},
		{"literal NOT", "NOT (1 = 2)", both, ""},
		// uuid, region: below (other elements)
	}
	visitCases := []whereCase{
		// region: visit.region (439 is centred near ra 104.55, dec -42.70)
		{"region OVERLAPS point", "visit.region OVERLAPS POINT(104.554, -42.696)", e439, ""},
		{"point OVERLAPS region", "CIRCLE(125.605, -49.584, 0.01) OVERLAPS visit.region", e440, ""},
		{"region OVERLAPS far box", "visit.region OVERLAPS BOX(10, 10, 1, 1)", "", ""},
		{"region =", "visit.region = POINT(104.554, -42.696)", "", "POINT(...) is a region: use it with OVERLAPS"},
		{"region !=", "visit.region != visit.region", "", "a region can only be used with OVERLAPS"},
		{"region <", "visit.region < 1", "", "a region can only be used with OVERLAPS"},
		{"region >=", "visit.region >= 1", "", "a region can only be used with OVERLAPS"},
		{"region OVERLAPS number", "visit.region OVERLAPS 5", "", "OVERLAPS needs a region here"},
		{"region OVERLAPS region column", "visit.region OVERLAPS visit.region", "", "between two region columns is not supported"},
		{"region = NULL", "visit.region = NULL", "", ""},
		{"region != NULL", "visit.region != NULL", both, ""},
		{"region IN", "visit.region IN (1)", "", "may not be used in IN expressions"},
		{"visit timespan", "visit.timespan OVERLAPS (" + tBetween + ", NULL)", e440, ""},
		{"visit timespan <", "visit.timespan < " + tBetween, e439, ""},
		{"visit name", "visit.name = 'MC_O_20251202_000440'", e440, ""},
	}
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		loadExports(t, b, "lsstcam-subset.yaml")
		check := func(t *testing.T, c whereCase, got []string, err error) {
			t.Helper()
			switch {
			case c.wantErr != "" && err == nil:
				t.Fatalf("where %q = %v, want an error containing %q", c.where, got, c.wantErr)
			case c.wantErr != "" && (!strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, errs.ErrInvalid)):
				t.Fatalf("where %q: error %q, want an invalid-input error containing %q", c.where, err, c.wantErr)
			case c.wantErr == "" && err != nil:
				t.Fatalf("where %q: %v", c.where, err)
			case c.wantErr == "":
				sort.Strings(got)
				if g := strings.Join(got, " "); g != c.want {
					t.Fatalf("where %q = %q, want %q", c.where, g, c.want)
				}
			}
		}
		for element, cases := range map[string][]whereCase{"exposure": exposureCases, "visit": visitCases} {
			for _, c := range cases {
				t.Run(element+"/"+c.name, func(t *testing.T) {
					// The data ID path (dimension tables joined, {element.field} columns).
					var ids []string
					err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{element}, Where: c.where}, func(id dimensions.DataID) error {
						ids = append(ids, fmt.Sprint(id[element]))
						return nil
					})
					check(t, c, ids, err)
					// The dimension record path (one table).
					var recs []string
					err = b.QueryRecords(t.Context(), butler.RecordSearch{Element: element, Where: c.where}, func(r dimensions.Record) error {
						recs = append(recs, fmt.Sprint(r.Values["id"]))
						return nil
					})
					check(t, c, recs, err)
				})
			}
		}
		// A bare name is the one field of that name in the query: in records of
		// exposure, timespan is exposure's; with exposure's dimensions
		// (day_obs has a timespan too) it is ambiguous, as upstream says.
		var recs []string
		if err := b.QueryRecords(t.Context(), butler.RecordSearch{Element: "exposure", Where: "timespan OVERLAPS " + tIn439 + " AND timespan.end < " + tBetween}, func(r dimensions.Record) error {
			recs = append(recs, fmt.Sprint(r.Values["id"]))
			return nil
		}); err != nil || strings.Join(recs, " ") != e439 {
			t.Errorf("bare timespan in exposure records = %v, %v; want %s", recs, err, e439)
		}
		err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"exposure"}, Where: "timespan OVERLAPS " + tIn439}, func(dimensions.DataID) error { return nil })
		if err == nil || !strings.Contains(err.Error(), `"timespan" is ambiguous: say which of day_obs.timespan, exposure.timespan`) {
			t.Errorf("bare timespan with day_obs and exposure: %v, want an ambiguity error", err)
		}
		// Timespan against timespan: exposure and visit (related through visit_definition).
		var pairs []string
		if err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"exposure", "visit"}, Where: "exposure.timespan OVERLAPS visit.timespan AND visit.timespan OVERLAPS " + tIn439}, func(id dimensions.DataID) error {
			pairs = append(pairs, fmt.Sprint(id["exposure"], "/", id["visit"]))
			return nil
		}); err != nil || strings.Join(pairs, " ") != e439+"/"+e439 {
			t.Errorf("exposure.timespan OVERLAPS visit.timespan = %v, %v", pairs, err)
		}
		// Order by a timespan: its begin or end, not the span.
		err = b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"exposure"}, OrderBy: []string{"-exposure.timespan"}}, func(dimensions.DataID) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "a timespan cannot be ordered: use exposure.timespan.begin or exposure.timespan.end") {
			t.Errorf("order by a timespan: %v", err)
		}
		var order []string
		if err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"exposure"}, OrderBy: []string{"-exposure.timespan.begin"}}, func(id dimensions.DataID) error {
			order = append(order, fmt.Sprint(id["exposure"]))
			return nil
		}); err != nil || strings.Join(order, " ") != e440+" "+e439 {
			t.Errorf("order by -exposure.timespan.begin = %v, %v", order, err)
		}
		// Binds carry their kinds: a timespan, a list for IN, an int for a string.
		for _, c := range []struct {
			where   string
			bind    map[string]any
			want    string
			wantErr string
		}{
			{"exposure.seq_num IN (:s)", map[string]any{"s": []int{440, 441}}, e440, ""},
			{"exposure.obs_id = :o", map[string]any{"o": 439}, "", "do not agree (string, int)"},
			{"exposure.seq_num = :s", map[string]any{"s": []int{440}}, "", "a bound list can only be used in an IN list"},
		} {
			var ids []string
			err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"exposure"}, Where: c.where, Bind: c.bind}, func(id dimensions.DataID) error {
				ids = append(ids, fmt.Sprint(id["exposure"]))
				return nil
			})
			check(t, whereCase{where: c.where, want: c.want, wantErr: c.wantErr}, ids, err)
		}
	})
}

// TestQuerySuite_WhereUUID is the uuid column (dataset_id) against every
// operator, on daf_butler's registry test datasets.
func TestQuerySuite_WhereUUID(t *testing.T) {
	const id = "UUID('e15ab039-bc8b-4135-87c5-90902a7c0b22')"
	cases := []whereCase{
		{"uuid =", "dataset_id = " + id, "1", ""},
		{"uuid !=", "dataset_id != " + id, "2", ""},
		{"uuid <", "dataset_id < " + id, "", "invalid column type uuid for operator <"},
		{"uuid <=", "dataset_id <= " + id, "", "invalid column type uuid for operator <="},
		{"uuid >", "bias.dataset_id > " + id, "", "invalid column type uuid for operator >"},
		{"uuid >=", "dataset_id >= " + id, "", "invalid column type uuid for operator >="},
		{"uuid OVERLAPS", "dataset_id OVERLAPS " + id, "", "invalid types uuid, uuid for OVERLAPS"},
		{"uuid vs string", "dataset_id = 'e15ab039-bc8b-4135-87c5-90902a7c0b22'", "", "do not agree (uuid, string)"},
		{"uuid IN", "dataset_id IN (" + id + ")", "1", ""},
		{"uuid NOT IN", "dataset_id NOT IN (" + id + ")", "2", ""},
		{"ingest_date is a time", "ingest_date > T'2020-01-01' AND ingest_date < T'2100-01-01'", "3", ""},
		{"ingest_date vs string", "ingest_date > '2020-01-01'", "", "a time is written with a T prefix"},
		{"run is a string", "run = 1", "", "do not agree (string, int)"},
		{"bound dataset ID", "dataset_id = :id", "1", ""},
		{"bound string for a dataset ID", "dataset_id = :s", "", "do not agree (uuid, string)"},
	}
	bind := map[string]any{"id": uuid.MustParse("e15ab039-bc8b-4135-87c5-90902a7c0b22"), "s": "e15ab039-bc8b-4135-87c5-90902a7c0b22"}
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		loadExports(t, b, "base.yaml", "datasets.yaml")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				n := 0
				err := b.QueryDatasets(t.Context(), butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g"}, Where: c.where, Bind: bind}, func(dataset.Ref) error {
					n++
					return nil
				})
				switch {
				case c.wantErr != "":
					if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, errs.ErrInvalid) {
						t.Fatalf("where %q: %d datasets, error %v; want an invalid-input error containing %q", c.where, n, err, c.wantErr)
					}
				case err != nil:
					t.Fatalf("where %q: %v", c.where, err)
				case fmt.Sprint(n) != c.want:
					t.Fatalf("where %q: %d datasets, want %s", c.where, n, c.want)
				}
			})
		}
	})
}
