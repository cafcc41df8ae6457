package butler

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/sphgeom"
)

// UpdateDimensionRegionsOptions are the switches of `butler
// update-dimension-regions`.
type UpdateDimensionRegionsOptions struct {
	// Collections are searched for the visit geometry datasets.
	Collections []string
	// DatasetType is their dataset type ("visit_geometry" when empty).
	DatasetType string
	// BatchSize is the number of visits updated per transaction (11 when 0,
	// upstream's default).
	BatchSize int
	// Where restricts the datasets, with Bind values.
	Where string
	Bind  map[string]any
}

// visitGeometry is obs_base's VisitGeometry dataset (pydantic JSON): a re-fit
// boresight and rotation, and the regions they give (hex sphgeom encodings).
type visitGeometry struct {
	BoresightRA     *float64          `yaml:"boresight_ra"`
	BoresightDec    *float64          `yaml:"boresight_dec"`
	Orientation     *float64          `yaml:"orientation"`
	VisitRegion     string            `yaml:"visit_region"`
	DetectorRegions map[string]string `yaml:"detector_regions"`
}

// UpdateDimensionRegions rewrites visit regions, visit_detector_region
// regions and the boresight of the exposure with the visit's ID from visit
// geometry datasets (written by pipelines that re-fit the pointing), as
// obs_base's update-dimension-regions does. It returns the number of visits
// updated. Each batch of visits is one transaction.
func (b *Butler) UpdateDimensionRegions(ctx context.Context, instrument string, opts UpdateDimensionRegionsOptions) (int, error) {
	if err := b.checkWriteable("update dimension regions"); err != nil {
		return 0, err
	}
	inst, err := b.RegisteredInstrument(ctx, instrument)
	if err != nil {
		return 0, err
	}
	typ := opts.DatasetType
	if typ == "" {
		typ = "visit_geometry"
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = 11
	}
	if len(opts.Collections) == 0 {
		return 0, fmt.Errorf("update dimension regions: %w: no collections to search for %s datasets", errs.ErrInvalid, typ)
	}
	var refs []dataset.Ref
	q := b.Query().Collections(opts.Collections...).Where(opts.Where, opts.Bind).DataID(dimensions.DataID{"instrument": inst})
	for r, err := range q.Datasets(ctx, typ) {
		if err != nil {
			return 0, fmt.Errorf("update dimension regions: %w", err)
		}
		if _, ok := r.DataID["visit"]; !ok {
			return 0, fmt.Errorf("update dimension regions: %w: dataset type %s has no visit dimension", errs.ErrInvalid, typ)
		}
		refs = append(refs, r)
	}
	slices.SortFunc(refs, func(x, y dataset.Ref) int { return int(asInt64(x.DataID["visit"]) - asInt64(y.DataID["visit"])) })
	vdrElem := b.Universe.MustElement("visit_detector_region")
	for s := 0; s < len(refs); s += batch {
		var exps, vis, vdrs []dimensions.Record
		for _, ref := range refs[s:min(s+batch, len(refs))] {
			visit := asInt64(ref.DataID["visit"])
			data, err := b.GetRef(ctx, ref)
			if err != nil {
				return 0, err
			}
			var g visitGeometry
			if err := yaml.Unmarshal(data, &g); err != nil {
				return 0, fmt.Errorf("%s dataset %s: %w: %w", typ, ref.ID, errs.ErrInvalid, err)
			}
			if g.BoresightRA == nil || g.BoresightDec == nil || g.Orientation == nil || g.VisitRegion == "" {
				return 0, fmt.Errorf("%s dataset %s: %w: boresight_ra, boresight_dec, orientation and visit_region are required", typ, ref.ID, errs.ErrInvalid)
			}
			region, err := geometryRegion(g.VisitRegion)
			if err != nil {
				return 0, fmt.Errorf("%s dataset %s: visit_region: %w", typ, ref.ID, err)
			}
			oldVisit, err := b.oneRecord(ctx, "visit", dimensions.DataID{"instrument": inst, "visit": visit})
			if err != nil {
				return 0, err
			}
			oldExp, err := b.oneRecord(ctx, "exposure", dimensions.DataID{"instrument": inst, "exposure": visit})
			if err != nil {
				return 0, err
			}
			e := dimensions.Record{Element: oldExp.Element, Values: maps.Clone(oldExp.Values)}
			e.Values["tracking_ra"], e.Values["tracking_dec"], e.Values["sky_angle"] = *g.BoresightRA, *g.BoresightDec, *g.Orientation
			exps = append(exps, e)
			v := dimensions.Record{Element: oldVisit.Element, Values: maps.Clone(oldVisit.Values)}
			v.Values["region"] = region
			vis = append(vis, v)
			dets := slices.Sorted(maps.Keys(g.DetectorRegions))
			for _, d := range dets {
				det, err := strconv.ParseInt(d, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("%s dataset %s: detector_regions: %w: detector %q is not an integer", typ, ref.ID, errs.ErrInvalid, d)
				}
				r, err := geometryRegion(g.DetectorRegions[d])
				if err != nil {
					return 0, fmt.Errorf("%s dataset %s: detector %d region: %w", typ, ref.ID, det, err)
				}
				vdrs = append(vdrs, dimensions.Record{Element: vdrElem, Values: map[string]any{"instrument": inst, "visit": visit, "detector": det, "region": r}})
			}
		}
		if _, err := b.SyncRecordSets(ctx, []RecordSet{{Element: "exposure", Records: exps}, {Element: "visit", Records: vis}, {Element: "visit_detector_region", Records: vdrs}}, true); err != nil {
			return 0, fmt.Errorf("update dimension regions: %w", err)
		}
	}
	b.log.Info("Records updated", "visits", len(refs))
	return len(refs), nil
}

// geometryRegion decodes a hex sphgeom encoding, checking it.
func geometryRegion(h string) ([]byte, error) {
	raw, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: not hex: %w", errs.ErrInvalid, err)
	}
	if _, err := sphgeom.Decode(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", errs.ErrInvalid, err)
	}
	return raw, nil
}

// oneRecord reads the record of an element with a data ID.
func (b *Butler) oneRecord(ctx context.Context, element string, id dimensions.DataID) (dimensions.Record, error) {
	recs, err := b.Records(ctx, element, id)
	if err != nil {
		return dimensions.Record{}, err
	}
	if len(recs) != 1 {
		return dimensions.Record{}, fmt.Errorf("%s %v: %w: no such record", element, id, errs.ErrNotFound)
	}
	return recs[0], nil
}
