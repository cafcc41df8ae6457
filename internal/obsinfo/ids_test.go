package obsinfo

import (
	"testing"
	"time"
)

func TestExposureID(t *testing.T) {
	// obs_lsst test_compute_exposure_id
	tests := []struct {
		dayObs     string
		seq        int64
		controller string
		want       int64
	}{
		{"20240318", 43, "", 2024031800043},
		{"2024-03-18", 42, "O", 2024031800042},
		{"20240318", 1, "H", 4024031800001},
		{"20231004", 1, "C", 3023100400001}, // before CCS and OCS counters were unified
		{"2025-04-17", 101, "P", 5025041700101},
		{"20250417", 42, "Q", 6025041700042},
		{"20250417", 42, "S", 7025041700042},
		{"20250418", 43, "", 2025041800043},
		{"2023-10-05", 1, "C", 2023100500001},
		{"2025-04-18", 101, "P", 2025041800101},
		{"20250418", 42, "Q", 2025041800042},
		{"20250418", 42, "S", 2025041800042},
		{"2024-03-18T12:00:00", 7, "O", 2024031800007},
	}
	for _, tt := range tests {
		got, err := ExposureID(tt.dayObs, tt.seq, tt.controller)
		if err != nil || got != tt.want {
			t.Errorf("ExposureID(%q, %d, %q) = %d, %v, want %d", tt.dayObs, tt.seq, tt.controller, got, err, tt.want)
		}
		day, seq, _, err := UnpackExposureID(got)
		if err != nil || seq != tt.seq || day/10000 < 2000 {
			t.Errorf("UnpackExposureID(%d) = %d, %d, %v", got, day, seq, err)
		}
	}
	for _, bad := range []struct {
		dayObs     string
		seq        int64
		controller string
	}{{"2024031", 1, ""}, {"20240318", 100000, ""}, {"20240318", 1, "X"}, {"2024031x", 1, ""}} {
		if got, err := ExposureID(bad.dayObs, bad.seq, bad.controller); err == nil {
			t.Errorf("ExposureID(%q, %d, %q) = %d, want an error", bad.dayObs, bad.seq, bad.controller, got)
		}
	}
}

func TestDetectorExposureID(t *testing.T) {
	// check values from the reference notes (obs_lsst's packer)
	tests := []struct {
		exposure, detector, want int64
	}{
		{2026031500051, 1, 0xb8e803301},
		{3019031900001, 29, 0x269200011d},
		{2024110800266, 0, 45508266496},
		{3018092000065, 0, 0x2638004100},
		{2025112100156, 203, 0xb55809ccb},
		{7024032100720, 94, 730756993118},
	}
	for _, tt := range tests {
		got, err := DetectorExposureID(tt.exposure, tt.detector)
		if err != nil || got != tt.want {
			t.Errorf("DetectorExposureID(%d, %d) = %d, %v, want %d", tt.exposure, tt.detector, got, err, tt.want)
		}
	}
	for _, bad := range [][2]int64{{2026031500051, 256}, {2026031540000, 1}, {2009123100001, 1}, {9026031500051, 1}} {
		if got, err := DetectorExposureID(bad[0], bad[1]); err == nil {
			t.Errorf("DetectorExposureID(%d, %d) = %d, want an error", bad[0], bad[1], got)
		}
	}
}

func TestVisitIDFromGroup(t *testing.T) {
	tests := []struct {
		group string
		want  int64
	}{
		{"3019031900001", 3019031900001},
		{"2026-03-15T22:50:34.110", 3535446341100000},
		{"2025-04-16T07:03:14.565#1", 3247165945650001},
		{"2020-03-29T16:55:00.012#24", 1654305000120024},
		{"2024-06-25T01:26:31.895+1", 2992083918950001},
		{"TEST01", 1123819875881954006},
		{"test", 4702443654717948604},
		{"bias_0027_0100", 3575576933793566714},
		{"dark_0002_0005", 6861884254113212214},
		{"wave,Focus,455,32.0PH=5um", 1892608703001301325},
	}
	for _, tt := range tests {
		got, err := VisitIDFromGroup(tt.group)
		if err != nil || got != tt.want {
			t.Errorf("VisitIDFromGroup(%q) = %d, %v, want %d", tt.group, got, err, tt.want)
		}
	}
	if _, err := VisitIDFromGroup("é"); err == nil {
		t.Error("non-ASCII group hashed without error")
	}
}

func TestPacificOffset(t *testing.T) {
	tests := []struct {
		utc  string
		want int64
	}{
		{"2019-03-19T15:50:28Z", 7 * 3600}, // DST since 2019-03-10
		{"2019-03-10T09:59:59Z", 8 * 3600},
		{"2019-03-10T10:00:00Z", 7 * 3600},
		{"2023-11-05T08:59:59Z", 7 * 3600},
		{"2023-11-05T09:00:00Z", 8 * 3600},
		{"2023-11-07T20:00:00Z", 8 * 3600},
		{"2010-02-17T02:14:33Z", 8 * 3600},
		{"2006-04-01T12:00:00Z", 8 * 3600}, // pre-2007 rules: first Sunday of April
		{"2006-04-03T12:00:00Z", 7 * 3600},
		{"2006-10-30T12:00:00Z", 8 * 3600}, // last Sunday of October
	}
	for _, tt := range tests {
		ts, _ := time.Parse(time.RFC3339, tt.utc)
		if got := pacificOffset(ts); got != tt.want {
			t.Errorf("pacificOffset(%s) = %d, want %d", tt.utc, got, tt.want)
		}
	}
}

func TestMJDToNs(t *testing.T) {
	// begin times the Python butler stored for MJD-OBS values of corpus raws
	tests := []struct {
		mjd  float64
		want int64
	}{
		{58561.66004797444, 1553010628144991398},
		{58382.25854409719, 1537510338209997118},
		{60390.329388276514, 1711007659147090791},
	}
	for _, tt := range tests {
		got, err := mjdToNs(tt.mjd, "tai")
		if err != nil || got != tt.want {
			t.Errorf("mjdToNs(%v) = %d, %v, want %d", tt.mjd, got, err, tt.want)
		}
	}
}

func TestWrap180(t *testing.T) {
	tests := map[float64]float64{0: 0, 179.5: 179.5, 180: -180, -180: -180, 190: -170, -190: 170, 540: -180, -318.6: 41.4}
	for in, want := range tests {
		if got := wrap180(in); got < want-1e-9 || got > want+1e-9 {
			t.Errorf("wrap180(%v) = %v, want %v", in, got, want)
		}
	}
}
