// Consistency reads for `butler verify`: file records with their datasets,
// records without datasets, stored datasets without records and trash rows,
// each streamed in pages by keyset (no cursor is held between pages, so the
// caller may do slow I/O, or repair, between them), and the emptying of the
// datastore trash.

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

// scanKeys reads the dataset ID and component of one row, then extra.
func scanKeys(rows *sql.Rows, extra ...any) (FileRecord, error) {
	var idv any
	fr := FileRecord{FileSize: -1}
	if err := rows.Scan(append([]any{&idv, &fr.Component}, extra...)...); err != nil {
		return fr, err
	}
	id, err := parseUUID(idv)
	if err != nil {
		return fr, err
	}
	fr.DatasetID = id
	if fr.Component == NullComponent {
		fr.Component = ""
	}
	return fr, nil
}

// pageRecords runs query (a SELECT of recordCols and whether the dataset
// exists, over records aliased r, whose WHERE ends in the condition it is
// given) page by page in (dataset_id, component) order, resuming after the
// last row seen.
func (r *Registry) pageRecords(ctx context.Context, table string, query func(after string) string, pageSize int, keysOnly bool, fn func([]StoredRecord) error) error {
	c := r.db.Conn()
	if ok, err := r.db.TableExists(ctx, c, table); err != nil || !ok {
		return err
	}
	if pageSize <= 0 {
		pageSize = 5000
	}
	var last *FileRecord
	for {
		var args []any
		after := "1=1"
		if last != nil {
			comp := last.Component
			if comp == "" {
				comp = NullComponent
			}
			after = "(r.dataset_id, r.component) > (?, ?)"
			args = append(args, r.uuid(last.DatasetID), comp)
		}
		args = append(args, pageSize)
		rows, err := c.Query(ctx, query(after)+" ORDER BY r.dataset_id, r.component LIMIT ?", args...)
		if err != nil {
			return fmt.Errorf("read file records: %w", err)
		}
		page := make([]StoredRecord, 0, pageSize)
		for rows.Next() {
			var has int
			var fr FileRecord
			var err error
			if keysOnly {
				fr, err = scanKeys(rows, &has)
			} else {
				fr, err = scanRecord(rows, &has)
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("read file records: %w", err)
			}
			page = append(page, StoredRecord{FileRecord: fr, HasDataset: has == 1})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read file records: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(page) < pageSize {
			return nil
		}
		l := page[len(page)-1].FileRecord
		last = &l
	}
}

// StreamStoredRecords calls fn with pages of at most pageSize file records of
// table, in dataset ID order, each saying whether its dataset row exists
// (an index-only probe, in the same order: the dataset's type and RUN are
// left for the caller to look up where it needs them).
//
// With keysOnly, only the dataset IDs and components are read (from the
// primary-key index alone, about twice as fast): the other fields are empty.
func (r *Registry) StreamStoredRecords(ctx context.Context, table string, pageSize int, keysOnly bool, fn func([]StoredRecord) error) error {
	cols := recordCols
	if keysOnly {
		cols = "r.dataset_id, r.component"
	}
	q := func(after string) string {
		return "SELECT " + cols + ", CASE WHEN EXISTS (SELECT 1 FROM " + r.db.T("dataset") + " d WHERE d.id = r.dataset_id) THEN 1 ELSE 0 END FROM " +
			r.db.T(table) + " r WHERE " + after
	}
	return r.pageRecords(ctx, table, q, pageSize, keysOnly, fn)
}

// pageIDs runs a query of one dataset-ID column x.id, whose WHERE ends in the
// condition it is given, page by page in ID order.
func (r *Registry) pageIDs(ctx context.Context, query func(after string) string, args []any, pageSize int, fn func([]dataset.ID) error) error {
	if pageSize <= 0 {
		pageSize = 5000
	}
	c := r.db.Conn()
	var last *dataset.ID
	for {
		a := append([]any(nil), args...)
		after := "1=1"
		if last != nil {
			after = "x.id > ?"
			a = append(a, r.uuid(*last))
		}
		a = append(a, pageSize)
		rows, err := c.Query(ctx, query(after)+" ORDER BY x.id LIMIT ?", a...)
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
		last = &ids[len(ids)-1]
	}
}

// StreamLocatedWithoutRecords calls fn with pages of the IDs of datasets that
// dataset_location says the datastore holds but that have no file record in
// table. (Datasets without a location row are not stored, as after
// `prune-datasets --unstore` or a registry-only import: not a problem.)
func (r *Registry) StreamLocatedWithoutRecords(ctx context.Context, table, datastoreName string, pageSize int, fn func([]dataset.ID) error) error {
	hasTable, err := r.db.TableExists(ctx, r.db.Conn(), table)
	if err != nil {
		return err
	}
	wrapped := func(after string) string {
		inner := "SELECT l.dataset_id AS id FROM " + r.db.T("dataset_location") + " l WHERE l.datastore_name = ?"
		if hasTable {
			inner += " AND NOT EXISTS (SELECT 1 FROM " + r.db.T(table) + " r WHERE r.dataset_id = l.dataset_id)"
		}
		return "SELECT x.id FROM (" + inner + ") x WHERE " + after
	}
	return r.pageIDs(ctx, wrapped, []any{datastoreName}, pageSize, fn)
}

// StreamTrash calls fn with pages of the dataset IDs in the datastore's trash
// (dataset_location_trash rows a removal left behind).
func (r *Registry) StreamTrash(ctx context.Context, datastoreName string, pageSize int, fn func([]dataset.ID) error) error {
	q := func(after string) string {
		return "SELECT x.id FROM (SELECT dataset_id AS id FROM " + r.db.T("dataset_location_trash") + " WHERE datastore_name = ?) x WHERE " + after
	}
	return r.pageIDs(ctx, q, []any{datastoreName}, pageSize, fn)
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
