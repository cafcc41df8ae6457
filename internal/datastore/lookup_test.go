package datastore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gobutler/butler/errs"
)

func TestLookupKeys(t *testing.T) {
	tests := []struct {
		name                                                string
		instrument, datasetType, parent, dims, sc, parentSC string
		want                                                []string
	}{
		{"raw", "LSSTCam", "raw", "raw", "instrument+detector+exposure", "Exposure", "",
			[]string{
				"instrument<LSSTCam>/raw", "instrument<LSSTCam>/instrument+detector+exposure", "instrument<LSSTCam>/Exposure",
				"raw", "instrument+detector+exposure", "Exposure", "default",
			}},
		{"component", "HSC", "calexp.wcs", "calexp", "instrument+visit+detector", "Wcs", "ExposureF",
			[]string{
				"instrument<HSC>/calexp.wcs", "instrument<HSC>/calexp", "instrument<HSC>/instrument+visit+detector",
				"instrument<HSC>/Wcs", "instrument<HSC>/ExposureF",
				"calexp.wcs", "calexp", "instrument+visit+detector", "Wcs", "ExposureF", "default",
			}},
		{"no instrument", "", "skyMap", "", "skymap", "SkyMap", "",
			[]string{"skyMap", "skymap+", "SkyMap", "default"}},
		{"single dimension", "LATISS", "camera", "camera", "instrument", "Camera", "",
			[]string{"instrument<LATISS>/camera", "instrument<LATISS>/instrument+", "instrument<LATISS>/Camera", "camera", "instrument+", "Camera", "default"}},
		{"no dimensions", "", "packages", "", "", "Packages", "",
			[]string{"packages", "Packages", "default"}},
		{"parent storage class ignored for non-components", "", "calexp", "calexp", "visit+detector", "ExposureF", "Exposure",
			[]string{"calexp", "visit+detector", "ExposureF", "default"}},
		{"same name twice", "", "Exposure", "", "", "Exposure", "",
			[]string{"Exposure", "default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LookupKeys(tt.instrument, tt.datasetType, tt.parent, tt.dims, tt.sc, tt.parentSC)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("LookupKeys differs (-want +got):\n%s", d)
			}
		})
	}
}

// TestLookupKeys_Priority replays daf_butler's tests/config/templates/templates-nodefault.yaml
// cases (test_templates.py testSimpleConfig): the first key present wins.
func TestLookupKeys_Priority(t *testing.T) {
	config := map[string]string{
		"calexp":                     "calexp",
		"calexp.wcs":                 "calexp.wcs",
		"StorageClassX":              "StorageClassX",
		"pvi":                        "pvi",
		"instrument+physical_filter": "dims",
		"instrument<HSC>/pvi":        "hsc pvi",
		"instrument<HSC>/instrument+physical_filter": "hsc dims",
	}
	find := func(keys []string) string {
		for _, k := range keys {
			if v, ok := config[k]; ok {
				return v
			}
		}
		return "(none)"
	}
	tests := []struct {
		name, instrument, datasetType, parent, dims, sc string
		want                                            string
	}{
		{"by name", "dummy", "calexp", "", "instrument+visit+physical_filter", "DefaultStorageClass", "calexp"},
		{"component by name", "dummy", "calexp.wcs", "calexp", "instrument+visit", "Wcs", "calexp.wcs"},
		{"component by parent", "dummy", "calexp.image", "calexp", "instrument+visit", "Image", "calexp"},
		{"no default", "dummy", "unknown", "", "instrument+visit", "DefaultStorageClass", "(none)"},
		{"by storage class", "dummy", "unknown2", "", "instrument+visit", "StorageClassX", "StorageClassX"},
		{"dimensions before storage class", "LSST", "nomatch", "", "instrument+physical_filter", "StorageClassX", "dims"},
		{"instrument override", "HSC", "pvi", "", "instrument+physical_filter", "X", "hsc pvi"},
		{"other instrument", "LSST", "pvi", "", "instrument+physical_filter", "X", "pvi"},
		{"instrument dims before plain name", "HSC", "pvix", "", "instrument+physical_filter", "StorageClassX", "hsc dims"},
	}
	for _, tt := range tests {
		if got := find(LookupKeys(tt.instrument, tt.datasetType, tt.parent, tt.dims, tt.sc, "")); got != tt.want {
			t.Errorf("%s: template = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// rawUniverse stands in for the dimension universe: it knows which dimension implies which,
// enough to reduce a group to its required dimensions in universe order.
func rawUniverse(dims []string) (string, error) {
	order := []string{"instrument", "band", "day_obs", "group", "physical_filter", "detector", "exposure", "visit"}
	impliedBy := map[string][]string{"exposure": {"physical_filter", "day_obs", "group"}, "physical_filter": {"band"}}
	set := map[string]bool{}
	for _, d := range dims {
		if !slices.Contains(order, d) {
			return "", fmt.Errorf("dimension %q: %w", d, errs.ErrNotFound)
		}
		set[d] = true
		if d != "instrument" {
			set["instrument"] = true
		}
	}
	implied := map[string]bool{}
	for d := range set {
		for _, i := range impliedBy[d] {
			implied[i] = true
		}
	}
	var req []string
	for _, d := range order {
		if set[d] && !implied[d] {
			req = append(req, d)
		}
	}
	return strings.Join(req, "+"), nil
}

func TestCanonicalKeys(t *testing.T) {
	in := map[string]string{
		"default":                           "d",
		"physical_filter+detector+exposure": "raw-style",
		"instrument<HSC>/detector+visit":    "hsc",
		"instrument+":                       "single",
		"calexp":                            "calexp",
	}
	got, err := CanonicalKeys(in, rawUniverse)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"default":                      "d",
		"instrument+detector+exposure": "raw-style",
		"instrument<HSC>/instrument+detector+visit": "hsc",
		"instrument+": "single",
		"calexp":      "calexp",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("CanonicalKeys differs (-want +got):\n%s", d)
	}
	// The raw dataset type's own lookup keys now find the raw-style template.
	keys := LookupKeys("LSSTCam", "raw", "", "instrument+detector+exposure", "Exposure", "")
	if i := slices.IndexFunc(keys, func(k string) bool { _, ok := got[k]; return ok }); i < 0 || got[keys[i]] != "raw-style" {
		t.Errorf("raw lookup found %v, want the raw-style template", keys)
	}
	camera := LookupKeys("LSSTCam", "camera", "", "instrument", "Camera", "")
	if i := slices.IndexFunc(camera, func(k string) bool { _, ok := got[k]; return ok }); i < 0 || got[camera[i]] != "single" {
		t.Errorf("camera lookup found %v, want the single-dimension entry", camera)
	}

	if _, err := CanonicalKeys(map[string]string{"exposure+detector": "a", "physical_filter+detector+exposure": "b"}, rawUniverse); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("two keys for one group: error = %v, want errs.ErrInvalid", err)
	}
	if _, err := CanonicalKeys(map[string]string{"nonsense+detector": "a"}, rawUniverse); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("unknown dimension: error = %v, want the canon function's error", err)
	}
}
