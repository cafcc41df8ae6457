package butler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/datastore"
	"github.com/gobutler/butler/internal/registry"
	"go.yaml.in/yaml/v3"
)

// RegisterDatasetType adds a dataset type; it reports whether it was new. An
// identical existing type is a no-op, a different one a conflict.
func (b *Butler) RegisterDatasetType(ctx context.Context, name, storageClass string, dims []string, isCalibration bool) (bool, error) {
	if err := b.checkWriteable("register dataset type " + name); err != nil {
		return false, err
	}
	if b.storageCls != nil {
		if _, ok := b.storageCls[storageClass]; !ok {
			return false, fmt.Errorf("register dataset type %q: %w: unknown storage class %q", name, errs.ErrInvalid, storageClass)
		}
	}
	g, err := b.Universe.Group(dims...)
	if err != nil {
		return false, fmt.Errorf("register dataset type %q: %w", name, err)
	}
	var added bool
	err = b.reg.Update(ctx, func(c *registry.Tx) error {
		added, err = c.RegisterDatasetType(ctx, dataset.Type{Name: name, Dimensions: g, StorageClass: storageClass, IsCalibration: isCalibration})
		return err
	})
	return added, err
}

// DatasetType returns a registered dataset type.
func (b *Butler) DatasetType(ctx context.Context, name string) (dataset.Type, error) {
	return b.be.datasetType(ctx, name)
}

func (b local) datasetType(ctx context.Context, name string) (dataset.Type, error) {
	return b.reg.DatasetType(ctx, name)
}

// DatasetTypes lists registered dataset types matching glob patterns (all when none).
func (b *Butler) DatasetTypes(ctx context.Context, patterns ...string) ([]dataset.Type, error) {
	return b.be.datasetTypes(ctx, patterns...)
}

func (b local) datasetTypes(ctx context.Context, patterns ...string) ([]dataset.Type, error) {
	return b.reg.DatasetTypes(ctx, patterns)
}

// RemoveDatasetTypes deletes the dataset types matching the patterns; it returns
// the names removed. A type that still has datasets is refused.
func (b *Butler) RemoveDatasetTypes(ctx context.Context, patterns ...string) ([]string, error) {
	if err := b.checkWriteable("remove dataset types"); err != nil {
		return nil, err
	}
	types, err := b.reg.DatasetTypes(ctx, patterns)
	if err != nil {
		return nil, err
	}
	var names []string
	err = b.reg.Update(ctx, func(c *registry.Tx) error {
		for _, t := range types {
			if err := c.RemoveDatasetType(ctx, t.Name); err != nil {
				return err
			}
			names = append(names, t.Name)
		}
		return nil
	})
	return names, err
}

// fields implements datastore.Fields for a dataset being written.
type fields struct {
	id      dimensions.DataID
	records map[string]dimensions.Record
	typ     string
	run     string
	dsID    dataset.ID
}

func (f fields) Value(name string) (any, bool) {
	switch name {
	case "datasetType":
		p, _ := dataset.SplitComponent(f.typ)
		return p, true
	case "component":
		if _, c := dataset.SplitComponent(f.typ); c != "" {
			return c, true
		}
		return nil, false
	case "run":
		return f.run, true
	case "id":
		return f.dsID.String(), true
	}
	v, ok := f.id[name]
	return v, ok
}

func (f fields) Record(element, field string) (any, bool) {
	rec, ok := f.records[element]
	if !ok {
		return nil, false
	}
	v, ok := rec.Values[field]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

// formatter extensions of the formatters this butler writes or recognises.
var extensions = map[string]string{
	"JsonFormatter": ".json", "YamlFormatter": ".yaml", "PickleFormatter": ".pickle",
	"ParquetFormatter": ".parq", "AstropyTableFormatter": ".ecsv", "MatplotlibFormatter": ".png",
	"PackagesFormatter": ".yaml", "ButlerLogRecordsFormatter": ".json", "PexConfigFormatter": ".py",
}

func extensionOf(formatter string) string {
	short := formatter[strings.LastIndexByte(formatter, '.')+1:]
	if e, ok := extensions[short]; ok {
		return e
	}
	if strings.Contains(short, "Fits") || strings.Contains(short, "RawFormatter") {
		return ".fits"
	}
	return ""
}

// target builds the datastore lookup target of a dataset.
func (b *Butler) target(t dataset.Type, run string, id dataset.ID, full dimensions.DataID, recs map[string]dimensions.Record) datastore.Target {
	inst, _ := full["instrument"].(string)
	return datastore.Target{
		Instrument: inst, DatasetType: t.Name, Dimensions: strings.Join(t.Dimensions.RequiredNames(), "+"), StorageClass: t.StorageClass,
		Fields: fields{id: full, records: recs, typ: t.Name, run: run, dsID: id},
	}
}

// PutOptions tune Put.
type PutOptions struct {
	IDMode dataset.IDMode // Unique by default
}

// Put stores the bytes of data as a new dataset of the given type and data ID in
// run (registered when missing) and returns its reference. The file is written
// before its records; when the records cannot be committed the file is removed.
func (b *Butler) Put(ctx context.Context, data []byte, typeName string, dataID dimensions.DataID, run string, opts ...PutOptions) (dataset.Ref, error) {
	return b.PutReader(ctx, bytes.NewReader(data), int64(len(data)), typeName, dataID, run, opts...)
}

// PutReader is Put reading the content from r (size bytes, -1 when unknown).
func (b *Butler) PutReader(ctx context.Context, r io.Reader, size int64, typeName string, dataID dimensions.DataID, run string, opts ...PutOptions) (dataset.Ref, error) {
	var o PutOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if err := b.checkWriteable("put " + typeName); err != nil {
		return dataset.Ref{}, err
	}
	t, err := b.reg.DatasetType(ctx, typeName)
	if err != nil {
		return dataset.Ref{}, fmt.Errorf("put %s: %w", typeName, err)
	}
	if dataID, err = b.rewriteDataID(ctx, t.Dimensions, t.IsCalibration, dataID); err != nil {
		return dataset.Ref{}, fmt.Errorf("put %s: %w", typeName, err)
	}
	id, err := b.Universe.Normalize(t.Dimensions, dataID)
	if err != nil {
		return dataset.Ref{}, fmt.Errorf("put %s: %w", typeName, err)
	}
	full, recs, err := b.reg.Expand(ctx, t.Dimensions, id)
	if err != nil {
		return dataset.Ref{}, fmt.Errorf("put %s: %w", typeName, err)
	}
	required := dimensions.DataID{}
	for _, e := range t.Dimensions.Required {
		required[e.Name] = full[e.Name]
	}
	if err := checkRunName(run); err != nil {
		return dataset.Ref{}, err
	}
	dsID, err := dataset.NewID(o.IDMode, typeName, run, required)
	if err != nil {
		return dataset.Ref{}, err
	}
	ref := dataset.Ref{ID: dsID, Type: t, DataID: required, Run: run}
	tgt := b.target(t, run, dsID, full, recs)
	p, err := b.ds.Path(tgt)
	if err != nil {
		return dataset.Ref{}, fmt.Errorf("put %s %s: %w", typeName, required, err)
	}
	formatter := b.ds.Formatter(tgt)
	if formatter == "" {
		formatter = "lsst.daf.butler.formatters.file.FileFormatter"
	}
	key := p + extensionOf(formatter)
	// The dataset rows go in first, inside the transaction: a duplicate fails
	// there, before any file is touched, and the write lock it takes keeps a
	// concurrent putter of the same data ID from writing the same file. The file
	// is written (and synced) before the commit, and removed if the commit fails.
	var st datastore.Stored
	var runErr error
	wrote := false
	err = b.reg.Update(ctx, func(c *registry.Tx) error {
		// The run is looked up in the transaction (one read instead of one
		// before it and another in RegisterRun), and registered if missing.
		switch col, err := c.Collection(ctx, run); {
		case err == nil && col.Type != dataset.Run:
			runErr = notARun(col)
			return runErr
		case errors.Is(err, errs.ErrNotFound):
			if _, err := c.RegisterRun(ctx, run, ""); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if err := c.InsertDatasets(ctx, typeName, run, []registry.NewDataset{{ID: dsID, DataID: required}}, false); err != nil {
			return err
		}
		// A template that leaves out a dimension maps two datasets to one file:
		// refuse rather than overwrite the other dataset's file.
		if inUse, err := c.PathInUse(ctx, b.ds.RecordsTable(), key); err != nil {
			return err
		} else if inUse {
			return fmt.Errorf("file %s: %w: another dataset is stored there; the file template for %s does not tell their data IDs apart (check it with config-validate)", b.ds.URI(key), errs.ErrConflict, typeName)
		}
		// A file there that no record reads is an orphan: left by a killed
		// writer, or one a concurrent purge of this data ID has committed to
		// delete and is about to remove. Replacing it would let that removal
		// take this dataset's file, so write beside it under a name only this
		// dataset uses (verify --orphans finds the orphan).
		// WriteNew refuses an existing file before reading r.
		var err error
		if st, err = b.ds.WriteNew(ctx, key, r, size); errors.Is(err, errs.ErrConflict) {
			st, err = b.ds.WriteNew(ctx, p+"_"+dsID.String()+extensionOf(formatter), r, size)
		}
		if err != nil {
			return err
		}
		wrote = true
		if err := b.syncFiles(ctx, []string{st.Path}); err != nil {
			return err
		}
		return b.insertFileRecords(ctx, c, []registry.FileRecord{{
			DatasetID: dsID, Path: st.Path, Formatter: formatter, StorageClass: t.StorageClass, Checksum: st.Checksum, FileSize: st.Size,
		}}, false)
	})
	if runErr != nil {
		return dataset.Ref{}, runErr // as checkRun says it
	}
	if err != nil {
		if wrote && !errors.Is(err, registry.ErrCommitUnknown) {
			if rmErr := b.ds.Remove(context.WithoutCancel(ctx), []string{st.Path}); rmErr != nil {
				b.log.Warn("could not remove file of failed put", "path", b.ds.URI(st.Path), "err", rmErr)
			}
		}
		return dataset.Ref{}, fmt.Errorf("put %s %s: %w", typeName, required, err)
	}
	return ref, nil
}

// PutValue encodes v with the formatter configured for the dataset type (JSON or
// YAML) and puts it.
func (b *Butler) PutValue(ctx context.Context, v any, typeName string, dataID dimensions.DataID, run string, opts ...PutOptions) (dataset.Ref, error) {
	if err := b.checkWriteable("put " + typeName); err != nil {
		return dataset.Ref{}, err
	}
	t, err := b.reg.DatasetType(ctx, typeName)
	if err != nil {
		return dataset.Ref{}, fmt.Errorf("put %s: %w", typeName, err)
	}
	var data []byte
	switch f := b.ds.Formatter(datastore.Target{DatasetType: t.Name, StorageClass: t.StorageClass, Dimensions: strings.Join(t.Dimensions.RequiredNames(), "+")}); {
	case strings.HasSuffix(f, "JsonFormatter"):
		data, err = json.Marshal(v)
	case strings.HasSuffix(f, "YamlFormatter"):
		data, err = yaml.Marshal(v)
	default:
		return dataset.Ref{}, fmt.Errorf("put %s: %w: storage class %s uses formatter %q, which this butler cannot encode (use Put with bytes)", typeName, errs.ErrUnsupported, t.StorageClass, f)
	}
	if err != nil {
		return dataset.Ref{}, fmt.Errorf("put %s: encode: %w", typeName, err)
	}
	return b.Put(ctx, data, typeName, dataID, run, opts...)
}

// checkRun refuses a run name that is invalid or exists as another collection
// type; a missing run is registered later, inside the transaction that fills it.
func (b *Butler) checkRun(ctx context.Context, run string) error {
	if err := checkRunName(run); err != nil {
		return err
	}
	c, err := b.reg.Collection(ctx, run)
	if err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			return nil
		}
		return err
	}
	if c.Type != dataset.Run {
		return notARun(c)
	}
	return nil
}

func notARun(c *registry.Collection) error {
	return fmt.Errorf("collection %q: %w: is %s, not a RUN", c.Name, errs.ErrInvalid, c.Type)
}

// Find returns the first dataset of the type with the data ID in the ordered
// collections; a missing dataset is an error wrapping errs.ErrNotFound.
func (b *Butler) Find(ctx context.Context, typeName string, dataID dimensions.DataID, collections []string) (dataset.Ref, error) {
	return b.be.find(ctx, typeName, dataID, collections)
}

func (b local) find(ctx context.Context, typeName string, dataID dimensions.DataID, collections []string) (dataset.Ref, error) {
	t, err := b.reg.DatasetType(ctx, typeName)
	if err != nil {
		return dataset.Ref{}, err
	}
	if t.IsCalibration {
		// CALIBRATION collections in the search need a validity-range lookup.
		return b.FindAt(ctx, typeName, dataID, collections, nil)
	}
	if len(collections) == 0 {
		return dataset.Ref{}, fmt.Errorf("find %s: %w: no collections given to search", typeName, errs.ErrInvalid)
	}
	if dataID, err = b.rewriteDataID(ctx, t.Dimensions, false, dataID); err != nil {
		return dataset.Ref{}, fmt.Errorf("find %s: %w", typeName, err)
	}
	id, err := b.Universe.Normalize(t.Dimensions, dataID)
	if err != nil {
		return dataset.Ref{}, fmt.Errorf("find %s: %w", typeName, err)
	}
	ref, err := b.reg.FindDataset(ctx, typeName, id, collections)
	if err != nil {
		return dataset.Ref{}, fmt.Errorf("find %s %s: %w", typeName, id, err)
	}
	if ref == nil {
		return dataset.Ref{}, fmt.Errorf("dataset %s %s: %w in collections %s", typeName, id, errs.ErrNotFound, strings.Join(collections, ", "))
	}
	return *ref, nil
}

// FindEach is Find for each of dataIDs (one dataset type, one search path):
// refs[i] is the dataset of dataIDs[i] when errs[i] is nil, and a missing
// one is an error wrapping errs.ErrNotFound, as Find says. In a repository
// of its own, the data IDs are looked up in one query where they name the
// same dimensions, which is how a server answers the finds that arrive while
// its database connections are busy.
func (b *Butler) FindEach(ctx context.Context, typeName string, dataIDs []dimensions.DataID, collections []string) ([]dataset.Ref, []error) {
	refs := make([]dataset.Ref, len(dataIDs))
	fails := make([]error, len(dataIDs))
	l, ok := b.be.(local)
	ok = ok && len(dataIDs) > 1 && len(collections) > 0
	var t dataset.Type
	var err error
	if ok {
		t, err = b.DatasetType(ctx, typeName)
	}
	if !ok || err != nil || t.IsCalibration {
		for i, id := range dataIDs {
			refs[i], fails[i] = b.Find(ctx, typeName, id, collections)
		}
		return refs, fails
	}
	var ids []dimensions.DataID
	var at []int // the dataIDs index of each of ids
	for i, dataID := range dataIDs {
		dataID, err := l.rewriteDataID(ctx, t.Dimensions, false, dataID)
		if err != nil {
			fails[i] = fmt.Errorf("find %s: %w", typeName, err)
			continue
		}
		id, err := b.Universe.Normalize(t.Dimensions, dataID)
		if err != nil {
			fails[i] = fmt.Errorf("find %s: %w", typeName, err)
			continue
		}
		ids, at = append(ids, id), append(at, i)
	}
	found, err := b.reg.FindDatasets(ctx, typeName, ids, collections)
	for j, i := range at {
		switch {
		case err != nil:
			fails[i] = fmt.Errorf("find %s %s: %w", typeName, ids[j], err)
		case found[j] == nil:
			fails[i] = fmt.Errorf("dataset %s %s: %w in collections %s", typeName, ids[j], errs.ErrNotFound, strings.Join(collections, ", "))
		default:
			refs[i] = *found[j]
		}
	}
	return refs, fails
}

// Open returns a reader of a stored dataset's file.
func (b *Butler) Open(ctx context.Context, ref dataset.Ref) (io.ReadCloser, error) {
	rc, _, err := b.open(ctx, ref)
	return rc, err
}

func (b *Butler) open(ctx context.Context, ref dataset.Ref) (io.ReadCloser, registry.FileRecord, error) {
	recs, err := b.reg.FileRecords(ctx, b.ds.RecordsTable(), []dataset.ID{ref.ID})
	if err != nil {
		return nil, registry.FileRecord{}, err
	}
	rs := recs[ref.ID]
	if len(rs) == 0 {
		return nil, registry.FileRecord{}, fmt.Errorf("dataset %s: %w: it has no file in the datastore", ref, errs.ErrNotFound)
	}
	if len(rs) > 1 {
		return nil, registry.FileRecord{}, fmt.Errorf("dataset %s: %w: it is stored as %d component files", ref, errs.ErrUnsupported, len(rs))
	}
	rc, err := b.ds.Open(ctx, rs[0].Path)
	return rc, rs[0], err
}

// Get finds a dataset and returns its bytes. A component dataset type name
// ("raw.metadata") reads that component of the parent dataset (see
// ComponentOf) and returns it as YAML; the ref returned is then the
// component's.
func (b *Butler) Get(ctx context.Context, typeName string, dataID dimensions.DataID, collections []string) ([]byte, dataset.Ref, error) {
	if isComponent(typeName) {
		v, ref, err := b.GetComponent(ctx, typeName, dataID, collections)
		if err != nil {
			return nil, ref, err
		}
		data, err := componentYAML(v)
		if err != nil {
			return nil, ref, fmt.Errorf("get %s: encode: %w", ref, err)
		}
		return data, ref, nil
	}
	ref, err := b.Find(ctx, typeName, dataID, collections)
	if err != nil {
		return nil, ref, err
	}
	data, err := b.GetRef(ctx, ref)
	return data, ref, err
}

// GetRef reads the bytes of a resolved dataset. A ref whose type names a
// component ("raw.metadata", with the parent's ID) reads that component as
// YAML. As in the Python butler, a file whose size differs from the size
// recorded for it (when one is) is an error.
func (b *Butler) GetRef(ctx context.Context, ref dataset.Ref) ([]byte, error) {
	return b.be.getRef(ctx, ref)
}

func (b local) getRef(ctx context.Context, ref dataset.Ref) ([]byte, error) {
	if isComponent(ref.Type.Name) {
		return b.componentBytes(ctx, ref)
	}
	rc, fr, err := b.open(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err == nil && fr.FileSize >= 0 && int64(len(data)) != fr.FileSize {
		return nil, fmt.Errorf("get %s: %w: integrity failure: %s holds %d bytes, the registry records %d", ref, errs.ErrInvalid, b.ds.URI(fr.Path), len(data), fr.FileSize)
	}
	return data, err
}

// GetValue finds a dataset and decodes its JSON or YAML content into v. For a
// component dataset type name ("raw.bbox") v receives the component: a
// *Metadata, *Box, *Extent or *Point takes it as it is, anything else is
// decoded from the component's JSON form (a map[string]any for metadata).
func (b *Butler) GetValue(ctx context.Context, v any, typeName string, dataID dimensions.DataID, collections []string) (dataset.Ref, error) {
	if isComponent(typeName) {
		c, ref, err := b.GetComponent(ctx, typeName, dataID, collections)
		if err != nil {
			return ref, err
		}
		if err := assignComponent(v, c); err != nil {
			return ref, fmt.Errorf("get %s: decode: %w", ref, err)
		}
		return ref, nil
	}
	data, ref, err := b.Get(ctx, typeName, dataID, collections)
	if err != nil {
		return ref, err
	}
	arts, err := b.be.artifacts(ctx, []dataset.ID{ref.ID})
	if err != nil {
		return ref, err
	}
	if len(arts[ref.ID]) == 0 {
		return ref, fmt.Errorf("get %s: %w: it has no file in the datastore", ref, errs.ErrNotFound)
	}
	switch ext := path.Ext(arts[ref.ID][0].Path); ext {
	case ".json":
		err = json.Unmarshal(data, v)
	case ".yaml":
		err = yaml.Unmarshal(data, v)
	default:
		err = fmt.Errorf("%w: cannot decode a %q file", errs.ErrUnsupported, ext)
	}
	if err != nil {
		return ref, fmt.Errorf("get %s: decode: %w", ref, err)
	}
	return ref, nil
}

// URI returns the location of a dataset's file.
func (b *Butler) URI(ctx context.Context, ref dataset.Ref) (string, error) {
	arts, err := b.Artifacts(ctx, []dataset.ID{ref.ID})
	if err != nil {
		return "", err
	}
	if len(arts[ref.ID]) == 0 {
		return "", fmt.Errorf("dataset %s: %w: no file", ref, errs.ErrNotFound)
	}
	return arts[ref.ID][0].URI, nil
}

// URIs returns the file locations of many datasets at once (keyed by ID).
func (b *Butler) URIs(ctx context.Context, ids []dataset.ID) (map[dataset.ID]string, error) {
	arts, err := b.Artifacts(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[dataset.ID]string, len(arts))
	for id, as := range arts {
		out[id] = as[0].URI // a dataset without files has no entry
	}
	return out, nil
}

// Dataset returns the dataset with the given ID.
func (b *Butler) Dataset(ctx context.Context, id dataset.ID) (dataset.Ref, error) {
	return b.be.dataset(ctx, id)
}

func (b local) dataset(ctx context.Context, id dataset.ID) (dataset.Ref, error) {
	ref, err := b.reg.Dataset(ctx, id)
	if err != nil {
		return dataset.Ref{}, err
	}
	if ref == nil {
		return dataset.Ref{}, fmt.Errorf("dataset %s: %w", id, errs.ErrNotFound)
	}
	return *ref, nil
}

// removeRefs deletes datasets' records and then (after commit) their files.
func (b *Butler) removeRefs(ctx context.Context, c *registry.Tx, ids []dataset.ID) ([]string, error) {
	orphans, err := c.DeleteFileRecords(ctx, b.ds.RecordsTable(), ids)
	if err != nil {
		return nil, err
	}
	if orphans, err = b.zipOrphans(ctx, c, orphans); err != nil {
		return nil, err
	}
	return orphans, c.DeleteDatasets(ctx, ids)
}

// Remove deletes datasets and their files (prune --purge).
func (b *Butler) Remove(ctx context.Context, refs []dataset.Ref) error {
	return b.Prune(ctx, refs, PruneOptions{Purge: true})
}

// Unstore deletes datasets' files and datastore records but keeps them in the registry.
func (b *Butler) Unstore(ctx context.Context, refs []dataset.Ref) error {
	return b.Prune(ctx, refs, PruneOptions{Unstore: true})
}
