package butler

import (
	"fmt"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/instrument"
)

// MigrateOptions tune MigrateBundle.
type MigrateOptions struct {
	// DayObsOffset returns the observing-day offset in seconds of an instrument
	// class (see dimensions.MigrateOptions); nil: 12 h for the instruments this
	// butler defines (every LSST camera), unknown for others, as upstream
	// without their obs package installed.
	DayObsOffset func(instrumentClass string) (sec int64, ok bool)
	// Warn receives non-fatal notes.
	Warn func(msg string)
	// InstrumentClasses names the classes of instruments whose records are not
	// in the bundle.
	InstrumentClasses map[string]string
}

// KnownDayObsOffset is the observing-day offset of the instruments this butler
// defines (12 h for every LSST camera); others are unknown.
func KnownDayObsOffset(class string) (int64, bool) {
	if _, err := instrument.Lookup(class); err == nil {
		return 12 * 3600, true
	}
	return 0, false
}

// MigrateBundle rewrites a bundle made in dimension universe from (an export
// file's, a source repository's) for universe to: its records with
// dimensions.Migrate, its dataset types' dimensions and its refs' data IDs with
// dimensions.MigrateDimensions. It is the one path import and TransferFrom take
// between universes. Content that has no place in to (a newer universe's going
// to an older one) is a *dimensions.UnrepresentableError and the bundle is left
// as it was.
func MigrateBundle(bun *Bundle, from, to *dimensions.Universe, opts MigrateOptions) error {
	if opts.DayObsOffset == nil {
		opts.DayObsOffset = KnownDayObsOffset
	}
	var recs []dimensions.Record
	for _, set := range bun.Records {
		recs = append(recs, set.Records...)
	}
	migrated, err := dimensions.Migrate(from, to, recs, dimensions.MigrateOptions{
		DayObsOffset: opts.DayObsOffset, Warn: opts.Warn, InstrumentClasses: opts.InstrumentClasses,
	})
	if err != nil {
		return err
	}
	types := map[string]dataset.Type{}
	convert := func(t dataset.Type) (dataset.Type, error) {
		if nt, ok := types[t.Name]; ok && nt.StorageClass == t.StorageClass && nt.IsCalibration == t.IsCalibration {
			return nt, nil
		}
		nt, err := migrateType(from, to, t)
		if err != nil {
			return t, err
		}
		types[t.Name] = nt
		return nt, nil
	}
	newTypes := make([]dataset.Type, len(bun.DatasetTypes))
	for i, t := range bun.DatasetTypes {
		if newTypes[i], err = convert(t); err != nil {
			return err
		}
	}
	newFiles := make([]BundleFile, len(bun.Files))
	for i, f := range bun.Files {
		nf := f
		nf.Refs = make([]dataset.Ref, len(f.Refs))
		for j, ref := range f.Refs {
			if len(ref.Type.Dimensions.Required) > 0 || len(ref.Type.Dimensions.Implied) > 0 || ref.Type.StorageClass != "" {
				if ref.Type, err = convert(ref.Type); err != nil {
					return err
				}
			} else if nt, ok := types[ref.Type.Name]; ok {
				ref.Type = nt // a bare name: the destination's definition is used
			}
			names, err := dimensions.MigrateDimensions(from, to, keys(ref.DataID), describeRef(ref))
			if err != nil {
				return err
			}
			id := dimensions.DataID{}
			for _, n := range names {
				id[n] = ref.DataID[n]
			}
			ref.DataID = id
			nf.Refs[j] = ref
		}
		newFiles[i] = nf
	}
	var sets []RecordSet
	for _, r := range migrated {
		if n := len(sets); n == 0 || sets[n-1].Element != r.Element.Name {
			sets = append(sets, RecordSet{Element: r.Element.Name})
		}
		sets[len(sets)-1].Records = append(sets[len(sets)-1].Records, r)
	}
	bun.Records, bun.DatasetTypes, bun.Files = sets, newTypes, newFiles
	return nil
}

func keys(id dimensions.DataID) []string {
	out := make([]string, 0, len(id))
	for k := range id {
		out = append(out, k)
	}
	return out
}

// migrateType gives a dataset type of universe from its dimensions in to.
func migrateType(from, to *dimensions.Universe, t dataset.Type) (dataset.Type, error) {
	names, err := dimensions.MigrateDimensions(from, to, t.Dimensions.RequiredNames(), "dataset type "+t.Name)
	if err != nil {
		return t, err
	}
	g, err := to.Group(names...)
	if err != nil {
		return t, fmt.Errorf("dataset type %s: %w", t.Name, err)
	}
	t.Dimensions = g
	return t, nil
}

// SameUniverse reports whether two universes are the same version of the same
// namespace (no migration between them).
func SameUniverse(a, b *dimensions.Universe) bool {
	return a.Version == b.Version && a.Namespace == b.Namespace
}

// checkRecords checks every record of the bundle (but those of skipped
// elements) has the values the table of its element in u requires
// (dimensions.CheckRecord), so that records the destination cannot hold are
// refused before anything is written, naming the record and the field.
func checkRecords(u *dimensions.Universe, bun *Bundle, skip map[string]bool) error {
	for _, set := range bun.Records {
		if skip[set.Element] {
			continue
		}
		e, ok := u.Element(set.Element)
		if !ok || !e.HasTable() {
			return &EntryError{Entry: "dimension " + set.Element, Err: fmt.Errorf("%w: no such stored dimension element in universe %d", errs.ErrInvalid, u.Version)}
		}
		for _, r := range set.Records {
			if err := dimensions.CheckRecord(dimensions.Record{Element: e, Values: r.Values}); err != nil {
				return err
			}
		}
	}
	return nil
}
