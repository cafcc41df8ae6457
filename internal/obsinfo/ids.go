package obsinfo

import (
	"encoding/hex"
	"fmt"
	"golang.org/x/crypto/blake2b"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Controller codes in exposure-id order: OCS, CCS, pHosim, and the simulated
// P (OCS), Q (CCS) and S (image) controllers. The position is the index the
// exposure id encodes.
const controllers = "OCHPQS"

// simulatedControllers write simulated data.
const simulatedControllers = "HPQS"

const (
	seqNumDigits       = 5
	controllerStep     = 10_000_000 // added to day_obs per controller index
	maxSeqNum          = 100_000
	ccsUnifiedAfter    = 20231004 // C counts as O after this day
	simUnifiedAfter    = 20250417 // P, Q and S count as O after this day
	packDetectors      = 256
	packSeqNums        = 32768
	packDays           = 16384
	packControllers    = 8
	packDayObsBeginYMD = 20100101
)

// ExposureID computes the LSST exposure id from DAYOBS (YYYYMMDD, YYYY-MM-DD
// or an ISO date-time), SEQNUM and the controller code ("" for none):
// the decimal concatenation of day_obs + 10,000,000 × controller index and the
// five-digit sequence number.
func ExposureID(dayObs string, seqNum int64, controller string) (int64, error) {
	if i := strings.IndexByte(dayObs, 'T'); i >= 0 {
		dayObs = dayObs[:i]
	}
	dayObs = strings.ReplaceAll(dayObs, "-", "")
	if len(dayObs) != 8 {
		return 0, fmt.Errorf("malformed day_obs %q", dayObs)
	}
	day, err := strconv.ParseInt(dayObs, 10, 64)
	if err != nil || day < 0 {
		return 0, fmt.Errorf("malformed day_obs %q", dayObs)
	}
	if seqNum < 0 || seqNum >= maxSeqNum {
		return 0, fmt.Errorf("sequence number %d exceeds limit", seqNum)
	}
	switch {
	case day > ccsUnifiedAfter && controller == "C":
		controller = "" // counters unified with OCS
	case day > simUnifiedAfter && (controller == "P" || controller == "Q" || controller == "S"):
		controller = ""
	}
	if controller != "" {
		idx := strings.Index(controllers, controller)
		if idx < 0 || len(controller) != 1 {
			return 0, fmt.Errorf("controller %q is not one of %s", controller, controllers)
		}
		day += controllerStep * int64(idx)
	}
	return day*maxSeqNum + seqNum, nil
}

// UnpackExposureID splits an exposure id into day_obs, sequence number and
// controller code ("O" also for ids made without a controller).
func UnpackExposureID(id int64) (dayObs, seqNum int64, controller string, err error) {
	d, s := id/maxSeqNum, id%maxSeqNum
	idx := d/controllerStep - 2
	if idx < 0 || idx >= int64(len(controllers)) {
		return 0, 0, "", fmt.Errorf("exposure id %d does not encode a known controller", id)
	}
	return d - idx*controllerStep, s, controllers[idx : idx+1], nil
}

// DetectorExposureID packs an exposure id and detector number the way obs_lsst's
// Rubin dimension packer does with all controllers enabled:
// det + 256·(seq + 32768·(days since 2010-01-01 + 16384·controller index)).
func DetectorExposureID(exposureID, detector int64) (int64, error) {
	dayObs, seq, ctrl, err := UnpackExposureID(exposureID)
	if err != nil {
		return 0, err
	}
	days, err := daysSince(dayObs, packDayObsBeginYMD)
	if err != nil {
		return 0, err
	}
	switch {
	case days < 0 || days > packDays:
		return 0, fmt.Errorf("day_obs %d is outside the packable range", dayObs)
	case seq >= packSeqNums:
		return 0, fmt.Errorf("seq_num %d is out of bounds; must be < %d", seq, packSeqNums)
	case detector < 0 || detector >= packDetectors:
		return 0, fmt.Errorf("detector %d is out of bounds; must be < %d", detector, packDetectors)
	}
	idx := int64(strings.Index(controllers, ctrl))
	return detector + packDetectors*(seq+packSeqNums*(days+packDays*idx)), nil
}

func daysSince(ymd, baseYMD int64) (int64, error) {
	t, err := ymdDate(ymd)
	if err != nil {
		return 0, err
	}
	base, _ := ymdDate(baseYMD)
	return int64(t.Sub(base) / (24 * time.Hour)), nil
}

func ymdDate(ymd int64) (time.Time, error) {
	y, m, d := int(ymd/10000), int(ymd/100%100), int(ymd%100)
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if m < 1 || m > 12 || t.Day() != d {
		return time.Time{}, fmt.Errorf("day_obs %d is not a calendar date", ymd)
	}
	return t, nil
}

// groupRE matches a GROUPID of the form YYYY-MM-DDTHH:MM:SS.fff with an
// optional +N or #N counter.
var groupRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d\d\d)(?:[+#](\d+))?$`)
})

// groupEpoch is 2015-01-01T00:00:00; visit ids count seconds from it.
var groupEpoch = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// VisitIDFromGroup derives the integer visit id of an exposure group as the
// LSST translators do: an integer group is itself; a date-like group becomes
// <seconds since 2015-01-01><3-digit fraction><4-digit counter>; anything
// else is hashed (BLAKE2b, first 14 hex digits, then the length as 2 digits).
func VisitIDFromGroup(group string) (int64, error) {
	if i, ok := pyInt(group); ok {
		return i, nil
	}
	if m := groupRE().FindStringSubmatch(group); m != nil {
		t, err := time.Parse("2006-01-02T15:04:05", m[1])
		if err != nil {
			return 0, fmt.Errorf("group %q: %w", group, err)
		}
		n := int64(0)
		if m[3] != "" {
			if n, err = strconv.ParseInt(m[3], 10, 64); err != nil {
				return 0, fmt.Errorf("group %q: %w", group, err)
			}
		}
		epoch := int64(t.Sub(groupEpoch) / time.Second)
		return parseDecimal(fmt.Sprintf("%d%s%04d", epoch, m[2], n), group)
	}
	for i := 0; i < len(group); i++ {
		if group[i] >= 0x80 {
			return 0, fmt.Errorf("group %q is not ASCII", group)
		}
	}
	sum := blake2b.Sum512([]byte(group))
	digest := hex.EncodeToString(sum[:])[:14]
	v, err := strconv.ParseInt(digest, 16, 64)
	if err != nil {
		return 0, err
	}
	return parseDecimal(fmt.Sprintf("%d%02d", v, len(group)), group)
}

func parseDecimal(s, group string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("visit id for group %q does not fit in 64 bits", group)
	}
	return v, nil
}

// pyInt parses a string the way Python's int() does (surrounding spaces, a
// sign and single underscores between digits allowed).
func pyInt(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || body == "" || body[0] == '_' || body[len(body)-1] == '_' || strings.Contains(body, "__") {
		return 0, false
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	return i, err == nil
}
