// Package rawgen writes synthetic raw files that look like the summit raws of
// LSSTCam, LSSTComCam and LATISS: a primary header with the key set, order and value
// conventions of real modern headers, then small uncompressed amplifier images and
// the two condition tables. They are for demos, tests and benchmarks of ingest,
// which reads headers only; the pixels are placeholders.
package rawgen

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/fits"
)

// Detector names one detector: its registry id and full name, "R22_S11"
// (raft_sensor); for LATISS "RXX_S00".
type Detector struct {
	ID   int
	Name string
}

// Options controls Generate. The zero value of every field but Instrument and
// Exposures has a default.
type Options struct {
	Instrument   string     // "LSSTCam", "LSSTComCam" or "LATISS"
	Exposures    int        // number of exposures
	Detectors    []Detector // detectors per exposure; empty = DefaultDetectors(Instrument)
	Start        time.Time  // first exposure's DATE-OBS; zero = 2025-04-15T03:00:00Z (see Generate)
	Seed         int64      // deterministic output for a given seed
	PixelsPerAmp int        // side of the square amplifier image, default 8
	Gzip         bool       // write gzip streams named .fits, like the older raws in the corpus
}

// DefaultStart returns the DATE-OBS of the first exposure when Options.Start is zero.
func DefaultStart() time.Time { return time.Date(2025, 4, 15, 3, 0, 0, 0, time.UTC) }

// Generate writes Exposures × len(Detectors) raw files under dir, laid out as
// <dayobs>/<obsid>/<obsid>_<raft>_<slot>.fits (the summit file name, also in the
// FILENAME card; for LATISS the raft and slot are R00_S00 as the camera writes them,
// though the registry detector is RXX_S00). It calls fn (if not nil) after each
// file and returns the number of files written.
//
// Output is deterministic for given Options. Start is written as the DATE-OBS
// clock reading, which the headers declare TAI (TIMESYS); no leap seconds are
// added. Exposures follow each other as in a night: bias, dark and flat sequences
// (each one group, CURINDEX/MAXINDEX counting through it), then a run of science
// exposures, repeated; SEQNUM restarts at 1 when DAYOBS (the TAI date 12 h earlier)
// changes. Memory use does not grow with the number of files.
func Generate(ctx context.Context, dir string, opts Options, fn func(path string)) (int, error) {
	p, dets, err := opts.resolve()
	if err != nil {
		return 0, fmt.Errorf("generate raws: %w", err)
	}
	start := opts.Start
	if start.IsZero() {
		start = DefaultStart()
	}
	side := opts.PixelsPerAmp
	if side == 0 {
		side = 8
	}
	pl := newPlanner(p, start, opts.Seed)
	var (
		bw  = bufio.NewWriterSize(nil, 64<<10)
		zw  *gzip.Writer
		pix = make([]byte, side*side*4)
		n   int
	)
	for range opts.Exposures {
		e := pl.next()
		expDir := filepath.Join(dir, e.dayObs, e.obsID)
		if err := os.MkdirAll(expDir, 0o755); err != nil {
			return n, fmt.Errorf("generate raws: %w", err)
		}
		for i := range dets {
			if err := ctx.Err(); err != nil {
				return n, fmt.Errorf("generate raws: %w", err)
			}
			d := &dets[i]
			name := fmt.Sprintf("%s_%s_%s.fits", e.obsID, d.raft, d.slot)
			path := filepath.Join(expDir, name)
			f, err := os.Create(path)
			if err != nil {
				return n, fmt.Errorf("generate raws: %w", err)
			}
			bw.Reset(f)
			var w io.Writer = bw
			if opts.Gzip {
				if zw == nil {
					zw, _ = gzip.NewWriterLevel(bw, gzip.BestSpeed) // the level is valid
				} else {
					zw.Reset(bw)
				}
				w = zw
			}
			err = writeRaw(w, p, e, d, name, opts.Seed, pix, side)
			if err == nil && zw != nil {
				err = zw.Close()
			}
			if err == nil {
				err = bw.Flush()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(path) // leave no half-written raw behind
				return n, fmt.Errorf("generate raws: write %s: %w", path, err)
			}
			n++
			if fn != nil {
				fn(path)
			}
		}
	}
	return n, nil
}

// resolve checks the options and looks up the detectors.
func (o Options) resolve() (*profile, []detector, error) {
	p, ok := profileFor(o.Instrument)
	if !ok {
		return nil, nil, fmt.Errorf("%w: instrument %q, want %s, %s or %s", errs.ErrInvalid, o.Instrument, LSSTCam, LSSTComCam, LATISS)
	}
	if o.Exposures < 0 {
		return nil, nil, fmt.Errorf("%w: %d exposures", errs.ErrInvalid, o.Exposures)
	}
	if o.PixelsPerAmp < 0 || o.PixelsPerAmp > 4096 {
		return nil, nil, fmt.Errorf("%w: PixelsPerAmp %d, want 0 (default 8) to 4096", errs.ErrInvalid, o.PixelsPerAmp)
	}
	want := o.Detectors
	if len(want) == 0 {
		want = DefaultDetectors(o.Instrument)
	}
	known := map[string]detInfo{}
	for _, d := range detectorTable(o.Instrument) {
		known[d.name] = d
	}
	seen := map[string]bool{}
	var dets []detector
	for _, w := range want {
		if seen[w.Name] {
			return nil, nil, fmt.Errorf("%w: detector %s listed twice", errs.ErrInvalid, w.Name)
		}
		seen[w.Name] = true
		info, ok := known[w.Name]
		switch {
		case ok && info.id != w.ID:
			return nil, nil, fmt.Errorf("%w: %s detector %s has id %d, not %d", errs.ErrInvalid, o.Instrument, w.Name, info.id, w.ID)
		case !ok && (o.Instrument == LATISS || !wellFormed(w.Name)):
			return nil, nil, fmt.Errorf("%w: %s has no detector %q", errs.ErrInvalid, o.Instrument, w.Name)
		case !ok:
			// An unknown but well-formed name is allowed, so that tests can make raws
			// that ingest must reject; it gets an ITL CCD with a made-up serial.
			info = detInfo{id: w.ID, name: w.Name, ccdType: "ITL", serial: "ITL-3800C-000"}
		}
		d := detector{Detector: w, raft: w.Name[:3], slot: w.Name[4:], ccdType: info.ccdType, serial: info.serial}
		if o.Instrument == LATISS {
			d.raft, d.slot = "R00", "S00" // what the camera writes; the registry calls it RXX_S00
		}
		dets = append(dets, d)
	}
	return p, dets, nil
}

// writeRaw writes one detector's file: primary, amplifiers, condition tables.
func writeRaw(w io.Writer, p *profile, e *exposure, d *detector, name string, seed int64, pix []byte, side int) error {
	fw := fits.NewWriter(w)
	primary := primaryLSST
	if p.instrument == LATISS {
		primary = primaryLATISS
	}
	if err := fw.WriteHDU(primary(p, e, d, name), nil); err != nil {
		return err
	}
	// Pixels: a bias level with noise, plus signal for flats and science. Their own
	// random stream keeps the exposure-level values independent of the detector list.
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(hash(e.obsID, d.Name))))
	level := 15000.0
	switch e.imgType {
	case typeFlat:
		level += 20000
	case typeObject:
		level += 1200
	}
	for i, amp := range ampNames(d.amps()) {
		offset := float64(hash(d.Name, amp) % 2000)
		for j := 0; j < len(pix); j += 4 {
			v := int32(level + offset + 5*rng.NormFloat64())
			binary.BigEndian.PutUint32(pix[j:], uint32(v))
		}
		if err := fw.WriteHDU(ampHeader(d, i, amp, side), pix); err != nil {
			return err
		}
	}
	for _, h := range condHeaders(p, e, d) {
		if err := fw.WriteHDU(h, nil); err != nil {
			return err
		}
	}
	return nil
}

// wellFormed reports whether name looks like a detector name, Rnn_Snn (also SG0,
// SW1 for the corner rafts).
func wellFormed(name string) bool {
	digit := func(c byte) bool { return '0' <= c && c <= '9' }
	return len(name) == 7 && name[0] == 'R' && digit(name[1]) && digit(name[2]) && name[3] == '_' &&
		name[4] == 'S' && (digit(name[5]) || name[5] == 'G' || name[5] == 'W') && digit(name[6])
}
