package rawgen

import (
	"fmt"
	"hash/fnv"
	"math"
	"strings"

	"github.com/gobutler/butler/internal/fits"
)

// detector is a detector with what its headers need.
type detector struct {
	Detector
	raft, slot string // RAFTBAY, CCDSLOT
	ccdType    string // ITL, E2V, ITL_G, ITL_WF
	serial     string // LSST_NUM
}

func (d *detector) vendor() string {
	if d.ccdType == "E2V" {
		return "E2V"
	}
	return "ITL"
}

func (d *detector) model() string {
	switch {
	case d.ccdType == "E2V":
		return "CCD250"
	case d.ccdType == "ITL_WF":
		return "4400B"
	}
	return "3800C"
}

// amps is the number of amplifier HDUs: wavefront CCDs are read out by half.
func (d *detector) amps() int {
	if d.ccdType == "ITL_WF" {
		return 8
	}
	return 16
}

// hash gives stable made-up hardware values (controller numbers, serials) that do
// not depend on the seed: the hardware is the same every night.
func hash(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

// builder appends cards; comments follow the camera's where known.
type builder struct{ h fits.Header }

func (b *builder) s(key, v, comment string) { b.h.Add(fits.StringCard(key, v, comment)) }
func (b *builder) i(key string, v int64, comment string) {
	b.h.Add(fits.IntCard(key, v, comment))
}
func (b *builder) f(key string, v float64, comment string) {
	b.h.Add(fits.FloatCard(key, v, comment))
}
func (b *builder) t(key string, v bool, comment string) { b.h.Add(fits.BoolCard(key, v, comment)) }
func (b *builder) u(key, comment string)                { b.h.Add(fits.UndefinedCard(key, comment)) }
func (b *builder) any(key string, v any, comment string) {
	b.h.Add(fits.Card{Key: key, Value: v, Comment: comment})
}

func iso(e *exposure, which string) string {
	switch which {
	case "BEG":
		return e.beg.Format(isoMillis)
	case "END":
		return e.end.Format(isoMillis)
	case "TRG":
		return e.trg.Format(isoMillis)
	}
	return e.date.Format(isoMillis)
}

// dates appends the date block shared by all three cameras.
func (b *builder) dates(e *exposure) {
	b.s("DATE", iso(e, "DATE"), "Creation Date and Time of File")
	b.f("MJD", mjd(e.date), "Modified Julian Date that the file was written")
	b.s("IMGTYPE", e.imgType, "BIAS, DARK, FLAT, OBJECT")
	b.s("DATE-OBS", iso(e, "BEG"), "Date of the observation (image acquisition), TAI")
	b.f("MJD-OBS", mjd(e.beg), "Modified Julian Date of image acquisition")
	b.s("DATE-TRG", iso(e, "TRG"), "Date of the image trigger (readout), TAI")
	b.f("MJD-TRG", mjd(e.trg), "Modified Julian Date of image trigger")
	b.s("OBSID", e.obsID, "The image name or obs-id")
	b.s("DATE-BEG", iso(e, "BEG"), "Time at the start of integration")
	b.f("MJD-BEG", mjd(e.beg), "Modified Julian Date derived from DATE-BEG")
	b.s("DATE-END", iso(e, "END"), "End date of the observation")
	b.f("MJD-END", mjd(e.end), "Modified Julian Date derived from DATE-END")
}

func (b *builder) site(p *profile) {
	b.f("OBS-LONG", p.lon, "[deg] Observatory east longitude")
	b.f("OBS-LAT", p.lat, "[deg] Observatory latitude")
	b.f("OBS-ELEV", p.elev, "[m] Observatory elevation")
	b.f("OBSGEO-X", p.geo[0], "[m] X-axis Geocentric coordinate")
	b.f("OBSGEO-Y", p.geo[1], "[m] Y-axis Geocentric coordinate")
	b.f("OBSGEO-Z", p.geo[2], "[m] Z-axis Geocentric coordinate")
}

// pointingStart appends RA … AMSTART; a calibration has RA, DEC, HASTART and AMSTART 0.
func (b *builder) pointingStart(e *exposure) {
	b.f("RA", e.ra, "RA of commanded position")
	b.f("DEC", e.dec, "DEC of commanded position")
	b.f("RASTART", e.raStart, "RA of telescope at start of observation")
	b.f("DECSTART", e.decStart, "DEC of telescope at start of observation")
	b.f("RAEND", e.raEnd, "RA of telescope at end of observation")
	b.f("DECEND", e.decEnd, "DEC of telescope at end of observation")
	b.f("ROTPA", e.rotPA, "Rotation angle relative to the sky (deg)")
	b.s("ROTCOORD", "sky", "Telescope Rotation Coordinates")
	b.f("HASTART", e.haStart, "[h] Telescope hour angle at start")
	b.f("ELSTART", e.elStart, "[deg] Telescope elevation at start")
	b.f("AZSTART", e.azStart, "[deg] Telescope azimuth at start")
	b.f("AMSTART", e.amStart, "Airmass at start")
}

func (b *builder) camera(p *profile, d *detector) {
	b.s("CCD_MANU", d.vendor(), "CCD Manufacturer")
	b.s("CCD_TYPE", d.model(), "CCD Model Number")
	b.s("CCDSLOT", d.slot, "The CCD Slot")
	b.s("RAFTBAY", d.raft, "The RAFT Bay")
	b.s("FIRMWARE", p.firmware, "DAQ firmware version (Hex)")
	b.s("PLATFORM", p.platform, "DAQ platform version")
	contnum, sern, reb, raft := "189216ee", "20862", "Unknown", "AuxTel-Raft"
	if p.instrument != LATISS {
		// One REB reads three CCDs of a raft (one row of slots).
		contnum = fmt.Sprintf("18%06x", hash(p.instrument, d.raft, d.slot[:2])&0xffffff)
		sern = fmt.Sprintf("%05d", 20000+hash(d.serial)%10000)
		if d.vendor() == "E2V" {
			s := hash(d.serial)
			sern = fmt.Sprintf("%05d-%02d-%02d", 10000+s%10000, s/10000%24, s/1000000%12)
		}
		reb = fmt.Sprintf("LCA-13574-%03d", hash(d.raft, d.slot[:2])%200)
		raft = fmt.Sprintf("LCA-11021_RTM-%03d", hash(d.raft)%40)
	}
	b.s("CONTNUM", contnum, "REB serial # (Hex)")
	b.s("DAQVERS", p.daqVers, "DAQ version")
	b.s("DAQPART", p.daqPart, "DAQ partition")
	b.s("DAQFOLD", "raw", "DAQ folder the image was initially created in")
	seq := seqFile(p, d)
	b.s("SEQFILE", seq, "Sequencer file name")
	b.s("SEQNAME", seq, "Sequencer file name")
	b.s("SEQCKSUM", fmt.Sprint(hash(seq)), "Checksum of Sequencer")
	b.s("LSST_NUM", d.serial, "LSST Assigned CCD Number")
	b.s("CCD_SERN", sern, "Manufacturers' CCD Serial Number")
	b.s("REBNAME", reb, "LSST Assigned Name REB name")
	b.s("RAFTNAME", raft, "LSST Assigned Raft name")
	b.s("FPVERS", p.fpVers, "The focal-plane version number")
	b.s("IHVERS", p.ihVers, "The image-handling version number")
}

func seqFile(p *profile, d *detector) string {
	switch p.instrument {
	case LSSTCam:
		return fmt.Sprintf("FP_%s_2s_l3cp_v30.seq", d.vendor())
	case LSSTComCam:
		return "FP_ITL_2s_ir2_v26.seq"
	}
	return "FP_ITL_2s_ir2_v26_no_RG.seq"
}

func (b *builder) exposureTimes(e *exposure) {
	b.f("EXPTIME", e.expTime, "Exposure Time in Seconds")
	b.f("DARKTIME", e.darkTime, "Dark Time in Seconds")
	b.f("SHUTTIME", e.shutTime, "Shutter Exposure Time in Seconds")
}

func (b *builder) weather(e *exposure) {
	b.f("AIRTEMP", e.airTemp, "Outside Air Temperature [deg C]")
	b.f("PRESSURE", e.pressure, "Barometric Pressure [Pa]")
	b.f("HUMIDITY", e.humidity, "Relative Humidity [%]")
	b.f("WINDSPD", e.windSpd, "Wind Speed [m/s]")
	b.f("WINDDIR", e.windDir, "Wind Direction [deg]")
	b.u("SEEING", "Seeing from DIMM [arcsec]")
}

func (b *builder) stutter() {
	b.i("STUTTER ROWS", 0, "Number of rows shifted in stutter mode")
	b.f("STUTTER DELAY", 0, "Delay between stutter shifts")
	b.i("STUTTER NSHIFTS", 0, "Number of stutter shifts")
}

// primaryLSST is the primary header of LSSTCam and LSSTComCam: the key set and
// order of the modern summit dumps (ComCam adds the SIMULATE block).
func primaryLSST(p *profile, e *exposure, d *detector, filename string) *fits.Header {
	b := &builder{}
	b.t("SIMPLE", true, "conforms to FITS standard")
	b.i("BITPIX", 8, "array data type")
	b.i("NAXIS", 0, "number of array dimensions")
	b.t("EXTEND", true, "")
	b.i("BINX", 1, "[pixels] binning along X axis")
	b.i("BINY", 1, "[pixels] binning along Y axis")
	b.f("CCDGAIN", 1.0, "Rough guess at overall system gain (e-/DNB)")
	b.f("CCDNOISE", 10.0, "Rough guess at system noise (e- rms)")
	b.h.Add(fits.CommentCard("---- Checksums ----"))
	b.dates(e)
	b.s("BUNIT", "adu", "Brightness units for pixel array")
	b.s("TIMESYS", "TAI", "The time scale used")
	b.s("GROUPID", e.groupID, "The group ID of the exposure")
	b.s("INSTRUME", p.instrume, "Instrument")
	b.s("TELESCOP", p.telescop, "Telescope")
	b.site(p)
	b.pointingStart(e)
	b.f("HAEND", e.haEnd, "[h] Telescope hour angle at end")
	b.f("ELEND", e.elEnd, "[deg] Telescope elevation at end")
	b.f("AZEND", e.azEnd, "[deg] Telescope azimuth at end")
	b.f("AMEND", e.amEnd, "Airmass at end")
	b.s("TRACKSYS", e.trackSys, "Tracking coordinate system")
	b.s("RADESYS", "ICRS", "Equatorial coordinate system")
	b.f("FOCUSZ", e.focusZ, "[mm] Focus Z position")
	b.s("OBJECT", e.object, "Name of the observed object")
	b.s("VIGNETTE", e.vignette, "Instrument blocked from the sky")
	b.s("VIGN_MIN", e.vignette, "Instrument blocked from the sky (minimum)")
	b.s("TESTTYPE", e.imgType, "BIAS, DARK, FLAT, OBJECT")
	b.s("CAMCODE", p.camCode, "The \"code\" for AuxTel | ComCam | Main Camera")
	b.s("CONTRLLR", "O", "The controller (e.g. O for OCS, C for CCS)")
	b.s("DAYOBS", e.dayObs, "The observation day as defined in the image name")
	b.i("SEQNUM", e.seq, "The sequence number from the image name")
	b.s("PROGRAM", e.program, "Name of the program")
	b.s("REASON", e.reason, "Reason for the observation")
	b.i("CURINDEX", e.curIndex, "Index number for the image within the sequence")
	b.i("MAXINDEX", e.maxIndex, "Number of images in the sequence")
	b.any("TSTAND", p.tstand, "Camera test stand")
	b.s("IMAGETAG", e.imageTag, "DAQ Image id (Hex)")
	b.s("OBSANNOT", "", "Observation annotation")
	b.camera(p, d)
	b.s("FILTBAND", e.filter.band, "Filter band")
	b.s("FILTER", e.filter.name, "Name of the filter")
	b.any("FILTPOS", e.filter.pos, "Filter position")
	b.i("FILTSLOT", e.filter.slot, "Filter slot")
	b.exposureTimes(e)
	b.weather(e)
	b.i("HEADVER", 2, "Version number of header")
	b.s("FILENAME", filename, "Original file name")
	if p.instrument == LSSTComCam {
		for _, csc := range []string{"MTMOUNT", "MTM1M3", "MTM2", "CAMHEXAPOD", "M2HEXAPOD", "MTROTATOR", "MTDOME", "MTDOMETRAJECTORY"} {
			b.i("SIMULATE "+csc, 0, "Simulation mode of the CSC")
		}
		for _, k := range []string{"MJD-OBS", "DATE-OBS", "DATE-END"} {
			b.u("SIMULATED "+k, "")
		}
	}
	b.stutter()
	return &b.h
}

// primaryLATISS follows the key set and order of the 2024 LATISS summit dump.
func primaryLATISS(p *profile, e *exposure, d *detector, filename string) *fits.Header {
	b := &builder{}
	b.t("SIMPLE", true, "conforms to FITS standard")
	b.i("BITPIX", 8, "array data type")
	b.i("NAXIS", 0, "number of array dimensions")
	b.t("EXTEND", true, "")
	b.s("CCD_MANU", d.vendor(), "CCD Manufacturer")
	b.s("CCD_TYPE", d.model(), "CCD Model Number")
	b.i("BINX", 1, "[pixels] binning along X axis")
	b.i("BINY", 1, "[pixels] binning along Y axis")
	b.f("CCDGAIN", 1.0, "Rough guess at overall system gain (e-/DNB)")
	b.f("CCDNOISE", 10.0, "Rough guess at system noise (e- rms)")
	cam := &builder{}
	cam.camera(p, d)
	b.h.Add(cam.h.Cards[2:]...) // CCD_MANU and CCD_TYPE come first on LATISS
	b.stutter()
	b.any("FILTPOS", e.filter.pos, "Filter position")
	b.f("CCDTEMP", -101.019, "Measured temperature of the CCD (deg C)")
	b.h.Add(fits.CommentCard("---- Checksums ----"))
	b.dates(e)
	b.s("GROUPID", e.groupID, "The group ID of the exposure")
	b.s("BUNIT", "adu", "Brightness units for pixel array")
	b.s("TIMESYS", "TAI", "The time scale used")
	b.s("INSTRUME", p.instrume, "Instrument")
	b.s("TELESCOP", p.telescop, "Telescope")
	b.site(p)
	b.s("FACILITY", "Vera C. Rubin Observatory", "Facility name")
	b.pointingStart(e)
	// The summit writes these four with an extra A and leaves them undefined.
	for _, k := range []string{"AHAEND", "AELEND", "AAZEND", "AAMEND"} {
		b.u(k, "")
	}
	science := e.imgType == typeObject
	if science {
		b.s("TRACKSYS", e.trackSys, "Tracking coordinate system")
		b.s("RADESYS", "ICRS", "Equatorial coordinate system")
	} else {
		b.u("TRACKSYS", "Tracking coordinate system")
		b.u("RADESYS", "Equatorial coordinate system")
	}
	b.f("FOCUSZ", e.focusZ, "[mm] Focus Z position")
	b.s("OBJECT", e.object, "Name of the observed object")
	b.i("INSTPORT", 2, "Instrument port")
	b.u("ATM3PORT", "Nasmyth port of M3")
	b.f("DOMEAZ", math.Round(e.azStart*100)/100, "Dome azimuth")
	shutter := 0.0
	if science {
		shutter = 100.0
	}
	b.f("SHUTLOWR", shutter, "Dome lower shutter position (%)")
	b.f("SHUTUPPR", shutter, "Dome upper shutter position (%)")
	b.s("VIGNETTE", e.vignette, "Instrument blocked from the sky")
	b.s("VIGN_MIN", e.vignette, "Instrument blocked from the sky (minimum)")
	b.wcs(e, science)
	b.s("TESTTYPE", e.imgType, "BIAS, DARK, FLAT, OBJECT")
	b.s("CAMCODE", p.camCode, "The \"code\" for AuxTel | ComCam | Main Camera")
	b.s("CONTRLLR", "O", "The controller (e.g. O for OCS, C for CCS)")
	b.s("DAYOBS", e.dayObs, "The observation day as defined in the image name")
	b.i("SEQNUM", e.seq, "The sequence number from the image name")
	b.s("PROGRAM", e.program, "Name of the program")
	b.s("REASON", e.reason, "Reason for the observation")
	b.i("CURINDEX", e.curIndex, "Index number for the image within the sequence")
	b.i("MAXINDEX", e.maxIndex, "Number of images in the sequence")
	b.any("TSTAND", p.tstand, "Camera test stand")
	b.s("IMAGETAG", e.imageTag, "DAQ Image id (Hex)")
	b.s("OBSANNOT", "", "Observation annotation")
	b.f("TEMP_SET", -104.15, "Temperature set point (deg C)")
	b.s("GRATING", "empty_1", "Name of the disperser")
	b.s("GRATBAND", "EMPTY", "Disperser band")
	b.i("GRATSLOT", 0, "Disperser slot")
	b.f("LINSPOS", 67.0, "Linear stage position")
	b.s("FILTBAND", e.filter.band, "Filter band")
	b.s("FILTER", e.filter.name, "Name of the filter")
	b.i("FILTSLOT", e.filter.slot, "Filter slot")
	b.exposureTimes(e)
	b.weather(e)
	b.s("FILENAME", filename, "Original file name")
	b.i("HEADVER", 2, "Version number of header")
	b.u("SIMULATE ATMCS", "")
	b.i("SIMULATE ATHEXAPOD", 0, "")
	b.u("SIMULATE ATPNEUMATICS", "")
	b.i("SIMULATE ATDOME", 0, "")
	b.i("SIMULATE ATSPECTROGRAPH", 0, "")
	return &b.h
}

// wcs appends the LATISS primary TAN WCS; it is undefined when not tracking.
func (b *builder) wcs(e *exposure, science bool) {
	keys := []string{"WCSAXES", "CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2", "CRVAL1", "CRVAL2",
		"CRPIX1", "CRPIX2", "CD1_1", "CD1_2", "CD2_1", "CD2_2", "EQUINOX"}
	if !science {
		for _, k := range keys {
			b.u(k, "")
		}
		return
	}
	scale := 0.0957 / 3600 // LATISS pixel scale, degrees
	c, s := math.Cos(e.rotPA*deg), math.Sin(e.rotPA*deg)
	b.i("WCSAXES", 2, "")
	b.s("CTYPE1", "RA---TAN", "")
	b.s("CTYPE2", "DEC--TAN", "")
	b.s("CUNIT1", "deg", "")
	b.s("CUNIT2", "deg", "")
	b.f("CRVAL1", e.raStart, "")
	b.f("CRVAL2", e.decStart, "")
	b.f("CRPIX1", 2036.5, "")
	b.f("CRPIX2", 2000.5, "")
	b.f("CD1_1", -scale*c, "")
	b.f("CD1_2", scale*s, "")
	b.f("CD2_1", scale*s, "")
	b.f("CD2_2", scale*c, "")
	b.f("EQUINOX", 2000.0, "")
}

// ampNames lists the amplifier EXTNAMEs in HDU order.
func ampNames(n int) []string {
	names := []string{"Segment10", "Segment11", "Segment12", "Segment13", "Segment14", "Segment15", "Segment16", "Segment17",
		"Segment07", "Segment06", "Segment05", "Segment04", "Segment03", "Segment02", "Segment01", "Segment00"}
	return names[:n]
}

// ampHeader is an uncompressed int32 amplifier HDU. The geometry keywords describe
// the real 576 × 2048 amplifier (instruments_and_ingest.md §3.3) even though the
// pixel array is a small placeholder.
func ampHeader(d *detector, index int, name string, side int) *fits.Header {
	w, h, s := 509, 2000, 4 // ITL: data width and height, first data column
	datasec, detsize := "[4:512,1:2000]", "[1:4072,1:4000]"
	if d.vendor() == "E2V" {
		w, h, s = 512, 2002, 11
		datasec, detsize = "[11:522,1:2002]", "[1:4096,1:4004]"
	}
	if d.ccdType == "ITL_WF" {
		detsize = "[1:4072,1:2000]"
	}
	x := int(name[len(name)-1] - '0')
	var detsec string
	var dtv1, dtv2 int64
	var dtm11, dtm22 float64
	switch {
	case strings.HasPrefix(name, "Segment1"):
		detsec = fmt.Sprintf("[%d:%d,1:%d]", (x+1)*w, x*w+1, h)
		dtv1, dtv2, dtm11, dtm22 = int64((x+1)*w+s), 0, -1, 1
	case d.vendor() == "E2V":
		detsec = fmt.Sprintf("[%d:%d,%d:%d]", x*w+1, (x+1)*w, 2*h, h+1)
		dtv1, dtv2, dtm11, dtm22 = int64(x*w-(s-1)), int64(2*h+1), 1, -1
	default:
		detsec = fmt.Sprintf("[%d:%d,%d:%d]", (x+1)*w, x*w+1, 2*h, h+1)
		dtv1, dtv2, dtm11, dtm22 = int64((x+1)*w+s), int64(2*h+1), -1, -1
	}
	b := &builder{}
	b.s("XTENSION", "IMAGE", "image extension")
	b.i("BITPIX", 32, "array data type")
	b.i("NAXIS", 2, "number of array dimensions")
	b.i("NAXIS1", int64(side), "")
	b.i("NAXIS2", int64(side), "")
	b.i("PCOUNT", 0, "number of parameters")
	b.i("GCOUNT", 1, "number of groups")
	b.i("CHANNEL", int64(index+1), "")
	b.s("EXTNAME", name, "")
	b.s("CCDSUM", "1 1", "")
	b.s("DATASEC", datasec, "")
	b.s("DETSEC", detsec, "")
	b.s("DETSIZE", detsize, "")
	b.i("DTV1", dtv1, "detector transformation vector")
	b.i("DTV2", dtv2, "detector transformation vector")
	b.f("DTM1_1", dtm11, "detector transformation matrix")
	b.f("DTM2_2", dtm22, "detector transformation matrix")
	b.f("DTM1_2", 0, "detector transformation matrix")
	b.f("DTM2_1", 0, "detector transformation matrix")
	b.f("BSCALE", 1, "")
	b.f("BZERO", 0, "")
	b.t("INHERIT", true, "")
	return &b.h
}

// condHeaders are the two empty tables the camera appends: REB electronics
// conditions and the configuration checksums.
func condHeaders(p *profile, e *exposure, d *detector) []*fits.Header {
	table := func(name string) *builder {
		b := &builder{}
		b.s("XTENSION", "BINTABLE", "marks beginning of new HDU")
		b.i("BITPIX", 8, "bits per data value")
		b.i("NAXIS", 2, "number of axes")
		b.i("NAXIS1", 0, "size of the n'th axis")
		b.i("NAXIS2", 0, "size of the n'th axis")
		b.i("PCOUNT", 0, "Required value")
		b.i("GCOUNT", 1, "Required value")
		b.i("TFIELDS", 0, "Number of table fields")
		b.s("EXTNAME", name, "Name of the extension")
		return b
	}
	reb := table("REB_COND")
	for i := 1; i <= 10; i++ {
		reb.f(fmt.Sprintf("TEMP%d", i), float64(hash(d.raft, d.slot, fmt.Sprint(i))%400)/16-10, fmt.Sprintf("REB Board temperature %d", i))
	}
	reb.f("CCDTEMP", -100+float64(hash(e.obsID, d.Name)%100)/100, "CCD temperature")
	reb.s("HVBIAS", "ON", "REB HVBias Switch state")
	cfg := table("CONFIG_COND")
	for _, k := range []string{"FPDAQCS", "FPHIDCS", "FPINSCS", "FPSEQCS"} {
		cfg.s(k, fmt.Sprint(hash(p.instrument, k)), "Focal Plane configuration checksum")
	}
	return []*fits.Header{&reb.h, &cfg.h}
}
