package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
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
			for _, c := range elementTable(e, v).Columns {
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

// TestInsertRecords_MissingValueIsInputError: a record without a value its
// table requires is an input error naming the record and the field, the same
// on both dialects, and nothing is written; a NOT NULL violation the database
// itself reports is classified as invalid input too (#18.5).
func TestInsertRecords_MissingValueIsInputError(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		u := r.Universe
		mustTx(t, r, func(c sqldb.Conn) error {
			return r.insertRecords(ctx, c, "instrument", []dimensions.Record{{Element: u.MustElement("instrument"), Values: map[string]any{"name": "Cam"}}}, InsertNew)
		})
		tests := []struct {
			name, element string
			values        map[string]any
			want          string
		}{
			{"implied dimension", "exposure", map[string]any{"instrument": "Cam", "id": int64(7), "physical_filter": "r", "day_obs": int64(20240101), "obs_id": "x"},
				`exposure record {exposure: 7, instrument: 'Cam'}: invalid: field "group" has no value (it is required in dimension universe 8)`},
			{"required dimension", "detector", map[string]any{"id": int64(1)},
				`detector record {detector: 1}: invalid: field "instrument" has no value`},
			{"primary key", "physical_filter", map[string]any{"instrument": "Cam", "band": "r"},
				`physical_filter record {instrument: 'Cam'}: invalid: field "name" has no value`},
		}
		for _, tt := range tests {
			err := r.inTx(ctx, func(c sqldb.Conn) error {
				return r.insertRecords(ctx, c, tt.element, []dimensions.Record{{Element: u.MustElement(tt.element), Values: tt.values}}, InsertNew)
			})
			if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: InsertRecords = %v, want errs.ErrInvalid containing %q", tt.name, err, tt.want)
			}
			recs, err := r.records(ctx, r.db.Conn(), tt.element, "")
			if err != nil || len(recs) != 0 {
				t.Errorf("%s: %d %s records after the refusal, %v", tt.name, len(recs), tt.element, err)
			}
		}
		// Past the check, straight to the database: its own NOT NULL error.
		err := r.inTx(ctx, func(c sqldb.Conn) error {
			_, err := c.Exec(ctx, "INSERT INTO "+r.db.T("detector")+" (instrument, id, full_name) VALUES (?, ?, ?)", "Cam", nil, "D")
			return err
		})
		if !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("NOT NULL violation from the database = %v, want errs.ErrInvalid", err)
		}
	})
}
