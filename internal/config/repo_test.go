package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gobutler/butler/errs"
)

// cleanEnv isolates a test from the caller's butler environment.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{EnvConfigPath, EnvRepositoryIndex, EnvRepositories, EnvDBAuth, EnvDBAuthCredentials} {
		t.Setenv(k, "")
	}
}

// minimalButlerYAML is what `butler create` writes for a default repository.
const minimalButlerYAML = `datastore:
  root: <butlerRoot>
  cls: lsst.daf.butler.datastores.fileDatastore.FileDatastore
  records:
    table: file_datastore_records
registry:
  db: sqlite:///<butlerRoot>/gen3.sqlite3
`

func newRepoDir(t *testing.T, content string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	writeFile(t, filepath.Join(dir, "butler.yaml"), content)
	return dir
}

func TestLoadRepo_Directory(t *testing.T) {
	cleanEnv(t)
	dir := newRepoDir(t, minimalButlerYAML)
	for _, ref := range []string{dir, dir + "/", filepath.Join(dir, "butler.yaml"), "file://" + dir + "/"} {
		t.Run(ref, func(t *testing.T) {
			r, err := LoadRepo(ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Root != dir || r.ConfigFile != filepath.Join(dir, "butler.yaml") {
				t.Errorf("Root, ConfigFile = %q, %q", r.Root, r.ConfigFile)
			}
			if want := "sqlite:///" + dir + "/gen3.sqlite3"; r.Registry.DB != want {
				t.Errorf("Registry.DB = %q, want %q", r.Registry.DB, want)
			}
			d := r.Datastore
			if d.Root != dir || d.Cls != FileDatastoreClass || d.RecordsTable != "file_datastore_records" || d.Checksum {
				t.Errorf("datastore = root %q cls %q table %q checksum %v", d.Root, d.Cls, d.RecordsTable, d.Checksum)
			}
			if d.Name != "FileDatastore@<butlerRoot>" {
				t.Errorf("Datastore.Name = %q, want the unexpanded root form", d.Name)
			}
			if !strings.HasPrefix(d.Templates["default"], "{run:/}/{datasetType}") {
				t.Errorf("default template = %q", d.Templates["default"])
			}
			want := FormatterSpec{Formatter: "lsst.daf.butler.formatters.packages.PackagesFormatter", Parameters: map[string]any{"format": "yaml"}}
			if diff := cmp.Diff(want, d.Formatters["Packages"]); diff != "" {
				t.Errorf("Packages formatter (-want +got):\n%s", diff)
			}
			if _, ok := d.Formatters["write_recipes"]; ok {
				t.Error("write_recipes taken as a formatter")
			}
			if d.FormatterDefaults["lsst.obs.base.formatters.fitsExposure.FitsExposureFormatter"]["recipe"] != "default" {
				t.Errorf("FormatterDefaults = %v", d.FormatterDefaults)
			}
			if _, ok := d.WriteRecipes["lsst.obs.base.formatters.fitsExposure.FitsImageFormatter"]["lossless"]; !ok {
				t.Errorf("WriteRecipes lacks FitsImageFormatter lossless")
			}
			if diff := cmp.Diff(map[string]bool{"default": false}, d.Composites); diff != "" {
				t.Errorf("Composites (-want +got):\n%s", diff)
			}
			if len(r.Registry.Managers) != 6 || !r.Registry.TemporaryTables {
				t.Errorf("registry managers %d, temporary tables %v", len(r.Registry.Managers), r.Registry.TemporaryTables)
			}
			// Config is the merged, unsubstituted config.
			if v, _ := r.Config.GetString(".datastore.root"); v != "<butlerRoot>" {
				t.Errorf("Config datastore.root = %q, want unsubstituted", v)
			}
		})
	}
}

func TestLoadRepo_RelativePath(t *testing.T) {
	cleanEnv(t)
	dir := newRepoDir(t, minimalButlerYAML)
	t.Chdir(filepath.Dir(dir))
	r, err := LoadRepo("repo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Root != dir || r.Datastore.Root != dir {
		t.Errorf("Root = %q, datastore root %q; want absolute %q", r.Root, r.Datastore.Root, dir)
	}
}

func TestLoadRepo_ButlerRootSubstitution(t *testing.T) {
	cleanEnv(t)
	repo := t.TempDir()
	tests := []struct {
		name, root          string // root: key ("" = none)
		wantRoot, wantDB    string
		wantDatastore, want string
	}{
		{name: "config dir", wantRoot: "<dir>", wantDB: "sqlite:///<dir>/gen3.sqlite3", wantDatastore: "<dir>/store"},
		{name: "root path", root: repo, wantRoot: repo, wantDB: "sqlite:///" + repo + "/gen3.sqlite3", wantDatastore: repo + "/store"},
		{name: "root file URI", root: "file://" + repo + "/", wantRoot: repo, wantDB: "sqlite:///" + repo + "/gen3.sqlite3", wantDatastore: repo + "/store"},
		{name: "root s3 URI", root: "s3://bucket/repo", wantRoot: "s3://bucket/repo", wantDB: "sqlite:///s3://bucket/repo/gen3.sqlite3", wantDatastore: "s3://bucket/repo/store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			text := "datastore:\n  root: <butlerRoot>/store\nregistry:\n  db: sqlite:///<butlerRoot>/gen3.sqlite3\n"
			if tt.root != "" {
				text += "root: " + tt.root + "\n"
			}
			writeFile(t, filepath.Join(dir, "elsewhere.yaml"), text)
			r, err := LoadRepo(filepath.Join(dir, "elsewhere.yaml"), nil)
			if err != nil {
				t.Fatal(err)
			}
			sub := func(s string) string { return strings.ReplaceAll(s, "<dir>", dir) }
			if r.Root != sub(tt.wantRoot) || r.Registry.DB != sub(tt.wantDB) || r.Datastore.Root != sub(tt.wantDatastore) {
				t.Errorf("root %q db %q datastore %q; want %q %q %q", r.Root, r.Registry.DB, r.Datastore.Root,
					sub(tt.wantRoot), sub(tt.wantDB), sub(tt.wantDatastore))
			}
		})
	}
}

func TestLoadRepo_Aliases(t *testing.T) {
	repo := newRepoDir(t, minimalButlerYAML)
	idxDir := t.TempDir()
	idxYAML := filepath.Join(idxDir, "index.yaml")
	writeFile(t, idxYAML, "main: "+repo+"\ngone: "+filepath.Join(idxDir, "nothing")+"\n")
	tests := []struct {
		name            string
		index, inline   string
		ref             string
		wantErr         error
		wantMsg         []string
		wantRootForRepo bool
	}{
		{name: "index file", index: idxYAML, ref: "main", wantRootForRepo: true},
		{name: "index file URI", index: "file://" + idxYAML, ref: "main", wantRootForRepo: true},
		{name: "inline JSON", inline: `{"main": "` + repo + `"}`, ref: "main", wantRootForRepo: true},
		{name: "inline YAML", inline: "main: " + repo, ref: "main", wantRootForRepo: true},
		{name: "unknown alias is a path", index: idxYAML, ref: repo, wantRootForRepo: true},
		{name: "unknown alias lists aliases", index: idxYAML, ref: "nosuch", wantErr: errs.ErrNotFound,
			wantMsg: []string{`"nosuch"`, "known aliases: gone, main"}},
		{name: "alias to missing repo", index: idxYAML, ref: "gone", wantErr: errs.ErrNotFound,
			wantMsg: []string{`resolved from alias "gone"`}},
		{name: "no index", ref: "nosuch", wantErr: errs.ErrNotFound, wantMsg: []string{`"nosuch"`}},
		{name: "index file missing", index: filepath.Join(idxDir, "absent.yaml"), ref: "nosuch", wantErr: errs.ErrNotFound,
			wantMsg: []string{"no known aliases", "absent.yaml"}},
		{name: "both set", index: idxYAML, inline: "main: " + repo, ref: "main", wantErr: errs.ErrInvalid,
			wantMsg: []string{EnvRepositories, EnvRepositoryIndex}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv(EnvRepositoryIndex, tt.index)
			t.Setenv(EnvRepositories, tt.inline)
			r, err := LoadRepo(tt.ref, nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("LoadRepo(%q) error = %v, want %v", tt.ref, err, tt.wantErr)
				}
				for _, m := range tt.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %q", err, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadRepo(%q): %v", tt.ref, err)
			}
			if tt.wantRootForRepo && r.Root != repo {
				t.Errorf("Root = %q, want %q", r.Root, repo)
			}
		})
	}
}

func TestKnownRepos(t *testing.T) {
	cleanEnv(t)
	if got, err := KnownRepos(); err != nil || got != nil {
		t.Errorf("KnownRepos() with no index = %v, %v", got, err)
	}
	t.Setenv(EnvRepositories, "b: /x\na: s3://bucket/y\n")
	got, err := KnownRepos()
	if err != nil || !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("KnownRepos() = %v, %v", got, err)
	}
	if uri, err := RepoURI("a"); err != nil || uri != "s3://bucket/y" {
		t.Errorf("RepoURI(a) = %q, %v", uri, err)
	}
	t.Setenv(EnvRepositories, "[not, a, mapping]")
	if _, err := KnownRepos(); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("KnownRepos() with a list index = %v, want ErrInvalid", err)
	}
}

func TestLoadRepo_ButlerClass(t *testing.T) {
	tests := []struct {
		cls     string
		wantErr error
	}{
		{"", nil},
		{DirectButlerClass, nil},
		{RemoteButlerClass, errs.ErrUnsupported},
		{"my.custom.Butler", errs.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.cls, func(t *testing.T) {
			cleanEnv(t)
			text := minimalButlerYAML
			if tt.cls != "" {
				text = "cls: " + tt.cls + "\n" + text
			}
			_, err := LoadRepo(newRepoDir(t, text), nil)
			if !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.cls) {
				t.Errorf("error %q does not name the class", err)
			}
		})
	}
}

func TestLoadRepo_ChainedDatastore(t *testing.T) {
	cleanEnv(t)
	dir := newRepoDir(t, `datastore:
  cls: lsst.daf.butler.datastores.chainedDatastore.ChainedDatastore
  datastores:
    - datastore:
        cls: lsst.daf.butler.datastores.fileDatastore.FileDatastore
        root: <butlerRoot>/FileDatastore_0
    - cls: lsst.daf.butler.datastores.fileDatastore.FileDatastore
      name: second
      root: <butlerRoot>/b
      checksum: true
      templates:
        instrument<HSC>:
          calexp: "{run}/hsc/{id}"
registry:
  db: sqlite:///<butlerRoot>/gen3.sqlite3
`)
	r, err := LoadRepo(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Datastore
	if len(d.Children) != 2 {
		t.Fatalf("%d children, want 2", len(d.Children))
	}
	c0, c1 := d.Children[0], d.Children[1]
	if c0.Root != dir+"/FileDatastore_0" || c1.Root != dir+"/b" {
		t.Errorf("child roots %q, %q", c0.Root, c1.Root)
	}
	if c0.RecordsTable != "file_datastore_records" || c0.Templates["default"] == "" {
		t.Error("child 0 was not expanded with FileDatastore defaults")
	}
	if !c1.Checksum || c1.Templates["instrument<HSC>/calexp"] != "{run}/hsc/{id}" {
		t.Errorf("child 1 checksum %v, HSC template %q", c1.Checksum, c1.Templates["instrument<HSC>/calexp"])
	}
	if want := "ChainedDatastore[FileDatastore@<butlerRoot>/FileDatastore_0,second]"; d.Name != want {
		t.Errorf("Name = %q, want %q", d.Name, want)
	}
	if got := d.Names(); !cmp.Equal(got, []string{"FileDatastore@<butlerRoot>/FileDatastore_0", "second"}) {
		t.Errorf("Names() = %v", got)
	}
}

func TestLoadRepo_RegistryFields(t *testing.T) {
	tests := []struct {
		name     string
		registry string
		want     RegistryConfig
		wantErr  error
	}{
		{name: "postgres with parts", registry: `
  db: postgresql://db.example.com
  port: "5432"
  database: butler
  namespace: my_repo
  temporary_tables: false
  managers:
    obscore: {cls: lsst.daf.butler.registry.obscore.ObsCoreLiveTableManager, config: {x: 1}}
`, want: RegistryConfig{DB: "postgresql://db.example.com", Namespace: "my_repo", Port: 5432, Database: "butler",
			TemporaryTables: false}},
		{name: "bad temporary_tables", registry: "\n  db: sqlite:///x\n  temporary_tables: maybe\n", wantErr: errs.ErrInvalid},
		{name: "bad port", registry: "\n  db: sqlite:///x\n  port: http\n", wantErr: errs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			r, err := LoadRepo(newRepoDir(t, "registry:"+tt.registry), nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := r.Registry
			if got.Managers["obscore"] != "lsst.daf.butler.registry.obscore.ObsCoreLiveTableManager" || len(got.Managers) != 7 {
				t.Errorf("Managers = %v", got.Managers)
			}
			got.Managers = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadRepo_LookupSections(t *testing.T) {
	cleanEnv(t)
	dir := newRepoDir(t, `datastore:
  formatters:
    instrument<LATISS>:
      raw: my.LatissRawFormatter
      calexp: {formatter: my.Fits, parameters: {recipe: lossless}}
    Packages: {formatter: my.PackagesFormatter}
  composites:
    default: true
    disassembled:
      ExposureF: false
      instrument<HSC>:
        calexp: true
registry:
  db: sqlite:///<butlerRoot>/gen3.sqlite3
`)
	r, err := LoadRepo(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Datastore
	if got := d.Formatters["instrument<LATISS>/raw"]; got.Formatter != "my.LatissRawFormatter" {
		t.Errorf("LATISS raw formatter = %+v", got)
	}
	if got := d.Formatters["instrument<LATISS>/calexp"]; got.Formatter != "my.Fits" || got.Parameters["recipe"] != "lossless" {
		t.Errorf("LATISS calexp formatter = %+v", got)
	}
	// A mapping over a packaged {formatter, parameters} entry merges into it.
	if got := d.Formatters["Packages"]; got.Formatter != "my.PackagesFormatter" || got.Parameters["format"] != "yaml" {
		t.Errorf("Packages formatter = %+v", got)
	}
	want := map[string]bool{"default": true, "ExposureF": false, "instrument<HSC>/calexp": true}
	if diff := cmp.Diff(want, d.Composites); diff != "" {
		t.Errorf("Composites (-want +got):\n%s", diff)
	}
}

func TestRegistryConfig_StringHidesPassword(t *testing.T) {
	r := RegistryConfig{DB: "postgresql://u:hunter2@h/db", Password: "hunter2"}
	for _, s := range []string{r.String(), r.GoString()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("%q shows the password", s)
		}
	}
}

func TestRepo_StorageClasses(t *testing.T) {
	cleanEnv(t)
	r, err := LoadRepo(newRepoDir(t, minimalButlerYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	scs, err := r.StorageClasses()
	if err != nil {
		t.Fatal(err)
	}
	ef := scs["ExposureF"]
	if ef.PyType != "lsst.afw.image.ExposureF" || ef.InheritsFrom != "Exposure" ||
		ef.Delegate != "lsst.obs.base.exposureAssembler.ExposureAssembler" {
		t.Errorf("ExposureF = %+v", ef)
	}
	if ef.Components["image"] != "ImageF" || ef.Components["wcs"] != "Wcs" || ef.DerivedComponents["bbox"] != "Box2I" {
		t.Errorf("ExposureF components = %v, derived %v", ef.Components, ef.DerivedComponents)
	}
	if want := []string{"amp", "bbox", "detector", "origin", "preserve_quantization"}; !cmp.Equal(ef.Parameters, want) {
		t.Errorf("ExposureF parameters = %v, want %v", ef.Parameters, want)
	}
	if cp := scs["CellPointSpreadFunction"]; cp.PyType != "lsst.images.cells.CellPointSpreadFunction" || !cmp.Equal(cp.Parameters, []string{"bbox"}) {
		t.Errorf("CellPointSpreadFunction = %+v", cp)
	}
	if len(scs) < 100 {
		t.Errorf("only %d storage classes", len(scs))
	}

	bad := []struct{ name, text string }{
		{"undefined component", "storageClasses:\n  A:\n    pytype: a\n    components: {x: Nope}\n"},
		{"inheritance cycle", "storageClasses:\n  A: {inheritsFrom: B}\n  B: {inheritsFrom: A}\n"},
		{"undefined base", "storageClasses:\n  A: {inheritsFrom: Nope}\n"},
		{"parameters not a list", "storageClasses:\n  A: {parameters: bbox}\n"},
	}
	for _, tt := range bad {
		if _, err := StorageClasses(mustParse(t, tt.text)); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestLoadRepo_UnsupportedExtension(t *testing.T) {
	cleanEnv(t)
	p := filepath.Join(t.TempDir(), "butler.txt")
	if err := os.WriteFile(p, []byte(minimalButlerYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRepo(p, nil); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("LoadRepo(.txt) = %v, want ErrInvalid", err)
	}
	if _, err := LoadRepo("s3://bucket/repo", nil); !errors.Is(err, errs.ErrUnsupported) {
		t.Errorf("LoadRepo(s3://) = %v, want ErrUnsupported", err)
	}
}
