package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/gobutler/butler/internal/registry"
)

// A connection lost during COMMIT is retried when the retry can find out what
// was saved (skip-existing, the default) and not otherwise, where a retry of a
// batch that was in fact committed would fail as a conflict.
func TestRetry_CommitUnknown(t *testing.T) {
	lost := fmt.Errorf("commit: %w", registry.ErrCommitUnknown)
	for _, tc := range []struct {
		name        string
		noSkip      bool
		wantCalls   int
		wantErrNone bool
	}{
		{"skip-existing retries", false, 2, true},
		{"no-skip-existing gives up", true, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &ingester{opts: Options{NoSkipExisting: tc.noSkip}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			calls := 0
			err := in.retry(context.Background(), "batch", func() error {
				if calls++; calls == 1 {
					return lost
				}
				return nil
			})
			if calls != tc.wantCalls || (err == nil) != tc.wantErrNone {
				t.Errorf("%d calls, err %v; want %d calls, error %v", calls, err, tc.wantCalls, !tc.wantErrNone)
			}
		})
	}
}
