// Package butler is the Go API of the data butler: create and open repositories,
// put, get and find datasets, organise them in collections, ingest files. A
// repository is a registry (SQL database) plus a datastore (files in a
// directory or bucket), laid out as lsst.daf.butler lays them out.
package butler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/config"
	"github.com/gobutler/butler/internal/datastore"
	"github.com/gobutler/butler/internal/registry"
	"github.com/gobutler/butler/remote"
	"github.com/gobutler/butler/storage"
	"github.com/gobutler/butler/storage/posix"
	"github.com/gobutler/butler/storage/s3"
)

// Butler is an open repository.
type Butler struct {
	// Root is the repository root; ConfigFile the butler.yaml it was opened from.
	Root, ConfigFile string
	// Universe is the repository's dimension universe.
	Universe *dimensions.Universe

	repo       *config.Repo
	reg        *registry.Registry
	ds         *datastore.Datastore
	log        *slog.Logger
	writeable  bool
	storageCls map[string]config.StorageClassDef
	// remoteClasses loads storageCls of a remote repository once (storageClasses).
	remoteClasses sync.Once
	// be answers the read methods: the registry and datastore above, or a
	// server's client for a repository opened by URL (reg, ds and repo are
	// then nil; see backend.go).
	be backend
}

// DefaultStorage returns the storage drivers a butler can open, by URI scheme.
// Drivers are registered here, not in init, so tests can build their own.
func DefaultStorage() *storage.Mux { return storageWithSync(true) }

// storageWithSync is DefaultStorage with local files fsynced or not.
func storageWithSync(fsync bool) *storage.Mux {
	m := &storage.Mux{}
	m.Register(posix.Scheme, func(ctx context.Context, u *url.URL) (storage.Backend, error) {
		// Directory syncs are batched: the butler syncs the entries it wrote once,
		// right before committing the records that point at them.
		b, err := posix.OpenURL(ctx, u)
		if err != nil {
			return nil, err
		}
		return posix.OpenOptions(ctx, b.(*posix.Backend).Root(), posix.Options{DeferDirSync: true, NoSync: !fsync})
	})
	m.Register(s3.Scheme, s3.Open)
	return m
}

// CreateOptions are the switches of `butler create`.
type CreateOptions struct {
	SeedConfig      string // path of a seed config ("" for none)
	DimensionConfig string // path of a dimension universe config ("" for the default)
	Standalone      bool
	Override        bool
	Outfile         string
	SearchPath      []string
	Logger          *slog.Logger
}

// Create makes a new, empty repository at root and returns the path of the
// config file it wrote. An existing repository there is left untouched and is
// an error wrapping errs.ErrConflict.
func Create(ctx context.Context, root string, opts CreateOptions) (string, error) {
	if root == "" {
		return "", fmt.Errorf("create repository: %w: no root given", errs.ErrInvalid)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("create repository %q: %w", root, err)
	}
	seed := config.New()
	if opts.SeedConfig != "" {
		if seed, err = config.Load(opts.SeedConfig); err != nil {
			return "", fmt.Errorf("create repository %q: seed config: %w", root, err)
		}
	}
	var u *dimensions.Universe // nil: the default universe
	if opts.DimensionConfig != "" {
		data, err := os.ReadFile(opts.DimensionConfig)
		if err != nil {
			return "", fmt.Errorf("create repository %q: dimension config: %w", root, classifyOS(err))
		}
		if u, err = dimensions.Load(data); err != nil {
			return "", fmt.Errorf("create repository %q: dimension config %s: %w", root, opts.DimensionConfig, err)
		}
	}
	cfg, err := config.MakeRepoConfig(abs, seed, config.MakeOptions{Standalone: opts.Standalone, Override: opts.Override, Outfile: opts.Outfile, SearchPath: opts.SearchPath, Logger: opts.Logger})
	if err != nil {
		return "", fmt.Errorf("create repository %q: %w", root, err)
	}
	configFile := filepath.Join(abs, "butler.yaml")
	if opts.Outfile != "" {
		if configFile, err = filepath.Abs(opts.Outfile); err != nil {
			return "", err
		}
	}
	if _, err := os.Stat(configFile); err == nil {
		return "", fmt.Errorf("create repository %q: %w: %s already exists", root, errs.ErrConflict, configFile)
	}
	repo, err := config.NewRepo(cfg, configFile, opts.SearchPath)
	if err != nil {
		return "", fmt.Errorf("create repository %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("create repository %q: %w", root, classifyOS(err))
	}
	created, err := createRegistry(ctx, location(repo.Registry), u, recordsTable(repo.Datastore))
	if err != nil {
		return "", fmt.Errorf("create repository %q: %w", root, err)
	}
	if err := config.WriteRepoConfig(cfg, configFile); err != nil {
		if created != "" {
			os.Remove(created)
		}
		return "", fmt.Errorf("create repository %q: %w", root, err)
	}
	return configFile, nil
}

// createRegistry makes the registry database of a new repository (u nil: the
// default universe) and returns the path of the SQLite file it created, if
// any. A new SQLite registry of the default universe is a copy of the
// embedded template; any other gets its schema statement by statement.
func createRegistry(ctx context.Context, loc registry.Location, u *dimensions.Universe, records string) (string, error) {
	if created, ok, err := registry.CreateFromTemplate(ctx, loc, u, records); err != nil || ok {
		return created, err
	}
	db, created, err := registry.Connect(ctx, loc, true, false)
	if err != nil {
		return "", err
	}
	reg, err := registry.Create(ctx, db, u, records)
	if err != nil {
		db.Close()
		if created != "" && !errors.Is(err, errs.ErrConflict) {
			os.Remove(created)
		}
		return "", err
	}
	if created != "" {
		err = reg.FinishCreate(ctx, created)
	}
	if cerr := reg.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if created != "" {
			os.Remove(created)
		}
		return "", err
	}
	return created, nil
}

func recordsTable(d config.DatastoreConfig) string {
	if d.RecordsTable != "" {
		return d.RecordsTable
	}
	return "file_datastore_records"
}

// location is where the registry database of repo is.
func location(reg config.RegistryConfig) registry.Location {
	return registry.Location{URL: reg.DB, Namespace: reg.Namespace, Resolve: func() (string, string, error) { return config.ResolveConnection(reg) }}
}

// OpenOptions tune Open.
type OpenOptions struct {
	// Writeable opens the registry for writing; read-only otherwise.
	Writeable  bool
	SearchPath []string
	Logger     *slog.Logger
	Storage    *storage.Mux // nil: DefaultStorage()
}

// Open opens an existing repository by path, config file or alias.
//
// A server URL (https://HOST/api/butler/repo/LABEL, or http:// on loopback)
// opens a read-only remote repository: its read methods go to the server,
// with the token of $BUTLER_RUBIN_ACCESS_TOKEN or $ACCESS_TOKEN.
func Open(ctx context.Context, ref string, opts OpenOptions) (*Butler, error) {
	if remote.IsURL(ref) {
		return openRemote(ctx, ref, opts)
	}
	repo, err := config.LoadRepo(ref, opts.SearchPath)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db, _, err := registry.Connect(ctx, location(repo.Registry), false, !opts.Writeable)
	if err != nil {
		return nil, fmt.Errorf("open repository %q: %w", ref, err)
	}
	reg, err := registry.Open(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open repository %q: %w", ref, err)
	}
	mux := opts.Storage
	if mux == nil {
		// Like the Python butler, files are not fsynced unless datastore.fsync
		// is set (atomic renames still keep readers from ever seeing part of a
		// file); a commit only ever follows the file's rename.
		fsync, _ := repo.Config.GetBool(".datastore.fsync")
		mux = storageWithSync(fsync)
	}
	backend, err := mux.Open(ctx, repo.Datastore.Root)
	if err != nil {
		reg.Close()
		return nil, fmt.Errorf("open datastore of %q: %w", ref, err)
	}
	dcfg := datastore.Config{
		Name: repo.Datastore.Name, RecordsTable: recordsTable(repo.Datastore),
		Templates: repo.Datastore.Templates, Formatters: map[string]string{}, Checksum: repo.Datastore.Checksum,
	}
	if dcfg.Name == "" || strings.HasPrefix(dcfg.Name, "FileDatastore@") {
		// The recorded name keeps the placeholder, so a moved repository still matches its rows.
		dcfg.Name = "FileDatastore@<butlerRoot>"
	}
	for k, f := range repo.Datastore.Formatters {
		dcfg.Formatters[k] = f.Formatter
	}
	// Config keys name dimension groups in any order (physical_filter+detector+exposure);
	// lookups use the group's required dimensions in universe order.
	canon := func(dims []string) (string, error) {
		g, err := reg.Universe.Group(dims...)
		if err != nil {
			return "", err
		}
		return strings.Join(g.RequiredNames(), "+"), nil
	}
	if dcfg.Templates, err = datastore.CanonicalKeys(dcfg.Templates, canon); err != nil {
		reg.Close()
		return nil, fmt.Errorf("open repository %q: file templates: %w", ref, err)
	}
	if dcfg.Formatters, err = datastore.CanonicalKeys(dcfg.Formatters, canon); err != nil {
		reg.Close()
		return nil, fmt.Errorf("open repository %q: formatters: %w", ref, err)
	}
	ds, err := datastore.New(dcfg, backend)
	if err != nil {
		reg.Close()
		return nil, err
	}
	scs, err := config.StorageClasses(repo.Config)
	if err != nil {
		log.Warn("storage classes unreadable", "err", err)
	}
	b := &Butler{Root: repo.Root, ConfigFile: repo.ConfigFile, Universe: reg.Universe, repo: repo, reg: reg, ds: ds, log: log, writeable: opts.Writeable, storageCls: scs}
	b.be = local{b}
	return b, nil
}

// Close releases the repository.
func (b *Butler) Close() error { return b.be.close() }

func (b local) close() error { return errors.Join(b.reg.Close(), b.ds.Backend.Close()) }

// Config returns the expanded repository configuration; a remote
// repository's is the server's own, which it does not hand out.
func (b *Butler) Config() (*config.Config, error) {
	if err := b.be.unsupported("reading the repository configuration"); err != nil {
		return nil, err
	}
	return b.repo.Config, nil
}

// IsWriteable reports whether the repository was opened for writing and the
// database lets this user write.
func (b *Butler) IsWriteable() bool { return b.checkWriteable("") == nil }

func (b *Butler) checkWriteable(what string) error { return b.be.writable(what) }

func (b local) writable(what string) error {
	if !b.writeable {
		return fmt.Errorf("%s: %w: repository %s was opened read-only", what, errs.ErrReadOnly, b.Root)
	}
	if !b.reg.IsWriteable() {
		// Opened for writing, but a PostgreSQL grant allows reading only.
		return fmt.Errorf("%s: %w", what, b.reg.ReadOnlyError())
	}
	return nil
}

// ShareAccess is what Share gives a database role.
type ShareAccess int

const (
	// ShareRevoke takes away what Share gave.
	ShareRevoke ShareAccess = iota
	// ShareReadOnly lets the role query the repository.
	ShareReadOnly
	// ShareReadWrite lets the role change it too (what the seed tutorial grants by hand).
	ShareReadWrite
)

// Share grants a PostgreSQL role (a collaborator's database user) access to
// the repository's registry schema, covering existing and future tables and
// sequences, or revokes it. Only the schema's owner may share; SQLite
// repositories are errs.ErrUnsupported. The collaborator also needs the
// butler.yaml and their own db-auth entry.
func (b *Butler) Share(ctx context.Context, role string, access ShareAccess) error {
	if err := b.be.unsupported("sharing"); err != nil {
		return err
	}
	a := registry.NoAccess
	switch access {
	case ShareReadOnly:
		a = registry.ReadAccess
	case ShareReadWrite:
		a = registry.ReadWriteAccess
	}
	return b.reg.Grant(ctx, role, a)
}

func classifyOS(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %w", errs.ErrNotFound, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: %w", errs.ErrPermission, err)
	}
	return err
}

// syncFiles makes newly written datastore entries durable before their records commit.
func (b *Butler) syncFiles(ctx context.Context, keys []string) error {
	if s, ok := b.ds.Backend.(storage.Syncer); ok && len(keys) > 0 {
		if err := s.SyncKeys(ctx, keys); err != nil {
			return fmt.Errorf("sync datastore: %w", err)
		}
	}
	return nil
}

// CheckTransferMode validates a transfer mode name (auto, link, symlink,
// hardlink, copy, move, relsymlink, direct).
func CheckTransferMode(mode string) error { return datastore.CheckMode(mode) }

// IsTransient reports whether err is a lost database connection after which
// nothing was committed: the whole operation may safely be run again.
func IsTransient(err error) bool { return registry.IsTransient(err) }

// IsCommitUnknown reports whether err is a connection lost during COMMIT: the
// changes may or may not have been saved. Running the operation again is safe
// only when it skips what already exists (ingest's default).
func IsCommitUnknown(err error) bool { return errors.Is(err, registry.ErrCommitUnknown) }
