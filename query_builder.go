package butler

import (
	"context"
	"errors"
	"iter"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/timespan"
)

// Query is a query under construction: constraints shared by the searches it
// runs (Datasets, DataIDs, DimensionRecords). Each method returns a new Query,
// so a base query can be refined several ways.
//
//	q := b.Query().Collections("LSSTCam/raw/all").Where("exposure.day_obs = :d", map[string]any{"d": 20250520})
//	for ref, err := range q.Datasets(ctx, "raw") { ... }
//	n, err := q.Count(ctx, "raw")
type Query struct {
	b           *Butler
	collections []string
	where       string
	bind        map[string]any
	dataID      dimensions.DataID
	findFirst   bool
	limit       int
	offset      int
	orderBy     []string
	noImplied   bool
	calibTime   *timespan.Timespan
}

// Query starts a query over the repository.
func (b *Butler) Query() Query { return Query{b: b} }

// Collections sets the collections searched for datasets, in order.
func (q Query) Collections(names ...string) Query {
	q.collections = append([]string(nil), names...)
	return q
}

// Where adds a where expression (ANDed with earlier ones) and its bind values.
func (q Query) Where(expr string, bind map[string]any) Query {
	if q.where != "" && expr != "" {
		q.where = "(" + q.where + ") AND (" + expr + ")"
	} else if expr != "" {
		q.where = expr
	}
	if len(bind) > 0 {
		nb := make(map[string]any, len(q.bind)+len(bind))
		for k, v := range q.bind {
			nb[k] = v
		}
		for k, v := range bind {
			nb[k] = v
		}
		q.bind = nb
	}
	return q
}

// DataID constrains dimensions to values.
func (q Query) DataID(id dimensions.DataID) Query {
	nd := q.dataID.Clone()
	if nd == nil {
		nd = dimensions.DataID{}
	}
	for k, v := range id {
		nd[k] = v
	}
	q.dataID = nd
	return q
}

// FindFirst keeps, per data ID, only the dataset in the first collection that has one.
func (q Query) FindFirst(on bool) Query { q.findFirst = on; return q }

// Limit caps the results (0: none) after skipping offset of them.
func (q Query) Limit(limit, offset int) Query { q.limit, q.offset = limit, offset; return q }

// Implied says whether dataset data IDs carry the dimensions their required
// ones imply (physical_filter, band, day_obs...): on unless turned off, which
// saves the joins that fill them.
func (q Query) Implied(on bool) Query { q.noImplied = !on; return q }

// CalibTime selects, in CALIBRATION collections, the certifications valid at
// ts (see DatasetSearch.CalibTime).
func (q Query) CalibTime(ts timespan.Timespan) Query { q.calibTime = &ts; return q }

// OrderBy orders results by fields as the where language names them; a "-"
// prefix sorts descending ("-visit.timespan.begin").
func (q Query) OrderBy(names ...string) Query {
	q.orderBy = append([]string(nil), names...)
	return q
}

// errStop ends a callback-driven search early when the iterator's consumer stops.
var errStop = errors.New("stop")

// seq adapts a callback-driven search to an iterator, applying offset and limit.
func seq[T any](q Query, run func(fetch int, fn func(T) error) error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		fetch := 0
		if q.limit > 0 {
			fetch = q.limit + q.offset
		}
		n := 0
		err := run(fetch, func(v T) error {
			n++
			if n <= q.offset {
				return nil
			}
			if !yield(v, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			var zero T
			yield(zero, err)
		}
	}
}

func (q Query) datasetSearch(types []string) DatasetSearch {
	return DatasetSearch{Types: types, Collections: q.collections, Where: q.where, Bind: q.bind, DataID: q.dataID,
		FindFirst: q.findFirst, OrderBy: q.orderBy, WithImplied: !q.noImplied, CalibTime: q.calibTime}
}

// Datasets iterates over the datasets of the types (names or globs; all when
// none) in the query's collections; results stream from the database.
func (q Query) Datasets(ctx context.Context, types ...string) iter.Seq2[dataset.Ref, error] {
	return seq(q, func(fetch int, fn func(dataset.Ref) error) error {
		s := q.datasetSearch(types)
		s.Limit = fetch
		return q.b.queryDatasets(ctx, s, fn)
	})
}

// DataIDs iterates over the distinct data IDs of the dimensions; with datasets
// given, only those of datasets of these types in the query's collections.
func (q Query) DataIDs(ctx context.Context, dims []string, datasets ...string) iter.Seq2[dimensions.DataID, error] {
	return seq(q, func(fetch int, fn func(dimensions.DataID) error) error {
		return q.b.QueryDataIDs(ctx, DataIDSearch{Dimensions: dims, Where: q.where, Bind: q.bind, DataID: q.dataID,
			Datasets: datasets, Collections: q.collections, Limit: fetch, OrderBy: q.orderBy}, fn)
	})
}

// DimensionRecords iterates over the records of an element.
func (q Query) DimensionRecords(ctx context.Context, element string) iter.Seq2[dimensions.Record, error] {
	return seq(q, func(fetch int, fn func(dimensions.Record) error) error {
		return q.b.QueryRecords(ctx, RecordSearch{Element: element, Where: q.where, Bind: q.bind, DataID: q.dataID, Limit: fetch, OrderBy: q.orderBy}, fn)
	})
}

// Count counts the datasets of the types the query finds.
func (q Query) Count(ctx context.Context, types ...string) (int, error) {
	n := 0
	for _, err := range q.Limit(0, 0).OrderBy().Datasets(ctx, types...) {
		if err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// Any reports whether the query finds at least one dataset of the types.
func (q Query) Any(ctx context.Context, types ...string) (bool, error) {
	for _, err := range q.Limit(1, 0).Datasets(ctx, types...) {
		if err != nil {
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// Explain says in plain words why the query finds no datasets of the types
// (nothing when it finds some).
func (q Query) Explain(ctx context.Context, types ...string) ([]string, error) {
	found, err := q.Any(ctx, types...)
	if err != nil || found {
		return nil, err
	}
	return q.b.ExplainNoDatasets(ctx, q.datasetSearch(types)), nil
}
