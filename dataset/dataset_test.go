package dataset

import (
	"strings"
	"testing"

	"github.com/gobutler/butler/dimensions"
)

func TestNewID_Deterministic(t *testing.T) {
	// The corpus registries' raw IDs follow this rule (corpus README, EXPECTED files).
	id, err := NewID(DataIDTypeRun, "raw", "LSSTCam/raw/all", dimensions.DataID{"instrument": "LSSTCam", "detector": int64(29), "exposure": int64(3019031900001)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(id.String(), "-", ""); got != "7bb5ebb22bd9536490695f545397e1cc" {
		t.Errorf("raw ID = %s, want the corpus registry's 7bb5ebb22bd9536490695f545397e1cc", got)
	}
	if id.Version() != 5 {
		t.Errorf("version = %d, want 5", id.Version())
	}
	id2, _ := NewID(DataIDType, "raw", "other", dimensions.DataID{"instrument": "LSSTCam", "detector": int64(29), "exposure": int64(3019031900001)})
	id3, _ := NewID(DataIDType, "raw", "again", dimensions.DataID{"instrument": "LSSTCam", "detector": int64(29), "exposure": int64(3019031900001)})
	if id2 != id3 || id2 == id {
		t.Errorf("DATAID_TYPE ids %s %s should be equal and differ from %s", id2, id3, id)
	}
	u, _ := NewID(Unique, "raw", "r", nil)
	if u.Version() != 7 {
		t.Errorf("unique version = %d, want 7", u.Version())
	}
}

func TestValidateTypeName(t *testing.T) {
	for name, ok := range map[string]bool{"raw": true, "calexp.wcs": true, "_x1": true, "1x": false, "a-b": false, "": false, "a..b": false} {
		if err := ValidateTypeName(name); (err == nil) != ok {
			t.Errorf("ValidateTypeName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
