package server

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
)

// reflectJSON is what encoding/json writes for v (no HTML escaping): the
// bytes the direct encoders (object, datasetRefJSON) must reproduce.
func reflectJSON(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// TestDirectEncoding: objects, refs and pages of refs encoded directly are
// byte for byte what encoding/json writes, escapes and nulls included.
func TestDirectEncoding(t *testing.T) {
	parent := "Exposure"
	comp := "wcs"
	ref := datasetRefJSON{
		ID:          uuid.MustParse("0e6c0a8f-1d3b-4a5e-9c1d-2f3a4b5c6d7e"),
		DatasetType: datasetTypeJSON{Name: "raw", StorageClass: "Exposure", Dimensions: []string{"instrument", "detector", "exposure"}},
		DataID:      dataCoordinateJSON{DataID: object{{"instrument", "LSSTCam"}, {"detector", int64(42)}, {"exposure", 2025010100001}, {"band", "<r>"}}},
		Run:         "LSSTCam/raw/all",
	}
	odd := datasetRefJSON{
		DatasetType: datasetTypeJSON{Name: "calexp.wcs", StorageClass: "Wcs", Dimensions: []string{}, ParentStorageClass: &parent, IsCalibration: true},
		DataID: dataCoordinateJSON{DataID: object{{"name", "tab\there \"quoted\" \\ é ✓ \u2028"}, {"f", 1.5e-7}, {"ok", true}, {"none", nil}},
			Records: object{{"visit", object{{"definition", "visit"}, {"record", object{{"id", 7}, {"region", []byte{1, 2}}}}}}}},
		Run:       "u/<me>/&run",
		Component: &comp,
	}
	for name, v := range map[string]any{
		"ref":   ref,
		"odd":   odd,
		"page":  object{{"type", "dataset_ref"}, {"rows", []datasetRefJSON{ref, odd}}},
		"empty": object{{"rows", []datasetRefJSON{}}, {"any", []any{}}, {"nilrows", []datasetRefJSON(nil)}, {"nilany", []any(nil)}},
		"mixed": object{{"type", "data_coordinate"}, {"rows", []any{object{{"a", 1}}, ref, "s", 3.25, nil}}},
		"dims":  datasetRefJSON{DatasetType: datasetTypeJSON{Name: "x"}},
	} {
		got, err := marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := reflectJSON(t, v); string(got) != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}
