package registry

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
)

// searchCache keeps, for a short time, what a dataset search resolves
// before its one query of datasets: the collections searched (globs and
// chains expanded, then pruned by the collection summaries), and the
// governor values the summaries fix. A server answering thousands of
// find_dataset requests a second for the same few (type, collections) pairs
// would otherwise read the chains and summaries 3 to 5 times per request.
//
// It is off unless SetSearchCache turns it on (servers do; a command line
// process, which may write, never caches). Entries expire after the TTL:
// a chain redefined or a collection's summary extended by another process
// is seen at most one TTL (and one recomputation) late. Errors are never
// cached. It also keeps the implied dimension values single searches fill
// their data IDs with (searchFill).
type searchCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*searchEntry
}

type searchEntry struct {
	at    time.Time
	ready chan struct{} // closed when val and err are set
	val   any
	err   error
	// refreshing: expired, and its successor is being computed (guarded
	// by the cache's mu).
	refreshing bool
}

// SetSearchCache keeps dataset search resolutions for ttl (0: off).
func (r *Registry) SetSearchCache(ttl time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ttl <= 0 {
		r.search = nil
		return
	}
	r.search = &searchCache{ttl: ttl, m: map[string]*searchEntry{}}
}

// cached returns the value of key, computing it with fn when the cache is
// off, has no entry or the entry is older than the TTL. Concurrent callers
// of a key being computed for the first time wait for that one computation
// (so that a search is not computed once per request in flight); while an
// expired entry's successor is computed, the others use the expired value
// rather than wait (a server under load would otherwise stall every
// request of the key once per TTL).
func cached[T any](r *Registry, key string, fn func() (T, error)) (T, error) {
	r.mu.Lock()
	c := r.search
	r.mu.Unlock()
	if c == nil {
		return fn()
	}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	if ok && (pending(e) || now.Sub(e.at) < c.ttl) {
		c.mu.Unlock()
		<-e.ready
		if e.err != nil {
			return fn() // its computation failed (a canceled request?): try ours
		}
		return e.val.(T), nil
	}
	if ok && e.err == nil {
		if e.refreshing {
			c.mu.Unlock()
			return e.val.(T), nil
		}
		e.refreshing = true
		c.mu.Unlock()
		v, err := fn()
		c.mu.Lock()
		if err == nil {
			if len(c.m) >= searchCacheMax {
				clear(c.m)
			}
			done := make(chan struct{})
			close(done)
			c.m[key] = &searchEntry{at: now, ready: done, val: v}
		} else {
			e.refreshing = false // the next caller tries again
		}
		c.mu.Unlock()
		return v, err
	}
	if len(c.m) >= searchCacheMax { // bounded: many distinct searches, drop the lot
		clear(c.m)
	}
	e = &searchEntry{at: now, ready: make(chan struct{})}
	c.m[key] = e
	c.mu.Unlock()
	v, err := fn()
	e.val, e.err = v, err
	close(e.ready)
	if err != nil { // errors are not kept
		c.mu.Lock()
		if c.m[key] == e {
			delete(c.m, key)
		}
		c.mu.Unlock()
	}
	return v, err
}

// searchCacheMax bounds the entries of a search cache.
const searchCacheMax = 10000

func pending(e *searchEntry) bool {
	select {
	case <-e.ready:
		return false
	default:
		return true
	}
}

// searchKey names a search's resolution: its type, collections, whether it
// is find-first and the governor values it constrains.
func searchKey(kind, typeName string, collections []string, findFirst bool, governors map[string]any) string {
	var buf [160]byte // a server builds several keys per request: no fmt, one allocation
	b := append(append(append(append(buf[:0], kind...), 0), typeName...), 0)
	b = append(strconv.AppendBool(b, findFirst), 0)
	for i, c := range collections {
		if i > 0 {
			b = append(b, 1)
		}
		b = append(b, c...)
	}
	if len(governors) > 0 {
		names := make([]string, 0, len(governors))
		for g := range governors {
			names = append(names, g)
		}
		sort.Strings(names)
		for _, g := range names {
			b = appendKeyValue(append(append(append(b, 0), g...), '='), governors[g])
		}
	}
	return string(b)
}

// appendKeyValue appends a value with its type to a cache key.
func appendKeyValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(append(b, "string:"...), x...)
	case int64:
		return strconv.AppendInt(append(b, "int64:"...), x, 10)
	}
	return fmt.Appendf(b, "%T:%v", v, v)
}

// searchable returns the collections a dataset search of st reads: q's
// collections resolved, those that can hold st kept, pruned by summary.
func (r *Registry) searchable(ctx context.Context, st *storedType, q DatasetQuery) ([]*Collection, error) {
	colls, err := cached(r, searchKey("searchable", st.Name, q.Collections, q.FindFirst, q.Governors), func() ([]*Collection, error) {
		colls, err := r.ResolveCollections(ctx, q.Collections, q.FindFirst)
		if err != nil {
			return nil, err
		}
		var searchable []*Collection
		for _, c := range colls {
			if c.Type == dataset.Run || c.Type == dataset.Tagged || (c.Type == dataset.Calibration && st.calTable != "") {
				searchable = append(searchable, c)
			}
		}
		return r.PruneCollections(ctx, st.Name, searchable, q.Governors)
	})
	return slices.Clone(colls), err
}

// argOf stands for the value of a data ID key in the SQL of a cached shape.
type argOf string

// sqlShape is the SQL of a simple dataset search (a data ID, no where
// expression): its text, columns and arguments, data ID values as argOf.
type sqlShape struct {
	text string
	args []any
	cols []string
}

// datasetSQLShaped is datasetSQL, kept in the search cache (when it is on)
// for simple searches: their SQL depends only on the type, the collections
// and the data ID's keys, not its values, so a server answering many finds
// builds it once per shape. The cached text is a pure function of the key,
// never stale.
func (r *Registry) datasetSQLShaped(st *storedType, colls []*Collection, q DatasetQuery) (string, []any, []string) {
	r.mu.Lock()
	on := r.search != nil
	r.mu.Unlock()
	if !on || q.Where != "" || q.Extra != nil || len(q.OrderBy) > 0 || len(q.Refine) > 0 || len(q.IDs) > 0 || len(q.DataIDs) > 0 || q.CalibTime != nil || hasCalibration(colls) {
		return r.datasetSQL(st, colls, q)
	}
	keys := make([]string, 0, len(q.DataID))
	for k := range q.DataID {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf [256]byte
	b := append(append(append(buf[:0], "sql\x00"...), st.Name...), 0)
	b = append(strconv.AppendInt(b, st.id, 10), 0)
	b = append(append(b, st.tagTable...), 0)
	for _, f := range []bool{q.FindFirst, q.WithImplied, q.noJoins} {
		b = append(strconv.AppendBool(b, f), 0)
	}
	b = append(strconv.AppendInt(b, int64(q.Limit), 10), 0)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, k...)
	}
	b = append(b, 0)
	for _, c := range colls {
		b = strconv.AppendInt(append(strconv.AppendInt(b, c.ID, 10), ':'), int64(c.Type), 10)
		b = append(b, ',')
	}
	sh, _ := cached(r, string(b), func() (sqlShape, error) {
		marked := q
		marked.DataID = make(dimensions.DataID, len(q.DataID))
		for _, k := range keys {
			marked.DataID[k] = argOf(k)
		}
		text, args, cols := r.datasetSQL(st, colls, marked)
		return sqlShape{text: text, args: args, cols: cols}, nil
	})
	args := make([]any, len(sh.args))
	for i, a := range sh.args {
		if k, ok := a.(argOf); ok {
			a = q.DataID[string(k)]
		}
		args[i] = a
	}
	return sh.text, args, sh.cols
}

// searchFill returns the implied dimension values a single search (a data
// ID, no where expression) of st fills its data IDs with instead of joining
// the dimension tables, or nil when it must join: the search cache is off
// (a command line process reads the rows fresh), the search is not simple,
// its data ID names more than the type's required dimensions, or the
// elements hold more than impliedSearchRowsMax rows. The fill is read once
// per TTL (under the governor values the search fixes); a record added
// since is read when a dataset needs it, one updated is seen at most a TTL
// (and a reread) late, as chains and summaries are.
func (r *Registry) searchFill(ctx context.Context, st *storedType, colls []*Collection, q DatasetQuery) (*impliedFill, error) {
	r.mu.Lock()
	on := r.search != nil
	r.mu.Unlock()
	if !on || len(q.DataID) == 0 || q.Where != "" || q.Extra != nil || len(q.OrderBy) > 0 || len(q.Refine) > 0 || q.CalibTime != nil || hasCalibration(colls) {
		return nil, nil
	}
	for k := range q.DataID {
		if !slices.ContainsFunc(st.Dimensions.Required, func(e *dimensions.Element) bool { return e.Name == k }) {
			return nil, nil
		}
	}
	governors := dimensions.DataID{}
	for _, g := range st.Dimensions.Governors() {
		if v, ok := q.DataID[g.Name]; ok {
			governors[g.Name] = v
		}
	}
	type fillOrJoin struct{ f *impliedFill }
	v, err := cached(r, searchKey("implied", st.Name, nil, false, governors), func() (fillOrJoin, error) {
		f, err := r.loadImplied(ctx, st, governors, impliedSearchRowsMax)
		return fillOrJoin{f}, err
	})
	return v.f, err
}
