// Package rawtest writes synthetic raw files for other packages' tests and
// benchmarks, through internal/rawgen. Files go under a directory the caller owns
// (usually t.TempDir()) and are never committed.
package rawtest

import (
	"testing"

	"github.com/gobutler/butler/internal/rawgen"
)

// Instrument names, for convenience.
const (
	LSSTCam    = rawgen.LSSTCam
	LSSTComCam = rawgen.LSSTComCam
	LATISS     = rawgen.LATISS
)

// Seed is the seed Write uses, so that tests see the same files every run.
const Seed = 1

// Write writes exposures × detectorsPerExposure raws of instrument under dir and
// returns their paths in the order written (exposure by exposure). A
// detectorsPerExposure of 0 or less means the rawgen default set; otherwise the
// detectors are science CCDs spread over the focal plane (both vendors on LSSTCam).
// Any failure fails the test.
func Write(tb testing.TB, dir, instrument string, exposures, detectorsPerExposure int) []string {
	tb.Helper()
	return WriteOptions(tb, dir, rawgen.Options{
		Instrument: instrument,
		Exposures:  exposures,
		Detectors:  Detectors(tb, instrument, detectorsPerExposure),
		Seed:       Seed,
	})
}

// WriteOptions writes raws with any options and returns their paths.
func WriteOptions(tb testing.TB, dir string, opts rawgen.Options) []string {
	tb.Helper()
	var paths []string
	n, err := rawgen.Generate(tb.Context(), dir, opts, func(p string) { paths = append(paths, p) })
	if err != nil {
		tb.Fatalf("write synthetic raws: %v", err)
	}
	if n != len(paths) {
		tb.Fatalf("write synthetic raws: %d files but %d paths", n, len(paths))
	}
	return paths
}

// Detectors returns n detectors of the instrument for Write: nil for n <= 0 (the
// default set), else n science detectors evenly spread over the instrument's.
func Detectors(tb testing.TB, instrument string, n int) []rawgen.Detector {
	tb.Helper()
	if n <= 0 {
		return nil
	}
	var science []rawgen.Detector
	for _, d := range rawgen.AllDetectors(instrument) {
		if instrument != LSSTCam || d.ID < 189 { // LSSTCam ids 189-204 are guiders and wavefront sensors
			science = append(science, d)
		}
	}
	if n > len(science) {
		tb.Fatalf("rawtest: %s has %d science detectors, %d asked for", instrument, len(science), n)
	}
	out := make([]rawgen.Detector, n)
	for i := range out {
		out[i] = science[i*len(science)/n]
	}
	return out
}
