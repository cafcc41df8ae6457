package registry

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// sharedRecords holds the records of the universe's cached elements
// (instrument, detector, physical_filter, band...: daf_butler's is_cached and
// the governors), read once per Registry: a put expands its data ID, and
// reading the instrument and detector rows again was a third of its
// statements. Records written through this Registry drop the cache, both
// when written and when their transaction ends (a read in between may have
// seen the old row or an uncommitted one). Like daf_butler's record cache,
// it does not see another process changing a record of a cached element
// (register-instrument --update) until the repository is opened again.
//
// The second time a record of an element is not in the cache, the element's
// whole table is read into it (as daf_butler reads cached elements): a process
// putting one dataset per detector read one detector row per put, a tenth of
// a put's CPU; a command that looks up one record reads just that record.
type sharedRecords struct {
	mu     sync.Mutex
	recs   map[string]dimensions.Record
	dirty  bool           // records were written in a transaction not yet ended
	misses map[string]int // per element: records read one at a time
	whole  map[string]bool
}

// sharedRecord reads the record of cached element e with data ID id through
// the shared cache.
func (r *Registry) sharedRecord(ctx context.Context, c sqldb.Conn, e *dimensions.Element, id dimensions.DataID) (dimensions.Record, bool, error) {
	var sb strings.Builder
	sb.WriteString(e.Name)
	for _, d := range e.Dimensions() {
		fmt.Fprintf(&sb, "\x00%v", id[d.Name])
	}
	k := sb.String()
	s := &r.shared
	s.mu.Lock()
	rec, ok := s.recs[k]
	readWhole := false
	if !ok && !s.dirty && !s.whole[e.Name] {
		if s.misses == nil {
			s.misses = map[string]int{}
		}
		s.misses[e.Name]++
		readWhole = s.misses[e.Name] >= 2
	}
	s.mu.Unlock()
	if ok {
		return rec, true, nil
	}
	if readWhole {
		if rec, ok, err := r.readWhole(ctx, c, e, k); err != nil || ok {
			return rec, ok, err
		}
	}
	rec, ok, err := r.fetchRecord(ctx, c, e, id)
	if err != nil || !ok {
		return rec, ok, err // a missing record is not remembered: it may be added
	}
	s.mu.Lock()
	if !s.dirty {
		if s.recs == nil {
			s.recs = map[string]dimensions.Record{}
		}
		s.recs[k] = rec
	}
	s.mu.Unlock()
	return rec, true, nil
}

// readWhole reads all records of cached element e into the shared cache and
// returns the one with key k, if there is one.
func (r *Registry) readWhole(ctx context.Context, c sqldb.Conn, e *dimensions.Element, k string) (dimensions.Record, bool, error) {
	all, err := r.records(ctx, c, e.Name, "")
	if err != nil {
		return dimensions.Record{}, false, err
	}
	keys := make([]string, len(all))
	for i, rec := range all {
		var sb strings.Builder
		sb.WriteString(e.Name)
		for _, d := range e.Dimensions() {
			col := d.Name
			if d == e {
				col = e.PrimaryKey().Name
			}
			v, ok := rec.Values[col]
			if !ok {
				return dimensions.Record{}, false, nil // not keyed as lookups are: leave the cache alone
			}
			fmt.Fprintf(&sb, "\x00%v", v)
		}
		keys[i] = sb.String()
	}
	s := &r.shared
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirty {
		return dimensions.Record{}, false, nil // written meanwhile: what was read may be stale
	}
	if s.recs == nil {
		s.recs = map[string]dimensions.Record{}
	}
	for i, rec := range all {
		s.recs[keys[i]] = rec
	}
	if s.whole == nil {
		s.whole = map[string]bool{}
	}
	s.whole[e.Name] = true
	rec, ok := s.recs[k]
	return rec, ok, nil
}

// recordsWritten drops the shared records after a write of element's
// records; inTx drops them again when the transaction ends.
func (r *Registry) recordsWritten(element string) {
	if e, ok := r.Universe.Element(element); ok && !e.Cached {
		return
	}
	s := &r.shared
	s.mu.Lock()
	s.recs, s.whole, s.misses, s.dirty = nil, nil, nil, true
	s.mu.Unlock()
}

// transactionEnded drops the shared records if records were written during
// a transaction.
func (r *Registry) transactionEnded() {
	s := &r.shared
	s.mu.Lock()
	if s.dirty {
		s.recs, s.whole, s.misses, s.dirty = nil, nil, nil, false
	}
	s.mu.Unlock()
}
