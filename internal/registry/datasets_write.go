// Dataset writes: inserting datasets into a RUN (with the collection summary
// rows their foreign keys need), deleting them, tagging and untagging, and
// removing a RUN.

package registry

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// batchRows bounds the IDs of one IN list (and the rows of one DELETE).
const batchRows = 500

// NewDataset is one dataset to insert: its ID and its data ID (required dimensions).
type NewDataset struct {
	ID     dataset.ID
	DataID dimensions.DataID
}

// ensureSummaries adds the collection summary rows the dataset tables' foreign
// keys need. They are written every time (cheap, idempotent) rather than cached,
// because another client may remove and re-create the collection meanwhile.
func (r *Registry) ensureSummaries(ctx context.Context, c sqldb.Conn, collID int64, st *storedType, ids []dimensions.DataID) error {
	if _, err := c.Exec(ctx, "INSERT INTO "+r.db.T("collection_summary_dataset_type")+" (collection_id, dataset_type_id) VALUES (?, ?) ON CONFLICT DO NOTHING", collID, st.id); err != nil {
		return fmt.Errorf("update collection summary: %w", err)
	}
	for _, g := range st.Dimensions.Governors() {
		seen := map[any]bool{}
		for _, id := range ids {
			v := id[g.Name]
			if seen[v] {
				continue
			}
			seen[v] = true
			if _, err := c.Exec(ctx, "INSERT INTO "+r.db.T("collection_summary_"+g.Name)+" (collection_id, "+r.db.Q(g.Name)+") VALUES (?, ?) ON CONFLICT DO NOTHING", collID, v); err != nil {
				if strings.Contains(strings.ToLower(err.Error()), "foreign key") || strings.Contains(err.Error(), "23503") {
					return fmt.Errorf("%w: %s %q has no record (register it, or import its dimension records first): %w", errs.ErrNotFound, g.Name, fmt.Sprint(v), err)
				}
				return fmt.Errorf("update collection summary: %w", err)
			}
		}
	}
	return nil
}

// insertDatasets adds datasets of one type to a RUN. With skipExisting, datasets
// whose ID is already in the run are left alone; otherwise any existing dataset
// with the same ID or type+data ID is a *dataset.ConflictError. Data IDs must be normalized.
func (r *Registry) insertDatasets(ctx context.Context, c sqldb.Conn, typeName, run string, ds []NewDataset, skipExisting bool) error {
	if len(ds) == 0 {
		return nil
	}
	st, err := r.storedType(ctx, c, typeName)
	if err != nil {
		return err
	}
	col, err := r.lookupCollection(ctx, c, run)
	if err != nil {
		return err
	}
	if col.Type != dataset.Run {
		return fmt.Errorf("insert datasets into %q: %w: it is %s, not a RUN", run, errs.ErrInvalid, col.Type)
	}
	ids := make([]dimensions.DataID, len(ds))
	for i, d := range ds {
		ids[i] = d.DataID
	}
	if err := r.ensureSummaries(ctx, c, col.ID, st, ids); err != nil {
		return err
	}
	dims := st.Dimensions.RequiredNames()
	// In ID order: the dataset table's key and the tags table's are the
	// (random) UUIDs, so sorted rows fill index pages one after another
	// instead of one page each.
	sorted := slices.Clone(ds)
	slices.SortFunc(sorted, func(a, b NewDataset) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	seen := make(map[string]int, len(sorted))
	var key []byte
	for i, d := range sorted {
		key = key[:0]
		for _, k := range dims {
			v, ok := d.DataID[k]
			if !ok {
				return fmt.Errorf("insert dataset %s %s: %w: missing dimension %q", typeName, d.DataID, errs.ErrInvalid, k)
			}
			key = fmt.Append(key, v, "\x00")
		}
		if skipExisting {
			continue
		}
		if i > 0 && sorted[i-1].ID == d.ID {
			return &dataset.ConflictError{Type: typeName, Collection: run, DataID: d.DataID,
				Err: fmt.Errorf("%w: dataset ID %s appears twice in one insert", errs.ErrConflict, d.ID)}
		}
		if _, dup := seen[string(key)]; dup {
			return &dataset.ConflictError{Type: typeName, Collection: run, DataID: d.DataID,
				Err: fmt.Errorf("%w: two datasets of one insert have data ID %s", errs.ErrConflict, d.DataID)}
		}
		seen[string(key)] = i
	}
	on := sqldb.FailOnConflict
	if skipExisting {
		on = sqldb.SkipOnConflict
	}
	now := r.nowValue()
	dsCols := []string{"id", "dataset_type_id", "run_id"}
	if r.datasetsV2 {
		dsCols = []string{"id", "dataset_type_id", "ingest_date", "run_id"}
	}
	tagCols := append([]string{"dataset_type_id", "dataset_id", "collection_id"}, dims...)
	// In slices, so that an import of millions of datasets holds the rows of
	// one slice at a time.
	for start := 0; start < len(sorted); start += bulkRows {
		batch := sorted[start:min(start+bulkRows, len(sorted))]
		dsRows := make([][]any, len(batch))
		tagRows := make([][]any, len(batch))
		dsVals := make([]any, len(batch)*len(dsCols))
		tagVals := make([]any, len(batch)*len(tagCols))
		for i, d := range batch {
			id := r.uuid(d.ID)
			row := dsVals[i*len(dsCols) : (i+1)*len(dsCols)]
			if r.datasetsV2 {
				row[0], row[1], row[2], row[3] = id, st.id, now, col.ID
			} else {
				row[0], row[1], row[2] = id, st.id, col.ID
			}
			dsRows[i] = row
			row = tagVals[i*len(tagCols) : (i+1)*len(tagCols)]
			row[0], row[1], row[2] = st.id, id, col.ID
			for j, k := range dims {
				row[3+j] = d.DataID[k]
			}
			tagRows[i] = row
		}
		if _, err := c.Insert(ctx, "dataset", dsCols, dsRows, on); err != nil {
			return r.datasetConflict(typeName, run, batch, err)
		}
		if _, err := c.Insert(ctx, st.tagTable, tagCols, tagRows, on); err != nil {
			return r.datasetConflict(typeName, run, batch, err)
		}
	}
	return nil
}

// bulkRows is how many rows a bulk write hands the database at once.
const bulkRows = 50000

// datasetConflict explains a failed insert of batch: a data ID naming a
// dimension value without a record, or a dataset already there (named when
// the database could say which row failed).
func (r *Registry) datasetConflict(typeName, coll string, batch []NewDataset, err error) error {
	if msg := strings.ToLower(err.Error()); strings.Contains(msg, "foreign key") || strings.Contains(msg, "23503") {
		// Not a duplicate: a data ID names a dimension value with no record.
		ex := ""
		if i := sqldb.FailedRow(err); i >= 0 && i < len(batch) {
			ex = fmt.Sprintf(" (%s)", batch[i].DataID)
		} else if len(batch) > 0 {
			ex = fmt.Sprintf(" (the first is %s)", batch[0].DataID)
		}
		return fmt.Errorf("insert %d %s dataset(s) into %q: %w: a data ID names a dimension value that has no record; insert or import the dimension records first%s: %w",
			len(batch), typeName, coll, errs.ErrNotFound, ex, err)
	}
	if !strings.Contains(err.Error(), errs.ErrConflict.Error()) {
		return fmt.Errorf("insert %d %s dataset(s) into %q: %w", len(batch), typeName, coll, err)
	}
	var id dimensions.DataID
	if i := sqldb.FailedRow(err); i >= 0 && i < len(batch) {
		id = batch[i].DataID
	} else if len(batch) == 1 {
		id = batch[0].DataID
	}
	return &dataset.ConflictError{Type: typeName, Collection: coll, DataID: id, Err: err}
}

// deleteDatasets removes datasets (and, by cascade, their associations).
func (r *Registry) deleteDatasets(ctx context.Context, c sqldb.Conn, ids []dataset.ID) error {
	for start := 0; start < len(ids); start += batchRows {
		end := min(start+batchRows, len(ids))
		ph, args := r.idList(ids[start:end])
		in := " IN (" + ph + ")"
		if _, err := c.Exec(ctx, "DELETE FROM "+r.db.T("dataset_location")+" WHERE dataset_id"+in, args...); err != nil {
			return fmt.Errorf("delete dataset locations: %w", err)
		}
		if _, err := c.Exec(ctx, "DELETE FROM "+r.db.T("dataset")+" WHERE id"+in, args...); err != nil {
			return fmt.Errorf("delete datasets: %w", err)
		}
	}
	return nil
}

// associate adds datasets to a TAGGED collection; a different dataset with the
// same type and data ID already there is a conflict, the same one a no-op.
func (r *Registry) associate(ctx context.Context, c sqldb.Conn, tag string, refs []dataset.Ref) error {
	col, err := r.lookupCollection(ctx, c, tag)
	if err != nil {
		return err
	}
	if col.Type != dataset.Tagged {
		return fmt.Errorf("associate with %q: %w: it is %s, not TAGGED", tag, errs.ErrInvalid, col.Type)
	}
	// By dataset type, in bulk: the datasets already in the collection are
	// left alone, the others are inserted together.
	var order []string
	byType := map[string][]dataset.Ref{}
	for _, ref := range refs {
		if _, ok := byType[ref.Type.Name]; !ok {
			order = append(order, ref.Type.Name)
		}
		byType[ref.Type.Name] = append(byType[ref.Type.Name], ref)
	}
	for _, name := range order {
		refs := byType[name]
		st, err := r.storedType(ctx, c, name)
		if err != nil {
			return err
		}
		ids := make([]dimensions.DataID, len(refs))
		for i, ref := range refs {
			ids[i] = ref.DataID
		}
		if err := r.ensureSummaries(ctx, c, col.ID, st, ids); err != nil {
			return err
		}
		// Re-associating the very same dataset is a no-op.
		present := map[dataset.ID]bool{}
		for start := 0; start < len(refs); start += batchRows {
			chunk := refs[start:min(start+batchRows, len(refs))]
			chunkIDs := make([]dataset.ID, len(chunk))
			for i, ref := range chunk {
				chunkIDs[i] = ref.ID
			}
			in, args := r.idList(chunkIDs)
			rows, err := c.Query(ctx, "SELECT dataset_id FROM "+r.db.T(st.tagTable)+" WHERE collection_id = ? AND dataset_id IN ("+in+")", append([]any{col.ID}, args...)...)
			if err != nil {
				return err
			}
			found, err := scanIDs(rows)
			if err != nil {
				return err
			}
			for _, id := range found {
				present[id] = true
			}
		}
		dims := st.Dimensions.RequiredNames()
		var add []dataset.Ref
		var rows [][]any
		for _, ref := range refs {
			if present[ref.ID] {
				continue
			}
			present[ref.ID] = true // twice in refs: once
			row := []any{st.id, r.uuid(ref.ID), col.ID}
			for _, d := range dims {
				row = append(row, ref.DataID[d])
			}
			add = append(add, ref)
			rows = append(rows, row)
		}
		cols := append([]string{"dataset_type_id", "dataset_id", "collection_id"}, dims...)
		if _, err := c.Insert(ctx, st.tagTable, cols, rows, sqldb.FailOnConflict); err != nil {
			var id dimensions.DataID
			if i := sqldb.FailedRow(err); i >= 0 && i < len(add) {
				id = add[i].DataID
			}
			return &dataset.ConflictError{Type: name, Collection: tag, DataID: id, Err: err}
		}
	}
	return nil
}

// disassociate removes datasets from a TAGGED collection.
func (r *Registry) disassociate(ctx context.Context, c sqldb.Conn, tag string, refs []dataset.Ref) error {
	col, err := r.lookupCollection(ctx, c, tag)
	if err != nil {
		return err
	}
	if col.Type != dataset.Tagged {
		return fmt.Errorf("disassociate from %q: %w: it is %s, not TAGGED", tag, errs.ErrInvalid, col.Type)
	}
	for _, ref := range refs {
		st, err := r.storedType(ctx, c, ref.Type.Name)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "DELETE FROM "+r.db.T(st.tagTable)+" WHERE dataset_id = ? AND collection_id = ?", r.uuid(ref.ID), col.ID); err != nil {
			return err
		}
	}
	return nil
}

// runDatasetIDs lists the IDs of every dataset in a RUN.
func (r *Registry) runDatasetIDs(ctx context.Context, c sqldb.Conn, run string) ([]dataset.ID, error) {
	col, err := r.lookupCollection(ctx, c, run)
	if err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, "SELECT id FROM "+r.db.T("dataset")+" WHERE run_id = ?", col.ID)
	if err != nil {
		return nil, err
	}
	return scanIDs(rows)
}

// removeRun deletes a RUN collection and every dataset in it (the caller removes
// the files first, from the records it read).
func (r *Registry) removeRun(ctx context.Context, c sqldb.Conn, run string, unlinkFromChains bool) error {
	col, err := r.lookupCollection(ctx, c, run)
	if err != nil {
		return err
	}
	if col.Type != dataset.Run {
		return fmt.Errorf("remove run %q: %w: it is %s, not a RUN", run, errs.ErrInvalid, col.Type)
	}
	if err := r.checkParents(ctx, c, col, unlinkFromChains); err != nil {
		return err
	}
	ids, err := r.runDatasetIDs(ctx, c, run)
	if err != nil {
		return err
	}
	if err := r.deleteDatasets(ctx, c, ids); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "DELETE FROM "+r.db.T("collection")+" WHERE collection_id = ?", col.ID); err != nil {
		return fmt.Errorf("remove run %q: %w", run, err)
	}
	return nil
}
