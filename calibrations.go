package butler

import (
	"context"
	"fmt"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry"
	"github.com/gobutler/butler/timespan"
)

// Certify adds datasets of a calibration dataset type to the CALIBRATION
// collection coll (made when missing), valid over ts. Overlapping an existing
// validity range of the same type and data ID is a conflict.
func (b *Butler) Certify(ctx context.Context, coll string, refs []dataset.Ref, ts timespan.Timespan) error {
	if err := b.checkWriteable("certify"); err != nil {
		return err
	}
	return b.reg.Update(ctx, func(c *registry.Tx) error {
		if _, err := c.RegisterCollection(ctx, coll, dataset.Calibration, ""); err != nil {
			return err
		}
		return c.Certify(ctx, coll, refs, ts)
	})
}

// Certification is one validity range of a dataset in a CALIBRATION collection.
type Certification struct {
	ID       dataset.ID
	Type     string // dataset type name
	Timespan timespan.Timespan
}

// Certifications lists every validity range in the CALIBRATION collection
// coll, by dataset type name, then begin. Dataset queries do not see datasets
// that are only in CALIBRATION collections; this does.
func (b *Butler) Certifications(ctx context.Context, coll string) ([]Certification, error) {
	if err := b.be.unsupported("listing certifications"); err != nil {
		return nil, err
	}
	certs, err := b.reg.Certifications(ctx, coll)
	if err != nil {
		return nil, err
	}
	out := make([]Certification, len(certs))
	for i, c := range certs {
		out[i] = Certification{ID: c.ID, Type: c.Type, Timespan: c.Timespan}
	}
	return out, nil
}

// Decertify removes the validity of a calibration type's datasets within ts
// (only those of the given data IDs when any are given), trimming or splitting
// ranges that extend beyond it.
func (b *Butler) Decertify(ctx context.Context, coll, typeName string, ts timespan.Timespan, ids ...dimensions.DataID) error {
	if err := b.checkWriteable("decertify"); err != nil {
		return err
	}
	return b.reg.Update(ctx, func(c *registry.Tx) error { return c.Decertify(ctx, coll, typeName, ts, ids) })
}

// FindAt is Find with a time for CALIBRATION collections in the search: a
// calibration matches when its validity range overlaps at. Without at, the
// timespan of the data ID's exposure (or visit) record is used; CALIBRATION
// collections are skipped when there is neither.
func (b *Butler) FindAt(ctx context.Context, typeName string, dataID dimensions.DataID, collections []string, at *timespan.Timespan) (dataset.Ref, error) {
	if err := b.be.unsupported("calibration lookups at a time"); err != nil {
		return dataset.Ref{}, err
	}
	t, err := b.reg.DatasetType(ctx, typeName)
	if err != nil {
		return dataset.Ref{}, err
	}
	if len(collections) == 0 {
		return dataset.Ref{}, fmt.Errorf("find %s: %w: no collections given to search", typeName, errs.ErrInvalid)
	}
	if dataID, err = b.rewriteDataID(ctx, t.Dimensions, t.IsCalibration, dataID); err != nil {
		return dataset.Ref{}, fmt.Errorf("find %s: %w", typeName, err)
	}
	id, err := b.Universe.Normalize(t.Dimensions, onlyGroup(t.Dimensions, dataID))
	if err != nil {
		return dataset.Ref{}, fmt.Errorf("find %s: %w", typeName, err)
	}
	flat, err := b.reg.Flatten(ctx, collections)
	if err != nil {
		return dataset.Ref{}, err
	}
	for _, name := range flat {
		col, err := b.reg.Collection(ctx, name)
		if err != nil {
			return dataset.Ref{}, err
		}
		if col.Type != dataset.Calibration {
			ref, err := b.reg.FindDataset(ctx, typeName, id, []string{name})
			if err != nil {
				return dataset.Ref{}, err
			}
			if ref != nil {
				return *ref, nil
			}
			continue
		}
		if !t.IsCalibration {
			continue
		}
		when := at
		if when == nil {
			when = b.dataIDTimespan(ctx, dataID)
		}
		if when == nil {
			continue
		}
		ref, err := b.reg.FindCalibration(ctx, name, typeName, id, *when)
		if err != nil {
			return dataset.Ref{}, err
		}
		if ref != nil {
			return *ref, nil
		}
	}
	return dataset.Ref{}, fmt.Errorf("dataset %s %s: %w in collections %v", typeName, id, errs.ErrNotFound, collections)
}

// dataIDTimespan is the timespan of the exposure or visit a data ID names.
func (b *Butler) dataIDTimespan(ctx context.Context, dataID dimensions.DataID) *timespan.Timespan {
	for _, el := range []string{"exposure", "visit"} {
		if _, ok := dataID[el]; !ok {
			continue
		}
		recs, err := b.Records(ctx, el, dataID)
		if err != nil || len(recs) != 1 {
			continue
		}
		if ts, ok := recs[0].Values["timespan"].(timespan.Timespan); ok {
			return &ts
		}
	}
	return nil
}
