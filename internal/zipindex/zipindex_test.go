package zipindex_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/zipindex"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name, json string
		want       error
		dims       []string
	}{
		{"list dimensions", `{"index_version":"V1","refs":{"container_version":"V1","dataset_types":{"raw":{"dimensions":["instrument","detector"]}}}}`, nil, []string{"instrument", "detector"}},
		{"names form", `{"index_version":"V1","refs":{"container_version":"V1","dataset_types":{"raw":{"dimensions":{"names":["instrument"]}}}}}`, nil, []string{"instrument"}},
		{"index version", `{"index_version":"V2","refs":{"container_version":"V1"}}`, errs.ErrUnsupported, nil},
		{"container version", `{"index_version":"V1","refs":{"container_version":"V9"}}`, errs.ErrUnsupported, nil},
		{"not json", `{"index_version":`, errs.ErrInvalid, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idx, err := zipindex.Read(strings.NewReader(tc.json), "x.zip")
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), zipindex.Name) || !strings.Contains(err.Error(), "x.zip") {
					t.Fatalf("err = %v, want %v naming the index and the zip", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := idx.Refs.DatasetTypes["raw"].Dimensions; strings.Join(got, ",") != strings.Join(tc.dims, ",") {
				t.Errorf("dimensions = %v, want %v", got, tc.dims)
			}
		})
	}
}

func TestFileNameIgnoresOrder(t *testing.T) {
	a := zipindex.FileName([]string{"b.fits", "a.fits"})
	b := zipindex.FileName([]string{"a.fits", "b.fits"})
	if a != b || !strings.HasSuffix(a, ".zip") || len(a) != 36+4 {
		t.Errorf("FileName = %q and %q, want one uuid + .zip", a, b)
	}
}
