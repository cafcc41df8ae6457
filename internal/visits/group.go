package visits

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/obsinfo"
	"github.com/gobutler/butler/timespan"
)

// VisitSystem is daf_butler's visit-system enum value (the visit_system
// dimension's id).
type VisitSystem int64

// The visit systems, as obs_base numbers them.
const (
	SystemOneToOne        VisitSystem = 0
	SystemByGroupMetadata VisitSystem = 1
	SystemBySeqStartEnd   VisitSystem = 2
)

// Name is the visit_system record's name ("one-to-one", "by-group-metadata",
// "by-seq-start-end").
func (s VisitSystem) Name() string {
	switch s {
	case SystemOneToOne:
		return "one-to-one"
	case SystemByGroupMetadata:
		return "by-group-metadata"
	case SystemBySeqStartEnd:
		return "by-seq-start-end"
	}
	return "visit-system-" + strconv.FormatInt(int64(s), 10)
}

// Systems returns the visit systems a grouping algorithm defines visits in,
// in id order.
func Systems(algorithm string) []VisitSystem {
	switch algorithm {
	case ByGroupMetadata:
		return []VisitSystem{SystemByGroupMetadata}
	case OneToOneAndByCounter:
		return []VisitSystem{SystemOneToOne, SystemBySeqStartEnd}
	}
	return []VisitSystem{SystemOneToOne}
}

// Exposure is what grouping and aggregation read of an exposure record.
// Pointer fields are nil where the record holds NULL (or the universe lacks
// the column).
type Exposure struct {
	Instrument string
	ID         int64
	ObsID      string
	// Group is the exposure's group (the group dimension, or the legacy
	// group_name column); GroupID the legacy group_id column.
	Group             *string
	GroupID           *int64
	DayObs            *int64
	SeqNum            *int64
	SeqStart, SeqEnd  *int64
	PhysicalFilter    *string
	TargetName        *string
	ScienceProgram    *string
	ObservationReason *string
	ObservationType   *string
	ExposureTime      *float64
	ZenithAngle       *float64
	Azimuth           *float64
	TrackingRA        *float64
	TrackingDec       *float64
	SkyAngle          *float64
	CanSeeSky         *bool
	Timespan          *timespan.Timespan
}

// OnSky reports whether a visit can be defined from the exposure: it has a
// boresight and rotation, and can_see_sky is not false (NULL counts as true).
func (e *Exposure) OnSky() bool {
	return e.TrackingRA != nil && e.TrackingDec != nil && e.SkyAngle != nil && (e.CanSeeSky == nil || *e.CanSeeSky)
}

// Definition is one visit to define: its id, name, the visit systems it
// belongs to and its exposures (the first one gives the regions).
type Definition struct {
	Instrument string
	ID         int64
	Name       string
	Systems    []VisitSystem
	Exposures  []*Exposure
}

// Group groups exposures into visits with the named algorithm, as obs_base's
// GroupExposuresTask subclasses do. Exposures are taken in the order given;
// warn receives the warnings upstream logs.
func Group(algorithm string, exposures []*Exposure, legacyGroup bool, warn func(msg string)) ([]Definition, error) {
	switch algorithm {
	case OneToOne:
		out := make([]Definition, 0, len(exposures))
		for _, e := range exposures {
			out = append(out, Definition{Instrument: e.Instrument, ID: e.ID, Name: e.ObsID, Systems: []VisitSystem{SystemOneToOne}, Exposures: []*Exposure{e}})
		}
		return out, nil
	case ByGroupMetadata:
		return groupByMetadata(exposures, legacyGroup)
	case OneToOneAndByCounter:
		return groupByCounter(exposures, warn)
	}
	return nil, fmt.Errorf("groupExposures.name: %w: unknown grouping algorithm %q", errs.ErrInvalid, algorithm)
}

func groupByMetadata(exposures []*Exposure, legacy bool) ([]Definition, error) {
	var order []string
	groups := map[string][]*Exposure{}
	for _, e := range exposures {
		if e.Group == nil {
			return nil, fmt.Errorf("exposure %d (%s): %w: no group, which the by-group-metadata grouping needs", e.ID, e.ObsID, errs.ErrInvalid)
		}
		if _, ok := groups[*e.Group]; !ok {
			order = append(order, *e.Group)
		}
		groups[*e.Group] = append(groups[*e.Group], e)
	}
	out := make([]Definition, 0, len(order))
	for _, name := range order {
		members := groups[name]
		ids := map[int64]bool{}
		for _, e := range members {
			var id int64
			if legacy {
				if e.GroupID == nil {
					return nil, fmt.Errorf("exposure %d (%s): %w: no group_id, which the by-group-metadata grouping needs", e.ID, e.ObsID, errs.ErrInvalid)
				}
				id = *e.GroupID
			} else {
				var err error
				if id, err = obsinfo.VisitIDFromGroup(*e.Group); err != nil {
					return nil, fmt.Errorf("exposure %d (%s): group %q: %w", e.ID, e.ObsID, *e.Group, err)
				}
			}
			ids[id] = true
		}
		if len(ids) != 1 {
			return nil, fmt.Errorf("group %q: %w: its exposures have different group ids", name, errs.ErrInvalid)
		}
		var id int64
		for k := range ids {
			id = k
		}
		out = append(out, Definition{Instrument: members[0].Instrument, ID: id, Name: name, Systems: []VisitSystem{SystemByGroupMetadata}, Exposures: members})
	}
	return out, nil
}

// counterKey is the (day_obs, seq_start, seq_end) a by-counter visit is made of.
type counterKey struct{ day, start, end int64 }

// CounterKey returns the by-counter grouping key of an exposure.
func CounterKey(e *Exposure) (day, start, end int64, err error) {
	if e.DayObs == nil || e.SeqStart == nil || e.SeqEnd == nil || e.SeqNum == nil {
		return 0, 0, 0, fmt.Errorf("exposure %d (%s): %w: the one-to-one-and-by-counter grouping needs day_obs, seq_num, seq_start and seq_end", e.ID, e.ObsID, errs.ErrInvalid)
	}
	return *e.DayObs, *e.SeqStart, *e.SeqEnd, nil
}

func groupByCounter(exposures []*Exposure, warn func(string)) ([]Definition, error) {
	var order []counterKey
	groups := map[counterKey][]*Exposure{}
	for _, e := range exposures {
		d, s, en, err := CounterKey(e)
		if err != nil {
			return nil, err
		}
		k := counterKey{d, s, en}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	var out []Definition
	for _, k := range order {
		members := groups[k]
		first := slices.MinFunc(members, func(a, b *Exposure) int { return cmp.Compare(*a.SeqNum, *b.SeqNum) })
		skipMulti := false
		if *first.SeqNum != *first.SeqStart {
			// seq_num 0 means the instrument has no counters, hence no
			// multi-exposure visits: nothing to warn about.
			if *first.SeqNum != 0 && warn != nil {
				warn(fmt.Sprintf("First exposure for visit (%d, %d, %d) is not present. Skipping the multi-snap definition.", k.day, k.start, k.end))
			}
			skipMulti = true
		}
		multi := *first.SeqStart != *first.SeqEnd
		for _, e := range members {
			def := Definition{Instrument: e.Instrument, ID: e.ID, Name: e.ObsID, Systems: []VisitSystem{SystemOneToOne}, Exposures: []*Exposure{e}}
			switch {
			case !multi:
				def.Systems = append(def.Systems, SystemBySeqStartEnd)
			case !skipMulti && e == first:
				// The first exposure's own visit must not clash with the
				// multi-exposure visit, which takes its id and name.
				def.Name += "_first"
				id, err := strconv.ParseInt("9"+strconv.FormatInt(e.ID, 10), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("exposure %d: %w: visit id 9%d does not fit in 64 bits", e.ID, errs.ErrInvalid, e.ID)
				}
				def.ID = id
			}
			out = append(out, def)
		}
		if !skipMulti && multi {
			out = append(out, Definition{Instrument: first.Instrument, ID: first.ID, Name: first.ObsID, Systems: []VisitSystem{SystemBySeqStartEnd}, Exposures: members})
		}
	}
	return out, nil
}

// Fields are a visit's values aggregated from its exposures as obs_base's
// _buildVisitRecords does. Nil means NULL.
type Fields struct {
	PhysicalFilter    *string
	TargetName        *string
	ScienceProgram    *string
	ObservationReason string   // the common value, else "various"
	DayObs            *int64   // earliest
	SeqNum            *int64   // lowest
	ExposureTime      *float64 // sum
	ZenithAngle       *float64 // mean
	Azimuth           *float64 // circular mean, in (-180, 180] for more than one exposure
	Timespan          *timespan.Timespan
}

// Aggregate computes a visit's fields from its exposures. A value that is
// NULL in any exposure is NULL in the visit.
func Aggregate(exps []*Exposure) Fields {
	var f Fields
	f.PhysicalFilter = common(exps, func(e *Exposure) *string { return e.PhysicalFilter })
	f.TargetName = common(exps, func(e *Exposure) *string { return e.TargetName })
	f.ScienceProgram = common(exps, func(e *Exposure) *string { return e.ScienceProgram })
	f.ObservationReason = "various"
	if r := common(exps, func(e *Exposure) *string { return e.ObservationReason }); r != nil {
		f.ObservationReason = *r
	}
	f.DayObs = reduce(exps, func(e *Exposure) *int64 { return e.DayObs }, func(a, b int64) int64 { return min(a, b) })
	f.SeqNum = reduce(exps, func(e *Exposure) *int64 { return e.SeqNum }, func(a, b int64) int64 { return min(a, b) })
	f.ExposureTime = reduce(exps, func(e *Exposure) *float64 { return e.ExposureTime }, func(a, b float64) float64 { return a + b })
	if z := reduce(exps, func(e *Exposure) *float64 { return e.ZenithAngle }, func(a, b float64) float64 { return a + b }); z != nil {
		v := *z / float64(len(exps))
		f.ZenithAngle = &v
	}
	f.Azimuth = meanAngle(exps)
	begin := reduce(exps, func(e *Exposure) *int64 {
		if e.Timespan == nil {
			return nil
		}
		return &e.Timespan.Begin
	}, func(a, b int64) int64 { return min(a, b) })
	end := reduce(exps, func(e *Exposure) *int64 {
		if e.Timespan == nil {
			return nil
		}
		return &e.Timespan.End
	}, func(a, b int64) int64 { return max(a, b) })
	if begin != nil && end != nil {
		f.Timespan = &timespan.Timespan{Begin: *begin, End: *end}
	}
	return f
}

// reduce folds fn over the values, nil when any is nil or there are none.
func reduce[T any](exps []*Exposure, get func(*Exposure) *T, fn func(a, b T) T) *T {
	var r *T
	for _, e := range exps {
		v := get(e)
		if v == nil {
			return nil
		}
		if r == nil {
			x := *v
			r = &x
		} else {
			x := fn(*r, *v)
			r = &x
		}
	}
	return r
}

// common is the value all exposures share, nil when they differ or any is nil.
func common(exps []*Exposure, get func(*Exposure) *string) *string {
	var r *string
	for i, e := range exps {
		v := get(e)
		if v == nil {
			return nil
		}
		if i == 0 {
			r = v
		} else if *r != *v {
			return nil
		}
	}
	return r
}

// meanAngle is the mean azimuth with 0/360 wrapping taken into account: one
// value as it is, more the phase of the mean of their unit phasors (degrees
// in (-180, 180]), as obs_base's _calc_mean_angle.
func meanAngle(exps []*Exposure) *float64 {
	if len(exps) == 0 {
		return nil
	}
	if len(exps) == 1 {
		return exps[0].Azimuth
	}
	var re, im float64
	for _, e := range exps {
		if e.Azimuth == nil {
			return nil
		}
		r := *e.Azimuth * (float64(math.Pi) / 180)
		re += math.Cos(r)
		im += math.Sin(r)
	}
	n := float64(len(exps))
	v := math.Atan2(im/n, re/n) * (180 / float64(math.Pi))
	return &v
}
