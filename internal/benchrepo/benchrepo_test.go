package benchrepo_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/benchrepo"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestBuild builds a tiny repository (5 exposures × 3 detectors, 2 a night)
// and checks what it holds; bad sizes are refused before anything is made.
func TestBuild(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	for _, o := range []benchrepo.Options{
		{Exposures: 5, Detectors: 0, PerNight: 2, Batch: 4},
		{Exposures: 5, Detectors: benchrepo.MaxDetectors() + 1, PerNight: 2, Batch: 4},
		{Exposures: 0, Detectors: 3, PerNight: 2, Batch: 4},
	} {
		if _, err := benchrepo.Build(t.Context(), root, o); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Build(%+v) = %v, want ErrInvalid", o, err)
		}
	}
	calls := 0
	st, err := benchrepo.Build(t.Context(), root, benchrepo.Options{Exposures: 5, Detectors: 3, PerNight: 2, Batch: 4,
		Progress: func(done, total int, _ time.Duration) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Exposures != 5 || st.Detectors != 3 || st.Datasets != 15 {
		t.Errorf("Build made %+v, want 5 exposures × 3 detectors = 15 datasets", st)
	}
	if calls != 5 { // 4 datasets a batch: one exposure (3 raws) per transaction
		t.Errorf("Progress called %d times, want 5", calls)
	}
	b := repotest.Open(t, root)
	n, err := b.Query().Collections(benchrepo.Run).Count(t.Context(), "raw")
	if err != nil || n != 15 {
		t.Errorf("%s holds %d raws (%v), want 15", benchrepo.Run, n, err)
	}
}
