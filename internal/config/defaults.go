package config

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gobutler/butler/errs"
)

//go:embed defaults
var embedded embed.FS

// Environment variables read by this package.
const (
	// EnvConfigPath lists extra directories searched for default config files
	// (os.PathListSeparator-separated, highest priority first).
	EnvConfigPath = "DAF_BUTLER_CONFIG_PATH"
	// EnvRepositoryIndex is the path or file URI of a YAML/JSON alias → repository index.
	EnvRepositoryIndex = "DAF_BUTLER_REPOSITORY_INDEX"
	// EnvRepositories holds the alias index itself as YAML or JSON text.
	EnvRepositories = "DAF_BUTLER_REPOSITORIES"
)

// ButlerRootTag is replaced by the repository root when a repository config is
// loaded (registry.db, datastore roots).
const ButlerRootTag = "<butlerRoot>"

// Datastore class names known to the defaults machinery.
const (
	FileDatastoreClass     = "lsst.daf.butler.datastores.fileDatastore.FileDatastore"
	ChainedDatastoreClass  = "lsst.daf.butler.datastores.chainedDatastore.ChainedDatastore"
	InMemoryDatastoreClass = "lsst.daf.butler.datastores.inMemoryDatastore.InMemoryDatastore"
)

// component is one top-level section of a butler config with its own
// packaged default file (daf_butler's ConfigSubset classes), in the order
// ButlerConfig applies them.
type component struct{ key, file string }

var components = [...]component{
	{"registry", "registry.yaml"},
	{"storageClasses", "storageClasses.yaml"},
	{"datastore", "datastore.yaml"},
	{"repo_transfer_formats", "repo_transfer_formats.yaml"},
}

// datastoreDefaultFile is each datastore class's own defaults file, read after
// datastore.yaml once the class is known.
func datastoreDefaultFile(cls string) string {
	switch cls {
	case FileDatastoreClass:
		return "datastores/fileDatastore.yaml"
	case ChainedDatastoreClass:
		return "datastores/chainedDatastore.yaml"
	case InMemoryDatastoreClass:
		return "datastores/inMemoryDatastore.yaml"
	}
	return ""
}

// datastoreContainerKey is where ChainedDatastore keeps its children.
const datastoreContainerKey = "datastores"

// searchDir is one place default files are looked up.
type searchDir struct {
	l   *loader
	dir string
	// packaged marks the embedded defaults, parsed once per process.
	packaged bool
}

// parsedDefault is one packaged default file, parsed (or its error).
type parsedDefault struct {
	m   *mapping
	err error
}

// packagedDefaults returns the packaged default files layers reads (each
// component's file and each datastore class's), parsed, once per process
// (configuration layering runs for every repository opened or created). They
// come already parsed from packed_defaults.bin (see packed.go). Files only
// included by those (formatters.yaml, writeRecipes.yaml, composites.yaml) are
// parsed where they are included, not on their own as well. The parsed
// mappings are never changed: layers hands them out read-only.
var packagedDefaults = sync.OnceValue(func() map[string]parsedDefault {
	files, err := decodePacked(packedDefaults)
	if err != nil {
		panic(err) // packed_defaults.bin is part of the binary; TestPackedDefaults_Current checks it
	}
	out := make(map[string]parsedDefault, len(files))
	for name, m := range files {
		out[name] = parsedDefault{m: m}
	}
	return out
})

// searchDirs returns, highest priority first: the explicit directories, those
// in $DAF_BUTLER_CONFIG_PATH, then the embedded packaged defaults.
func searchDirs(explicit []string) ([]searchDir, error) {
	var dirs []searchDir
	add := func(d, from string) error {
		if d == "" {
			return nil
		}
		p, err := localPath(d)
		if err != nil {
			return fmt.Errorf("config search path %q (%s): %w", d, from, err)
		}
		dirs = append(dirs, searchDir{l: &loader{}, dir: p})
		return nil
	}
	for _, d := range explicit {
		if err := add(d, "search path"); err != nil {
			return nil, err
		}
	}
	for _, d := range filepath.SplitList(os.Getenv(EnvConfigPath)) {
		if err := add(d, "$"+EnvConfigPath); err != nil {
			return nil, err
		}
	}
	sub, err := fs.Sub(embedded, "defaults")
	if err != nil {
		return nil, fmt.Errorf("open embedded defaults: %w", err)
	}
	return append(dirs, searchDir{l: &loader{fsys: sub}, dir: ".", packaged: true}), nil
}

// layers reads every copy of name found in dirs, lowest priority first, so
// that merging them in order lets higher priority win.
func layers(dirs []searchDir, name string) ([]*mapping, error) {
	var out []*mapping
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if d.packaged {
			f, ok := packagedDefaults()[name]
			if !ok {
				continue
			}
			if f.err != nil {
				return nil, fmt.Errorf("read default config: %w", f.err)
			}
			// Shared, not cloned: callers only merge layers into new
			// mappings, and mergeMapping copies what it takes.
			out = append(out, f.m)
			continue
		}
		var p string
		if d.l.fsys != nil {
			p = strings.TrimPrefix(d.dir+"/"+name, "./")
		} else {
			p = filepath.Join(d.dir, filepath.FromSlash(name))
		}
		if !d.l.exists(p) {
			continue
		}
		m, err := d.l.loadMapping(p)
		if err != nil {
			return nil, fmt.Errorf("read default config: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

// componentOf picks a section's content out of m the way ConfigSubset does:
// m[key][key] if present, else m[key], else all of m.
func componentOf(m *mapping, key string) *mapping {
	v, ok := m.vals[key]
	if !ok {
		return m
	}
	sub, isMap := v.(*mapping)
	if !isMap {
		return newMapping()
	}
	if dd, ok := sub.vals[key].(*mapping); ok {
		return dd
	}
	return sub
}

// buildComponent returns the defaults for one section with local merged over
// them. For the datastore, the class's own defaults file is layered in and
// each ChainedDatastore child is expanded in turn.
func buildComponent(c component, local *mapping, dirs []searchDir) (*mapping, error) {
	acc := newMapping()
	ls, err := layers(dirs, c.file)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		mergeMapping(acc, componentOf(l, c.key))
	}
	if c.key == "datastore" {
		cls := local.str("cls")
		if cls == "" {
			cls = acc.str("cls")
		}
		if f := datastoreDefaultFile(cls); f != "" {
			ls, err := layers(dirs, f)
			if err != nil {
				return nil, err
			}
			for _, l := range ls {
				mergeMapping(acc, componentOf(l, c.key))
			}
		}
	}
	mergeMapping(acc, local)
	if c.key == "datastore" && acc.str("cls") == ChainedDatastoreClass {
		children, _ := acc.vals[datastoreContainerKey].([]any)
		for i, ch := range children {
			cm, ok := ch.(*mapping)
			if !ok {
				return nil, fmt.Errorf("expand datastore.%s.%d: %w: child is a %s, not a mapping",
					datastoreContainerKey, i, errs.ErrInvalid, kindOf(ch))
			}
			full, err := buildComponent(c, componentOf(cm, c.key), dirs)
			if err != nil {
				return nil, fmt.Errorf("expand datastore.%s.%d: %w", datastoreContainerKey, i, err)
			}
			children[i] = full
		}
	}
	return acc, nil
}

// buildFull expands user over the defaults, like daf_butler's ButlerConfig:
// each component section is defaulted, then the remaining top-level keys are
// merged in.
func buildFull(user *mapping, dirs []searchDir) (*mapping, error) {
	full := newMapping()
	rest := user.clone()
	for _, c := range components {
		local := newMapping()
		if _, ok := rest.vals[c.key]; ok {
			local = componentOf(rest, c.key)
		}
		m, err := buildComponent(c, local, dirs)
		if err != nil {
			return nil, err
		}
		full.set(c.key, m)
		rest.del(c.key)
	}
	mergeMapping(full, rest)
	if _, ok := full.sub("registry").vals["db"]; !ok {
		return nil, fmt.Errorf("expand config: %w: registry.db is not set", errs.ErrInvalid)
	}
	return full, nil
}

// Defaults returns the packaged defaults for registry, datastore (a
// FileDatastore with templates, formatters and composites), storageClasses
// and repo_transfer_formats, each overlaid by same-named files found in
// searchPath (highest priority first) and then $DAF_BUTLER_CONFIG_PATH.
func Defaults(searchPath []string) (*Config, error) {
	dirs, err := searchDirs(searchPath)
	if err != nil {
		return nil, err
	}
	m, err := buildFull(newMapping(), dirs)
	if err != nil {
		return nil, err
	}
	return &Config{m: m}, nil
}

// Expand returns cfg merged over the defaults (what daf_butler calls a
// ButlerConfig), without any <butlerRoot> substitution.
func Expand(cfg *Config, searchPath []string) (*Config, error) {
	dirs, err := searchDirs(searchPath)
	if err != nil {
		return nil, err
	}
	user := newMapping()
	if cfg != nil && cfg.m != nil {
		user = cfg.m
	}
	m, err := buildFull(user, dirs)
	if err != nil {
		return nil, err
	}
	return &Config{m: m, file: cfg.File()}, nil
}
