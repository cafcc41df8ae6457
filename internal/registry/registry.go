package registry

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/timespan"
)

// Registry is an open registry database.
type Registry struct {
	db *sqldb.DB
	// Universe is the repository's own dimension universe (read from butler_attributes).
	Universe *dimensions.Universe
	// datasetsV2: ingest_date is BIGINT TAI nanoseconds (datasets manager 2.x), not TIMESTAMP.
	datasetsV2 bool
	// shared holds records of cached elements (recordcache.go).
	shared sharedRecords

	mu          sync.Mutex
	types       map[string]*storedType
	typesLoaded bool
	opaque      map[string]bool
	groupKeys   map[string]int64
	search      *searchCache // nil: off (searchcache.go)
}

type storedType struct {
	dataset.Type
	id       int64
	dimKey   int64
	tagTable string
	calTable string
}

// Close closes the database.
func (r *Registry) Close() error { return r.db.Close() }

// IsWriteable reports whether writes are allowed.
func (r *Registry) IsWriteable() bool { return !r.db.ReadOnly }

func newRegistry(db *sqldb.DB, u *dimensions.Universe) *Registry {
	return &Registry{db: db, Universe: u, types: map[string]*storedType{}, opaque: map[string]bool{}, groupKeys: map[string]int64{}}
}

// Create makes the schema of a new repository in an empty database, with the
// datastore's opaque record tables (such as file_datastore_records), in one
// transaction.
func Create(ctx context.Context, db *sqldb.DB, u *dimensions.Universe, opaqueTables ...string) (*Registry, error) {
	if u == nil {
		u = dimensions.Default()
	}
	c := db.Conn()
	if ok, err := db.TableExists(ctx, c, "butler_attributes"); err != nil {
		return nil, fmt.Errorf("inspect registry %s: %w", db, err)
	} else if ok {
		return nil, fmt.Errorf("create registry %s: %w: it already holds a butler registry", db, errs.ErrConflict)
	}
	uj, err := u.JSON()
	if err != nil {
		return nil, err
	}
	r := newRegistry(db, u)
	r.datasetsV2 = true
	err = db.Tx(ctx, func(c sqldb.Conn) error {
		if err := db.CreateTables(ctx, c, staticTables(u, true)); err != nil {
			return err
		}
		put := func(k, v string) error {
			_, err := c.Exec(ctx, "INSERT INTO "+db.T("butler_attributes")+" (name, value) VALUES (?, ?)", k, v)
			return err
		}
		for _, m := range managers {
			if err := put("config:registry.managers."+m.key, m.class); err != nil {
				return err
			}
			if err := put("version:"+m.class, m.version); err != nil {
				return err
			}
		}
		if err := put("config:dimensions.json", string(uj)); err != nil {
			return err
		}
		for _, t := range opaqueTables {
			if err := r.ensureOpaque(ctx, c, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create registry %s: %w", db, err)
	}
	return r, nil
}

// Open reads an existing registry: its manager versions and its own universe.
func Open(ctx context.Context, db *sqldb.DB) (*Registry, error) {
	c := db.Conn()
	rows, err := c.Query(ctx, "SELECT name, value FROM "+db.T("butler_attributes"))
	if err != nil {
		if strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), "does not exist") {
			return nil, fmt.Errorf("open registry %s: %w: no butler registry there (run `butler create` first)", db, errs.ErrNotFound)
		}
		return nil, fmt.Errorf("open registry %s: %w", db, err)
	}
	attrs := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, err
		}
		attrs[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	uj, ok := attrs["config:dimensions.json"]
	if !ok {
		return nil, fmt.Errorf("open registry %s: %w: butler_attributes has no config:dimensions.json", db, errs.ErrInvalid)
	}
	u, err := dimensions.Load([]byte(uj))
	if err != nil {
		return nil, fmt.Errorf("open registry %s: stored dimension universe: %w", db, err)
	}
	for _, m := range managers {
		stored := attrs["config:registry.managers."+m.key]
		if stored == "" {
			return nil, fmt.Errorf("open registry %s: %w: no %s manager recorded", db, errs.ErrInvalid, m.key)
		}
		if shortClass(stored) != shortClass(m.class) {
			return nil, fmt.Errorf("open registry %s: %w: %s manager %s is not supported (this butler implements %s)", db, errs.ErrUnsupported, m.key, stored, m.class)
		}
		v := attrs["version:"+stored]
		if major(v) != major(m.version) && !(m.key == "datasets" && major(v) == "1") {
			return nil, fmt.Errorf("open registry %s: %w: %s schema version %s is incompatible with %s", db, errs.ErrUnsupported, m.key, v, m.version)
		}
	}
	r := newRegistry(db, u)
	r.datasetsV2 = major(attrs["version:"+attrs["config:registry.managers.datasets"]]) != "1"
	return r, nil
}

func shortClass(c string) string { return c[strings.LastIndexByte(c, '.')+1:] }

func major(v string) string {
	if i := strings.IndexByte(v, '.'); i >= 0 {
		return v[:i]
	}
	return v
}

// Attribute reads one butler_attributes value ("" when absent).
func (r *Registry) Attribute(ctx context.Context, name string) (string, error) {
	var v string
	err := r.db.Conn().QueryRow(ctx, "SELECT value FROM "+r.db.T("butler_attributes")+" WHERE name = ?", name).Scan(&v)
	if sqldb.IsNoRows(err) {
		return "", nil
	}
	return v, err
}

// inTx runs fn in one registry transaction over a raw connection (Update gives
// callers outside the registry a Tx instead).
func (r *Registry) inTx(ctx context.Context, fn func(sqldb.Conn) error) error {
	err := r.db.Tx(ctx, fn)
	r.transactionEnded()
	if err != nil {
		// A rolled-back transaction may have added cache entries for rows that no longer exist.
		r.invalidate()
	}
	return err
}

func (r *Registry) invalidate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.types = map[string]*storedType{}
	r.typesLoaded = false
	r.opaque = map[string]bool{}
	r.groupKeys = map[string]int64{}
}

// uuid converts a dataset ID to its column value.
func (r *Registry) uuid(id dataset.ID) any { return r.db.Dialect.UUIDValue(id) }

// nowValue is the ingest_date value for a new dataset.
func (r *Registry) nowValue() any {
	if r.datasetsV2 {
		return timespan.FromUTC(time.Now())
	}
	return nil
}

// Analyze refreshes the query planner's statistics (SQLite only; PostgreSQL's
// autovacuum does it). Without them SQLite scans a whole dataset table for a
// one-exposure query instead of using the (instrument, exposure) index.
func (r *Registry) Analyze(ctx context.Context) error {
	if r.db.Dialect.Name() != "sqlite" || r.db.ReadOnly {
		return nil
	}
	_, err := r.db.Conn().Exec(ctx, "ANALYZE")
	return err
}
