package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gobutler/butler/errs"
)

// MakeOptions are the `butler create` switches that shape the written config.
type MakeOptions struct {
	// Standalone writes every expanded default into the config, decoupling
	// the repository from later changes to the defaults.
	Standalone bool
	// Override keeps a datastore root and registry db given in the seed
	// instead of forcing <butlerRoot>-relative values (upstream
	// forceConfigRoot=False).
	Override bool
	// Outfile, when set, means the config is written outside the repository,
	// so a `root:` key pointing at the repository is added.
	Outfile string
	// SearchPath lists extra default-config directories, highest priority first.
	SearchPath []string
	// Logger receives warnings (nil: discarded).
	Logger *slog.Logger
}

// SQLiteDefaultDB is the registry database of a new SQLite repository.
const SQLiteDefaultDB = "sqlite:///" + ButlerRootTag + "/gen3.sqlite3"

// MakeRepoConfig builds the config a new repository at root is created with,
// from an optional seed, following daf_butler's makeRepo: the seed's `root`
// is dropped; the datastore root becomes <butlerRoot> (ChainedDatastore
// children <butlerRoot>/<Class>_<i>) and its cls and records table are
// copied in; a SQLite registry gets sqlite:///<butlerRoot>/gen3.sqlite3
// while other dialects (PostgreSQL) keep the seed's db; with Override, roots
// and db set in the seed are kept. Registry managers are always expanded;
// Standalone expands everything; Outfile adds `root:`. The result still holds
// registry.password and any obscore config (needed to create the registry);
// WriteRepoConfig strips them. A password inside registry.db is refused.
func MakeRepoConfig(root string, seed *Config, opts MakeOptions) (*Config, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if root == "" {
		return nil, fmt.Errorf("make repository config: %w: no repository root", errs.ErrInvalid)
	}
	cfg := seed.Clone()
	cfg.file = ""
	cfg.m.del("root")
	if err := checkDBPassword(cfg.m); err != nil {
		return nil, fmt.Errorf("make repository config: %w", err)
	}
	full, err := Expand(cfg, opts.SearchPath)
	if err != nil {
		return nil, fmt.Errorf("make repository config: %w", err)
	}
	overwrite := !opts.Override

	// Datastore roots.
	if cfg.m.sub("datastore") == nil {
		cfg.m.set("datastore", newMapping())
	}
	if err := setDatastoreRoot(cfg.m.sub("datastore"), full.m.sub("datastore"), ButlerRootTag, overwrite, "datastore", log); err != nil {
		return nil, fmt.Errorf("make repository config: %w", err)
	}

	// Registry database.
	if cfg.m.sub("registry") == nil {
		cfg.m.set("registry", newMapping())
	}
	reg, fullReg := cfg.m.sub("registry"), full.m.sub("registry")
	seedDB := reg.str("db")
	db := seedDB
	if db == "" {
		db = fullReg.str("db")
	}
	dialect, err := dbDialect(db)
	if err != nil {
		return nil, fmt.Errorf("make repository config: %w", err)
	}
	if engines := fullReg.sub("engines"); engines != nil {
		if _, ok := engines.vals[dialect]; !ok {
			return nil, fmt.Errorf("make repository config: %w: registry.db dialect %q has no engine (known: %s)",
				errs.ErrUnsupported, dialect, strings.Join(engines.keys, ", "))
		}
	}
	if overwrite || seedDB == "" {
		if dialect == "sqlite" {
			reg.set("db", SQLiteDefaultDB)
		} else {
			// No default location exists for a server database: keep the one given.
			reg.set("db", fullReg.str("db"))
		}
	}

	if opts.Standalone {
		merged := full.Clone()
		merged.file = ""
		merged.Merge(cfg)
		cfg = merged
		reg = cfg.m.sub("registry")
	} else if fm := fullReg.sub("managers"); fm != nil {
		// Managers are frozen into the schema at creation, so always record them.
		managers := fm.clone()
		if own := reg.sub("managers"); own != nil {
			mergeMapping(managers, own)
		}
		reg.set("managers", managers)
	}

	if opts.Outfile != "" {
		u, err := rootURI(root)
		if err != nil {
			return nil, fmt.Errorf("make repository config: %w", err)
		}
		cfg.m.set("root", u)
	}

	if mg := reg.sub("managers"); mg != nil {
		if _, ok := mg.vals["obscore"]; ok {
			ob, _ := mg.vals["obscore"].(*mapping)
			if ob == nil || isEmpty(ob.vals["config"]) {
				log.Warn("registry.managers.obscore is declared without its config; dropping the obscore manager")
				mg.del("obscore")
			}
		}
	}
	return cfg, nil
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case *mapping:
		return len(t.keys) == 0
	case []any:
		return len(t) == 0
	case string:
		return t == ""
	}
	return false
}

// setDatastoreRoot applies a datastore class's root fix-up to local (the
// datastore section being written), reading class and records table from
// full (the expanded section).
//
// A root set in the seed that overwrite replaces is logged as a warning
// naming --override: upstream replaces it silently, and a seed written for
// an S3 or shared datastore then puts the files under the repository.
func setDatastoreRoot(local, full *mapping, root string, overwrite bool, at string, log *slog.Logger) error {
	cls := full.str("cls")
	switch cls {
	case FileDatastoreClass:
		if given, ok := local.vals["root"]; overwrite || !ok {
			if s, _ := given.(string); ok && overwrite && s != "" && s != root {
				log.Warn(fmt.Sprintf("the seed config's %s.root %q is replaced by the repository's %s; pass --override to keep it", at, s, root))
			}
			local.set("root", root)
		}
		if _, ok := local.vals["cls"]; overwrite || !ok {
			local.set("cls", cls)
		}
		rec := local.sub("records")
		if rec == nil {
			rec = newMapping()
			local.set("records", rec)
		}
		if _, ok := rec.vals["table"]; overwrite || !ok {
			table, ok := full.sub("records").get("table")
			if !ok {
				return fmt.Errorf("%w: datastore.records.table missing from the defaults", errs.ErrInvalid)
			}
			rec.set("table", table)
		}
	case ChainedDatastoreClass:
		lc, _ := local.vals[datastoreContainerKey].([]any)
		fc, _ := full.vals[datastoreContainerKey].([]any)
		if len(lc) != len(fc) || lc == nil {
			return fmt.Errorf("%w: a ChainedDatastore seed must list its datastores (%d given, %d expanded)",
				errs.ErrInvalid, len(lc), len(fc))
		}
		for i := range lc {
			lm, _ := lc[i].(*mapping)
			fm, _ := fc[i].(*mapping)
			if lm == nil || fm == nil {
				return fmt.Errorf("%w: datastore.%s.%d is not a mapping", errs.ErrInvalid, datastoreContainerKey, i)
			}
			child := componentOf(lm, "datastore").clone()
			name := shortClass(fm.str("cls"))
			if err := setDatastoreRoot(child, fm, root+"/"+name+"_"+strconv.Itoa(i), overwrite,
				fmt.Sprintf("%s.%s.%d", at, datastoreContainerKey, i), log); err != nil {
				return fmt.Errorf("datastore.%s.%d: %w", datastoreContainerKey, i, err)
			}
			lc[i] = child
		}
	case InMemoryDatastoreClass:
		// No root.
	default:
		return fmt.Errorf("%w: datastore class %q", errs.ErrUnsupported, cls)
	}
	return nil
}

func shortClass(cls string) string { return cls[strings.LastIndex(cls, ".")+1:] }

// dbDialect is the database dialect of a registry URL, without "+driver".
func dbDialect(db string) (string, error) {
	i := strings.Index(db, "://")
	if i <= 0 {
		return "", fmt.Errorf("%w: registry.db %q is not a database URL", errs.ErrInvalid, redactURL(db))
	}
	name := db[:i]
	if j := strings.Index(name, "+"); j >= 0 {
		name = name[:j]
	}
	return strings.ToLower(name), nil
}

// rootURI is the `root:` value written with --outfile: a directory URI like
// upstream's ResourcePath.geturl() (file:///abs/path/ for local roots).
func rootURI(root string) (string, error) {
	switch scheme(root) {
	case "", "file":
		p, err := localPath(root)
		if err != nil {
			return "", err
		}
		s := filepath.ToSlash(p)
		if !strings.HasSuffix(s, "/") {
			s += "/"
		}
		return (&url.URL{Scheme: "file", Path: s}).String(), nil
	}
	if !strings.HasSuffix(root, "/") {
		root += "/"
	}
	return root, nil
}

// checkDBPassword refuses a password written inside registry.db.
func checkDBPassword(top *mapping) error {
	reg := top.sub("registry")
	if reg == nil {
		return nil
	}
	db := reg.str("db")
	if db == "" || redactURL(db) == db {
		return nil
	}
	return fmt.Errorf("%w: registry.db %q contains a password; remove it and put the credentials in a "+
		"db-auth file instead ($LSST_DB_AUTH or ~/.lsst/db-auth.yaml, mode 600: "+
		"- url: <dialect>://<host>:<port>/<database>, username: <user>, password: <password>)",
		errs.ErrInvalid, redactURL(db))
}

// RepoConfigBytes encodes cfg for writing to name (".json" → JSON, else
// YAML), dropping registry.password and obscore config and refusing a
// password inside registry.db.
func RepoConfigBytes(cfg *Config, name string) ([]byte, error) {
	c := cfg.Clone()
	if err := checkDBPassword(c.m); err != nil {
		return nil, fmt.Errorf("encode repository config: %w", err)
	}
	if reg := c.m.sub("registry"); reg != nil {
		reg.del("password")
		if ob := reg.sub("managers").sub("obscore"); ob != nil {
			ob.del("config")
		}
	}
	if strings.EqualFold(filepath.Ext(name), ".json") {
		return c.JSON()
	}
	return c.YAML()
}

// WriteRepoConfig writes cfg to path (a file, or an existing directory which
// gets butler.yaml), creating parent directories. It never overwrites: an
// existing file gives errs.ErrConflict.
func WriteRepoConfig(cfg *Config, path string) error {
	p, err := localPath(path)
	if err != nil {
		return fmt.Errorf("write repository config %q: %w", path, err)
	}
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		p = filepath.Join(p, "butler.yaml")
	}
	data, err := RepoConfigBytes(cfg, p)
	if err != nil {
		return fmt.Errorf("write repository config %q: %w", p, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write repository config %q: %w", p, classifyFSError(err))
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("write repository config %q: %w: file exists", p, errs.ErrConflict)
		}
		return fmt.Errorf("write repository config %q: %w", p, classifyFSError(err))
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(p)
		return fmt.Errorf("write repository config %q: %w", p, err)
	}
	return nil
}

func classifyFSError(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w: %w", errs.ErrPermission, err)
	}
	return err
}
