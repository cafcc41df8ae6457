package butler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/query"
	"github.com/gobutler/butler/internal/registry"
	"github.com/gobutler/butler/timespan"
)

// DatasetSearch selects datasets of one or more types in collections: what a
// Query's Datasets runs (and the argument of the deprecated QueryDatasets).
type DatasetSearch struct {
	Types       []string // names or globs; empty: all types
	Collections []string // ordered; globs allowed without FindFirst
	Where       string   // the where expression language of daf_butler
	Bind        map[string]any
	DataID      dimensions.DataID
	FindFirst   bool
	Limit       int  // 0: no limit
	WithImplied bool // fill implied dimensions (physical_filter, band, day_obs...)
	// CalibTime selects, in CALIBRATION collections, the certifications valid
	// at that time; a find-first search without it that meets several
	// validity ranges for one data ID fails with CalibrationLookupError.
	CalibTime *timespan.Timespan
	// OrderBy names fields as the where language does ("visit.timespan.begin",
	// "-detector" for descending); only for a single dataset type.
	OrderBy []string
}

// extraAreTemporal reports whether the data ID's keys outside the type's
// dimensions are exposure/visit or dimensions they imply (day_obs, group...).
func extraAreTemporal(u *dimensions.Universe, t dataset.Type, id dimensions.DataID) bool {
	for k := range id {
		if t.Dimensions.Has(k) {
			continue
		}
		ok := k == "exposure" || k == "visit"
		for _, el := range []string{"exposure", "visit"} {
			if e, found := u.Element(el); found {
				for _, d := range append(append([]*dimensions.Element(nil), e.Required...), e.Implied...) {
					ok = ok || d.Name == k
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// QueryDatasets streams the datasets matching s to fn, type by type (sorted by name).
//
// Deprecated: use Butler.Query, whose Datasets runs the same search.
func (b *Butler) QueryDatasets(ctx context.Context, s DatasetSearch, fn func(dataset.Ref) error) error {
	return b.queryDatasets(ctx, s, fn)
}

// queryDatasets is how every dataset query runs (Query.Datasets, and the
// searches of QueryRecords and QueryDataIDs): type by type, sorted by name,
// each one planned by the registry from s and streamed to fn.
func (b *Butler) queryDatasets(ctx context.Context, s DatasetSearch, fn func(dataset.Ref) error) error {
	return b.be.searchDatasets(ctx, s, fn)
}

func (b local) searchDatasets(ctx context.Context, s DatasetSearch, fn func(dataset.Ref) error) error {
	types, err := b.reg.DatasetTypes(ctx, s.Types)
	if err != nil {
		return err
	}
	if len(types) == 0 {
		if len(s.Types) > 0 && !registry.IsGlob(strings.Join(s.Types, "")) {
			return fmt.Errorf("query datasets: %w", &dataset.MissingTypeError{Name: strings.Join(s.Types, ", ")})
		}
		return nil
	}
	var ast query.Node
	if strings.TrimSpace(s.Where) != "" {
		if ast, err = query.Parse(s.Where); err != nil {
			return err
		}
	}
	sort.Slice(types, func(i, j int) bool { return types[i].Name < types[j].Name })
	if len(s.OrderBy) > 0 && len(types) > 1 {
		return fmt.Errorf("query datasets: %w: results of several dataset types (%d match) cannot be ordered; name one type", errs.ErrInvalid, len(types))
	}
	n := 0
	var rewriteErr error // of the first type whose dimensions the data ID cannot name
	queried := false
	for _, t := range types {
		dataID := s.DataID
		if dataID != nil {
			// Records named by their fields (day_obs + seq_num, exposure.obs_id)
			// become the dimension keys of this type.
			rw, err := b.rewriteDataID(ctx, t.Dimensions, t.IsCalibration, dataID)
			if err != nil {
				if len(types) > 1 {
					rewriteErr = cmp.Or(rewriteErr, err)
					continue // the data ID names fields another type has
				}
				return fmt.Errorf("query %s datasets: %w", t.Name, err)
			}
			dataID = rw
		}
		q := registry.DatasetQuery{Type: t.Name, Collections: s.Collections, FindFirst: s.FindFirst, WithImplied: s.WithImplied, DataID: dataID, CalibTime: s.CalibTime,
			Governors: b.reg.GovernorConstraints(dataID, ast, s.Bind)}
		if q.OrderBy, err = b.reg.DatasetOrder(t, s.OrderBy); err != nil {
			return err
		}
		if dataID != nil {
			q.DataID = onlyGroup(t.Dimensions, dataID)
			if len(q.DataID) != len(dataID) {
				// A calibration is looked up at the time of the exposure or
				// visit the data ID names (a temporal join, as upstream).
				if ts := b.dataIDTimespan(ctx, dataID); t.IsCalibration && q.CalibTime == nil && ts != nil && extraAreTemporal(b.Universe, t, dataID) {
					q.CalibTime = ts
				} else {
					continue // a constraint on a dimension this type does not have
				}
			}
		}
		if ast != nil {
			if err := b.reg.ConstrainDatasets(&q, t, ast, s.Bind); err != nil {
				if len(types) > 1 {
					continue // the expression names dimensions another type has
				}
				return err
			}
		}
		if s.Limit > 0 {
			q.Limit = s.Limit - n
			if q.Limit <= 0 {
				return nil
			}
		}
		err := b.reg.Datasets(ctx, q, func(r dataset.Ref) error {
			n++
			return fn(r)
		})
		if err != nil {
			return err
		}
		queried = true
	}
	if !queried && rewriteErr != nil {
		return fmt.Errorf("query datasets: %w", rewriteErr)
	}
	return nil
}

// ExplainNoDatasets says in plain words why a dataset search found nothing:
// the dataset type, the collections, their summaries (types and governor
// values ever added), the where expression against the dimension records.
func (b *Butler) ExplainNoDatasets(ctx context.Context, s DatasetSearch) []string {
	return b.be.explainNoDatasets(ctx, s)
}

func (b local) explainNoDatasets(ctx context.Context, s DatasetSearch) []string {
	types, err := b.reg.DatasetTypes(ctx, s.Types)
	if err != nil || len(types) == 0 {
		all, _ := b.reg.DatasetTypes(ctx, nil)
		var names []string
		for _, t := range all {
			names = append(names, t.Name)
		}
		return []string{fmt.Sprintf("No dataset type matches %s (registered: %s).", strings.Join(s.Types, ", "), orNone(registry.ClosestList(strings.Join(s.Types, ""), names)))}
	}
	if len(s.Collections) == 0 {
		return []string{"No collections were given to search (use --collections)."}
	}
	colls, err := b.reg.ResolveCollections(ctx, s.Collections, false)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return []string{err.Error()}
	}
	if err != nil || len(colls) == 0 {
		all, _ := b.reg.Collections(ctx)
		var names []string
		for _, c := range all {
			names = append(names, c.Name)
		}
		return []string{fmt.Sprintf("No collections match %s (collections: %s).", strings.Join(s.Collections, ", "), orNone(registry.ClosestList(strings.Join(s.Collections, ""), names)))}
	}
	var names []string
	for _, c := range colls {
		names = append(names, c.Name)
	}
	searched := strings.Join(names, ", ")
	if len(names) > 5 {
		searched = strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	var ast query.Node
	if strings.TrimSpace(s.Where) != "" {
		ast, _ = query.Parse(s.Where)
	}
	govs := b.reg.GovernorConstraints(s.DataID, ast, s.Bind)
	var why []string
	for _, t := range types {
		withType, err := b.reg.PruneCollections(ctx, t.Name, colls, nil)
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		if len(withType) == 0 {
			why = append(why, fmt.Sprintf("No %s datasets were ever put in the collections searched (%s).", t.Name, searched))
			continue
		}
		withGov, err := b.reg.PruneCollections(ctx, t.Name, withType, govs)
		if err == nil && len(withGov) == 0 {
			var gv []string
			for k, v := range govs {
				gv = append(gv, fmt.Sprintf("%s=%v", k, v))
			}
			sort.Strings(gv)
			why = append(why, fmt.Sprintf("The collections with %s datasets (%s) hold none for %s: their summaries exclude it.", t.Name, collNames(withType), strings.Join(gv, ", ")))
			continue
		}
		if s.Where == "" && len(s.DataID) == 0 {
			continue
		}
		// Does the constraint match any dimension records at all?
		found := false
		errStop := errors.New("found")
		dataID := s.DataID
		if rw, err := b.rewriteDataID(ctx, t.Dimensions, t.IsCalibration, dataID); err == nil {
			dataID = rw
		}
		// Over the dimensions the dataset query itself uses: the type's plus
		// those of elements the where names (visit for raws found through
		// visit_detector_region).
		dims := t.Dimensions.RequiredNames()
		if ast != nil {
			dims = b.reg.QueryGroup(t.Dimensions, ast, s.Bind).RequiredNames()
		}
		err = b.QueryDataIDs(ctx, DataIDSearch{Dimensions: dims, Where: s.Where, Bind: s.Bind, DataID: onlyGroup(t.Dimensions, dataID), Limit: 1}, func(dimensions.DataID) error {
			found = true
			return errStop
		})
		switch {
		case err != nil && !errors.Is(err, errStop):
			why = append(why, fmt.Sprintf("The where expression / data ID cannot be applied to %s: %v", t.Name, err))
		case !found && len(t.Dimensions.Required) == 0:
			why = append(why, fmt.Sprintf("The where expression / data ID matches no dimension records (%s has no dimensions: its datasets are found when it matches some): check the values (e.g. with query-dimension-records).", t.Name))
		case !found:
			why = append(why, fmt.Sprintf("The where expression / data ID matches no dimension records for the dimensions of %s (%s): check the values (e.g. with query-dimension-records).", t.Name, strings.Join(t.Dimensions.RequiredNames(), ", ")))
		default:
			why = append(why, fmt.Sprintf("%s datasets exist in %s and dimension records match the where expression / data ID, but no dataset has one of those data IDs.", t.Name, collNames(withGov)))
		}
	}
	return why
}

// ExplainNoDataIDs says why a data ID search found nothing.
func (b *Butler) ExplainNoDataIDs(ctx context.Context, s DataIDSearch) []string {
	if len(s.Datasets) > 0 {
		if why := b.ExplainNoDatasets(ctx, DatasetSearch{Types: s.Datasets, Collections: s.Collections, Where: s.Where, Bind: s.Bind, DataID: s.DataID}); len(why) > 0 {
			return why
		}
		// The datasets are there: the dimensions they lack (all of them, for
		// packages) come from records, which may be missing.
	}
	g, err := b.Universe.Group(s.Dimensions...)
	if err == nil && len(g.Required) == 0 {
		g, err = b.emptySearchGroup(s) // the dimensions the where expression names
	}
	if err != nil {
		return []string{err.Error()}
	}
	if len(g.Required) == 0 {
		return []string{"The where expression is false."}
	}
	for _, e := range g.Required {
		if why := b.noRecords(ctx, e.Name); why != "" {
			return []string{why}
		}
	}
	return []string{fmt.Sprintf("Records of %s exist, but no combination of them matches the where expression / data ID (or the dimensions are not related to each other).", strings.Join(g.RequiredNames(), ", "))}
}

// ExplainNoRecords says why a dimension record search found nothing.
func (b *Butler) ExplainNoRecords(ctx context.Context, s RecordSearch) []string {
	if why := b.noRecords(ctx, s.Element); why != "" {
		return []string{why}
	}
	if len(s.Datasets) > 0 {
		return []string{fmt.Sprintf("%s records exist, but none matches the where expression / data ID or is used by %s datasets in %s.", s.Element, strings.Join(s.Datasets, ", "), strings.Join(s.Collections, ", "))}
	}
	return []string{fmt.Sprintf("%s records exist, but none matches the where expression / data ID.", s.Element)}
}

// noRecords says so when an element has no records at all ("" otherwise).
func (b *Butler) noRecords(ctx context.Context, element string) string {
	e, ok := b.Universe.Element(element)
	if !ok || !e.HasTable() {
		return ""
	}
	found := false
	errFound := errors.New("found")
	err := b.QueryRecords(ctx, RecordSearch{Element: element, Limit: 1}, func(dimensions.Record) error {
		found = true
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		return ""
	}
	if !found {
		return fmt.Sprintf("There are no %s records in this repository yet (register an instrument, ingest or import data first).", element)
	}
	return ""
}

func collNames(cs []*registry.Collection) string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	if len(n) > 5 {
		return strings.Join(n[:5], ", ") + fmt.Sprintf(" and %d more", len(n)-5)
	}
	return strings.Join(n, ", ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// RecordSearch selects dimension records of one element.
type RecordSearch struct {
	Element string
	Where   string
	Bind    map[string]any
	DataID  dimensions.DataID
	Limit   int
	OrderBy []string // record fields ("-" prefix: descending)
	// Datasets restricts to records of data IDs that datasets of these types
	// in Collections have (the where expression then also applies to them).
	Datasets    []string
	Collections []string
}

// QueryRecords streams the records of an element matching a where expression
// over its own fields and dimensions.
func (b *Butler) QueryRecords(ctx context.Context, s RecordSearch, fn func(dimensions.Record) error) error {
	return b.be.searchRecords(ctx, s, fn)
}

func (b local) searchRecords(ctx context.Context, s RecordSearch, fn func(dimensions.Record) error) error {
	e, ok := b.Universe.Element(s.Element)
	if !ok {
		return fmt.Errorf("dimension element %q: %w (known: %s)", s.Element, errs.ErrNotFound, strings.Join(b.Universe.DimensionNames(), ", "))
	}
	if !e.HasTable() {
		return fmt.Errorf("dimension element %q: %w: its records are not stored", s.Element, errs.ErrUnsupported)
	}
	if len(s.DataID) > 0 {
		g, err := b.Universe.Group(e.Name)
		if err != nil {
			return err
		}
		if s.DataID, err = b.rewriteDataID(ctx, g, false, s.DataID); err != nil {
			return fmt.Errorf("query %s records: %w", e.Name, err)
		}
	}
	plan, err := b.reg.PlanRecords(registry.RecordQuery{Element: e, DataID: s.DataID, Where: s.Where, Bind: s.Bind, OrderBy: s.OrderBy})
	if err != nil {
		return err
	}
	// With Datasets, a record is kept when some dataset agrees with it on the
	// dimensions they share (all records, for a dimensionless type such as
	// packages, as upstream's join with the dataset search gives).
	keep := newSharedKeys(e.Dimensions())
	if len(s.Datasets) > 0 {
		err := b.queryDatasets(ctx, DatasetSearch{Types: s.Datasets, Collections: s.Collections, WithImplied: true}, func(r dataset.Ref) error {
			keep.add(r.DataID)
			return nil
		})
		if err != nil {
			return err
		}
	}
	kept := func(id dimensions.DataID) bool { return len(s.Datasets) == 0 || keep.match(id) }
	n := 0
	errStop := fmt.Errorf("stop")
	err = b.reg.EachPlannedRecord(ctx, plan, func(r dimensions.Record) error {
		if !kept(r.DataID()) {
			return nil
		}
		if s.Limit > 0 && n >= s.Limit {
			return errStop
		}
		n++
		return fn(r)
	})
	if err == errStop {
		return nil
	}
	return err
}

// sharedKeys holds the values that dataset data IDs have on the dimensions
// they share with a target set (a record's element, a data ID search's
// group), one key set per set of shared dimensions: a target data ID matches
// when it agrees with some dataset on them. A dimensionless dataset shares
// none, and so matches every target data ID.
type sharedKeys struct {
	target []*dimensions.Element
	sets   map[string]*sharedKeySet // by shared dimension names
	order  []*sharedKeySet
}

type sharedKeySet struct {
	dims []*dimensions.Element
	keys map[string]bool
}

func newSharedKeys(target []*dimensions.Element) *sharedKeys {
	return &sharedKeys{target: target, sets: map[string]*sharedKeySet{}}
}

func (k *sharedKeys) add(id dimensions.DataID) {
	var shared []*dimensions.Element
	var names []string
	for _, d := range k.target {
		if _, ok := id[d.Name]; ok {
			shared = append(shared, d)
			names = append(names, d.Name)
		}
	}
	name := strings.Join(names, ",")
	set, ok := k.sets[name]
	if !ok {
		set = &sharedKeySet{dims: shared, keys: map[string]bool{}}
		k.sets[name] = set
		k.order = append(k.order, set)
	}
	set.keys[recordKey(shared, id)] = true
}

func (k *sharedKeys) match(id dimensions.DataID) bool {
	for _, set := range k.order {
		if set.keys[recordKey(set.dims, id)] {
			return true
		}
	}
	return false
}

func (k *sharedKeys) empty() bool { return len(k.order) == 0 }

// recordKey renders the values of dims in a data ID as one map key.
func recordKey(dims []*dimensions.Element, id dimensions.DataID) string {
	var sb strings.Builder
	for _, d := range dims {
		fmt.Fprintf(&sb, "%v\x00", id[d.Name])
	}
	return sb.String()
}

// emptySearchGroup is the group of dimensions that a data ID search over no
// dimensions constrains (those its where expression and data ID name).
func (b *Butler) emptySearchGroup(s DataIDSearch) (dimensions.Group, error) {
	var names []string
	for k := range s.DataID {
		names = append(names, k)
	}
	g, err := b.Universe.Group(names...)
	if err != nil || strings.TrimSpace(s.Where) == "" || b.reg == nil {
		return g, err // (no registry: a remote repository's server widens it)
	}
	ast, err := query.Parse(s.Where)
	if err != nil {
		return g, err
	}
	return b.reg.QueryGroup(g, ast, s.Bind), nil
}

// anyDataID answers a data ID search over no dimensions whose where
// expression or data ID names some (the wide group) as upstream's query
// system does: one logical row, the empty data ID, when some data ID of wide
// matches, none otherwise.
func (b *Butler) anyDataID(ctx context.Context, s DataIDSearch, wide dimensions.Group, fn func(dimensions.DataID) error) error {
	found := false
	errStop := errors.New("found")
	s.Dimensions, s.Limit, s.OrderBy = wide.RequiredNames(), 1, nil
	err := b.QueryDataIDs(ctx, s, func(dimensions.DataID) error {
		found = true
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if !found {
		return nil
	}
	return fn(dimensions.DataID{})
}

// joinDatasetDataIDs streams the data IDs at which a dataset of every one of
// the types exists: the natural join of each type's data IDs on the dimensions
// they share, as upstream joins one dataset search per type (several
// --datasets intersect; they do not add up). Rows keep the first type's order.
func (b local) joinDatasetDataIDs(ctx context.Context, search DatasetSearch, types []string, fn func(dimensions.DataID) error) error {
	elements := func(names []string) []*dimensions.Element {
		out := make([]*dimensions.Element, len(names))
		for i, n := range names {
			out[i] = b.Universe.MustElement(n)
		}
		return out
	}
	var rows []dimensions.DataID
	for i, t := range types {
		search.Types = []string{t}
		var found []dimensions.DataID
		var all []*dimensions.Element // the type's data ID keys (one set for all its datasets)
		seen := map[string]bool{}
		err := b.queryDatasets(ctx, search, func(r dataset.Ref) error {
			if all == nil {
				all = elements(slices.Sorted(maps.Keys(r.DataID)))
			}
			if k := recordKey(all, r.DataID); !seen[k] {
				seen[k] = true
				found = append(found, r.DataID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if i == 0 {
			rows = found
			continue
		}
		if len(rows) == 0 || len(found) == 0 {
			return nil
		}
		var on []string // the dimensions this type shares with the rows so far
		for k := range found[0] {
			if _, ok := rows[0][k]; ok {
				on = append(on, k)
			}
		}
		onElems := elements(on)
		byKey := map[string][]dimensions.DataID{}
		for _, id := range found {
			k := recordKey(onElems, id)
			byKey[k] = append(byKey[k], id)
		}
		var joined []dimensions.DataID
		for _, r := range rows {
			for _, id := range byKey[recordKey(onElems, r)] {
				m := make(dimensions.DataID, len(r)+len(id))
				for k, v := range r {
					m[k] = v
				}
				for k, v := range id {
					m[k] = v
				}
				joined = append(joined, m)
			}
		}
		rows = joined
	}
	for _, r := range rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// CommonDimensions returns the dimensions (required and implied) that every
// dataset type matching the patterns has, and the names of those types
// (sorted); no dimensions when one of them is dimensionless (packages).
func (b *Butler) CommonDimensions(ctx context.Context, patterns []string) ([]string, []string, error) {
	types, err := b.DatasetTypes(ctx, patterns...)
	if err != nil {
		return nil, nil, err
	}
	if len(types) == 0 {
		return nil, nil, fmt.Errorf("dataset types %s: %w", strings.Join(patterns, ", "), &dataset.MissingTypeError{Name: strings.Join(patterns, ", ")})
	}
	var names []string
	var common []string
	for i, t := range types {
		names = append(names, t.Name)
		if i == 0 {
			common = t.Dimensions.Names()
			continue
		}
		kept := common[:0]
		for _, d := range common {
			if t.Dimensions.Has(d) {
				kept = append(kept, d)
			}
		}
		common = kept
	}
	return common, names, nil
}

// DataIDSearch selects data IDs of a set of dimensions.
type DataIDSearch struct {
	Dimensions []string
	Where      string
	Bind       map[string]any
	DataID     dimensions.DataID
	// Datasets restricts to data IDs of datasets of these types in Collections.
	Datasets    []string
	Collections []string
	Limit       int
	OrderBy     []string // as DatasetSearch.OrderBy
}

// QueryDataIDs streams the distinct data IDs (required and implied dimensions)
// of the dimensions that satisfy the search.
func (b *Butler) QueryDataIDs(ctx context.Context, s DataIDSearch, fn func(dimensions.DataID) error) error {
	return b.be.searchDataIDs(ctx, s, fn)
}

func (b local) searchDataIDs(ctx context.Context, s DataIDSearch, fn func(dimensions.DataID) error) error {
	g, err := b.Universe.Group(s.Dimensions...)
	if err != nil {
		return err
	}
	if len(g.Required) == 0 && len(s.Datasets) == 0 {
		if wide, err := b.emptySearchGroup(s); err != nil || len(wide.Required) > 0 {
			if err != nil {
				return err
			}
			return b.anyDataID(ctx, s, wide, fn)
		}
	}
	if len(s.Datasets) > 0 {
		// Data IDs of the datasets found, projected onto the dimensions.
		seen := map[string]bool{}
		n := 0
		errStop := fmt.Errorf("limit reached")
		emit := func(id dimensions.DataID) error {
			k := id.String()
			if seen[k] {
				return nil
			}
			seen[k] = true
			if s.Limit > 0 && n >= s.Limit {
				return errStop
			}
			n++
			return fn(id)
		}
		var gDims []*dimensions.Element
		for _, name := range g.Names() {
			gDims = append(gDims, b.Universe.MustElement(name))
		}
		// Datasets whose types lack some of the dimensions (packages has
		// none) relate to the records of the others, as upstream's join of
		// the dataset search with the dimensions does.
		wider := newSharedKeys(gDims)
		project := func(full dimensions.DataID) error {
			id := dimensions.DataID{}
			for _, name := range g.Names() {
				v, ok := full[name]
				if !ok {
					wider.add(full)
					return nil
				}
				id[name] = v
			}
			return emit(id)
		}
		search := DatasetSearch{Types: s.Datasets, Collections: s.Collections, Where: s.Where, Bind: s.Bind, DataID: s.DataID, WithImplied: true, OrderBy: s.OrderBy}
		_, types, err := b.CommonDimensions(ctx, s.Datasets)
		if err != nil {
			return err
		}
		if len(types) > 1 {
			err = b.joinDatasetDataIDs(ctx, search, types, project)
		} else {
			err = b.queryDatasets(ctx, search, func(r dataset.Ref) error { return project(r.DataID) })
		}
		if err == nil && !wider.empty() {
			all := s
			all.Datasets, all.Collections, all.Limit = nil, nil, 0
			err = b.QueryDataIDs(ctx, all, func(id dimensions.DataID) error {
				if !wider.match(id) {
					return nil
				}
				return emit(id)
			})
		}
		if err == errStop {
			return nil
		}
		return err
	}
	if len(s.DataID) > 0 {
		if s.DataID, err = b.rewriteDataID(ctx, g, false, s.DataID); err != nil {
			return fmt.Errorf("query data IDs: %w", err)
		}
	}
	q := registry.DataIDQuery{Group: g, Limit: s.Limit}
	if q.OrderBy, err = b.reg.DataIDOrder(g, s.OrderBy); err != nil {
		return err
	}
	where := s.Where
	for k, v := range s.DataID {
		// Data ID constraints become where terms with binds of their own.
		bind := "__dataid_" + k
		if s.Bind == nil {
			s.Bind = map[string]any{}
		}
		s.Bind[bind] = v
		term := k + " = :" + bind
		if where == "" {
			where = term
		} else {
			where = "(" + where + ") AND " + term
		}
	}
	if strings.TrimSpace(where) != "" {
		ast, err := query.Parse(where)
		if err != nil {
			return err
		}
		if err := b.reg.ConstrainDataIDs(&q, ast, s.Bind); err != nil {
			return err
		}
	}
	return b.reg.DataIDs(ctx, q, fn)
}
