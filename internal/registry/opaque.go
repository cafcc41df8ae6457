package registry

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// NullComponent is stored in the component column of a file record that holds a
// whole (not disassembled) dataset.
const NullComponent = "__NULL_STRING__"

// FileRecord is one row of a FileDatastore's records table.
type FileRecord struct {
	DatasetID    dataset.ID
	Path         string // relative to the datastore root, or an absolute URI
	Formatter    string
	StorageClass string
	Component    string // "" for a whole dataset
	Checksum     string
	FileSize     int64 // -1 when unknown
}

// ensureOpaque creates a file records table (registered in opaque_meta) on first use.
func (r *Registry) ensureOpaque(ctx context.Context, c sqldb.Conn, table string) error {
	r.mu.Lock()
	ok := r.opaque[table]
	r.mu.Unlock()
	if ok {
		return nil
	}
	exists, err := r.db.TableExists(ctx, c, table)
	if err != nil {
		return err
	}
	if !exists {
		if err := r.db.CreateTables(ctx, c, []sqldb.Table{fileRecordsTable(table)}); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "INSERT INTO "+r.db.T("opaque_meta")+" (table_name) VALUES (?) ON CONFLICT DO NOTHING", table); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.opaque[table] = true
	r.mu.Unlock()
	return nil
}

// EnsureFileRecordsTable creates the records table if needed, in its own transaction.
func (r *Registry) EnsureFileRecordsTable(ctx context.Context, table string) error {
	if r.db.ReadOnly {
		return nil
	}
	c := r.db.Conn()
	if ok, err := r.db.TableExists(ctx, c, table); err != nil || ok {
		return err
	}
	return r.db.Tx(ctx, func(c sqldb.Conn) error { return r.ensureOpaque(ctx, c, table) })
}

// insertFileRecords stores file records and the datasets' locations.
func (r *Registry) insertFileRecords(ctx context.Context, c sqldb.Conn, table, datastoreName string, recs []FileRecord, skipExisting bool) error {
	if err := r.ensureOpaque(ctx, c, table); err != nil {
		return err
	}
	on := sqldb.FailOnConflict
	if skipExisting {
		on = sqldb.SkipOnConflict
	}
	cols := []string{"dataset_id", "path", "formatter", "storage_class", "component", "checksum", "file_size"}
	locCols := []string{"datastore_name", "dataset_id"}
	for start := 0; start < len(recs); start += bulkRows {
		chunk := recs[start:min(start+bulkRows, len(recs))]
		rows := make([][]any, len(chunk))
		locRows := make([][]any, len(chunk))
		vals := make([]any, len(chunk)*len(cols))
		locVals := make([]any, len(chunk)*len(locCols))
		for i, fr := range chunk {
			comp := fr.Component
			if comp == "" {
				comp = NullComponent
			}
			var sum any
			if fr.Checksum != "" {
				sum = fr.Checksum
			}
			id := r.uuid(fr.DatasetID)
			row := vals[i*len(cols) : (i+1)*len(cols)]
			row[0], row[1], row[2], row[3], row[4], row[5], row[6] = id, fr.Path, fr.Formatter, fr.StorageClass, comp, sum, fr.FileSize
			rows[i] = row
			loc := locVals[i*len(locCols) : (i+1)*len(locCols)]
			loc[0], loc[1] = datastoreName, id
			locRows[i] = loc
		}
		if _, err := c.Insert(ctx, table, cols, rows, on); err != nil {
			if i := sqldb.FailedRow(err); i >= 0 && i < len(chunk) {
				return fmt.Errorf("store file record of dataset %s (%s): %w", chunk[i].DatasetID, chunk[i].Path, err)
			}
			return fmt.Errorf("store file records: %w", err)
		}
		if _, err := c.Insert(ctx, "dataset_location", locCols, locRows, sqldb.SkipOnConflict); err != nil {
			return fmt.Errorf("store dataset locations: %w", err)
		}
	}
	return nil
}

// FileRecords returns the records of the given datasets, keyed by dataset ID.
func (r *Registry) FileRecords(ctx context.Context, table string, ids []dataset.ID) (map[dataset.ID][]FileRecord, error) {
	out := map[dataset.ID][]FileRecord{}
	c := r.db.Conn()
	if ok, err := r.db.TableExists(ctx, c, table); err != nil || !ok {
		return out, err
	}
	for start := 0; start < len(ids); start += batchRows {
		end := min(start+batchRows, len(ids))
		ph, args := r.idList(ids[start:end])
		rows, err := c.Query(ctx, "SELECT dataset_id, path, formatter, storage_class, component, checksum, file_size FROM "+r.db.T(table)+
			" WHERE dataset_id IN ("+ph+")", args...)
		if err != nil {
			return nil, fmt.Errorf("read file records: %w", err)
		}
		for rows.Next() {
			var idv any
			var path, formatter, storageClass, component string
			var sum sql.NullString
			var size sql.NullInt64
			if err := rows.Scan(&idv, &path, &formatter, &storageClass, &component, &sum, &size); err != nil {
				rows.Close()
				return nil, err
			}
			id, err := parseUUID(idv)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = append(out[id], fileRecord(id, path, formatter, storageClass, component, sum, size))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fileRecord is the FileRecord of a row of a file records table: no
// checksum is "", no size -1, the null component "".
func fileRecord(id dataset.ID, path, formatter, storageClass, component string, sum sql.NullString, size sql.NullInt64) FileRecord {
	fr := FileRecord{DatasetID: id, Path: path, Formatter: formatter, StorageClass: storageClass, Component: component, Checksum: sum.String, FileSize: -1}
	if size.Valid {
		fr.FileSize = size.Int64
	}
	if fr.Component == NullComponent {
		fr.Component = ""
	}
	return fr
}

// deleteFileRecords removes the records of datasets and returns the paths no other
// record still refers to (safe to delete from storage).
func (r *Registry) deleteFileRecords(ctx context.Context, c sqldb.Conn, table string, ids []dataset.ID) ([]string, error) {
	if ok, err := r.db.TableExists(ctx, c, table); err != nil || !ok {
		return nil, err
	}
	var orphans []string
	for start := 0; start < len(ids); start += batchRows {
		end := min(start+batchRows, len(ids))
		ph, args := r.idList(ids[start:end])
		in := "(" + ph + ")"
		// The paths come from the DELETE itself, not from a SELECT before it:
		// a concurrent purge of the same datasets that committed first leaves
		// this DELETE nothing (it waits on the rows, then finds them gone), so
		// it must not name their path as an orphan. By then a new dataset of
		// the same data ID may have been written there.
		rows, err := c.Query(ctx, "DELETE FROM "+r.db.T(table)+" WHERE dataset_id IN "+in+" RETURNING path", args...)
		if err != nil {
			return nil, fmt.Errorf("delete file records: %w", err)
		}
		var paths []string
		seen := map[string]bool{}
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return nil, fmt.Errorf("delete file records: %w", err)
			}
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
		err = rows.Err()
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("delete file records: %w", err)
		}
		if _, err := c.Exec(ctx, "DELETE FROM "+r.db.T("dataset_location")+" WHERE dataset_id IN "+in, args...); err != nil {
			return nil, fmt.Errorf("delete dataset locations: %w", err)
		}
		for _, p := range paths {
			var n int
			if err := c.QueryRow(ctx, "SELECT count(*) FROM "+r.db.T(table)+" WHERE path = ?", p).Scan(&n); err != nil {
				return nil, err
			}
			if n == 0 {
				orphans = append(orphans, p)
			}
		}
	}
	return orphans, nil
}

// pathInUse reports whether a file record already refers to the path (read
// through c, inside the transaction that would add another).
func (r *Registry) pathInUse(ctx context.Context, c sqldb.Conn, table, path string) (bool, error) {
	if err := r.ensureOpaque(ctx, c, table); err != nil {
		return false, err
	}
	var n int
	err := c.QueryRow(ctx, "SELECT count(*) FROM "+r.db.T(table)+" WHERE path = ?", path).Scan(&n)
	return n > 0, err
}
