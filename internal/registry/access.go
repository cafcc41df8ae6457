package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// Access is what Grant gives a database role on a repository's schema.
type Access int

const (
	// NoAccess revokes everything Grant gave.
	NoAccess Access = iota
	// ReadAccess lets the role query: USAGE on the schema, SELECT on its tables.
	ReadAccess
	// ReadWriteAccess is what the seed tutorial grants by hand: all privileges on
	// the schema (so new dataset types can add tables), its tables and sequences.
	ReadWriteAccess
)

func (a Access) String() string {
	switch a {
	case ReadAccess:
		return "read-only"
	case ReadWriteAccess:
		return "read-write"
	}
	return "no access"
}

// Grant gives a PostgreSQL role read-only or read-write access to this
// registry's schema, or (NoAccess) takes it away: on the schema, on every
// existing table and sequence, and, through default privileges, on those the
// caller creates later. Tables that collaborators create get the same grants
// when they are made (sqldb copies the collection table's). Only the schema's
// owner (or a superuser) may share it. Switching between read-only and
// read-write first revokes what was there, so the result is exactly access.
func (r *Registry) Grant(ctx context.Context, role string, access Access) error {
	db := r.db
	if db.Dialect.Name() != "postgresql" {
		return fmt.Errorf("share registry %s: %w: only PostgreSQL registries have database roles; share a SQLite repository through file permissions", db, errs.ErrUnsupported)
	}
	if role == "" || strings.ContainsRune(role, 0) {
		return fmt.Errorf("share registry %s: %w: role name %q", db, errs.ErrInvalid, role)
	}
	c := db.Conn()
	var exists, owner bool
	var me, ownerName string
	err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ?),
		pg_has_role(current_user, n.nspowner, 'MEMBER') OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),
		current_user, pg_get_userbyid(n.nspowner)
		FROM pg_catalog.pg_namespace n WHERE n.nspname = ?`, role, db.Schema).Scan(&exists, &owner, &me, &ownerName)
	if err != nil {
		return fmt.Errorf("share registry %s: check roles: %w", db, err)
	}
	if !exists {
		return fmt.Errorf("share registry %s with %q: %w: there is no such database role (the server's administrator creates roles)", db, role, errs.ErrNotFound)
	}
	if !owner {
		return fmt.Errorf("share registry %s with %q: %w: user %q does not own schema %q (its owner %q can share it)", db, role, errs.ErrPermission, me, db.Schema, ownerName)
	}
	if role == me {
		return fmt.Errorf("share registry %s: %w: %q is you, the owner", db, errs.ErrInvalid, role)
	}
	stmts := grantStatements(db.Q(db.Schema), db.Q(role), access)
	err = db.Tx(ctx, func(c sqldb.Conn) error {
		for _, s := range stmts {
			if _, err := c.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("share registry %s with %q (%s): %w", db, role, access, err)
	}
	return nil
}

// grantStatements lists the SQL of Grant for a quoted schema and role.
func grantStatements(schema, role string, access Access) []string {
	stmts := []string{
		"REVOKE ALL ON ALL TABLES IN SCHEMA " + schema + " FROM " + role,
		"REVOKE ALL ON ALL SEQUENCES IN SCHEMA " + schema + " FROM " + role,
		"REVOKE ALL ON SCHEMA " + schema + " FROM " + role,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA " + schema + " REVOKE ALL ON TABLES FROM " + role,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA " + schema + " REVOKE ALL ON SEQUENCES FROM " + role,
	}
	switch access {
	case ReadAccess:
		stmts = append(stmts,
			"GRANT USAGE ON SCHEMA "+schema+" TO "+role,
			"GRANT SELECT ON ALL TABLES IN SCHEMA "+schema+" TO "+role,
			"ALTER DEFAULT PRIVILEGES IN SCHEMA "+schema+" GRANT SELECT ON TABLES TO "+role,
		)
	case ReadWriteAccess:
		stmts = append(stmts,
			"GRANT ALL PRIVILEGES ON SCHEMA "+schema+" TO "+role,
			"GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA "+schema+" TO "+role,
			"GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA "+schema+" TO "+role,
			"ALTER DEFAULT PRIVILEGES IN SCHEMA "+schema+" GRANT ALL ON TABLES TO "+role,
			"ALTER DEFAULT PRIVILEGES IN SCHEMA "+schema+" GRANT ALL ON SEQUENCES TO "+role,
		)
	}
	return stmts
}
