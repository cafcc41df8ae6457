package butler_test

import (
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

func TestQueryDataIDs(t *testing.T) {
	ctx := t.Context()
	_, b := repotest.New(t)
	if _, err := ingest.RegisterInstrument(ctx, b, "lsst.obs.lsst.LsstCam", false); err != nil {
		t.Fatal(err)
	}
	files := rawtest.Write(t, t.TempDir(), "LSSTCam", 3, 4)
	if _, err := ingest.Raws(ctx, b, files, ingest.Options{Transfer: "symlink"}); err != nil {
		t.Fatal(err)
	}
	count := func(s butler.DataIDSearch) int {
		t.Helper()
		n := 0
		if err := b.QueryDataIDs(ctx, s, func(dimensions.DataID) error { n++; return nil }); err != nil {
			t.Fatalf("QueryDataIDs(%+v): %v", s, err)
		}
		return n
	}
	tests := []struct {
		name string
		s    butler.DataIDSearch
		want int
	}{
		{"all LSSTCam detectors", butler.DataIDSearch{Dimensions: []string{"detector"}}, 205},
		{"wavefront sensors", butler.DataIDSearch{Dimensions: []string{"detector"}, Where: "detector.purpose = 'WAVEFRONT'"}, 8},
		{"physical filters", butler.DataIDSearch{Dimensions: []string{"physical_filter"}, DataID: dimensions.DataID{"instrument": "LSSTCam"}}, 276},
		{"exposures", butler.DataIDSearch{Dimensions: []string{"exposure"}}, 3},
		{"exposure x detector from records", butler.DataIDSearch{Dimensions: []string{"exposure", "detector"}, Where: "detector < 10"}, 30},
		{"exposure x detector from datasets", butler.DataIDSearch{Dimensions: []string{"exposure", "detector"}, Datasets: []string{"raw"}, Collections: []string{"LSSTCam/raw/all"}}, 12},
		{"exposures of datasets", butler.DataIDSearch{Dimensions: []string{"exposure"}, Datasets: []string{"raw"}, Collections: []string{"*"}}, 3},
		{"limit", butler.DataIDSearch{Dimensions: []string{"detector"}, Limit: 7}, 7},
		{"nothing", butler.DataIDSearch{Dimensions: []string{"exposure"}, Where: "exposure.seq_num > 1000"}, 0},
	}
	for _, tt := range tests {
		if got := count(tt.s); got != tt.want {
			t.Errorf("%s: %d data IDs, want %d", tt.name, got, tt.want)
		}
	}
	if err := b.QueryDataIDs(ctx, butler.DataIDSearch{Dimensions: []string{"detector"}, Where: "detector.nonesuch = 1"}, func(dimensions.DataID) error { return nil }); err == nil {
		t.Error("a where on an unknown field succeeded")
	}
}
