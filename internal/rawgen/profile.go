package rawgen

// Instrument names accepted in Options.Instrument (registry names).
const (
	LSSTCam    = "LSSTCam"
	LSSTComCam = "LSSTComCam"
	LATISS     = "LATISS"
)

// filterDef is one filter as the camera reports it.
type filterDef struct {
	name, band string
	slot       int64
	pos        any // FILTPOS: float64, or nil where the camera writes none (LATISS)
}

// profile holds the per-instrument constants of a summit header. Values are those
// of the header dumps the generator is modelled on (lsstCam-MC_O_20250415_000060,
// comCam-CC_O_20241108_000266, latiss-AT_O_20240624_000169) unless noted.
type profile struct {
	instrument string // registry name
	instrume   string // INSTRUME as the camera writes it
	telescop   string
	camCode    string
	lon, lat   float64
	elev       float64
	geo        [3]float64 // OBSGEO-X/Y/Z
	platform   string
	daqPart    string
	firmware   string
	daqVers    string
	fpVers     string
	ihVers     string
	tstand     any // string, or nil (LATISS)
	filters    []filterDef
	darkExtra  float64 // DARKTIME − EXPTIME, seconds
	readout    float64 // seconds from the end of one exposure to the earliest start of the next
	sciReason  string
	sciProgram string
	calProgram string
}

func profileFor(instrument string) (*profile, bool) {
	switch instrument {
	case LSSTCam:
		return &profile{
			instrument: LSSTCam, instrume: "lsstCam", telescop: "Simonyi Survey Telescope", camCode: "MC",
			lon: -70.749417, lat: -30.244639, elev: 2663.0, geo: [3]float64{1818938.94, -5208470.95, -3195172.08},
			platform: "lsstcam", daqPart: "camera", firmware: "3139500e",
			daqVers: "R5-V13.4 2025-03-20T16:46:35Z (811f588b)", fpVers: "1.2.13-SNAPSHOT", ihVers: "1.1.8",
			tstand: "TMAMCv1_SUM",
			// i_39 at slot 2 / 309.0 is from the dump; the other slots and positions are made up.
			filters: []filterDef{
				{"u_24", "u", 0, 21.0}, {"g_6", "g", 1, 165.0}, {"i_39", "i", 2, 309.0},
				{"r_57", "r", 3, 93.0}, {"z_20", "z", 4, 237.0}, {"y_10", "y", 5, 0.0},
			},
			darkExtra: 0.9548, readout: 2.3,
			sciReason: "field_survey_science", sciProgram: "BLOCK-365", calProgram: "BLOCK-T250",
		}, true
	case LSSTComCam:
		return &profile{
			instrument: LSSTComCam, instrume: "ComCam", telescop: "Simonyi Survey Telescope", camCode: "CC",
			lon: -70.749417, lat: -30.244639, elev: 2663.0, geo: [3]float64{1818938.94, -5208470.95, -3195172.08},
			platform: "comcam", daqPart: "comcam", firmware: "31395007",
			daqVers: "R5-V11.3 2024-09-16T15:03:01Z (10c5a519)", fpVers: "1.2.8", ihVers: "1.1.6",
			tstand: "TMACCv1_SUM",
			// g_01 at slot 3 / 4423.07 is from the dump; the rest are made up.
			filters: []filterDef{
				{"u_02", "u", 0, 1123.1}, {"g_01", "g", 3, 4423.07}, {"r_03", "r", 1, 2223.5},
				{"i_06", "i", 2, 3323.2}, {"z_03", "z", 4, 5523.9}, {"y_04", "y", 5, 6624.0},
			},
			darkExtra: 0.4306, readout: 2.3,
			sciReason: "science", sciProgram: "PP-SURVEY", calProgram: "BLOCK-T60",
		}, true
	case LATISS:
		return &profile{
			instrument: LATISS, instrume: "LATISS", telescop: "LSST AuxTelescope", camCode: "AT",
			lon: -70.7476862, lat: -30.2447889, elev: 2663.0,
			// The summit writes a positive OBSGEO-Z for LATISS (a known bug the translator
			// fixes by negating it); kept so that the fix-up path is exercised.
			geo:      [3]float64{1819093.52, -5208408.1, 3195186.45},
			platform: "auxtel", daqPart: "lat", firmware: "11394008",
			daqVers: "R5-V8.1 2023-12-05T02:49:12Z (5acbb461)", fpVers: "1.2.7", ihVers: "1.1.5",
			tstand: nil,
			// SDSSr_65mm at slot 2 is from the dump; FILTPOS is null there.
			filters: []filterDef{
				{"SDSSg_65mm", "g", 1, nil}, {"SDSSr_65mm", "r", 2, nil}, {"SDSSi_65mm", "i", 3, nil},
				{"SDSSz_65mm", "z", 4, nil}, {"SDSSy_65mm", "y", 5, nil},
			},
			darkExtra: 0.0096, readout: 2.3,
			sciReason: "science", sciProgram: "BLOCK-306", calProgram: "BLOCK-T17",
		}, true
	}
	return nil, false
}
