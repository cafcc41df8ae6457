package server

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/prometheus/client_golang/prometheus"
)

// maxFindBatch bounds the finds answered by one query.
const maxFindBatch = 64

// finder answers a repository's find_dataset requests through a few
// workers, each holding one of the repository's connection turns while it
// runs a query. Once it holds the turn, a worker takes every find waiting
// (up to maxFindBatch) and answers those of one dataset type and search path
// in one query (Butler.FindEach). When the server keeps up, each find is a query of
// its own, as before; when it falls behind, the finds that queue up share
// queries, and the database round trips and statement executions that were
// half the CPU of a find are paid once per batch: the server slows down
// more gently instead of tipping over.
type finder struct {
	b       *butler.Butler
	turns   chan struct{}
	timeout time.Duration
	queue   chan *findReq
	stop    chan struct{}
	wg      sync.WaitGroup
	batches prometheus.Observer // finds per query
}

// findReq is one find waiting for its answer.
type findReq struct {
	ctx         context.Context
	typeName    string
	id          dimensions.DataID
	collections []string
	key         string // type and search path: the finds one query can answer
	done        chan findAnswer
}

type findAnswer struct {
	ref dataset.Ref
	err error
}

// newFinder starts workers finders for b, sharing turns with the
// repository's other requests.
func newFinder(b *butler.Butler, turns chan struct{}, workers int, timeout time.Duration, batches prometheus.Observer) *finder {
	f := &finder{b: b, turns: turns, timeout: timeout, queue: make(chan *findReq, 4096), stop: make(chan struct{}), batches: batches}
	for range max(workers, 1) {
		f.wg.Go(f.work)
	}
	return f
}

// close stops the workers (after the HTTP server has finished its requests).
func (f *finder) close() {
	close(f.stop)
	f.wg.Wait()
}

// find is Butler.Find, answered by a worker.
func (f *finder) find(ctx context.Context, typeName string, id dimensions.DataID, collections []string) (dataset.Ref, error) {
	r := &findReq{ctx: ctx, typeName: typeName, id: id, collections: collections,
		key: typeName + "\x00" + strings.Join(collections, "\x00"), done: make(chan findAnswer, 1)}
	select {
	case f.queue <- r:
	case <-ctx.Done():
		return dataset.Ref{}, ctx.Err()
	}
	select {
	case a := <-r.done:
		return a.ref, a.err
	case <-ctx.Done():
		return dataset.Ref{}, ctx.Err()
	}
}

func (f *finder) work() {
	batch := make([]*findReq, 0, maxFindBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-f.queue:
			batch = append(batch, r)
		case <-f.stop:
			return
		}
		if f.turns != nil {
			select {
			case f.turns <- struct{}{}:
			case <-f.stop:
				return
			}
		}
		// Gathered once the connection is ours: what arrived while other
		// requests held them joins this query.
	gather:
		for len(batch) < maxFindBatch {
			select {
			case r := <-f.queue:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		f.answer(batch)
		if f.turns != nil {
			<-f.turns
		}
	}
}

// answer runs one query per dataset type and search path in batch and
// hands each find its answer. Finds whose requests have ended are left out.
func (f *finder) answer(batch []*findReq) {
	for len(batch) > 0 {
		key := batch[0].key
		var group []*findReq
		rest := batch[:0]
		for _, r := range batch {
			switch {
			case r.ctx.Err() != nil:
			case r.key == key:
				group = append(group, r)
			default:
				rest = append(rest, r)
			}
		}
		batch = rest
		if len(group) == 0 {
			continue
		}
		ids := make([]dimensions.DataID, len(group))
		for i, r := range group {
			ids[i] = r.id
		}
		// Not any one request's context: one client going away must not
		// fail the others' finds.
		ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
		refs, errs := f.b.FindEach(ctx, group[0].typeName, ids, group[0].collections)
		cancel()
		f.batches.Observe(float64(len(group)))
		for i, r := range group {
			r.done <- findAnswer{refs[i], errs[i]}
		}
	}
}
