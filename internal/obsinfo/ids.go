package obsinfo

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
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
var groupRE = regexp.MustCompile(`^(\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d\d\d)(?:[+#](\d+))?$`)

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
	if m := groupRE.FindStringSubmatch(group); m != nil {
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
	sum := blake2b512([]byte(group))
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

// blake2b512 is BLAKE2b with a 64-byte digest and no key (RFC 7693); the
// standard library has no BLAKE2.
func blake2b512(msg []byte) [64]byte {
	iv := [8]uint64{
		0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
		0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
	}
	h := iv
	h[0] ^= 0x01010000 ^ 64 // digest length 64, no key, fanout 1, depth 1
	var t uint64
	for len(msg) > 128 {
		t += 128
		blake2bCompress(&h, msg[:128], t, false)
		msg = msg[128:]
	}
	var last [128]byte
	copy(last[:], msg)
	t += uint64(len(msg))
	blake2bCompress(&h, last[:], t, true)
	var out [64]byte
	for i, v := range h {
		binary.LittleEndian.PutUint64(out[8*i:], v)
	}
	return out
}

var blake2bSigma = [12][16]byte{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
	{11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
	{7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
	{9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
	{2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
	{12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
	{13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
	{6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
	{10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
}

func blake2bCompress(h *[8]uint64, block []byte, t uint64, final bool) {
	var m [16]uint64
	for i := range m {
		m[i] = binary.LittleEndian.Uint64(block[8*i:])
	}
	v := [16]uint64{
		h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
		0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
		0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
	}
	v[12] ^= t // message length fits in the low word for header-sized inputs
	if final {
		v[14] = ^v[14]
	}
	g := func(a, b, c, d int, x, y uint64) {
		v[a] = v[a] + v[b] + x
		v[d] = bits.RotateLeft64(v[d]^v[a], -32)
		v[c] = v[c] + v[d]
		v[b] = bits.RotateLeft64(v[b]^v[c], -24)
		v[a] = v[a] + v[b] + y
		v[d] = bits.RotateLeft64(v[d]^v[a], -16)
		v[c] = v[c] + v[d]
		v[b] = bits.RotateLeft64(v[b]^v[c], -63)
	}
	for r := 0; r < 12; r++ {
		s := &blake2bSigma[r]
		g(0, 4, 8, 12, m[s[0]], m[s[1]])
		g(1, 5, 9, 13, m[s[2]], m[s[3]])
		g(2, 6, 10, 14, m[s[4]], m[s[5]])
		g(3, 7, 11, 15, m[s[6]], m[s[7]])
		g(0, 5, 10, 15, m[s[8]], m[s[9]])
		g(1, 6, 11, 12, m[s[10]], m[s[11]])
		g(2, 7, 8, 13, m[s[12]], m[s[13]])
		g(3, 4, 9, 14, m[s[14]], m[s[15]])
	}
	for i := range h {
		h[i] ^= v[i] ^ v[i+8]
	}
}
