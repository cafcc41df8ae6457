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
