package config

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gobutler/butler/errs"
)

var defaultManagers = map[string]any{
	"attributes":  "lsst.daf.butler.registry.attributes.DefaultButlerAttributeManager",
	"opaque":      "lsst.daf.butler.registry.opaque.ByNameOpaqueTableStorageManager",
	"dimensions":  "lsst.daf.butler.registry.dimensions.static.StaticDimensionRecordStorageManager",
	"collections": "lsst.daf.butler.registry.collections.synthIntKey.SynthIntKeyCollectionManager",
	"datasets":    "lsst.daf.butler.registry.datasets.byDimensions.ByDimensionsDatasetRecordStorageManagerUUID",
	"datastores":  "lsst.daf.butler.registry.bridge.monolithic.MonolithicDatastoreRegistryBridgeManager",
}

func fileDatastoreSection(root string) map[string]any {
	return map[string]any{"root": root, "cls": FileDatastoreClass, "records": map[string]any{"table": "file_datastore_records"}}
}

// tutorialSeed is the PostgreSQL seed from the user tutorial.
const tutorialSeed = `registry:
    db: "postgresql://ccpglsstdev.in2p3.fr:6553/messier"
    namespace: "my_first_butler_repo"
`

func TestMakeRepoConfig(t *testing.T) {
	const pgDB = "postgresql://ccpglsstdev.in2p3.fr:6553/messier"
	tests := []struct {
		name string
		seed string
		opts MakeOptions
		want map[string]any
	}{
		{
			name: "no seed",
			want: map[string]any{
				"datastore": fileDatastoreSection("<butlerRoot>"),
				"registry":  map[string]any{"db": SQLiteDefaultDB, "managers": defaultManagers},
			},
		},
		{
			name: "postgres seed",
			seed: tutorialSeed,
			want: map[string]any{
				"datastore": fileDatastoreSection("<butlerRoot>"),
				"registry":  map[string]any{"db": pgDB, "namespace": "my_first_butler_repo", "managers": defaultManagers},
			},
		},
		{
			name: "postgres seed with override (tutorial)",
			seed: tutorialSeed,
			opts: MakeOptions{Override: true},
			want: map[string]any{
				"datastore": fileDatastoreSection("<butlerRoot>"),
				"registry":  map[string]any{"db": pgDB, "namespace": "my_first_butler_repo", "managers": defaultManagers},
			},
		},
		{
			name: "seed root is dropped",
			seed: "root: /somewhere/else\n",
			want: map[string]any{
				"datastore": fileDatastoreSection("<butlerRoot>"),
				"registry":  map[string]any{"db": SQLiteDefaultDB, "managers": defaultManagers},
			},
		},
		{
			// The records table is copied from the expanded config, so the seed's survives.
			name: "seed datastore root forced without override",
			seed: "datastore:\n  root: /big/disk\n  records: {table: my_records}\nregistry:\n  db: sqlite:////db/gen3.sqlite3\n",
			want: map[string]any{
				"datastore": map[string]any{"root": "<butlerRoot>", "cls": FileDatastoreClass, "records": map[string]any{"table": "my_records"}},
				"registry":  map[string]any{"db": SQLiteDefaultDB, "managers": defaultManagers},
			},
		},
		{
			name: "override keeps seed datastore root and sqlite db",
			seed: "datastore:\n  root: /big/disk\n  records: {table: my_records}\nregistry:\n  db: sqlite:////db/gen3.sqlite3\n",
			opts: MakeOptions{Override: true},
			want: map[string]any{
				"datastore": map[string]any{"root": "/big/disk", "cls": FileDatastoreClass, "records": map[string]any{"table": "my_records"}},
				"registry":  map[string]any{"db": "sqlite:////db/gen3.sqlite3", "managers": defaultManagers},
			},
		},
		{
			name: "override without seed values uses defaults",
			opts: MakeOptions{Override: true},
			want: map[string]any{
				"datastore": fileDatastoreSection("<butlerRoot>"),
				"registry":  map[string]any{"db": SQLiteDefaultDB, "managers": defaultManagers},
			},
		},
		{
			name: "seed manager kept, others expanded",
			seed: "registry:\n  managers:\n    collections: lsst.daf.butler.registry.collections.nameKey.NameKeyCollectionManager\n",
			want: map[string]any{
				"datastore": fileDatastoreSection("<butlerRoot>"),
				"registry": map[string]any{"db": SQLiteDefaultDB, "managers": func() map[string]any {
					m := map[string]any{}
					for k, v := range defaultManagers {
						m[k] = v
					}
					m["collections"] = "lsst.daf.butler.registry.collections.nameKey.NameKeyCollectionManager"
					return m
				}()},
			},
		},
		{
			name: "chained datastore children",
			seed: "datastore:\n  cls: " + ChainedDatastoreClass + "\n  datastores:\n    - cls: " + FileDatastoreClass +
				"\n    - datastore:\n        cls: " + InMemoryDatastoreClass + "\n    - cls: " + FileDatastoreClass + "\n",
			want: map[string]any{
				"datastore": map[string]any{"cls": ChainedDatastoreClass, "datastores": []any{
					fileDatastoreSection("<butlerRoot>/FileDatastore_0"),
					map[string]any{"cls": InMemoryDatastoreClass},
					fileDatastoreSection("<butlerRoot>/FileDatastore_2"),
				}},
				"registry": map[string]any{"db": SQLiteDefaultDB, "managers": defaultManagers},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			var seed *Config
			if tt.seed != "" {
				seed = mustParse(t, tt.seed)
			}
			before := seed.Clone().Plain()
			got, err := MakeRepoConfig(filepath.Join(t.TempDir(), "repo"), seed, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Plain()); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, seed.Clone().Plain()); diff != "" {
				t.Errorf("MakeRepoConfig modified the seed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestMakeRepoConfig_Outfile(t *testing.T) {
	cleanEnv(t)
	root := filepath.Join(t.TempDir(), "my repo")
	got, err := MakeRepoConfig(root, nil, MakeOptions{Outfile: "/elsewhere/butler.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := "file://" + strings.ReplaceAll(root, " ", "%20") + "/"
	if v, _ := got.GetString("root"); v != want {
		t.Errorf("root = %q, want %q", v, want)
	}
	got, err = MakeRepoConfig("s3://bucket/repo", nil, MakeOptions{Outfile: "/elsewhere/butler.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := got.GetString("root"); v != "s3://bucket/repo/" {
		t.Errorf("root = %q, want s3://bucket/repo/", v)
	}
	// Without Outfile no root is written.
	got, err = MakeRepoConfig(root, nil, MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Has("root") {
		t.Error("root written without Outfile")
	}
}

func TestMakeRepoConfig_Standalone(t *testing.T) {
	cleanEnv(t)
	got, err := MakeRepoConfig(t.TempDir(), mustParse(t, tutorialSeed), MakeOptions{Standalone: true})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]any{
		".registry.db":                       "postgresql://ccpglsstdev.in2p3.fr:6553/messier",
		".registry.namespace":                "my_first_butler_repo",
		".registry.engines.sqlite":           "lsst.daf.butler.registry.databases.sqlite.SqliteDatabase",
		".datastore.root":                    "<butlerRoot>",
		".datastore.formatters.int":          "lsst.daf.butler.formatters.json.JsonFormatter",
		".storageClasses.Exposure.pytype":    "lsst.afw.image.Exposure",
		".repo_transfer_formats.yaml.import": "lsst.daf.butler.YamlRepoImportBackend",
		".datastore.cached.expiry.threshold": 4,
	}
	for k, want := range checks {
		if v, ok := got.Get(k); !ok || v != want {
			t.Errorf("%s = %#v, %v; want %#v", k, v, ok, want)
		}
	}
}

func TestMakeRepoConfig_Errors(t *testing.T) {
	tests := []struct {
		name, seed string
		wantErr    error
		wantMsg    []string
	}{
		{"password in db URL", "registry:\n  db: postgresql://messier:hunter2@db.example.com:5432/messier\n",
			errs.ErrInvalid, []string{"db-auth", "messier:***@"}},
		{"unknown dialect", "registry:\n  db: mysql://db.example.com/x\n", errs.ErrUnsupported, []string{"mysql"}},
		{"not a URL", "registry:\n  db: just-a-path\n", errs.ErrInvalid, []string{"just-a-path"}},
		{"unknown datastore", "datastore:\n  cls: my.Datastore\n", errs.ErrUnsupported, []string{"my.Datastore"}},
		{"chained without children", "datastore:\n  cls: " + ChainedDatastoreClass + "\n", errs.ErrInvalid, []string{"datastores"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			_, err := MakeRepoConfig(t.TempDir(), mustParse(t, tt.seed), MakeOptions{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}

func TestMakeRepoConfig_Obscore(t *testing.T) {
	cleanEnv(t)
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	seed := "registry:\n  managers:\n    obscore:\n      cls: lsst.daf.butler.registry.obscore.ObsCoreLiveTableManager\n"
	got, err := MakeRepoConfig(t.TempDir(), mustParse(t, seed), MakeOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if got.Has(".registry.managers.obscore") || !strings.Contains(logBuf.String(), "obscore") {
		t.Errorf("obscore without config kept (log: %q)", logBuf.String())
	}

	seed += "      config: {namespace: test, version: 1}\n"
	got, err = MakeRepoConfig(t.TempDir(), mustParse(t, seed), MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Has(".registry.managers.obscore.config.namespace") {
		t.Fatal("obscore config dropped from the returned config")
	}
	out, err := RepoConfigBytes(got, "butler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	written := mustParse(t, string(out))
	if !written.Has(".registry.managers.obscore.cls") || written.Has(".registry.managers.obscore.config") {
		t.Errorf("written obscore section wrong:\n%s", out)
	}
}

func TestWriteRepoConfig_RoundTrip(t *testing.T) {
	cleanEnv(t)
	root := filepath.Join(t.TempDir(), "repo")
	seed := mustParse(t, "registry:\n  db: postgresql://db.example.com:5432/butler\n  namespace: ns\n  password: hunter2\n")
	cfg, err := MakeRepoConfig(root, seed, MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// A directory gets butler.yaml.
	if err := WriteRepoConfig(cfg, root); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "butler.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "hunter2") || strings.Contains(string(data), "password") {
		t.Errorf("written config holds the password:\n%s", data)
	}
	if err := WriteRepoConfig(cfg, filepath.Join(root, "butler.yaml")); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("second write = %v, want ErrConflict", err)
	}
	r, err := LoadRepo(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Registry.DB != "postgresql://db.example.com:5432/butler" || r.Registry.Namespace != "ns" || r.Datastore.Root != root {
		t.Errorf("reloaded: db %q namespace %q datastore root %q", r.Registry.DB, r.Registry.Namespace, r.Datastore.Root)
	}

	// --outfile: the config lives elsewhere and points back with root:.
	other := filepath.Join(t.TempDir(), "configs", "mine.json")
	cfg, err = MakeRepoConfig(root, nil, MakeOptions{Outfile: other})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteRepoConfig(cfg, other); err != nil {
		t.Fatal(err)
	}
	r, err = LoadRepo(other, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Root != root || r.Registry.DB != "sqlite:///"+root+"/gen3.sqlite3" || r.ConfigFile != other {
		t.Errorf("outfile repo: root %q db %q file %q", r.Root, r.Registry.DB, r.ConfigFile)
	}

	// A password in the URL is refused at write time too.
	bad := New()
	if err := bad.Set(".registry.db", "postgresql://u:hunter2@h/db"); err != nil {
		t.Fatal(err)
	}
	err = WriteRepoConfig(bad, filepath.Join(t.TempDir(), "b.yaml"))
	if !errors.Is(err, errs.ErrInvalid) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("write with URL password = %v, want ErrInvalid without the password", err)
	}
}

// A seed's datastore.root is replaced without --override, as upstream does,
// but with a warning naming --override; with it, or with no root in the
// seed, nothing is logged.
func TestMakeRepoConfig_SeedRootWarning(t *testing.T) {
	cleanEnv(t)
	tests := []struct {
		name, seed string
		override   bool
		wantRoot   string
		wantLog    string // "" means nothing logged
	}{
		{"replaced", "datastore:\n  root: s3://bucket/prefix\n", false, ButlerRootTag,
			`the seed config's datastore.root "s3://bucket/prefix" is replaced by the repository's <butlerRoot>; pass --override to keep it`},
		{"kept with override", "datastore:\n  root: s3://bucket/prefix\n", true, "s3://bucket/prefix", ""},
		{"no root in the seed", "datastore:\n  templates: {}\n", false, ButlerRootTag, ""},
		{"root is the tag", "datastore:\n  root: <butlerRoot>\n", false, ButlerRootTag, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			got, err := MakeRepoConfig(t.TempDir(), mustParse(t, tt.seed), MakeOptions{Override: tt.override, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			if root, _ := got.Get(".datastore.root"); root != tt.wantRoot {
				t.Errorf("datastore.root = %v, want %s", root, tt.wantRoot)
			}
			switch {
			case tt.wantLog == "" && buf.Len() != 0:
				t.Errorf("logged %q, want nothing", buf.String())
			case tt.wantLog != "" && (!strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), strings.ReplaceAll(tt.wantLog, `"`, `\"`))):
				t.Errorf("logged %q, want a warning %q", buf.String(), tt.wantLog)
			}
		})
	}
}
