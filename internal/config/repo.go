package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/errs"
)

// Butler implementation classes a repository config may name in `cls:`.
const (
	DirectButlerClass = "lsst.daf.butler.direct_butler.DirectButler"
	RemoteButlerClass = "lsst.daf.butler.remote_butler.RemoteButler"
)

// Repo is a repository's configuration, merged over the defaults, with the
// typed views the registry and datastore are built from.
type Repo struct {
	// Root is the repository root that replaced <butlerRoot>: an absolute
	// local path, or a URI (s3://…) kept verbatim.
	Root string
	// ConfigFile is the absolute path of the butler.yaml (or other file) read.
	ConfigFile string
	// Config is the full merged config, before <butlerRoot> substitution
	// (what `butler config-dump` shows).
	Config    *Config
	Registry  RegistryConfig
	Datastore DatastoreConfig
}

// RegistryConfig is the typed registry section. DB has <butlerRoot> replaced.
type RegistryConfig struct {
	DB        string
	Namespace string // database schema (PostgreSQL); "" for the default
	// Managers maps manager kind (attributes, opaque, dimensions, collections,
	// datasets, datastores, obscore…) to its class name.
	Managers map[string]string
	// Username, Password, Host, Database and Port fill in parts missing from DB
	// (see ConnectionURL). Password is never printed by String.
	Username, Password, Host, Database string
	Port                               int
	// TemporaryTables is false for read replicas that cannot create them.
	TemporaryTables bool
}

// String describes the registry without its password.
func (r RegistryConfig) String() string {
	s := "registry " + redactURL(r.DB)
	if r.Namespace != "" {
		s += " (namespace " + r.Namespace + ")"
	}
	return s
}

// GoString keeps %#v from printing the password.
func (r RegistryConfig) GoString() string {
	c := r
	if c.Password != "" {
		c.Password = "***"
	}
	c.DB = redactURL(c.DB)
	type plainRegistry RegistryConfig // no methods: avoids recursion
	return fmt.Sprintf("%+v", plainRegistry(c))
}

// DatastoreConfig is the typed datastore section. Lookup-key maps (Templates,
// Formatters, Composites) flatten `instrument<NAME>:` sub-sections into keys
// "instrument<NAME>/<key>".
type DatastoreConfig struct {
	Cls string
	// Name is the datastore name recorded in dataset_location: the `name`
	// key, else for a FileDatastore "FileDatastore@" + the unexpanded root
	// (usually "FileDatastore@<butlerRoot>"), for a ChainedDatastore
	// "ChainedDatastore[" + child names joined by "," + "]".
	Name string
	// Root has <butlerRoot> replaced; "" for datastores without one.
	Root         string
	RecordsTable string
	Checksum     bool
	// Templates maps lookup key → file template; "" means disabled (false/null).
	Templates map[string]string
	// Formatters maps lookup key → formatter; the `default` (per-formatter
	// default write parameters) and `write_recipes` sections are separate.
	Formatters map[string]FormatterSpec
	// Composites maps lookup key → disassemble?; key "default" is the fallback.
	Composites map[string]bool
	// Children are a ChainedDatastore's datastores, each fully defaulted.
	Children []DatastoreConfig
	// FormatterDefaults maps formatter class → default write parameters.
	FormatterDefaults map[string]map[string]any
	// WriteRecipes maps formatter class → recipe name → recipe.
	WriteRecipes map[string]map[string]any
}

// FormatterSpec is a formatter class with optional write parameters.
type FormatterSpec struct {
	Formatter  string
	Parameters map[string]any
}

// LoadRepo reads a repository config. ref is a repository alias (from
// $DAF_BUTLER_REPOSITORY_INDEX or $DAF_BUTLER_REPOSITORIES), a directory
// (butler.yaml is appended) or a .yaml/.json file; the result is merged over
// the defaults (searchPath first, then $DAF_BUTLER_CONFIG_PATH, then packaged).
func LoadRepo(ref string, searchPath []string) (*Repo, error) {
	if ref == "" {
		return nil, fmt.Errorf("open repository: %w: no repository given", errs.ErrInvalid)
	}
	index, indexErr := readRepoIndex()
	if indexErr != nil && errors.Is(indexErr, errBothIndexes) {
		return nil, fmt.Errorf("open repository %q: %w", ref, indexErr)
	}
	target, aliased := ref, false
	if uri, ok := index[ref]; ok {
		target, aliased = uri, true
	}
	file, err := repoConfigFile(target)
	if err == nil {
		var cfg *Config
		cfg, err = Load(file)
		if err == nil {
			return NewRepo(cfg, file, searchPath)
		}
	}
	switch {
	case aliased:
		return nil, fmt.Errorf("open repository %q (resolved from alias %q): %w", target, ref, err)
	case errors.Is(err, errs.ErrNotFound):
		if len(index) > 0 {
			return nil, fmt.Errorf("open repository %q: %w (known aliases: %s)",
				ref, err, strings.Join(slices.Sorted(maps.Keys(index)), ", "))
		}
		if indexErr != nil {
			return nil, fmt.Errorf("open repository %q: %w (no known aliases: %v)", ref, err, indexErr)
		}
		return nil, fmt.Errorf("open repository %q: %w", ref, err)
	}
	return nil, fmt.Errorf("open repository %q: %w", ref, err)
}

// repoConfigFile turns a repository location into its config file path.
func repoConfigFile(loc string) (string, error) {
	p, err := localPath(loc)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(p)
	switch {
	case err == nil && fi.IsDir():
		return filepath.Join(p, "butler.yaml"), nil
	case err == nil:
		if ext := strings.ToLower(filepath.Ext(p)); ext != ".yaml" && ext != ".json" {
			return "", fmt.Errorf("%w: config file %q is neither .yaml nor .json", errs.ErrInvalid, p)
		}
		return p, nil
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%w: no repository config at %q", errs.ErrNotFound, p)
	case errors.Is(err, os.ErrPermission):
		return "", fmt.Errorf("%w: %w", errs.ErrPermission, err)
	}
	return "", err
}

// NewRepo expands cfg (read from configFile, or about to be written there)
// over the defaults and builds the typed views. The root is cfg's `root:`
// key if set, else configFile's directory.
func NewRepo(cfg *Config, configFile string, searchPath []string) (*Repo, error) {
	if cfg == nil || cfg.m == nil {
		cfg = New()
	}
	if cls, ok := cfg.m.vals["cls"]; ok && cls != nil && cls != DirectButlerClass {
		if cls == RemoteButlerClass {
			return nil, fmt.Errorf("open repository %q: %w: client/server butler (cls %s)", configFile, errs.ErrUnsupported, RemoteButlerClass)
		}
		return nil, fmt.Errorf("open repository %q: %w: butler class %v", configFile, errs.ErrUnsupported, cls)
	}
	full, err := Expand(cfg, searchPath)
	if err != nil {
		return nil, fmt.Errorf("open repository %q: %w", configFile, err)
	}
	root, _ := full.m.vals["root"].(string)
	if root == "" {
		root = dirOf(configFile)
	}
	root, err = rootReplacement(root)
	if err != nil {
		return nil, fmt.Errorf("open repository %q: repository root: %w", configFile, err)
	}
	cf := configFile
	if scheme(cf) == "" || scheme(cf) == "file" {
		if p, err := localPath(cf); err == nil {
			cf = p
		}
	}
	r := &Repo{Root: root, ConfigFile: cf, Config: full}
	if r.Registry, err = registryView(full.m.sub("registry"), root); err != nil {
		return nil, fmt.Errorf("open repository %q: %w", configFile, err)
	}
	if r.Datastore, err = datastoreView(full.m.sub("datastore"), root); err != nil {
		return nil, fmt.Errorf("open repository %q: %w", configFile, err)
	}
	return r, nil
}

// dirOf is the directory part of a path or URI.
func dirOf(p string) string {
	if hasScheme(p) && scheme(p) != "file" {
		i := strings.LastIndex(p, "/")
		if i < len(scheme(p))+3 {
			return p
		}
		return p[:i]
	}
	lp, err := localPath(p)
	if err != nil {
		return filepath.Dir(p)
	}
	return filepath.Dir(lp)
}

// rootReplacement is the text that replaces <butlerRoot>: an absolute local
// path for local roots (file URIs included), the URI verbatim otherwise.
func rootReplacement(root string) (string, error) {
	if root == "" {
		return "", fmt.Errorf("%w: no repository root to replace %s with", errs.ErrInvalid, ButlerRootTag)
	}
	switch scheme(root) {
	case "", "file":
		return localPath(root)
	}
	return root, nil
}

func replaceRoot(s, root string) string { return strings.ReplaceAll(s, ButlerRootTag, root) }

// scalarString renders a scalar config value as text; ok is false for
// mappings and lists.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "", true
	case string:
		return t, true
	case *mapping, []any:
		return "", false
	case float64:
		return formatFloat(t), true
	}
	return fmt.Sprint(v), true
}

func registryView(m *mapping, root string) (RegistryConfig, error) {
	var r RegistryConfig
	if m == nil {
		return r, fmt.Errorf("%w: no registry section", errs.ErrInvalid)
	}
	db, ok := m.vals["db"].(string)
	if !ok || db == "" {
		return r, fmt.Errorf("%w: registry.db must be a database URL", errs.ErrInvalid)
	}
	r.DB = replaceRoot(db, root)
	fields := []struct {
		key string
		dst *string
	}{{"namespace", &r.Namespace}, {"username", &r.Username}, {"password", &r.Password}, {"host", &r.Host}, {"database", &r.Database}}
	for _, f := range fields {
		s, ok := scalarString(m.vals[f.key])
		if !ok {
			return r, fmt.Errorf("%w: registry.%s must be a string", errs.ErrInvalid, f.key)
		}
		*f.dst = s
	}
	if v, ok := m.vals["port"]; ok && v != nil {
		p, ok := toInt(v)
		if !ok || p < 0 || p > 65535 {
			return r, fmt.Errorf("%w: registry.port %v is not a port number", errs.ErrInvalid, v)
		}
		r.Port = p
	}
	r.TemporaryTables = true
	if v, ok := m.vals["temporary_tables"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return r, fmt.Errorf("%w: registry.temporary_tables %v is not a boolean", errs.ErrInvalid, v)
		}
		r.TemporaryTables = b
	}
	r.Managers = map[string]string{}
	if mg := m.sub("managers"); mg != nil {
		for _, k := range mg.keys {
			switch t := mg.vals[k].(type) {
			case string:
				r.Managers[k] = t
			case *mapping:
				if cls := t.str("cls"); cls != "" {
					r.Managers[k] = cls
				} else {
					return r, fmt.Errorf("%w: registry.managers.%s has no cls", errs.ErrInvalid, k)
				}
			case nil:
			default:
				return r, fmt.Errorf("%w: registry.managers.%s must be a class name", errs.ErrInvalid, k)
			}
		}
	}
	return r, nil
}

// dataIDKey matches a lookup sub-section key such as "instrument<HSC>".
var dataIDKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([a-z_]+)<(.*)>$`)
})

func datastoreView(m *mapping, root string) (DatastoreConfig, error) {
	var d DatastoreConfig
	if m == nil {
		return d, fmt.Errorf("%w: no datastore section", errs.ErrInvalid)
	}
	d.Cls = m.str("cls")
	rawRoot, _ := scalarString(m.vals["root"])
	d.Root = replaceRoot(rawRoot, root)
	if rec := m.sub("records"); rec != nil {
		d.RecordsTable = rec.str("table")
	}
	if v, ok := m.vals["checksum"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return d, fmt.Errorf("%w: datastore.checksum %v is not a boolean", errs.ErrInvalid, v)
		}
		d.Checksum = b
	}
	var err error
	if d.Templates, err = templatesView(m.sub("templates")); err != nil {
		return d, err
	}
	if d.Formatters, d.FormatterDefaults, d.WriteRecipes, err = formattersView(m.sub("formatters")); err != nil {
		return d, err
	}
	if d.Composites, err = compositesView(m.sub("composites")); err != nil {
		return d, err
	}
	if children, ok := m.vals[datastoreContainerKey].([]any); ok && d.Cls == ChainedDatastoreClass {
		for i, ch := range children {
			cm, _ := ch.(*mapping)
			cd, err := datastoreView(cm, root)
			if err != nil {
				return d, fmt.Errorf("datastore.%s.%d: %w", datastoreContainerKey, i, err)
			}
			d.Children = append(d.Children, cd)
		}
	}
	d.Name, _ = scalarString(m.vals["name"])
	switch d.Cls {
	case FileDatastoreClass:
		if d.Name == "" {
			d.Name = "FileDatastore@" + rawRoot
		}
	case ChainedDatastoreClass:
		d.Name = "ChainedDatastore[" + strings.Join(d.Names(), ",") + "]"
	}
	return d, nil
}

// Names lists the names of the datastores that store datasets: this one, or
// for a ChainedDatastore all of its (nested) children.
func (d DatastoreConfig) Names() []string {
	if d.Cls != ChainedDatastoreClass {
		return []string{d.Name}
	}
	var out []string
	for _, c := range d.Children {
		out = append(out, c.Names()...)
	}
	return out
}

// eachLookup calls fn for each lookup key in m, flattening data ID
// sub-sections ("instrument<HSC>: {calexp: …}" → "instrument<HSC>/calexp").
// isEntry says whether a mapping value is an entry rather than a sub-section.
func eachLookup(m *mapping, isEntry func(*mapping) bool, fn func(key string, v any) error) error {
	for _, k := range m.keys {
		v := m.vals[k]
		if sub, ok := v.(*mapping); ok && dataIDKey().MatchString(k) && !isEntry(sub) {
			for _, sk := range sub.keys {
				if err := fn(k+"/"+sk, sub.vals[sk]); err != nil {
					return err
				}
			}
			continue
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func templatesView(m *mapping) (map[string]string, error) {
	out := map[string]string{}
	if m == nil {
		return out, nil
	}
	err := eachLookup(m, func(*mapping) bool { return false }, func(k string, v any) error {
		switch t := v.(type) {
		case string:
			out[k] = t
		case nil:
			out[k] = ""
		case bool:
			if t {
				return fmt.Errorf("%w: datastore.templates.%s: true is not a template", errs.ErrInvalid, k)
			}
			out[k] = ""
		default:
			return fmt.Errorf("%w: datastore.templates.%s is a %s, not a template string", errs.ErrInvalid, k, kindOf(v))
		}
		return nil
	})
	return out, err
}

func formattersView(m *mapping) (map[string]FormatterSpec, map[string]map[string]any, map[string]map[string]any, error) {
	specs := map[string]FormatterSpec{}
	defaults := map[string]map[string]any{}
	recipes := map[string]map[string]any{}
	if m == nil {
		return specs, defaults, recipes, nil
	}
	rest := m.clone()
	for _, sec := range []struct {
		key string
		dst map[string]map[string]any
	}{{"default", defaults}, {"write_recipes", recipes}} {
		if s := rest.sub(sec.key); s != nil {
			for _, k := range s.keys {
				p, _ := plain(s.vals[k]).(map[string]any)
				sec.dst[k] = p
			}
		}
		rest.del(sec.key)
	}
	isSpec := func(s *mapping) bool { _, ok := s.vals["formatter"]; return ok }
	err := eachLookup(rest, isSpec, func(k string, v any) error {
		switch t := v.(type) {
		case string:
			specs[k] = FormatterSpec{Formatter: t}
		case *mapping:
			f, ok := t.vals["formatter"].(string)
			if !ok || f == "" {
				return fmt.Errorf("%w: datastore.formatters.%s needs a formatter class", errs.ErrInvalid, k)
			}
			spec := FormatterSpec{Formatter: f}
			if p, ok := t.vals["parameters"].(*mapping); ok {
				spec.Parameters = plain(p).(map[string]any)
			}
			specs[k] = spec
		default:
			return fmt.Errorf("%w: datastore.formatters.%s is a %s, not a formatter", errs.ErrInvalid, k, kindOf(v))
		}
		return nil
	})
	return specs, defaults, recipes, err
}

func compositesView(m *mapping) (map[string]bool, error) {
	out := map[string]bool{"default": false}
	if m == nil {
		return out, nil
	}
	if v, ok := m.vals["default"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%w: datastore.composites.default %v is not a boolean", errs.ErrInvalid, v)
		}
		out["default"] = b
	}
	dis := m.sub("disassembled")
	if dis == nil {
		return out, nil
	}
	err := eachLookup(dis, func(*mapping) bool { return false }, func(k string, v any) error {
		if strings.HasPrefix(k, "__") { // upstream's documentation placeholder
			return nil
		}
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("%w: datastore.composites.disassembled.%s is not a boolean", errs.ErrInvalid, k)
		}
		out[k] = b
		return nil
	})
	return out, err
}

// errBothIndexes is returned when both index variables are set.
var errBothIndexes = fmt.Errorf("%w: only one of $%s and $%s may be set", errs.ErrInvalid, EnvRepositories, EnvRepositoryIndex)

// readRepoIndex returns the alias → URI index from the environment; with
// neither variable set it returns (nil, nil).
func readRepoIndex() (map[string]string, error) {
	inline := os.Getenv(EnvRepositories)
	file := os.Getenv(EnvRepositoryIndex)
	switch {
	case inline != "" && file != "":
		return nil, errBothIndexes
	case inline != "":
		idx, err := parseRepoIndex([]byte(inline))
		if err != nil {
			return nil, fmt.Errorf("read $%s: %w", EnvRepositories, err)
		}
		return idx, nil
	case file != "":
		p, err := localPath(file)
		if err != nil {
			return nil, fmt.Errorf("read repository index %q: %w", file, err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("read repository index %q: %w: %w", file, errs.ErrNotFound, err)
			}
			return nil, fmt.Errorf("read repository index %q: %w", file, err)
		}
		idx, err := parseRepoIndex(data)
		if err != nil {
			return nil, fmt.Errorf("read repository index %q: %w", file, err)
		}
		return idx, nil
	}
	return nil, nil
}

// parseRepoIndex reads a flat label → URI mapping (YAML, so JSON too).
func parseRepoIndex(data []byte) (map[string]string, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("%w: %v", errs.ErrInvalid, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	out := map[string]string{}
	if len(n.Content) == 0 {
		return out, nil
	}
	top := resolveAlias(n.Content[0])
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: repository index is not a label: URI mapping", errs.ErrInvalid)
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := resolveAlias(top.Content[i]), resolveAlias(top.Content[i+1])
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return nil, fmt.Errorf("%w: repository index entry at line %d is not label: URI", errs.ErrInvalid, k.Line)
		}
		out[k.Value] = v.Value
	}
	return out, nil
}

// KnownRepos lists the aliases of the repository index, sorted. It returns an
// error only when an index is configured but cannot be read.
func KnownRepos() ([]string, error) {
	idx, err := readRepoIndex()
	if err != nil || idx == nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(idx)), nil
}

// RepoURI returns the location an alias stands for.
func RepoURI(label string) (string, error) {
	idx, err := readRepoIndex()
	if err != nil {
		return "", fmt.Errorf("look up repository alias %q: %w", label, err)
	}
	if idx == nil {
		return "", fmt.Errorf("look up repository alias %q: %w: no repository index ($%s or $%s) is set",
			label, errs.ErrNotFound, EnvRepositoryIndex, EnvRepositories)
	}
	uri, ok := idx[label]
	if !ok {
		return "", fmt.Errorf("look up repository alias %q: %w (known aliases: %s)", label, errs.ErrNotFound,
			strings.Join(slices.Sorted(maps.Keys(idx)), ", "))
	}
	return uri, nil
}
