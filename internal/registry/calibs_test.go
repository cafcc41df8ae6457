package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/timespan"
)

func TestCalibrations(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		u := r.Universe
		g, _ := u.Group("instrument", "detector")
		bias := dataset.Type{Name: "bias", Dimensions: g, StorageClass: "ExposureF", IsCalibration: true}
		id0 := dimensions.DataID{"instrument": "Cam", "detector": int64(0)}
		var refs []dataset.Ref
		mustTx(t, r, func(c sqldb.Conn) error {
			if err := r.insertRecords(ctx, c, "instrument", []dimensions.Record{{Element: u.MustElement("instrument"), Values: map[string]any{"name": "Cam"}}}, InsertNew); err != nil {
				return err
			}
			if err := r.insertRecords(ctx, c, "detector", []dimensions.Record{{Element: u.MustElement("detector"), Values: map[string]any{"instrument": "Cam", "id": int64(0), "full_name": "D0"}}}, InsertNew); err != nil {
				return err
			}
			if _, err := r.registerDatasetType(ctx, c, bias); err != nil {
				return err
			}
			for _, run := range []string{"b1", "b2"} {
				if _, err := r.registerRun(ctx, c, run, ""); err != nil {
					return err
				}
				id, _ := dataset.NewID(dataset.DataIDTypeRun, "bias", run, id0)
				if err := r.insertDatasets(ctx, c, "bias", run, []NewDataset{{ID: id, DataID: id0}}, false); err != nil {
					return err
				}
				refs = append(refs, dataset.Ref{ID: id, Type: bias, DataID: id0, Run: run})
			}
			_, err := r.registerCollection(ctx, c, "calib", dataset.Calibration, "")
			return err
		})
		t1, t2, t3 := int64(1e18), int64(2e18), int64(3e18)
		mustTx(t, r, func(c sqldb.Conn) error { return r.certify(ctx, c, "calib", refs[:1], timespan.New(t1, t2)) })
		mustTx(t, r, func(c sqldb.Conn) error { return r.certify(ctx, c, "calib", refs[1:], timespan.New(t2, t3)) })
		// Overlapping the first range is a conflict.
		err := r.inTx(ctx, func(c sqldb.Conn) error { return r.certify(ctx, c, "calib", refs[1:], timespan.New(t1+5, t1+10)) })
		if !errors.Is(err, errs.ErrConflict) {
			t.Errorf("overlapping certify: %v, want conflict", err)
		}
		find := func(at int64) (*dataset.Ref, error) {
			return r.FindCalibration(ctx, "calib", "bias", id0, timespan.Instant(at))
		}
		for at, want := range map[int64]string{t1 + 1: "b1", t2 + 1: "b2"} {
			ref, err := find(at)
			if err != nil || ref == nil || ref.Run != want {
				t.Errorf("lookup at %d = %v, %v; want run %s", at, ref, err, want)
			}
		}
		if ref, err := find(t3 + 1); err != nil || ref != nil {
			t.Errorf("lookup after every range = %v, %v; want nothing", ref, err)
		}
		// A span touching both ranges is ambiguous.
		if _, err := r.FindCalibration(ctx, "calib", "bias", id0, timespan.New(t2-1, t2+1)); !errors.As(err, new(*dataset.CalibrationLookupError)) {
			t.Errorf("ambiguous lookup: %v, want CalibrationLookupError", err)
		}
		// Decertify the middle of the first range: it splits in two.
		mid := timespan.New(t1+100, t1+200)
		mustTx(t, r, func(c sqldb.Conn) error { return r.decertify(ctx, c, "calib", "bias", mid, nil) })
		if ref, _ := find(t1 + 150); ref != nil {
			t.Errorf("lookup inside the decertified span found %v", ref)
		}
		for _, at := range []int64{t1 + 50, t1 + 250} {
			if ref, err := find(at); err != nil || ref == nil || ref.Run != "b1" {
				t.Errorf("lookup at %d after the split = %v, %v; want b1", at, ref, err)
			}
		}
		// Only calibration types and CALIBRATION collections.
		err = r.inTx(ctx, func(c sqldb.Conn) error { return r.certify(ctx, c, "b1", refs[:1], timespan.New(t1, t2)) })
		if !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("certify into a RUN: %v, want invalid", err)
		}
	})
}
