package config

import (
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaults_Packaged(t *testing.T) {
	t.Setenv(EnvConfigPath, "")
	d, err := Defaults(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Keys(); !cmp.Equal(got, []string{"registry", "storageClasses", "datastore", "repo_transfer_formats"}) {
		t.Errorf("top-level keys = %v", got)
	}
	wantStr := map[string]string{
		"registry.db":                   "sqlite:///<butlerRoot>/gen3.sqlite3",
		".registry.engines.postgresql":  "lsst.daf.butler.registry.databases.postgresql.PostgresqlDatabase",
		".registry.managers.datasets":   "lsst.daf.butler.registry.datasets.byDimensions.ByDimensionsDatasetRecordStorageManagerUUID",
		".registry.managers.datastores": "lsst.daf.butler.registry.bridge.monolithic.MonolithicDatastoreRegistryBridgeManager",
		".datastore.cls":                FileDatastoreClass,
		".datastore.root":               "<butlerRoot>/datastore",
		".datastore.records.table":      "file_datastore_records",
		".datastore.templates.physical_filter+detector+exposure": "{run:/}/{datasetType}.{component:?}/{day_obs|exposure.day_obs}/{exposure.obs_id}/{datasetType}_{component:?}_{instrument:?}_{physical_filter}_{exposure.obs_id}_{detector.full_name}_{run}",
		".datastore.formatters.DataFrame":                        "lsst.daf.butler.formatters.parquet.ParquetFormatter",
		".datastore.formatters.Packages.parameters.format":       "yaml",
		"/datastore/formatters/write_recipes/lsst.obs.base.formatters.fitsExposure.FitsMaskFormatter/lossy16/image/algorithm": "RICE_1",
		".storageClasses.ExposureF.inheritsFrom": "Exposure",
		".repo_transfer_formats.yaml.export":     "lsst.daf.butler.YamlRepoExportBackend",
		".datastore.cached.expiry.mode":          "datasets",
	}
	for k, want := range wantStr {
		if got, ok := d.GetString(k); !ok || got != want {
			t.Errorf("%s = %q, %v; want %q", k, got, ok, want)
		}
	}
	if tmpl, _ := d.GetString(".datastore.templates.default"); !strings.HasPrefix(tmpl, "{run:/}/{datasetType}.{component:?}/{tract:?}/") ||
		!strings.HasSuffix(tmpl, "_{ssp_balanced_index:?}_{run}") {
		t.Errorf("default template = %q", tmpl)
	}
	if v, ok := d.GetBool(".datastore.composites.default"); !ok || v {
		t.Errorf("composites.default = %v, %v; want false", v, ok)
	}
	if got := len(d.Sub("registry.managers").Keys()); got != 6 {
		t.Errorf("%d managers, want 6", got)
	}
	if v, _ := d.Get("/datastore/formatters/write_recipes/lsst.obs.base.formatters.fitsExposure.FitsExposureFormatter/lossy16/image/quantization/level"); v != 16.0 {
		t.Errorf("lossy16 level = %#v, want 16.0", v)
	}
}

// TestDefaults_MatchUpstream checks that the embedded defaults carry the same
// content as daf_butler's packaged configs in the shared corpus.
func TestDefaults_MatchUpstream(t *testing.T) {
	corpus := corpusDir(t)
	src := filepath.Join(corpus, "daf_butler", "configs")
	t.Setenv(EnvConfigPath, "")
	d, err := Defaults(nil)
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string) map[string]any {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		// writeRecipes.yaml is not in the corpus; compare it separately.
		text := strings.Replace(string(data), "!include writeRecipes.yaml", "null", 1)
		text = strings.Replace(text, "!include formatters.yaml", "null", 1)
		text = strings.Replace(text, "!include composites.yaml", "null", 1)
		c, err := Parse([]byte(text), filepath.Dir(filepath.Join(src, name)))
		if err != nil {
			t.Fatal(err)
		}
		return c.Plain()
	}
	got := d.Plain()
	sc := load("storageClasses.yaml")["storageClasses"].(map[string]any)
	delete(sc["Detector"].(map[string]any), "converter") // an upstream typo its loader ignores
	if diff := cmp.Diff(sc, got["storageClasses"]); diff != "" {
		t.Errorf("storageClasses differ (-upstream +ours):\n%s", diff)
	}
	if diff := cmp.Diff(load("registry.yaml")["registry"], got["registry"]); diff != "" {
		t.Errorf("registry differs (-upstream +ours):\n%s", diff)
	}
	if diff := cmp.Diff(load("repo_transfer_formats.yaml")["repo_transfer_formats"], got["repo_transfer_formats"]); diff != "" {
		t.Errorf("repo_transfer_formats differs (-upstream +ours):\n%s", diff)
	}
	ds := got["datastore"].(map[string]any)
	up := load("datastores/fileDatastore.yaml")["datastore"].(map[string]any)
	fm := load("datastores/formatters.yaml")
	delete(fm, "write_recipes")
	ourFm := ds["formatters"].(map[string]any)
	recipes := ourFm["write_recipes"]
	delete(ourFm, "write_recipes")
	if diff := cmp.Diff(fm, ourFm); diff != "" {
		t.Errorf("formatters differ (-upstream +ours):\n%s", diff)
	}
	if r, ok := recipes.(map[string]any); !ok || len(r) != 6 {
		t.Errorf("write_recipes = %d formatter entries, want 6", len(r))
	}
	if diff := cmp.Diff(load("datastores/composites.yaml"), ds["composites"]); diff != "" {
		t.Errorf("composites differ (-upstream +ours):\n%s", diff)
	}
	for _, k := range []string{"formatters", "composites"} {
		delete(up, k)
		delete(ds, k)
	}
	if diff := cmp.Diff(up, ds); diff != "" {
		t.Errorf("fileDatastore differs (-upstream +ours):\n%s", diff)
	}
}

// corpusDir finds the shared test corpus ($BUTLER_TEST_CORPUS, else
// ../shared/corpus beside the module root) or skips.
func corpusDir(t *testing.T) string {
	return corpustest.Dir(t)
}

func TestDefaults_SearchPathOverlay(t *testing.T) {
	high, low, envA, envB := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	// A file may hold the section under its key or be the section itself.
	writeFile(t, filepath.Join(high, "registry.yaml"), "registry:\n  namespace: from_high\n")
	writeFile(t, filepath.Join(low, "registry.yaml"), "namespace: from_low\ndb: postgresql://low/db\norigin: 3\n")
	writeFile(t, filepath.Join(envA, "registry.yaml"), "registry:\n  namespace: from_envA\n  origin: 1\n  temporary_tables: false\n")
	writeFile(t, filepath.Join(envB, "registry.yaml"), "registry:\n  namespace: from_envB\n  origin: 2\n  host: envB\n")
	writeFile(t, filepath.Join(envB, "datastores", "fileDatastore.yaml"),
		"datastore:\n  templates:\n    default: \"{run}/{datasetType}/{id}\"\n  formatters: !include fmt.yaml\n")
	writeFile(t, filepath.Join(envB, "datastores", "fmt.yaml"), "Exposure: my.Formatter\n")
	t.Setenv(EnvConfigPath, envA+string(os.PathListSeparator)+envB)

	d, err := Defaults([]string{high, low})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want any
	}{
		{"registry.namespace", "from_high"},    // explicit first entry beats everything
		{"registry.db", "postgresql://low/db"}, // explicit entries beat the environment
		{"registry.origin", 3},                 // ...including the second explicit one
		{"registry.temporary_tables", false},   // env entries beat the packaged file
		{"registry.host", "envB"},              // lower layers still contribute new keys
		{".registry.managers.attributes", "lsst.daf.butler.registry.attributes.DefaultButlerAttributeManager"},
		{".datastore.templates.default", "{run}/{datasetType}/{id}"},
		{".datastore.formatters.Exposure", "my.Formatter"}, // include relative to the overriding file
		{".datastore.formatters.DataFrame", "lsst.daf.butler.formatters.parquet.ParquetFormatter"},
	}
	for _, tt := range tests {
		if got, ok := d.Get(tt.key); !ok || got != tt.want {
			t.Errorf("%s = %#v, %v; want %#v", tt.key, got, ok, tt.want)
		}
	}
}
