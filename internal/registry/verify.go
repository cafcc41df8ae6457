// Consistency reads for `butler verify`: file records with their datasets,
// records without datasets, stored datasets without records and trash rows,
// and the emptying of the datastore trash.
//
// How they read depends on the dialect, so that the time grows linearly with
// the repository whatever the planner knows:
//   - SQLite reads in keyset pages (no cursor is held between pages, so
//     writers are not held up, in rollback-journal mode, while the caller does
//     slow I/O between them); its plans are always index probes;
//   - PostgreSQL reads each check as one statement, in one read-only
//     transaction, with hash joins. Keyset pages there were planned per page
//     without statistics on freshly filled tables (a hashed subplan over the
//     whole dataset table, or a bitmap scan of the whole remaining range,
//     for each page of 5,000): the time grew with the square of the size.
//     A single statement is planned once and streamed (MVCC: nothing waits
//     for the open transaction).

package registry

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// StoredRecord is a file record together with the dataset row it belongs to.
type StoredRecord struct {
	FileRecord
	// HasDataset is false for a record whose dataset row does not exist (the
	// records table has no foreign key, so a crashed removal can leave them).
	HasDataset bool
	TypeName   string // the dataset's type, when the reader knows it
	Run        string // the dataset's RUN, when the reader knows it
}

const recordCols = "r.dataset_id, r.path, r.formatter, r.storage_class, r.component, r.checksum, r.file_size"

// scanRecord reads the recordCols of one row, then extra.
func scanRecord(rows *sql.Rows, extra ...any) (FileRecord, error) {
	var idv any
	var fr FileRecord
	var sum sql.NullString
	var size sql.NullInt64
	if err := rows.Scan(append([]any{&idv, &fr.Path, &fr.Formatter, &fr.StorageClass, &fr.Component, &sum, &size}, extra...)...); err != nil {
		return fr, err
	}
	id, err := parseUUID(idv)
	if err != nil {
		return fr, err
	}
	fr.DatasetID, fr.Checksum, fr.FileSize = id, sum.String, -1
	if size.Valid {
		fr.FileSize = size.Int64
	}
	if fr.Component == NullComponent {
		fr.Component = ""
	}
	return fr, nil
}

// postgres reports whether the registry is a PostgreSQL database.
func (r *Registry) postgres() bool { return r.db.Dialect.Name() == "postgresql" }

// readOnlyStatements runs fn in a read-only transaction of its own (one
// snapshot) whose statements are planned with hash or merge joins and
// without JIT compilation (PostgreSQL only). Nested loops would probe an
// index per row (a heap fetch each on a table never vacuumed), and JIT
// compiling a statement costed high for want of statistics took longer than
// running it. SET LOCAL needs no privilege and ends with the transaction.
func (r *Registry) readOnlyStatements(ctx context.Context, fn func(q func(query string, args ...any) (*sql.Rows, error)) error) error {
	tx, err := r.db.SQL.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return r.db.Dialect.Classify(err)
	}
	defer tx.Rollback()
	for _, set := range []string{"SET LOCAL jit = off", "SET LOCAL enable_nestloop = off"} {
		if _, err := tx.ExecContext(ctx, set); err != nil {
			return r.db.Dialect.Classify(err)
		}
	}
	err = fn(func(query string, args ...any) (*sql.Rows, error) {
		rows, err := tx.QueryContext(ctx, r.db.Dialect.Rebind(query), r.db.Dialect.Args(args)...)
		return rows, r.db.Dialect.Classify(err)
	})
	if err != nil {
		return err
	}
	return r.db.Dialect.Classify(tx.Commit())
}

// StreamStoredRecords calls fn with pages of at most pageSize file records of
// table, each saying whether its dataset row exists (the dataset's type and
// RUN are left for the caller to look up where it needs them). SQLite gives
// them in (dataset ID, component) order.
func (r *Registry) StreamStoredRecords(ctx context.Context, table string, pageSize int, fn func([]StoredRecord) error) error {
	if ok, err := r.db.TableExists(ctx, r.db.Conn(), table); err != nil || !ok {
		return err
	}
	if pageSize <= 0 {
		pageSize = 5000
	}
	if r.postgres() {
		return r.readOnlyStatements(ctx, func(q func(string, ...any) (*sql.Rows, error)) error {
			rows, err := q("SELECT " + recordCols + ", CASE WHEN d.id IS NULL THEN 0 ELSE 1 END FROM " + r.db.T(table) + " r LEFT JOIN " +
				r.db.T("dataset") + " d ON d.id = r.dataset_id")
			if err != nil {
				return fmt.Errorf("read file records: %w", err)
			}
			return streamRecordPages(rows, pageSize, fn)
		})
	}
	c := r.db.Conn()
	var last *FileRecord
	for {
		var args []any
		after := "1=1"
		if last != nil {
			after = "(r.dataset_id, r.component) > (?, ?)"
			args = append(args, r.uuid(last.DatasetID), storedComponent(last.Component))
		}
		args = append(args, pageSize)
		rows, err := c.Query(ctx, "SELECT "+recordCols+", CASE WHEN EXISTS (SELECT 1 FROM "+r.db.T("dataset")+" d WHERE d.id = r.dataset_id) THEN 1 ELSE 0 END FROM "+
			r.db.T(table)+" r WHERE "+after+" ORDER BY r.dataset_id, r.component LIMIT ?", args...)
		if err != nil {
			return fmt.Errorf("read file records: %w", err)
		}
		n := 0
		err = streamRecordPages(rows, pageSize, func(page []StoredRecord) error {
			n = len(page)
			l := page[len(page)-1].FileRecord
			last = &l
			return fn(page)
		})
		if err != nil || n < pageSize {
			return err
		}
	}
}

// streamRecordPages reads rows of recordCols and a 0/1 dataset flag, calling
// fn with pages of pageSize, and closes them. A page is handed on when the
// row after it is read, so the rows are closed before fn sees the last one.
func streamRecordPages(rows *sql.Rows, pageSize int, fn func([]StoredRecord) error) error {
	defer rows.Close()
	page := make([]StoredRecord, 0, pageSize)
	for rows.Next() {
		if len(page) == pageSize {
			if err := fn(page); err != nil {
				return err
			}
			page = make([]StoredRecord, 0, pageSize)
		}
		var has int
		fr, err := scanRecord(rows, &has)
		if err != nil {
			return fmt.Errorf("read file records: %w", err)
		}
		page = append(page, StoredRecord{FileRecord: fr, HasDataset: has == 1})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read file records: %w", err)
	}
	rows.Close()
	if len(page) == 0 {
		return nil
	}
	return fn(page)
}

// storedComponent is the component column's value for component.
func storedComponent(component string) string {
	if component == "" {
		return NullComponent
	}
	return component
}

// RecordsWithoutDataset checks every file record of table for its dataset
// row without reading the records that have one: fn is called a page at a
// time with the number of records checked since its last call and the
// records (dataset ID, component and path) whose dataset row does not exist
// (the records table has no foreign key, so a crashed removal can leave
// them).
func (r *Registry) RecordsWithoutDataset(ctx context.Context, table string, pageSize int, fn func(checked int, gone []FileRecord) error) error {
	if ok, err := r.db.TableExists(ctx, r.db.Conn(), table); err != nil || !ok {
		return err
	}
	if pageSize <= 0 {
		pageSize = 5000
	}
	const cols = "r.dataset_id, r.component, r.path"
	notExists := "NOT EXISTS (SELECT 1 FROM " + r.db.T("dataset") + " d WHERE d.id = r.dataset_id)"
	// scan reads rows of cols, handing them to page (when not nil) a
	// pageSize at a time, and closes them; it returns the rest.
	scan := func(rows *sql.Rows, page func([]FileRecord) error) ([]FileRecord, error) {
		defer rows.Close()
		var out []FileRecord
		for rows.Next() {
			if page != nil && len(out) == pageSize {
				if err := page(out); err != nil {
					return nil, err
				}
				out = nil
			}
			var idv any
			fr := FileRecord{FileSize: -1}
			if err := rows.Scan(&idv, &fr.Component, &fr.Path); err != nil {
				return nil, fmt.Errorf("read file records: %w", err)
			}
			id, err := parseUUID(idv)
			if err != nil {
				return nil, fmt.Errorf("read file records: %w", err)
			}
			fr.DatasetID = id
			if fr.Component == NullComponent {
				fr.Component = ""
			}
			out = append(out, fr)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read file records: %w", err)
		}
		return out, nil
	}
	if r.postgres() {
		return r.readOnlyStatements(ctx, func(q func(string, ...any) (*sql.Rows, error)) error {
			total, err := countRows(q, "SELECT count(*) FROM "+r.db.T(table))
			if err != nil {
				return fmt.Errorf("count file records: %w", err)
			}
			rows, err := q("SELECT " + cols + " FROM " + r.db.T(table) + " r WHERE " + notExists)
			if err != nil {
				return fmt.Errorf("read file records: %w", err)
			}
			gone, err := scan(rows, func(page []FileRecord) error { return fn(0, page) })
			if err != nil {
				return err
			}
			return fn(int(total), gone)
		})
	}
	// Each page is two index scans inside SQLite: the key that ends it
	// (OFFSET steps over the index entries without returning them), then the
	// records of the range whose dataset is missing. Only those cross into Go.
	c := r.db.Conn()
	var lo []any // the last key of the previous page
	for {
		after, args := "1=1", []any(nil)
		if lo != nil {
			after, args = "(r.dataset_id, r.component) > (?, ?)", lo
		}
		var idv any
		var comp string
		err := c.QueryRow(ctx, "SELECT r.dataset_id, r.component FROM "+r.db.T(table)+" r WHERE "+after+
			" ORDER BY r.dataset_id, r.component LIMIT 1 OFFSET ?", append(args, pageSize-1)...).Scan(&idv, &comp)
		var hi []any
		checked := pageSize
		switch {
		case sqldb.IsNoRows(err):
			n, err := countRows(func(q string, a ...any) (*sql.Rows, error) { return c.Query(ctx, q, a...) },
				"SELECT count(*) FROM "+r.db.T(table)+" r WHERE "+after, args...)
			if err != nil {
				return fmt.Errorf("count file records: %w", err)
			}
			checked = int(n)
		case err != nil:
			return fmt.Errorf("read file records: %w", err)
		default:
			hi = []any{idv, comp}
		}
		rangeCond, rargs := after, args
		if hi != nil {
			rangeCond += " AND (r.dataset_id, r.component) <= (?, ?)"
			rargs = append(append([]any(nil), args...), hi...)
		}
		var gone []FileRecord
		if checked > 0 {
			rows, err := c.Query(ctx, "SELECT "+cols+" FROM "+r.db.T(table)+" r WHERE "+rangeCond+" AND "+notExists+" ORDER BY r.dataset_id, r.component", rargs...)
			if err != nil {
				return fmt.Errorf("read file records: %w", err)
			}
			// The range holds about pageSize records (more only if some
			// were added since its end was read): read whole, then handed on.
			if gone, err = scan(rows, nil); err != nil {
				return err
			}
		}
		if err := fn(checked, gone); err != nil {
			return err
		}
		if hi == nil {
			return nil
		}
		lo = hi
	}
}

// countRows runs a count(*) query through q.
func countRows(q func(string, ...any) (*sql.Rows, error), query string, args ...any) (int64, error) {
	rows, err := q(query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// LocatedWithoutRecords calls fn with pages of the IDs of datasets that
// dataset_location says the datastore holds but that have no file record in
// table. (Datasets without a location row are not stored, as after
// `prune-datasets --unstore` or a registry-only import: not a problem.)
func (r *Registry) LocatedWithoutRecords(ctx context.Context, table, datastoreName string, pageSize int, fn func([]dataset.ID) error) error {
	if pageSize <= 0 {
		pageSize = 5000
	}
	hasTable, err := r.db.TableExists(ctx, r.db.Conn(), table)
	if err != nil {
		return err
	}
	noRecord := ""
	if hasTable {
		noRecord = " AND NOT EXISTS (SELECT 1 FROM " + r.db.T(table) + " r WHERE r.dataset_id = l.dataset_id)"
	}
	if r.postgres() {
		return r.readOnlyStatements(ctx, func(q func(string, ...any) (*sql.Rows, error)) error {
			rows, err := q("SELECT l.dataset_id FROM "+r.db.T("dataset_location")+" l WHERE l.datastore_name = ?"+noRecord, datastoreName)
			if err != nil {
				return fmt.Errorf("read dataset locations: %w", err)
			}
			return streamIDPages(rows, pageSize, fn)
		})
	}
	// As RecordsWithoutDataset: the page's last location key, then the
	// range's locations without a record.
	c := r.db.Conn()
	var lo []any
	for {
		after, args := "l.datastore_name = ?", []any{datastoreName}
		if lo != nil {
			after += " AND l.dataset_id > ?"
			args = append(args, lo...)
		}
		var idv any
		err := c.QueryRow(ctx, "SELECT l.dataset_id FROM "+r.db.T("dataset_location")+" l WHERE "+after+
			" ORDER BY l.dataset_id LIMIT 1 OFFSET ?", append(append([]any(nil), args...), pageSize-1)...).Scan(&idv)
		var hi []any
		switch {
		case sqldb.IsNoRows(err):
		case err != nil:
			return fmt.Errorf("read dataset locations: %w", err)
		default:
			hi = []any{idv}
		}
		rangeCond, rargs := after, args
		if hi != nil {
			rangeCond += " AND l.dataset_id <= ?"
			rargs = append(append([]any(nil), args...), hi...)
		}
		rows, err := c.Query(ctx, "SELECT l.dataset_id FROM "+r.db.T("dataset_location")+" l WHERE "+rangeCond+noRecord+" ORDER BY l.dataset_id", rargs...)
		if err != nil {
			return fmt.Errorf("read dataset locations: %w", err)
		}
		ids, err := scanIDs(rows)
		if err != nil {
			return fmt.Errorf("read dataset locations: %w", err)
		}
		if len(ids) > 0 {
			if err := fn(ids); err != nil {
				return err
			}
		}
		if hi == nil {
			return nil
		}
		lo = hi
	}
}

// streamIDPages reads rows of one dataset-ID column, calling fn with pages of
// pageSize, and closes them.
func streamIDPages(rows *sql.Rows, pageSize int, fn func([]dataset.ID) error) error {
	defer rows.Close()
	var page []dataset.ID
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return err
		}
		id, err := parseUUID(v)
		if err != nil {
			return err
		}
		if len(page) == pageSize {
			if err := fn(page); err != nil {
				return err
			}
			page = nil
		}
		page = append(page, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	if len(page) == 0 {
		return nil
	}
	return fn(page)
}

// StreamTrash calls fn with pages of the dataset IDs in the datastore's trash
// (dataset_location_trash rows a removal left behind), in ID order.
func (r *Registry) StreamTrash(ctx context.Context, datastoreName string, pageSize int, fn func([]dataset.ID) error) error {
	if pageSize <= 0 {
		pageSize = 5000
	}
	c := r.db.Conn()
	var last []any
	for {
		q, args := "SELECT dataset_id FROM "+r.db.T("dataset_location_trash")+" WHERE datastore_name = ?", []any{datastoreName}
		if last != nil {
			q += " AND dataset_id > ?"
			args = append(args, last...)
		}
		rows, err := c.Query(ctx, q+" ORDER BY datastore_name, dataset_id LIMIT ?", append(args, pageSize)...)
		if err != nil {
			return err
		}
		ids, err := scanIDs(rows)
		if err != nil || len(ids) == 0 {
			return err
		}
		if err := fn(ids); err != nil {
			return err
		}
		if len(ids) < pageSize {
			return nil
		}
		last = []any{r.uuid(ids[len(ids)-1])}
	}
}

// LocatedIDs returns which of ids have a dataset_location row for the datastore.
func (r *Registry) LocatedIDs(ctx context.Context, datastoreName string, ids []dataset.ID) (map[dataset.ID]bool, error) {
	out := map[dataset.ID]bool{}
	for start := 0; start < len(ids); start += batchRows {
		end := min(start+batchRows, len(ids))
		ph, args := r.idList(ids[start:end])
		rows, err := r.db.Conn().Query(ctx, "SELECT dataset_id FROM "+r.db.T("dataset_location")+" WHERE datastore_name = ? AND dataset_id IN ("+ph+")",
			append([]any{datastoreName}, args...)...)
		if err != nil {
			return nil, fmt.Errorf("read dataset locations: %w", err)
		}
		found, err := scanIDs(rows)
		if err != nil {
			return nil, fmt.Errorf("read dataset locations: %w", err)
		}
		for _, id := range found {
			out[id] = true
		}
	}
	return out, nil
}

// DeleteRecordsWithoutDataset deletes the file records of ids whose dataset
// row does not exist (rows of ids that have one are kept) and returns the
// paths no remaining record reads.
func (tx *Tx) DeleteRecordsWithoutDataset(ctx context.Context, table string, ids []dataset.ID) ([]string, error) {
	existing, err := tx.r.existingIDsIn(ctx, tx.c, ids)
	if err != nil {
		return nil, err
	}
	var gone []dataset.ID
	for _, id := range ids {
		if !existing[id] {
			gone = append(gone, id)
		}
	}
	return tx.r.deleteFileRecords(ctx, tx.c, table, gone)
}

// EmptyTrash empties the datastore trash of ids as daf_butler's emptyTrash
// does: their file records and trash rows are deleted, and the paths no
// remaining record reads are returned for the caller to delete once the
// transaction has committed.
func (tx *Tx) EmptyTrash(ctx context.Context, table, datastoreName string, ids []dataset.ID) ([]string, error) {
	orphans, err := tx.r.deleteFileRecords(ctx, tx.c, table, ids)
	if err != nil {
		return nil, err
	}
	for start := 0; start < len(ids); start += batchRows {
		end := min(start+batchRows, len(ids))
		ph, args := tx.r.idList(ids[start:end])
		if _, err := tx.c.Exec(ctx, "DELETE FROM "+tx.r.db.T("dataset_location_trash")+" WHERE datastore_name = ? AND dataset_id IN ("+ph+")",
			append([]any{datastoreName}, args...)...); err != nil {
			return nil, fmt.Errorf("empty the datastore trash: %w", err)
		}
	}
	return orphans, nil
}

// existingIDsIn is ExistingIDs read through c.
func (r *Registry) existingIDsIn(ctx context.Context, c sqldb.Conn, ids []dataset.ID) (map[dataset.ID]bool, error) {
	out := map[dataset.ID]bool{}
	for start := 0; start < len(ids); start += batchRows {
		end := min(start+batchRows, len(ids))
		ph, args := r.idList(ids[start:end])
		rows, err := c.Query(ctx, "SELECT id FROM "+r.db.T("dataset")+" WHERE id IN ("+ph+")", args...)
		if err != nil {
			return nil, err
		}
		found, err := scanIDs(rows)
		if err != nil {
			return nil, err
		}
		for _, id := range found {
			out[id] = true
		}
	}
	return out, nil
}

// CountFileRecords counts the rows of a file records table (0 when it does
// not exist yet).
func (r *Registry) CountFileRecords(ctx context.Context, table string) (int64, error) {
	c := r.db.Conn()
	if ok, err := r.db.TableExists(ctx, c, table); err != nil || !ok {
		return 0, err
	}
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM "+r.db.T(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count file records: %w", err)
	}
	return n, nil
}

// EstimateFileRecords is about the number of rows of a file records table,
// for a progress bar (0 when the table does not exist yet). SQLite gives its
// largest rowid, read from the end of the table (counting the rows walks a
// whole index: 0.6 s of a 1,000,000-record check), which is the count
// unless rows were deleted; PostgreSQL counts them.
func (r *Registry) EstimateFileRecords(ctx context.Context, table string) (int64, error) {
	if r.postgres() {
		return r.CountFileRecords(ctx, table)
	}
	c := r.db.Conn()
	if ok, err := r.db.TableExists(ctx, c, table); err != nil || !ok {
		return 0, err
	}
	var n sql.NullInt64
	if err := c.QueryRow(ctx, "SELECT max(rowid) FROM "+r.db.T(table)).Scan(&n); err != nil {
		return r.CountFileRecords(ctx, table) // a table without rowid
	}
	return n.Int64, nil
}
