package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/gobutler/butler/progress"
)

// bar draws tasks on a terminal: a bar with rate and ETA, redrawn every 200 ms.
type bar struct {
	w      io.Writer
	mu     sync.Mutex
	tasks  []*barTask
	stop   chan struct{}
	done   chan struct{}
	active bool
}

type barTask struct {
	progress.Counter
	name  string
	start time.Time
}

// reporter gives a long command its progress bar on stderr (nil when
// progress is off or stderr is not a terminal) and the function that ends it.
func (g *globals) reporter() (progress.Reporter, func()) {
	if !g.showProgress() {
		return nil, func() {}
	}
	b := newBar(g.stderr)
	return b, b.Close
}

func newBar(w io.Writer) *bar {
	b := &bar{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

func (b *bar) Task(name string, total int64) progress.Task {
	t := &barTask{name: name, start: time.Now()}
	t.SetTotal(total)
	b.mu.Lock()
	b.tasks = append(b.tasks, t)
	b.mu.Unlock()
	return t
}

func (b *bar) loop() {
	defer close(b.done)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			b.draw()
			if b.active {
				fmt.Fprintln(b.w)
			}
			return
		case <-tick.C:
			b.draw()
		}
	}
}

func (b *bar) draw() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range b.tasks {
		n, total, _ := t.Value()
		el := time.Since(t.start).Seconds()
		rate := 0.0
		if el > 0 {
			rate = float64(n) / el
		}
		line := fmt.Sprintf("%s %d", t.name, n)
		if total > 0 {
			frac := min(float64(n)/float64(total), 1)
			w := 30
			fill := int(frac * float64(w))
			eta := "?"
			if rate > 0 {
				eta = (time.Duration(float64(total-n)/rate) * time.Second).Round(time.Second).String()
			}
			line = fmt.Sprintf("%s [%s%s] %d/%d files %.0f files/s ETA %s", t.name, strings.Repeat("=", fill), strings.Repeat(" ", w-fill), n, total, rate, eta)
		}
		fmt.Fprintf(b.w, "\r%-100s", line)
		b.active = true
	}
}

func (b *bar) Close() {
	close(b.stop)
	<-b.done
}
