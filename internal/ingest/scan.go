package ingest

import (
	"context"
	"regexp"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// ScanResult says how fast headers alone could be read and translated.
type ScanResult struct {
	Files, Bad int
	Elapsed    time.Duration
}

// ReadHeaders walks the locations and reads and translates every file's header
// with the same workers as Raws, writing nothing: the physical limit an ingest
// is measured against.
func ReadHeaders(ctx context.Context, locations []string, opts Options) (ScanResult, error) {
	start := time.Now()
	re, err := regexp.Compile(cmpOr(opts.Regex, DefaultRegex))
	if err != nil {
		return ScanResult{}, err
	}
	paths := make(chan string, 1024)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(paths)
		return scan(gctx, locations, re, func(p string) error {
			select {
			case paths <- p:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	var mu sync.Mutex
	var res ScanResult
	for i := 0; i < max(opts.Processes, 1); i++ {
		g.Go(func() error {
			files, bad := 0, 0
			for p := range paths {
				if it := readItem(p); it.err != nil {
					bad++
				}
				files++
			}
			mu.Lock()
			res.Files += files
			res.Bad += bad
			mu.Unlock()
			return nil
		})
	}
	err = g.Wait()
	res.Elapsed = time.Since(start)
	return res, err
}
