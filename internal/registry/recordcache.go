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
type sharedRecords struct {
	mu    sync.Mutex
	recs  map[string]dimensions.Record
	dirty bool // records were written in a transaction not yet ended
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
	s.mu.Unlock()
	if ok {
		return rec, true, nil
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

// recordsWritten drops the shared records after a write of element's
// records; inTx drops them again when the transaction ends.
func (r *Registry) recordsWritten(element string) {
	if e, ok := r.Universe.Element(element); ok && !e.Cached {
		return
	}
	s := &r.shared
	s.mu.Lock()
	s.recs, s.dirty = nil, true
	s.mu.Unlock()
}

// transactionEnded drops the shared records if records were written during
// a transaction.
func (r *Registry) transactionEnded() {
	s := &r.shared
	s.mu.Lock()
	if s.dirty {
		s.recs, s.dirty = nil, false
	}
	s.mu.Unlock()
}
