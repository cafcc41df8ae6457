package registry

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gobutler/butler/dimensions"
)

// TestElementTable_NotNullMatchesDimensions keeps the record check before
// inserts (dimensions.CheckRecord) and the tables' NOT NULL columns the same,
// in every universe.
func TestElementTable_NotNullMatchesDimensions(t *testing.T) {
	for v := 0; v <= dimensions.DefaultVersion; v++ {
		u, err := dimensions.Version(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range u.Elements {
			if !e.HasTable() {
				continue
			}
			var cols []string
			for _, c := range elementTable(e).Columns {
				if c.NotNull {
					cols = append(cols, c.Name)
				}
			}
			want := e.NotNullFields()
			slices.Sort(cols)
			slices.Sort(want)
			if fmt.Sprint(cols) != fmt.Sprint(want) {
				t.Errorf("universe %d %s: NOT NULL columns %v, NotNullFields %v", v, e.Name, cols, want)
			}
		}
	}
}
