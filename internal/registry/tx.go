package registry

import (
	"context"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/timespan"
)

// Tx is the registry seen through one database transaction (from Update) or
// through the pool outside any transaction (from Reader). Callers outside the
// registry write and read through it and never see a database connection.
type Tx struct {
	r *Registry
	c sqldb.Conn
}

// Update runs fn in one registry transaction: everything fn writes through
// the Tx is committed together, or nothing is.
func (r *Registry) Update(ctx context.Context, fn func(*Tx) error) error {
	return r.inTx(ctx, func(c sqldb.Conn) error { return fn(&Tx{r: r, c: c}) })
}

// Reader is a Tx for reads outside any transaction.
func (r *Registry) Reader() *Tx { return &Tx{r: r, c: r.db.Conn()} }

// ErrCommitUnknown marks a commit whose outcome is unknown (the connection
// was lost while committing): callers must not undo side effects such as files.
var ErrCommitUnknown = sqldb.ErrCommitUnknown

// IsTransient reports whether err means the connection was lost before
// anything was committed, so the whole operation may be run again.
func IsTransient(err error) bool { return sqldb.IsTransient(err) }

// ReadOnlyError says why a database opened for writing refuses writes.
func (r *Registry) ReadOnlyError() error { return r.db.ReadOnlyError() }

// RegisterCollection registers a collection; false when it already existed.
func (tx *Tx) RegisterCollection(ctx context.Context, name string, typ dataset.CollectionType, doc string) (bool, error) {
	return tx.r.registerCollection(ctx, tx.c, name, typ, doc)
}

// RegisterRun registers a RUN collection; false when it already existed.
func (tx *Tx) RegisterRun(ctx context.Context, name, doc string) (bool, error) {
	return tx.r.registerRun(ctx, tx.c, name, doc)
}

// Collection looks up the named collection inside the transaction.
func (tx *Tx) Collection(ctx context.Context, name string) (*Collection, error) {
	return tx.r.lookupCollection(ctx, tx.c, name)
}

// ChainIn reads the children of a CHAINED collection inside the transaction.
func (tx *Tx) ChainIn(ctx context.Context, parent string) ([]string, error) {
	return tx.r.chainIn(ctx, tx.c, parent)
}

// SetChain sets the children of a CHAINED collection.
func (tx *Tx) SetChain(ctx context.Context, parent string, children []string, flatten bool) error {
	return tx.r.setChain(ctx, tx.c, parent, children, flatten)
}

// SetDoc sets a collection's documentation string.
func (tx *Tx) SetDoc(ctx context.Context, name, doc string) error {
	return tx.r.setDoc(ctx, tx.c, name, doc)
}

// RemoveCollection removes a collection.
func (tx *Tx) RemoveCollection(ctx context.Context, name string, removeFromParents bool) error {
	return tx.r.removeCollection(ctx, tx.c, name, removeFromParents)
}

// RegisterDatasetType registers a dataset type; false when it already existed.
func (tx *Tx) RegisterDatasetType(ctx context.Context, t dataset.Type) (bool, error) {
	return tx.r.registerDatasetType(ctx, tx.c, t)
}

// RemoveDatasetType removes a dataset type that has no datasets.
func (tx *Tx) RemoveDatasetType(ctx context.Context, name string) error {
	return tx.r.removeDatasetType(ctx, tx.c, name)
}

// InsertDatasets adds datasets of one type to a run.
func (tx *Tx) InsertDatasets(ctx context.Context, typeName, run string, ds []NewDataset, skipExisting bool) error {
	return tx.r.insertDatasets(ctx, tx.c, typeName, run, ds, skipExisting)
}

// DeleteDatasets deletes datasets (and their associations).
func (tx *Tx) DeleteDatasets(ctx context.Context, ids []dataset.ID) error {
	return tx.r.deleteDatasets(ctx, tx.c, ids)
}

// Associate tags datasets into a TAGGED collection.
func (tx *Tx) Associate(ctx context.Context, tag string, refs []dataset.Ref) error {
	return tx.r.associate(ctx, tx.c, tag, refs)
}

// Disassociate removes datasets from a TAGGED collection.
func (tx *Tx) Disassociate(ctx context.Context, tag string, refs []dataset.Ref) error {
	return tx.r.disassociate(ctx, tx.c, tag, refs)
}

// RunDatasetIDs lists the IDs of the datasets of a run.
func (tx *Tx) RunDatasetIDs(ctx context.Context, run string) ([]dataset.ID, error) {
	return tx.r.runDatasetIDs(ctx, tx.c, run)
}

// RemoveRun removes a RUN collection (its datasets must be gone).
func (tx *Tx) RemoveRun(ctx context.Context, run string, unlinkFromChains bool) error {
	return tx.r.removeRun(ctx, tx.c, run, unlinkFromChains)
}

// Certify certifies datasets into a CALIBRATION collection over ts.
func (tx *Tx) Certify(ctx context.Context, coll string, refs []dataset.Ref, ts timespan.Timespan) error {
	return tx.r.certify(ctx, tx.c, coll, refs, ts)
}

// Decertify removes certifications over ts.
func (tx *Tx) Decertify(ctx context.Context, coll, typeName string, ts timespan.Timespan, ids []dimensions.DataID) error {
	return tx.r.decertify(ctx, tx.c, coll, typeName, ts, ids)
}

// InsertRecords writes dimension records of one element.
func (tx *Tx) InsertRecords(ctx context.Context, element string, recs []dimensions.Record, mode InsertMode) error {
	tx.r.recordsWritten(element)
	return tx.r.insertRecords(ctx, tx.c, element, recs, mode)
}

// SyncRecords inserts missing records and checks (or, with update, overwrites)
// the others; it returns how many it wrote.
func (tx *Tx) SyncRecords(ctx context.Context, element string, recs []dimensions.Record, update bool) (int, error) {
	tx.r.recordsWritten(element)
	return tx.r.syncRecords(ctx, tx.c, element, recs, update)
}

// InsertNewRecords writes records known to be new in bulk (a record that
// exists fails the statement), in primary-key order.
func (tx *Tx) InsertNewRecords(ctx context.Context, element string, recs []dimensions.Record) error {
	tx.r.recordsWritten(element)
	return tx.r.insertNewRecords(ctx, tx.c, element, recs, nil)
}

// InsertNewRegions is InsertNewRecords for records of a spatial element
// whose skypix overlap pixels the caller computed with SkypixEnvelope:
// pixels[i] are those of recs[i]'s region.
func (tx *Tx) InsertNewRegions(ctx context.Context, element string, recs []dimensions.Record, pixels [][]uint64) error {
	tx.r.recordsWritten(element)
	if pixels == nil {
		pixels = [][]uint64{}
	}
	return tx.r.insertNewRecords(ctx, tx.c, element, recs, pixels)
}

// CompareRecords reports, for each record, whether one with its data ID is
// stored and which fields of the stored one differ. It writes nothing.
func (tx *Tx) CompareRecords(ctx context.Context, element string, recs []dimensions.Record) ([]RecordState, error) {
	return tx.r.compareRecords(ctx, tx.c, element, recs)
}

// ExpandIn expands a data ID of g with its records.
func (tx *Tx) ExpandIn(ctx context.Context, g dimensions.Group, id dimensions.DataID) (dimensions.DataID, map[string]dimensions.Record, error) {
	return tx.r.expandIn(ctx, tx.c, g, id)
}

// ExpandCached is ExpandIn with a record cache shared across calls.
func (tx *Tx) ExpandCached(ctx context.Context, g dimensions.Group, id dimensions.DataID, cache RecordCache) (dimensions.DataID, map[string]dimensions.Record, error) {
	return tx.r.expandCached(ctx, tx.c, g, id, cache)
}

// InsertFileRecords writes datastore file records into table.
func (tx *Tx) InsertFileRecords(ctx context.Context, table, datastoreName string, recs []FileRecord, skipExisting bool) error {
	return tx.r.insertFileRecords(ctx, tx.c, table, datastoreName, recs, skipExisting)
}

// DeleteFileRecords deletes the file records of datasets and returns the
// paths no remaining record reads.
func (tx *Tx) DeleteFileRecords(ctx context.Context, table string, ids []dataset.ID) ([]string, error) {
	return tx.r.deleteFileRecords(ctx, tx.c, table, ids)
}

// PathInUse reports whether a file record reads path.
func (tx *Tx) PathInUse(ctx context.Context, table, path string) (bool, error) {
	return tx.r.pathInUse(ctx, tx.c, table, path)
}

// CountFileRecordsUnder counts the file records of table whose path starts
// with prefix (taken literally: no wildcards).
func (tx *Tx) CountFileRecordsUnder(ctx context.Context, table, prefix string) (int, error) {
	esc := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(prefix)
	var n int
	err := tx.c.QueryRow(ctx, "SELECT count(*) FROM "+tx.r.db.T(table)+" WHERE path LIKE ? ESCAPE '!'", esc+"%").Scan(&n)
	if err != nil {
		return 0, err
	}
	return n, nil
}
