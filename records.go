package butler

import (
	"context"
	"fmt"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry"
)

// InsertMode says what to do with a dimension record that already exists.
type InsertMode int

const (
	// InsertNew fails with a conflict when the record exists.
	InsertNew InsertMode = iota
	// InsertSkip leaves an existing record as it is.
	InsertSkip
	// InsertReplace overwrites an existing record.
	InsertReplace
)

// registryMode is the registry's form of m.
func (m InsertMode) registryMode() (registry.InsertMode, error) {
	switch m {
	case InsertNew:
		return registry.InsertNew, nil
	case InsertSkip:
		return registry.InsertSkip, nil
	case InsertReplace:
		return registry.InsertReplace, nil
	}
	return 0, fmt.Errorf("insert mode %d: %w", int(m), errs.ErrInvalid)
}

// InsertRecords writes dimension records of one element in one transaction.
func (b *Butler) InsertRecords(ctx context.Context, element string, recs []dimensions.Record, mode InsertMode) error {
	if err := b.checkWriteable("insert " + element + " records"); err != nil {
		return err
	}
	m, err := mode.registryMode()
	if err != nil {
		return fmt.Errorf("insert %s records: %w", element, err)
	}
	return b.reg.Update(ctx, func(c *registry.Tx) error { return c.InsertRecords(ctx, element, recs, m) })
}

// SyncRecords inserts records that are missing and checks the others are the
// same; with update, differing ones are overwritten. It returns how many it wrote.
func (b *Butler) SyncRecords(ctx context.Context, element string, recs []dimensions.Record, update bool) (int, error) {
	if err := b.checkWriteable("sync " + element + " records"); err != nil {
		return 0, err
	}
	return b.SyncRecordSets(ctx, []RecordSet{{Element: element, Records: recs}}, update)
}

// Records reads every record of an element, optionally restricted by a data ID.
func (b *Butler) Records(ctx context.Context, element string, where dimensions.DataID) ([]dimensions.Record, error) {
	e, ok := b.Universe.Element(element)
	if !ok {
		return nil, fmt.Errorf("dimension element %q: not in universe %d", element, b.Universe.Version)
	}
	if err := b.be.unsupported("reading dimension records by key"); err != nil {
		return nil, err
	}
	return b.reg.RecordsOf(ctx, e, where)
}

// EachRecord streams every record of an element to fn.
func (b *Butler) EachRecord(ctx context.Context, element string, fn func(dimensions.Record) error) error {
	return b.be.eachRecord(ctx, element, fn)
}

func (b local) eachRecord(ctx context.Context, element string, fn func(dimensions.Record) error) error {
	return b.reg.Reader().EachRecord(ctx, element, fn)
}

// RecordSet is the records of one dimension element.
type RecordSet struct {
	Element string
	Records []dimensions.Record
}

// SyncRecordSets syncs several elements' records in one transaction (all or
// nothing): missing records are inserted, differing ones are a conflict unless
// update. It returns how many records it wrote.
func (b *Butler) SyncRecordSets(ctx context.Context, sets []RecordSet, update bool) (int, error) {
	if err := b.checkWriteable("sync dimension records"); err != nil {
		return 0, err
	}
	n := 0
	err := b.reg.Update(ctx, func(c *registry.Tx) error {
		n = 0
		for _, s := range sets {
			w, err := c.SyncRecords(ctx, s.Element, s.Records, update)
			if err != nil {
				return err
			}
			n += w
		}
		return nil
	})
	return n, err
}

// Analyze refreshes the registry's query-planner statistics; ingest calls it
// after adding many datasets.
func (b *Butler) Analyze(ctx context.Context) error {
	if !b.writeable {
		return nil
	}
	return b.reg.Analyze(ctx)
}
