package rawgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Observation types, as IMGTYPE (and TESTTYPE) carry them.
const (
	typeBias   = "BIAS"
	typeDark   = "DARK"
	typeFlat   = "FLAT"
	typeObject = "OBJECT"
)

const dayObsOffset = 12 * time.Hour // observing-day rollover at 12:00 TAI (all three since 2024)

const isoMillis = "2006-01-02T15:04:05.000"

// exposure holds everything exposure-level in a primary header: all detectors of
// the exposure share it.
type exposure struct {
	imgType  string
	dayObs   string // YYYYMMDD
	seq      int64
	obsID    string
	groupID  string
	curIndex int64
	maxIndex int64

	beg, end, trg, date time.Time // header clock readings, TAI, whole milliseconds

	expTime, darkTime, shutTime float64

	filter          filterDef
	object, reason  string
	program         string
	trackSys        string
	vignette        string
	ra, dec, rotPA  float64
	raStart, raEnd  float64
	decStart        float64
	decEnd          float64
	haStart, haEnd  float64 // hours
	elStart, elEnd  float64
	azStart, azEnd  float64
	amStart, amEnd  float64
	focusZ, airTemp float64
	pressure        float64
	humidity        float64
	windSpd         float64
	windDir         float64
	imageTag        string
}

// planner produces the exposures of a run in order. All randomness comes from rng,
// in a fixed order, so a seed gives the same exposures whatever the detectors.
type planner struct {
	p   *profile
	rng *rand.Rand
	t   time.Time // earliest start of the next exposure

	day string // DAYOBS of the last exposure
	seq int64

	cycleIdx  int
	kind      string
	kindLeft  int // exposures of this kind still to come
	filter    filterDef
	groupDay  string
	groupID   string
	groupSize int64
	groupIdx  int64
	calAlt    float64 // calibrations: fixed alt/az of the group
	calAz     float64
}

func newPlanner(p *profile, start time.Time, seed int64) *planner {
	return &planner{
		p:        p,
		rng:      rand.New(rand.NewPCG(uint64(seed), uint64(hash(p.instrument)))), // instruments differ for one seed
		t:        start.UTC().Truncate(time.Millisecond),
		cycleIdx: -1,
		filter:   p.filters[0],
	}
}

func dayObs(t time.Time) string { return t.Add(-dayObsOffset).Format("20060102") }

// uniform returns a float in [lo, hi).
func (pl *planner) uniform(lo, hi float64) float64 { return lo + (hi-lo)*pl.rng.Float64() }

func (pl *planner) seconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1000)) * time.Millisecond
}

func (pl *planner) next() *exposure {
	if pl.kindLeft == 0 {
		// A "night" cycles through calibrations, then a run of science exposures.
		cycle := [...]string{typeBias, typeDark, typeFlat, typeObject}
		pl.cycleIdx = (pl.cycleIdx + 1) % len(cycle)
		pl.kind = cycle[pl.cycleIdx]
		switch pl.kind {
		case typeBias, typeFlat:
			pl.kindLeft = 1 + pl.rng.IntN(3)
		case typeDark:
			pl.kindLeft = 1 + pl.rng.IntN(2)
		case typeObject:
			pl.kindLeft = 3 + pl.rng.IntN(8)
		}
		if pl.kind == typeFlat || pl.kind == typeObject {
			pl.filter = pl.p.filters[pl.rng.IntN(len(pl.p.filters))]
		}
		pl.groupIdx = pl.groupSize // force a new group
	}
	if pl.groupIdx == pl.groupSize || dayObs(pl.t) != pl.groupDay {
		if gap := pl.seconds(pl.uniform(5, 30)); pl.seq > 0 { // slew or set-up between groups
			pl.t = pl.t.Add(gap)
		}
		pl.groupDay = dayObs(pl.t)
		pl.groupID = pl.t.Add(-pl.seconds(pl.uniform(1, 4))).Format(isoMillis)
		pl.groupSize, pl.groupIdx = 1, 0 // every science exposure is its own group
		if pl.kind != typeObject {
			pl.groupSize = int64(pl.kindLeft) // a calibration sequence is one group
		}
		pl.calAz = pl.uniform(0, 360)
		pl.calAlt = 80
		if pl.kind == typeFlat {
			pl.calAlt = 43.8 // facing the flat-field screen
		}
	}
	pl.kindLeft--
	pl.groupIdx++

	e := &exposure{
		imgType:  pl.kind,
		groupID:  pl.groupID,
		curIndex: pl.groupIdx,
		maxIndex: pl.groupSize,
		filter:   pl.filter,
		beg:      pl.t,
	}
	e.dayObs = dayObs(e.beg)
	if e.dayObs != pl.day {
		pl.day, pl.seq = e.dayObs, 0
	}
	pl.seq++
	e.seq = pl.seq
	e.obsID = fmt.Sprintf("%s_O_%s_%06d", pl.p.camCode, e.dayObs, e.seq)

	switch pl.kind {
	case typeBias:
		e.expTime = 0
	case typeDark:
		e.expTime = 30
	case typeFlat:
		e.expTime = math.Round(pl.uniform(1, 15)*10) / 10
	case typeObject:
		e.expTime = 30
		if pl.rng.IntN(4) == 0 {
			e.expTime = 15
		}
	}
	e.darkTime = math.Round((e.expTime+pl.p.darkExtra+pl.uniform(0, 0.005))*1e4) / 1e4
	if pl.kind == typeObject || pl.kind == typeFlat {
		e.shutTime = e.expTime + pl.uniform(0, 0.0015) // the shutter is closed for bias and dark
	}
	e.end = e.beg.Add(pl.seconds(e.darkTime))
	e.trg = e.end.Add(-9 * time.Millisecond)
	e.date = e.trg.Add(5 * time.Millisecond)
	pl.t = e.end.Add(pl.seconds(pl.p.readout + pl.uniform(0.5, 1.5)))

	pl.point(e)
	e.focusZ = math.Round(pl.uniform(-3, 3)*1e6) / 1e6
	e.airTemp = math.Round(pl.uniform(8, 14)*1e3) / 1e3
	e.pressure = math.Round(pl.uniform(73800, 74500)/10) * 10
	e.humidity = math.Round(pl.uniform(10, 60)*1e2) / 1e2
	e.windSpd = math.Round(pl.uniform(0, 12)*1e3) / 1e3
	e.windDir = math.Round(pl.uniform(0, 360)*1e3) / 1e3
	e.imageTag = fmt.Sprintf("%016x", pl.rng.Uint64())
	return e
}

// point fills the pointing: a science field above 30° tracked in RA/Dec, or, for a
// calibration, a fixed alt/az with the dome closed.
func (pl *planner) point(e *exposure) {
	p := pl.p
	if pl.kind == typeObject {
		ha := pl.uniform(-2, 2)
		e.dec = math.Round(pl.uniform(-70, 0)*1e4) / 1e4
		e.ra = math.Round(wrap(lstHours(e.beg, p.lon)*15-ha*15, 360)*1e4) / 1e4
		e.rotPA = pl.uniform(-90, 90)
		e.raStart, e.decStart = e.ra+pl.uniform(-0.001, 0.001), e.dec+pl.uniform(-0.0001, 0.0001)
		e.raEnd, e.decEnd = e.raStart+pl.uniform(0, 0.0002), e.decStart+pl.uniform(-0.00002, 0.00002)
		e.haStart, e.haEnd = hourAngle(e.beg, p.lon, e.raStart), hourAngle(e.end, p.lon, e.raEnd)
		e.elStart, e.azStart = altAz(e.beg, p.lon, p.lat, e.raStart, e.decStart)
		e.elEnd, e.azEnd = altAz(e.end, p.lon, p.lat, e.raEnd, e.decEnd)
		e.amStart, e.amEnd = airmass(e.elStart), airmass(e.elEnd)
		e.trackSys, e.vignette = "RADEC", "NO"
		e.object = fmt.Sprintf("Rubin_SV_%03d_%d", int(e.ra), int(math.Round(e.dec)))
		e.reason, e.program = p.sciReason, p.sciProgram
		return
	}
	// RA, DEC, HASTART and AMSTART are zero when not tracking, as the summit writes them.
	e.elStart, e.azStart = pl.calAlt, pl.calAz
	e.elEnd, e.azEnd = pl.calAlt, pl.calAz
	e.raStart, e.decStart = raDec(e.beg, p.lon, p.lat, e.elStart, e.azStart)
	e.raEnd, e.decEnd = raDec(e.end, p.lon, p.lat, e.elEnd, e.azEnd)
	e.rotPA = pl.uniform(-90, 90)
	e.trackSys, e.vignette = "AZEL", "FULLY"
	e.object = "azel_target"
	if pl.kind == typeFlat {
		e.object = "FlatField position"
	}
	e.reason = map[string]string{typeBias: "bias", typeDark: "dark", typeFlat: "flat"}[pl.kind]
	e.program = p.calProgram
}
