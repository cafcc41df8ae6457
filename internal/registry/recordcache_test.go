package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/gobutler/butler/dimensions"
)

// TestSharedRecords_SeeOwnWrites: Expand reads records of cached elements
// (detector) once, yet sees a record this Registry changes, and not one a
// rolled-back transaction wrote (on both dialects).
func TestSharedRecords_SeeOwnWrites(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		u := r.Universe
		g, _ := u.Group("instrument", "detector")
		det := func(name string) dimensions.Record {
			return dimensions.Record{Element: u.MustElement("detector"), Values: map[string]any{"instrument": "Cam", "id": int64(1), "full_name": name}}
		}
		if err := r.Update(ctx, func(tx *Tx) error {
			if err := tx.InsertRecords(ctx, "instrument", []dimensions.Record{{Element: u.MustElement("instrument"), Values: map[string]any{"name": "Cam"}}}, InsertNew); err != nil {
				return err
			}
			return tx.InsertRecords(ctx, "detector", []dimensions.Record{det("A")}, InsertNew)
		}); err != nil {
			t.Fatal(err)
		}
		id := dimensions.DataID{"instrument": "Cam", "detector": int64(1)}
		fullName := func() any {
			t.Helper()
			_, recs, err := r.Expand(ctx, g, id)
			if err != nil {
				t.Fatal(err)
			}
			return recs["detector"].Values["full_name"]
		}
		if got := fullName(); got != "A" {
			t.Fatalf("full_name = %v, want A", got)
		}
		if got := fullName(); got != "A" { // from the cache
			t.Fatalf("full_name = %v, want A", got)
		}

		// Changed and committed: seen.
		if err := r.Update(ctx, func(tx *Tx) error {
			_, err := tx.SyncRecords(ctx, "detector", []dimensions.Record{det("B")}, true)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got := fullName(); got != "B" {
			t.Errorf("full_name after update = %v, want B", got)
		}

		// Changed, read inside the transaction, rolled back: not seen.
		boom := errors.New("roll back")
		err := r.Update(ctx, func(tx *Tx) error {
			if _, err := tx.SyncRecords(ctx, "detector", []dimensions.Record{det("C")}, true); err != nil {
				return err
			}
			_, recs, err := tx.ExpandIn(ctx, g, id)
			if err != nil {
				return err
			}
			if got := recs["detector"].Values["full_name"]; got != "C" {
				t.Errorf("full_name inside the transaction = %v, want C", got)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if got := fullName(); got != "B" {
			t.Errorf("full_name after a rolled-back update = %v, want B", got)
		}
	})
}

// TestSharedRecords_WholeElement: after the second detector read one at a
// time, the detector table is read whole; every data ID still expands to its
// own record, a missing detector is still missing, one added later is found,
// and a record changed through this Registry is seen (on both dialects).
func TestSharedRecords_WholeElement(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		u := r.Universe
		g, _ := u.Group("instrument", "detector")
		det := func(inst string, id int64, name string) dimensions.Record {
			return dimensions.Record{Element: u.MustElement("detector"), Values: map[string]any{"instrument": inst, "id": id, "full_name": name}}
		}
		if err := r.Update(ctx, func(tx *Tx) error {
			for _, inst := range []string{"Cam", "Other"} {
				if err := tx.InsertRecords(ctx, "instrument", []dimensions.Record{{Element: u.MustElement("instrument"), Values: map[string]any{"name": inst}}}, InsertNew); err != nil {
					return err
				}
			}
			var recs []dimensions.Record
			for i := range int64(5) {
				recs = append(recs, det("Cam", i, "Cam"+string(rune('A'+i))), det("Other", i, "Other"+string(rune('A'+i))))
			}
			return tx.InsertRecords(ctx, "detector", recs, InsertNew)
		}); err != nil {
			t.Fatal(err)
		}
		fullName := func(inst string, id any) (any, error) {
			_, recs, err := r.Expand(ctx, g, dimensions.DataID{"instrument": inst, "detector": id})
			if err != nil {
				return nil, err
			}
			return recs["detector"].Values["full_name"], nil
		}
		for round := range 2 {
			for _, inst := range []string{"Cam", "Other"} {
				for i := range 5 {
					want := inst + string(rune('A'+i))
					// int and int64 data ID values name the same record.
					var id any = int64(i)
					if round == 1 {
						id = i
					}
					if got, err := fullName(inst, id); err != nil || got != want {
						t.Errorf("round %d: %s detector %d: full_name = %v, %v; want %s", round, inst, i, got, err, want)
					}
				}
			}
		}
		if !r.shared.whole["detector"] {
			t.Errorf("the detector table was not read whole")
		}
		if _, err := fullName("Cam", 7); !errorsIsNotFound(err) {
			t.Errorf("missing detector: error = %v, want not found", err)
		}
		if err := r.Update(ctx, func(tx *Tx) error {
			return tx.InsertRecords(ctx, "detector", []dimensions.Record{det("Cam", 7, "CamH")}, InsertNew)
		}); err != nil {
			t.Fatal(err)
		}
		if got, err := fullName("Cam", 7); err != nil || got != "CamH" {
			t.Errorf("detector added later: full_name = %v, %v; want CamH", got, err)
		}
		if err := r.Update(ctx, func(tx *Tx) error {
			_, err := tx.SyncRecords(ctx, "detector", []dimensions.Record{det("Cam", 2, "changed")}, true)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if got, err := fullName("Cam", 2); err != nil || got != "changed" {
				t.Errorf("changed detector: full_name = %v, %v; want changed", got, err)
			}
		}
	})
}
