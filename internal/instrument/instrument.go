// Package instrument describes the LSST instruments that `register-instrument`
// knows (LSSTCam, LSSTComCam, LATISS and the simulated LSSTCamSim and
// LSSTComCamSim) as data: the instrument record, detectors, physical filters
// and visit systems, read from CSV files embedded in the binary.
//
// The tables are those obs_lsst generates from its camera policy and filter
// definitions (see data/README.md); they are the current upstream values, not
// the older ones some test registries still hold.
package instrument

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gobutler/butler/errs"
)

// Detector purposes as obs_lsst's camera geometry names them.
const (
	PurposeScience   = "SCIENCE"
	PurposeFocus     = "FOCUS"
	PurposeGuider    = "GUIDER"
	PurposeWavefront = "WAVEFRONT"
)

// Detector is one row of the detector dimension, plus two camera-geometry
// extras (CCDType, Serial) that are not registry columns.
type Detector struct {
	ID         int64
	FullName   string // "R22_S11"; the detector dimension's full_name
	NameInRaft string // "S11" ("RXX_S00" for LATISS)
	Raft       *string
	Purpose    string // SCIENCE, GUIDER, WAVEFRONT (FOCUS is unused)
	// CCDType is the vendor geometry: ITL, E2V, ITL_G (guider), ITL_WF (wavefront).
	CCDType string
	// Serial is the LSST_NUM the current camera policy gives this slot;
	// headers carry their own and translators use the header's.
	Serial string
}

// HasRaft reports whether the detector belongs to a raft (LATISS's single
// CCD does not, and its raft column is NULL).
func (d Detector) HasRaft() bool { return d.Raft != nil }

// Filter is one row of the physical_filter dimension.
type Filter struct {
	Name, Band string
}

// VisitSystem is one of daf_butler's visit-system enum values.
type VisitSystem struct {
	ID   int64
	Name string
}

// Instrument holds an instrument record and everything register-instrument
// writes for it. Values returned by Lookup and All are shared: treat them as
// read-only.
type Instrument struct {
	Name, ClassName string
	DetectorMax     int64
	VisitMax        int64
	ExposureMax     int64
	// VisitSystem is the preferred visit system (the instrument record's
	// visit_system column, universe >= 2).
	VisitSystem  int64
	Detectors    []Detector // in camera order, as registered
	Filters      []Filter   // in definition order, as registered
	VisitSystems []VisitSystem
	// DefaultRawRun is the RUN collection ingest-raws uses without --output-run.
	DefaultRawRun string
	// RawFormatter is the formatter class name recorded for raw datasets.
	RawFormatter string

	byName map[string]int
}

// DetectorByName finds a detector by its full name ("R22_S11").
func (in *Instrument) DetectorByName(fullName string) (Detector, bool) {
	i, ok := in.byName[fullName]
	if !ok {
		return Detector{}, false
	}
	return in.Detectors[i], true
}

// DetectorByID finds a detector by its integer id.
func (in *Instrument) DetectorByID(id int64) (Detector, bool) {
	i, ok := slices.BinarySearchFunc(in.Detectors, id, func(d Detector, id int64) int {
		switch {
		case d.ID < id:
			return -1
		case d.ID > id:
			return 1
		}
		return 0
	})
	if !ok {
		return Detector{}, false
	}
	return in.Detectors[i], true
}

// Filter finds a physical filter by name.
func (in *Instrument) Filter(name string) (Filter, bool) {
	for _, f := range in.Filters {
		if f.Name == name {
			return f, true
		}
	}
	return Filter{}, false
}

// Bands returns the distinct bands of the instrument's filters, in first-seen order.
func (in *Instrument) Bands() []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range in.Filters {
		if !seen[f.Band] {
			seen[f.Band] = true
			out = append(out, f.Band)
		}
	}
	return out
}

//go:embed data
var dataFS embed.FS

// The tables are parsed once, on first use; after that they are read-only,
// so sharing them is safe.
var load = sync.OnceValues(func() ([]*Instrument, error) { return parse(dataFS) })

// All returns every known instrument, in the order of data/instruments.csv.
func All() []*Instrument {
	all, err := load()
	if err != nil {
		// The embedded data is checked by the package tests; reaching this
		// means the binary was built from broken data.
		panic(fmt.Sprintf("instrument: embedded data: %v", err))
	}
	return slices.Clone(all)
}

// Lookup finds an instrument by its fully qualified class name
// ("lsst.obs.lsst.LsstCam") or its instrument name ("LSSTCam"); both are
// case-sensitive, as in the registry.
func Lookup(name string) (*Instrument, error) {
	all := All()
	for _, in := range all {
		if in.ClassName == name || in.Name == name {
			return in, nil
		}
	}
	known := make([]string, len(all))
	for i, in := range all {
		known[i] = in.ClassName
	}
	return nil, fmt.Errorf("instrument %q: %w (known: %s)", name, errs.ErrNotFound, strings.Join(known, ", "))
}

type fileSystem interface {
	ReadFile(name string) ([]byte, error)
}

func parse(fsys fileSystem) ([]*Instrument, error) {
	recs, err := readCSV(fsys, "data/instruments.csv",
		"name", "class_name", "visit_max", "exposure_max", "detector_max", "visit_system",
		"detectors", "filters", "default_raw_run", "raw_formatter")
	if err != nil {
		return nil, err
	}
	vsRecs, err := readCSV(fsys, "data/visit_systems.csv", "id", "name")
	if err != nil {
		return nil, err
	}
	var visitSystems []VisitSystem
	for _, r := range vsRecs {
		id, err := strconv.ParseInt(r[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("visit_systems.csv: id %q: %w", r[0], err)
		}
		visitSystems = append(visitSystems, VisitSystem{ID: id, Name: r[1]})
	}
	detCache := map[string][]Detector{}
	filtCache := map[string][]Filter{}
	var out []*Instrument
	for _, r := range recs {
		in := &Instrument{Name: r[0], ClassName: r[1], DefaultRawRun: r[8], RawFormatter: r[9]}
		for i, dst := range []*int64{&in.VisitMax, &in.ExposureMax, &in.DetectorMax, &in.VisitSystem} {
			v, err := strconv.ParseInt(r[2+i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("instruments.csv: %s: %w", in.Name, err)
			}
			*dst = v
		}
		dets, ok := detCache[r[6]]
		if !ok {
			if dets, err = readDetectors(fsys, r[6]); err != nil {
				return nil, err
			}
			detCache[r[6]] = dets
		}
		filts, ok := filtCache[r[7]]
		if !ok {
			if filts, err = readFilters(fsys, r[7]); err != nil {
				return nil, err
			}
			filtCache[r[7]] = filts
		}
		in.Detectors, in.Filters, in.VisitSystems = dets, filts, visitSystems
		in.byName = make(map[string]int, len(dets))
		for i, d := range dets {
			in.byName[d.FullName] = i
		}
		out = append(out, in)
	}
	return out, nil
}

func readDetectors(fsys fileSystem, name string) ([]Detector, error) {
	file := path.Join("data/detectors", name+".csv")
	recs, err := readCSV(fsys, file, "id", "full_name", "raft", "name_in_raft", "purpose", "ccd_type", "serial")
	if err != nil {
		return nil, err
	}
	out := make([]Detector, 0, len(recs))
	for _, r := range recs {
		id, err := strconv.ParseInt(r[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: id %q: %w", file, r[0], err)
		}
		d := Detector{ID: id, FullName: r[1], NameInRaft: r[3], Purpose: r[4], CCDType: r[5], Serial: r[6]}
		if r[2] != "" { // an empty raft cell is the registry's NULL
			raft := r[2]
			d.Raft = &raft
		}
		if n := len(out); n > 0 && out[n-1].ID >= id {
			return nil, fmt.Errorf("%s: detector ids not increasing at %d", file, id)
		}
		out = append(out, d)
	}
	return out, nil
}

func readFilters(fsys fileSystem, name string) ([]Filter, error) {
	file := path.Join("data/filters", name+".csv")
	recs, err := readCSV(fsys, file, "name", "band")
	if err != nil {
		return nil, err
	}
	out := make([]Filter, len(recs))
	for i, r := range recs {
		out[i] = Filter{Name: r[0], Band: r[1]}
	}
	return out, nil
}

// readCSV reads a CSV file whose header must be exactly cols and returns the
// data rows.
func readCSV(fsys fileSystem, name string, cols ...string) ([][]string, error) {
	b, err := fsys.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = len(cols)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if !slices.Equal(head, cols) {
		return nil, fmt.Errorf("read %s: header %v, want %v", name, head, cols)
	}
	var out [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		out = append(out, rec)
	}
}
