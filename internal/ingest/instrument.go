// Package ingest registers instruments and ingests raw files: scan the
// locations, read headers in parallel, translate them, write the exposure-level
// dimension records, then transfer the files and insert the datasets in batches.
package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/instrument"
)

// InstrumentRecords builds the instrument, physical_filter, detector and
// visit_system records of an instrument for the repository's universe.
func InstrumentRecords(u *dimensions.Universe, in *instrument.Instrument) map[string][]dimensions.Record {
	out := map[string][]dimensions.Record{}
	ie := u.MustElement("instrument")
	inst := map[string]any{"name": in.Name, "visit_max": in.VisitMax, "exposure_max": in.ExposureMax, "detector_max": in.DetectorMax, "class_name": in.ClassName}
	for _, m := range ie.Metadata {
		if m.Name == "visit_system" {
			inst["visit_system"] = in.VisitSystem
		}
	}
	out["instrument"] = []dimensions.Record{{Element: ie, Values: inst}}
	for _, f := range in.Filters {
		out["physical_filter"] = append(out["physical_filter"], dimensions.Record{Element: u.MustElement("physical_filter"),
			Values: map[string]any{"instrument": in.Name, "name": f.Name, "band": f.Band}})
	}
	for _, d := range in.Detectors {
		var raft any
		if d.Raft != nil {
			raft = *d.Raft
		}
		out["detector"] = append(out["detector"], dimensions.Record{Element: u.MustElement("detector"),
			Values: map[string]any{"instrument": in.Name, "id": d.ID, "full_name": d.FullName, "name_in_raft": d.NameInRaft, "raft": raft, "purpose": d.Purpose}})
	}
	// No visit_system rows: obs_base's Instrument.register writes none;
	// define-visits syncs the systems its grouping uses (as upstream).
	return out
}

// RegisterInstrument writes an instrument's records. Registering the same
// definition again writes nothing; a changed definition is a conflict unless
// update. It returns how many records it wrote.
func RegisterInstrument(ctx context.Context, b *butler.Butler, class string, update bool) (int, error) {
	in, err := instrument.Lookup(class)
	if err != nil {
		return 0, fmt.Errorf("register instrument: %w", err)
	}
	recs := InstrumentRecords(b.Universe, in)
	var sets []butler.RecordSet
	for _, el := range []string{"instrument", "physical_filter", "detector"} {
		if len(recs[el]) > 0 {
			sets = append(sets, butler.RecordSet{Element: el, Records: recs[el]})
		}
	}
	n, err := b.SyncRecordSets(ctx, sets, update)
	if errors.Is(err, errs.ErrConflict) {
		return 0, fmt.Errorf("register instrument %s: %w; use --update to overwrite", in.Name, err)
	}
	if err != nil {
		return 0, fmt.Errorf("register instrument %s: %w", in.Name, err)
	}
	return n, nil
}
