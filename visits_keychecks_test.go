package butler_test

import (
	"path/filepath"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestDefineVisits_KeyChecksUsePrimaryKeys defines visits in several
// transactions and, on PostgreSQL, counts the rows the server read from the
// tables that visit_detector_region and its overlap rows refer to. Each new
// row's foreign-key checks look one visit and one detector up (3.4 checks of
// each a region with its overlap rows). Checks planned while visit had no
// statistics, or with detector's 205 rows thought cheaper to scan, read
// every row of the table (or of the instrument, through its index) per
// check: thousands of rows per region, and more with every visit written.
func TestDefineVisits_KeyChecksUsePrimaryKeys(t *testing.T) {
	const n = 24
	specs := make([]expSpec, n)
	for i := range specs {
		seq := int64(i + 1)
		specs[i] = expSpec{seq: seq, start: seq, end: seq, ra: float64(i) * 3.7}
	}
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		opts := butler.CreateOptions{}
		schema := ""
		if dialect == pgtest.Postgres {
			pgtest.UseAdminAuth(t)
			schema = pgtest.Schema(t)
			opts.SeedConfig, opts.Override = pgtest.WriteSeed(t, schema), true
		}
		root := filepath.Join(t.TempDir(), "repo")
		if _, err := butler.Create(t.Context(), root, opts); err != nil {
			t.Fatal(err)
		}
		b := repotest.Open(t, root)
		visitRepo(t, b, specs)
		var before map[string]int64
		if schema != "" {
			b.Close() // its connections' counts reach the server's statistics
			before = tuplesRead(t, pgtest.Admin(t), schema, keyTables, "visit", nil)
			b = repotest.Open(t, root)
		}
		res, err := b.DefineVisits(t.Context(), "LSSTCam", butler.DefineVisitsOptions{BatchSize: 3})
		if err != nil {
			t.Fatal(err)
		}
		if res.New != n || res.DetectorRegions != n*205 {
			t.Fatalf("%d new visits with %d detector regions, want %d with %d", res.New, res.DetectorRegions, n, n*205)
		}
		if got := len(records(t, b, "visit_detector_region")); got != n*205 {
			t.Fatalf("%d visit_detector_region records, want %d", got, n*205)
		}
		if schema == "" {
			return // SQLite checks keys through the parents' primary key indexes
		}
		b.Close()
		after := tuplesRead(t, pgtest.Admin(t), schema, keyTables, "visit", before)
		for _, table := range keyTables {
			read := after[table] - before[table]
			perRegion := float64(read) / float64(res.DetectorRegions)
			t.Logf("define-visits read %d rows of %s for %d regions (%.1f a region)", read, table, res.DetectorRegions, perRegion)
			if perRegion > 8 {
				t.Errorf("define-visits read %d rows of %s for %d detector regions (%.0f a region): foreign-key checks scan the table", read, table, res.DetectorRegions, perRegion)
			}
		}
	})
}

// keyTables are the parents TestDefineVisits_KeyChecksUsePrimaryKeys watches.
var keyTables = []string{"visit", "detector"}
