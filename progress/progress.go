// Package progress lets long library work report progress without knowing how
// it is shown: the library adds to a Task, the command line draws it.
package progress

import "sync/atomic"

// Reporter starts tasks.
type Reporter interface {
	// Task starts counting units of a named piece of work; total <= 0 if unknown.
	Task(name string, total int64) Task
}

// Task counts completed units. Add is safe for concurrent use.
type Task interface {
	Add(n int64)
	// SetTotal changes the total when it becomes known.
	SetTotal(total int64)
	Done()
}

// Discard is a Reporter that shows nothing.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Task(string, int64) Task { return &Counter{} }

// Counter is a Task that only counts; renderers poll it.
type Counter struct {
	n, total atomic.Int64
	done     atomic.Bool
}

func (c *Counter) Add(n int64)          { c.n.Add(n) }
func (c *Counter) SetTotal(total int64) { c.total.Store(total) }
func (c *Counter) Done()                { c.done.Store(true) }

// Value returns the count, the total and whether the task is done.
func (c *Counter) Value() (n, total int64, done bool) {
	return c.n.Load(), c.total.Load(), c.done.Load()
}

// OrDiscard returns r, or Discard when r is nil.
func OrDiscard(r Reporter) Reporter {
	if r == nil {
		return Discard
	}
	return r
}
