package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// openAs opens the registry in schema as a given role.
func openAs(t *testing.T, user, password, schema string, create, readOnly bool) (*Registry, error) {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.URL(t, user, password)
	db, err := sqldb.OpenPostgres(ctx, dsn, redacted(dsn), schema, create, readOnly)
	if err != nil {
		return nil, err
	}
	var r *Registry
	if create {
		r, err = Create(ctx, db, nil)
	} else {
		r, err = Open(ctx, db)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	t.Cleanup(func() { r.Close() })
	return r, nil
}

func countDatasets(t *testing.T, r *Registry, typ, run string) int {
	t.Helper()
	n := 0
	if err := r.Datasets(context.Background(), DatasetQuery{Type: typ, Collections: []string{run}}, func(dataset.Ref) error { n++; return nil }); err != nil {
		t.Fatalf("query %s in %s: %v", typ, run, err)
	}
	return n
}

func TestGrant_SharingRoles(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.Admin(t)
	owner, ownerPW := pgtest.Role(t)
	writer, writerPW := pgtest.Role(t)
	reader, readerPW := pgtest.Role(t)
	stranger, strangerPW := pgtest.Role(t)
	if _, err := admin.ExecContext(ctx, "GRANT CREATE ON DATABASE "+pgtest.Database+" TO "+owner); err != nil {
		t.Fatal(err)
	}
	schema := "shared_" + strings.TrimPrefix(owner, "u_")
	a, err := openAs(t, owner, ownerPW, schema, true, false)
	if err != nil {
		t.Fatalf("owner creates the repository: %v", err)
	}
	fillCam(t, a)
	if err := a.Grant(ctx, writer, ReadWriteAccess); err != nil {
		t.Fatalf("grant read-write: %v", err)
	}
	if err := a.Grant(ctx, reader, ReadAccess); err != nil {
		t.Fatalf("grant read-only: %v", err)
	}

	// The writer adds a dataset type with a new dimension group: a new table it owns.
	b, err := openAs(t, writer, writerPW, schema, false, false)
	if err != nil {
		t.Fatalf("writer opens: %v", err)
	}
	g, _ := b.Universe.Group("instrument", "exposure")
	err = b.inTx(ctx, func(c sqldb.Conn) error {
		if _, err := b.registerDatasetType(ctx, c, dataset.Type{Name: "summary", Dimensions: g, StorageClass: "StructuredDataDict"}); err != nil {
			return err
		}
		if _, err := b.registerRun(ctx, c, "writer/run", ""); err != nil {
			return err
		}
		id, _ := dataset.NewID(dataset.Unique, "summary", "writer/run", nil)
		return b.insertDatasets(ctx, c, "summary", "writer/run", []NewDataset{{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "exposure": int64(1)}}}, false)
	})
	if err != nil {
		t.Fatalf("writer writes: %v", err)
	}

	// Reader and owner see the writer's table; the reader cannot write.
	c, err := openAs(t, reader, readerPW, schema, false, false)
	if err != nil {
		t.Fatalf("reader opens: %v", err)
	}
	if n := countDatasets(t, c, "summary", "writer/run"); n != 1 {
		t.Errorf("reader sees %d datasets in the writer's new table, want 1", n)
	}
	if n := countDatasets(t, a, "summary", "writer/run"); n != 1 {
		t.Errorf("owner sees %d datasets in the writer's new table, want 1", n)
	}
	if c.IsWriteable() {
		t.Errorf("reader's registry says it is writeable")
	}
	err = c.inTx(ctx, func(conn sqldb.Conn) error { _, err := c.registerRun(ctx, conn, "reader/run", ""); return err })
	if !errors.Is(err, errs.ErrReadOnly) || !strings.Contains(err.Error(), reader) || !strings.Contains(err.Error(), "read-only access") {
		t.Errorf("reader writes: %v, want a read-only error naming the user", err)
	}
	// Even a statement outside the registry's checks is refused plainly.
	if _, err := c.db.Conn().Exec(ctx, "DELETE FROM "+c.db.T("collection")); !errors.Is(err, errs.ErrPermission) || strings.Contains(err.Error(), "SQLSTATE") {
		t.Errorf("reader deletes: %v, want a plain permission error", err)
	}

	if _, err := openAs(t, stranger, strangerPW, schema, false, true); !errors.Is(err, errs.ErrPermission) || !strings.Contains(err.Error(), stranger) || !strings.Contains(err.Error(), schema) {
		t.Errorf("stranger opens: %v, want permission error naming user and schema", err)
	}
	if err := b.Grant(ctx, stranger, ReadAccess); !errors.Is(err, errs.ErrPermission) || !strings.Contains(err.Error(), owner) {
		t.Errorf("writer shares: %v, want permission error naming the owner", err)
	}
	if err := a.Grant(ctx, "no_such_role", ReadAccess); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("share with a missing role: %v, want not found", err)
	}

	// The owner shares later tables too (default privileges and inherited grants).
	err = a.inTx(ctx, func(conn sqldb.Conn) error {
		g2, _ := a.Universe.Group("instrument", "day_obs")
		_, err := a.registerDatasetType(ctx, conn, dataset.Type{Name: "nightly", Dimensions: g2, StorageClass: "StructuredDataDict"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := openAs(t, reader, readerPW, schema, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := countDatasets(t, c2, "nightly", "writer/run"); n != 0 {
		t.Errorf("reader sees %d nightly datasets", n)
	}

	// Upgrade, downgrade and revoke.
	for _, step := range []struct {
		access    Access
		wantOpen  error
		wantWrite bool
	}{
		{ReadWriteAccess, nil, true},
		{ReadAccess, nil, false},
		{NoAccess, errs.ErrPermission, false},
	} {
		t.Run(step.access.String(), func(t *testing.T) {
			if err := a.Grant(ctx, reader, step.access); err != nil {
				t.Fatal(err)
			}
			r, err := openAs(t, reader, readerPW, schema, false, false)
			if !errors.Is(err, step.wantOpen) {
				t.Fatalf("open: %v, want %v", err, step.wantOpen)
			}
			if err != nil {
				return
			}
			err = r.inTx(ctx, func(conn sqldb.Conn) error {
				_, err := r.registerRun(ctx, conn, fmt.Sprintf("reader/%d", step.access), "")
				return err
			})
			if (err == nil) != step.wantWrite {
				t.Errorf("write: %v, want success %v", err, step.wantWrite)
			}
		})
	}
}

func TestGrant_SQLiteUnsupported(t *testing.T) {
	r := openSQLiteRegistry(t)
	if err := r.Grant(context.Background(), "someone", ReadAccess); !errors.Is(err, errs.ErrUnsupported) {
		t.Errorf("Grant on SQLite: %v, want unsupported", err)
	}
}
