package rawgen

import (
	_ "embed"
	"strconv"
	"strings"
)

// detectors.csv is the detector table of the three instruments (id, full name, CCD
// type and the LSST_NUM serial the camera writes for that slot), taken from the
// obs_lsst camera description as summarised in instruments_and_ingest.md §6.2–6.4.
//
//go:embed detectors.csv
var detectorsCSV string

// detInfo is what the generator knows about one real detector.
type detInfo struct {
	id      int
	name    string // registry full name: R22_S11; LATISS RXX_S00
	ccdType string // ITL, E2V, ITL_G (guider), ITL_WF (wavefront)
	serial  string // LSST_NUM
}

// detectorTable parses the embedded table for one instrument. It is parsed on use
// rather than held in a package variable, and costs microseconds. (A malformed row
// would be skipped; TestDetectorTable checks the row counts.)
func detectorTable(instrument string) []detInfo {
	var out []detInfo
	for _, line := range strings.Split(detectorsCSV, "\n") {
		r := strings.Split(strings.TrimSpace(line), ",")
		if len(r) != 5 || r[0] != instrument {
			continue
		}
		id, err := strconv.Atoi(r[1])
		if err != nil {
			continue
		}
		out = append(out, detInfo{id: id, name: r[2], ccdType: r[3], serial: r[4]})
	}
	return out
}

// AllDetectors returns every detector of the instrument, in id order, or nil for an
// instrument the generator does not know.
func AllDetectors(instrument string) []Detector {
	var out []Detector
	for _, d := range detectorTable(instrument) {
		out = append(out, Detector{ID: d.id, Name: d.name})
	}
	return out
}

// DefaultDetectors returns the detectors used when Options.Detectors is empty: four
// science CCDs of both vendors for LSSTCam (R22_S11, R22_S12, R10_S02, R01_S01), the
// whole raft for LSSTComCam, and RXX_S00 for LATISS.
func DefaultDetectors(instrument string) []Detector {
	var names []string
	switch instrument {
	case LSSTCam:
		names = []string{"R22_S11", "R22_S12", "R10_S02", "R01_S01"}
	case LSSTComCam, LATISS:
		return AllDetectors(instrument)
	}
	var out []Detector
	for _, d := range detectorTable(instrument) {
		for _, n := range names {
			if d.name == n {
				out = append(out, Detector{ID: d.id, Name: d.name})
			}
		}
	}
	return out
}
