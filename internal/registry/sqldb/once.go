package sqldb

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
)

// QueryOnce is Query for a statement a connection runs once, such as reading
// a repository's attributes when it is opened. On PostgreSQL the statement is
// sent with its arguments in one round trip; Query prepares a statement
// first, a second round trip that pays off only when it is run again.
func (c Conn) QueryOnce(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if _, ok := c.db.Dialect.(postgres); ok {
		args = append([]any{pgx.QueryExecModeExec}, args...)
	}
	return c.Query(ctx, query, args...)
}
