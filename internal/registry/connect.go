package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// Location says where a registry database is.
type Location struct {
	URL       string // registry.db: sqlite:///PATH or postgresql://HOST/DB
	Namespace string // PostgreSQL schema
	// Resolve gives the PostgreSQL connection string (with the password) and
	// its redacted form for messages; it is called only for PostgreSQL URLs,
	// so SQLite repositories never read credentials.
	Resolve func() (dsn, redacted string, err error)
}

// Connect connects to the registry database at loc. For a new SQLite file it
// returns its path in created so a failed create can remove it.
func Connect(ctx context.Context, loc Location, create, readOnly bool) (*sqldb.DB, string, error) {
	switch {
	case strings.HasPrefix(loc.URL, "sqlite:///"):
		path := strings.TrimPrefix(loc.URL, "sqlite:///")
		if path == "" || path == ":memory:" {
			return nil, "", fmt.Errorf("registry %q: %w: in-memory SQLite registries are not supported", loc.URL, errs.ErrUnsupported)
		}
		created := ""
		if create {
			fi, err := os.Stat(path)
			switch {
			case errors.Is(err, os.ErrNotExist):
				created = path
			case err == nil && fi.Size() > 0:
				// Never open an existing database for creation: even a refused
				// create would rewrite it (journal mode, checkpoint).
				return nil, "", fmt.Errorf("registry %s: %w: the database already exists", path, errs.ErrConflict)
			}
		}
		db, err := sqldb.OpenSQLite(ctx, path, create, readOnly)
		return db, created, err
	case strings.HasPrefix(loc.URL, "postgresql"):
		// The password is only in dsn; messages use redacted.
		dsn, redacted, err := loc.Resolve()
		if err != nil {
			return nil, "", err
		}
		db, err := sqldb.OpenPostgres(ctx, dsn, redacted, loc.Namespace, create, readOnly)
		return db, "", err
	}
	return nil, "", fmt.Errorf("registry %q: %w: unknown database URL (want sqlite:///PATH or postgresql://HOST/DB)", loc.URL, errs.ErrUnsupported)
}

// FinishCreate sets the journal mode of the SQLite file Connect created for
// r, through r's own connection (a new one would parse the whole new schema
// again); call it last, before closing r.
func (r *Registry) FinishCreate(ctx context.Context, created string) error {
	return r.db.SetJournalMode(ctx, sqldb.JournalMode(created))
}
