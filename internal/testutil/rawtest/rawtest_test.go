package rawtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/fits"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		inst      string
		exposures int
		dets      int
		wantFiles int
		wantDets  []string // RAFTBAY_CCDSLOT of the first exposure
	}{
		{LSSTCam, 2, 3, 6, []string{"R01_S00", "R14_S00", "R31_S00"}},
		{LSSTCam, 1, 0, 4, []string{"R01_S01", "R10_S02", "R22_S11", "R22_S12"}},
		{LSSTComCam, 2, 9, 18, []string{"R22_S00", "R22_S01", "R22_S02", "R22_S10", "R22_S11", "R22_S12", "R22_S20", "R22_S21", "R22_S22"}},
		{LATISS, 3, 1, 3, []string{"R00_S00"}},
	}
	for _, tt := range tests {
		t.Run(tt.inst, func(t *testing.T) {
			dir := t.TempDir()
			paths := Write(t, dir, tt.inst, tt.exposures, tt.dets)
			if len(paths) != tt.wantFiles {
				t.Fatalf("Write = %d paths, want %d", len(paths), tt.wantFiles)
			}
			var dets []string
			for i, p := range paths {
				if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
					t.Errorf("%s is not under %s", p, dir)
				}
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				st, _ := f.Stat()
				hdrs, err := fits.ReadHeaders(f, st.Size(), 1)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				if i < len(tt.wantDets) {
					r, _ := hdrs[0].String("RAFTBAY")
					s, _ := hdrs[0].String("CCDSLOT")
					dets = append(dets, r+"_"+s)
				}
			}
			if !slices.Equal(dets, tt.wantDets) {
				t.Errorf("detectors %v, want %v", dets, tt.wantDets)
			}
			again := Write(t, t.TempDir(), tt.inst, tt.exposures, tt.dets)
			for i := range paths {
				a, _ := os.ReadFile(paths[i])
				b, _ := os.ReadFile(again[i])
				if filepath.Base(paths[i]) != filepath.Base(again[i]) || string(a) != string(b) {
					t.Fatalf("second Write differs at %s", filepath.Base(paths[i]))
				}
			}
		})
	}
}
