package exportfile_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/exportfile"
)

// FuzzRead: any export document is read or refused with an error; never a panic.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"base.yaml", "datasets.yaml", "ci_hsc-subset-skymap.yaml", "hsc-rc2-subset-v0.yaml"} {
		if data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "corpus", "daf_butler", "exports", name)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("description: x\nversion: 1.0.2\ndata:\n- type: associations\n  collection: c\n  collection_type: CALIBRATION\n  validity_ranges:\n  - timespan: !lsst.daf.butler.Timespan {begin: null, end: !butler_time/tai/iso '2020-01-01 00:00:00'}\n    dataset_ids: [!uuid '00000000-0000-0000-0000-000000000001', 3]\n"))
	u := dimensions.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		bun, _, err := exportfile.Read(bytes.NewReader(data), u, exportfile.ReadOptions{})
		if err == nil && bun == nil {
			t.Fatal("no bundle and no error")
		}
	})
}
