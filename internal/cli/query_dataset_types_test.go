package cli_test

import (
	"fmt"
	"testing"
)

// TestQueryDatasetTypes_Collections lists the dataset types that
// collections hold (a chain: those of what it searches; globs: the union).
func TestQueryDatasetTypes_Collections(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		collections string
		want        []string
	}{
		{"run/a", []string{"dict", "task_metadata"}},
		{"run/b", []string{"dict", "meta"}},
		{"tag", []string{"dict"}},
		{"chain", []string{"dict", "meta"}},
		{"top", []string{"dict", "meta", "task_metadata"}},
		{"calib", nil},
		{"run/*", []string{"dict", "meta", "task_metadata"}},
		{"nosuch", nil},
	} {
		var got []string
		for _, r := range jsonRows(t, run(t, "query-dataset-types", f.root, "--collections", tc.collections, "--format", "json").Stdout) {
			got = append(got, fmt.Sprint(r["name"]))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("--collections %s: %v, want %v", tc.collections, got, tc.want)
		}
	}
}
