package butler

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/datastore"
	"github.com/gobutler/butler/internal/registry"
	"github.com/gobutler/butler/internal/zipindex"
	"github.com/google/uuid"
)

// ZipIndexName is the zip member that describes a zip of datasets, as
// daf_butler's ZipIndex names it.
const ZipIndexName = zipindex.Name

// zipStorePath is where an ingested zip goes in the datastore: zips/<first 4 of name>/<name>.
func zipStorePath(name string) string { return "zips/" + name[:4] + "/" + name }

// RetrieveZipOptions tune RetrieveArtifactsZip.
type RetrieveZipOptions struct {
	// Overwrite replaces a zip of the same name in the destination (--clobber).
	Overwrite bool
	// NoRecords leaves the data IDs' dimension records out of the index; the
	// receiving repository then needs them already.
	NoRecords bool
}

// zipMember is one file going into a zip.
type zipMember struct {
	name string // path inside the zip
	src  string // record path to read it from
	info zipindex.FileInfo
	ids  []dataset.ID
}

// RetrieveArtifactsZip writes the files of the datasets into one zip in the
// directory dest, with an index (ZipIndexName) that IngestZip and the Python
// butler's ingest-zip read, and returns the zip's path. The zip is named from
// its member names, which are each file's base name prefixed with the first 8
// characters of its dataset ID, as daf_butler names them.
func (b *Butler) RetrieveArtifactsZip(ctx context.Context, refs []dataset.Ref, dest string, opts RetrieveZipOptions) (string, error) {
	if err := b.be.unsupported("retrieving artifacts as a zip"); err != nil {
		return "", err
	}
	if len(refs) == 0 {
		return "", fmt.Errorf("retrieve artifacts as zip: %w: no datasets given", errs.ErrInvalid)
	}
	byID := map[dataset.ID]dataset.Ref{}
	for _, r := range refs {
		byID[r.ID] = r
	}
	ids := make([]dataset.ID, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	recs, err := b.reg.FileRecords(ctx, b.ds.RecordsTable(), ids)
	if err != nil {
		return "", err
	}
	members := map[string]*zipMember{}
	bySource := map[string]*zipMember{}
	indexes := map[string]*zipindex.Index{} // indexes of stored zips that members come from
	for _, id := range ids {
		if len(recs[id]) == 0 {
			return "", fmt.Errorf("retrieve artifacts as zip: dataset %s: %w: it has no file in the datastore", byID[id], errs.ErrNotFound)
		}
		for _, fr := range recs[id] {
			if m := bySource[fr.Path]; m != nil {
				// One file for several datasets (DECam raws): stored once.
				m.ids = append(m.ids, id)
				continue
			}
			m := &zipMember{src: fr.Path, ids: []dataset.ID{id}, info: zipindex.FileInfo{
				Formatter: fr.Formatter, Path: fr.Path, StorageClass: fr.StorageClass,
				Component: nullable(fr.Component), Checksum: nullable(fr.Checksum), FileSize: fr.FileSize,
			}}
			if zipPath, member, ok := datastore.SplitZipMember(fr.Path); ok {
				// A member of an ingested zip keeps its name and its original record.
				m.name = member
				idx := indexes[zipPath]
				if idx == nil {
					if idx, err = b.storedZipIndex(ctx, zipPath); err != nil {
						return "", err
					}
					indexes[zipPath] = idx
				}
				if a, ok := idx.ArtifactMap[member]; ok {
					m.info = a.Info
				}
			} else {
				base := fr.Path
				if datastore.IsURI(base) {
					base = strings.TrimPrefix(base, "file://")
				}
				m.name = id.String()[:8] + "-" + path.Base(base)
			}
			if other := members[m.name]; other != nil {
				return "", fmt.Errorf("retrieve artifacts as zip: %w: %s and %s would both be %q in the zip", errs.ErrConflict, b.ds.URI(other.src), b.ds.URI(m.src), m.name)
			}
			members[m.name], bySource[fr.Path] = m, m
		}
	}
	idx := &zipindex.Index{IndexVersion: "V1", ArtifactMap: map[string]zipindex.Artifact{}, Refs: zipindex.Refs{
		ContainerVersion: "V1", UniverseVersion: b.Universe.Version, UniverseNamespace: b.Universe.Namespace,
		DatasetTypes: map[string]zipindex.DatasetType{}, CompactRefs: map[string]zipindex.CompactRef{},
	}}
	if idx.Refs.UniverseNamespace == "" {
		idx.Refs.UniverseNamespace = "daf_butler"
	}
	var names []string
	for name, m := range members {
		a := zipindex.Artifact{Info: m.info}
		for _, id := range m.ids {
			a.IDs = append(a.IDs, id.String())
		}
		sort.Strings(a.IDs)
		idx.ArtifactMap[name] = a
		names = append(names, name)
	}
	sort.Strings(names)
	fullIDs := map[dataset.ID]dimensions.DataID{}
	if !opts.NoRecords {
		if idx.Refs.DimensionRecords, fullIDs, err = b.zipRecords(ctx, ids, byID); err != nil {
			return "", err
		}
	}
	for _, id := range ids {
		r := byID[id]
		dataID := r.DataID
		if full, ok := fullIDs[id]; ok {
			dataID = full
		}
		idx.Refs.DatasetTypes[r.Type.Name] = zipindex.DatasetType{
			Name: r.Type.Name, StorageClass: r.Type.StorageClass, Dimensions: r.Type.Dimensions.RequiredNames(), IsCalibration: r.Type.IsCalibration,
		}
		idx.Refs.CompactRefs[id.String()] = zipindex.CompactRef{DatasetTypeName: r.Type.Name, Run: r.Run, DataID: dataID}
	}
	indexJSON, err := json.Marshal(idx)
	if err != nil {
		return "", fmt.Errorf("retrieve artifacts as zip: encode index: %w", err)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", fmt.Errorf("retrieve artifacts as zip: %w", classifyOS(err))
	}
	target := filepath.Join(dest, zipindex.FileName(names))
	if _, err := os.Stat(target); err == nil && !opts.Overwrite {
		return "", fmt.Errorf("retrieve artifacts as zip: %w: %s exists (use --clobber)", errs.ErrConflict, target)
	}
	if err := b.writeZip(ctx, target, append(indexJSON, '\n'), names, members); err != nil {
		return "", fmt.Errorf("retrieve artifacts as zip %s: %w", target, err)
	}
	return target, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// writeZip writes the index (deflated) and then each member (stored, so that a
// datastore can read one member with a single ranged read), through a temporary
// file renamed into place.
func (b *Butler) writeZip(ctx context.Context, target string, index []byte, names []string, members map[string]*zipMember) (err error) {
	f, err := os.CreateTemp(filepath.Dir(target), ".butler-zip-*.tmp")
	if err != nil {
		return classifyOS(err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	zw := zip.NewWriter(f)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: ZipIndexName, Method: zip.Deflate})
	if err != nil {
		return err
	}
	if _, err := w.Write(index); err != nil {
		return err
	}
	for _, name := range names {
		m := members[name]
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			return err
		}
		rc, err := b.ds.Open(ctx, m.src)
		if err != nil {
			return fmt.Errorf("read %s: %w", b.ds.URI(m.src), err)
		}
		_, err = io.Copy(w, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("copy %s: %w", b.ds.URI(m.src), err)
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), target)
}

// storedZipIndex reads the index of a zip already in the datastore.
func (b *Butler) storedZipIndex(ctx context.Context, zipPath string) (*zipindex.Index, error) {
	z, err := b.ds.OpenZip(ctx, zipPath)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	rc, err := z.Open(ctx, ZipIndexName)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return zipindex.Read(rc, b.ds.URI(zipPath))
}

// zipRecords gathers the dimension records of the datasets' data IDs: every
// element whose dimensions the data ID covers, as daf_butler attaches them to
// expanded data IDs (skypix left out). It also returns the full data IDs.
func (b *Butler) zipRecords(ctx context.Context, ids []dataset.ID, refs map[dataset.ID]dataset.Ref) (map[string][][]any, map[dataset.ID]dimensions.DataID, error) {
	rows := map[string]map[string][]any{}
	fullIDs := map[dataset.ID]dimensions.DataID{}
	done := map[string]dimensions.DataID{}
	for _, id := range ids {
		r := refs[id]
		key := r.Type.Dimensions.Key() + r.DataID.String()
		if full, ok := done[key]; ok {
			fullIDs[id] = full
			continue
		}
		full, recs, err := b.reg.Expand(ctx, r.Type.Dimensions, r.DataID)
		if err != nil {
			return nil, nil, fmt.Errorf("records of %s: %w", r, err)
		}
		done[key], fullIDs[id] = full, full
		for _, e := range b.Universe.Elements {
			if e.SkyPixSystem != "" || !covers(full, e) {
				continue
			}
			var row []any
			switch {
			case e.HasTable():
				rec, ok := recs[e.Name]
				if !ok {
					if rec, ok, err = b.reg.Record(ctx, e.Name, full); err != nil {
						return nil, nil, err
					}
				}
				if !ok {
					continue
				}
				row = zipindex.RecordRow(rec)
			case len(e.Metadata) == 0:
				// A view (band of physical_filter): its record is just the key.
				for _, d := range e.Dimensions() {
					row = append(row, full[d.Name])
				}
			default:
				continue
			}
			m := rows[e.Name]
			if m == nil {
				m = map[string][]any{}
				rows[e.Name] = m
			}
			m[fmt.Sprint(row[:len(e.Dimensions())])] = row
		}
	}
	out := map[string][][]any{}
	for el, m := range rows {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out[el] = append(out[el], m[k])
		}
	}
	return out, fullIDs, nil
}

// covers reports whether a data ID holds every dimension of the element.
func covers(id dimensions.DataID, e *dimensions.Element) bool {
	for _, d := range e.Dimensions() {
		if _, ok := id[d.Name]; !ok {
			return false
		}
	}
	return true
}

// IngestZipOptions tune IngestZip (the options of `butler ingest-zip`).
type IngestZipOptions struct {
	// Transfer is how the zip gets into the datastore: auto (default), copy,
	// move, link, hardlink, symlink, relsymlink or direct (left where it is).
	Transfer string
	// TransferDimensions inserts the dimension records the index carries that
	// the repository lacks; without it they must all exist already.
	TransferDimensions bool
	// DryRun checks everything, in a transaction that is rolled back, and
	// transfers nothing.
	DryRun bool
	// SkipExisting makes a zip whose datasets are all stored already a no-op.
	SkipExisting bool
}

// IngestZipResult says what IngestZip did.
type IngestZipResult struct {
	Refs    []dataset.Ref // datasets ingested (with DryRun: that would be)
	Files   int           // members of the zip the datasets read
	Path    string        // the zip's stored path (a file:// URI for direct)
	Skipped int           // datasets already stored (SkipExisting)
}

// errZipDryRun rolls back the transaction of a dry run.
var errZipDryRun = errors.New("dry run")

// zipPlan is a zip's index checked against the repository.
type zipPlan struct {
	types   map[string]dataset.Type
	refs    []dataset.Ref // sorted by type, run, ID
	members []string      // sorted
	records []RecordSet   // dimension records to insert, universe order
}

// IngestZip adds the datasets of a zip written by RetrieveArtifactsZip (or by
// the Python butler) with their dataset IDs: the zip goes into the datastore
// whole, at zips/<xxxx>/<uuid>.zip, and each dataset's file record points at its
// member (<zip>#zip-path=<member>). Dataset types and runs are registered as
// needed; everything happens in one transaction, and on failure the repository
// is left as it was and the transferred zip removed.
func (b *Butler) IngestZip(ctx context.Context, zipPath string, opts IngestZipOptions) (IngestZipResult, error) {
	var res IngestZipResult
	if err := b.checkWriteable("ingest zip " + zipPath); err != nil {
		return res, err
	}
	mode, err := transferMode(opts.Transfer)
	if err != nil {
		return res, err
	}
	src := strings.TrimPrefix(zipPath, "file://")
	if datastore.IsURI(src) {
		return res, fmt.Errorf("ingest zip %s: %w: only local zips can be ingested", zipPath, errs.ErrUnsupported)
	}
	idx, plan, err := b.planZip(ctx, src, opts)
	if err != nil {
		return res, fmt.Errorf("ingest zip %s: %w", zipPath, err)
	}
	res.Files = len(plan.members)
	// As upstream, a zip whose datasets are already stored fails, or with
	// SkipExisting is skipped; a zip that is partly stored cannot be ingested.
	ids := make([]dataset.ID, len(plan.refs))
	for i, r := range plan.refs {
		ids[i] = r.ID
	}
	stored, err := b.reg.FileRecords(ctx, b.ds.RecordsTable(), ids)
	if err != nil {
		return res, err
	}
	if len(stored) > 0 {
		if opts.SkipExisting && len(stored) == len(ids) {
			res.Skipped = len(ids)
			return res, nil
		}
		if opts.SkipExisting {
			return res, fmt.Errorf("ingest zip %s: %w: %d of its %d datasets are already stored; a zip that overlaps stored datasets cannot be ingested", zipPath, errs.ErrConflict, len(stored), len(ids))
		}
		return res, fmt.Errorf("ingest zip %s: %w", zipPath, b.zipStoredConflict(ctx, plan, stored))
	}
	key := zipStorePath(zipindex.FileName(idx.MemberNames()))
	xfer := mode
	if mode == datastore.Move {
		// Copy, and remove the source only once the records are committed, so a
		// failure leaves the zip where it was.
		xfer = datastore.Copy
	}
	var written string
	err = b.reg.Update(ctx, func(c *registry.Tx) error {
		written = ""
		if err := b.zipRegister(ctx, c, plan); err != nil {
			return err
		}
		if err := b.zipCheckDataIDs(ctx, c, plan, idx, opts); err != nil {
			return err
		}
		if err := b.zipInsertDatasets(ctx, c, plan); err != nil {
			return err
		}
		// Another zip with the same member names (so the same stored name) must
		// not be replaced under its records.
		if inUse, err := c.PathInUse(ctx, b.ds.RecordsTable(), key); err != nil {
			return err
		} else if n, err2 := b.zipRecordsUsing(ctx, c, key); err2 != nil {
			return err2
		} else if inUse || n > 0 {
			return fmt.Errorf("%w: %s already holds a zip with the same member names, still in use", errs.ErrConflict, b.ds.URI(key))
		}
		stPath := key
		if !opts.DryRun {
			// No record reads the key (checked above), so whatever a failed
			// transfer left there may be removed.
			if rel, inside := b.ds.Inside(src); xfer != datastore.Direct && (!inside || rel != key) {
				written = key
			}
			st, err := b.ds.Ingest(ctx, src, key, xfer, -1)
			if err != nil {
				return err
			}
			stPath = st.Path
			if st.Path != key {
				written = "" // left in place (already inside the datastore, or direct)
			} else if err := b.syncFiles(ctx, []string{key}); err != nil {
				return err
			}
		}
		res.Path = stPath
		var recs []registry.FileRecord
		for _, m := range plan.members {
			a := idx.ArtifactMap[m]
			for _, s := range a.IDs {
				id, _ := uuid.Parse(s) // checked by planZip
				recs = append(recs, registry.FileRecord{
					DatasetID: id, Path: datastore.ZipMemberPath(stPath, m), Formatter: a.Info.Formatter,
					StorageClass: a.Info.StorageClass, Component: deref(a.Info.Component), Checksum: deref(a.Info.Checksum), FileSize: a.Info.FileSize,
				})
			}
		}
		if err := b.insertFileRecords(ctx, c, recs, false); err != nil {
			return err
		}
		if opts.DryRun {
			return errZipDryRun
		}
		return nil
	})
	if errors.Is(err, errZipDryRun) {
		res.Refs = plan.refs
		return res, nil
	}
	if err != nil {
		if written != "" && !errors.Is(err, registry.ErrCommitUnknown) {
			if rmErr := b.ds.Remove(context.WithoutCancel(ctx), []string{written}); rmErr != nil {
				b.log.Warn("could not remove the zip of a failed ingest", "path", b.ds.URI(written), "err", rmErr)
			}
		}
		var ce *dataset.ConflictError
		if errors.As(err, &ce) {
			err = b.zipExplainConflict(ctx, plan, err)
		}
		return IngestZipResult{}, fmt.Errorf("ingest zip %s: %w", zipPath, err)
	}
	if mode == datastore.Move {
		if rmErr := os.Remove(src); rmErr != nil {
			b.log.Warn("could not remove the moved zip", "path", src, "err", rmErr)
		}
	}
	res.Refs = plan.refs
	return res, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// planZip reads a local zip's index and checks it: every member it names is in
// the zip, every dataset has a defined type and a file, dataset types agree with
// the repository's, data IDs fit their types.
func (b *Butler) planZip(ctx context.Context, src string, opts IngestZipOptions) (*zipindex.Index, *zipPlan, error) {
	zr, err := zip.OpenReader(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return nil, nil, classifyOS(err)
		}
		return nil, nil, fmt.Errorf("%w: not a readable zip: %w", errs.ErrInvalid, err)
	}
	defer zr.Close()
	inZip := map[string]*zip.File{}
	for _, f := range zr.File {
		inZip[f.Name] = f
	}
	f := inZip[ZipIndexName]
	if f == nil {
		return nil, nil, fmt.Errorf("%w: the zip has no %s, so it was not written by a butler (retrieve-artifacts --zip)", errs.ErrInvalid, ZipIndexName)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read %s: %w", errs.ErrInvalid, ZipIndexName, err)
	}
	idx, err := zipindex.Read(rc, src)
	rc.Close()
	if err != nil {
		return nil, nil, err
	}
	u := b.Universe
	ns := u.Namespace
	if ns == "" {
		ns = "daf_butler"
	}
	if idx.Refs.UniverseNamespace != ns {
		return nil, nil, fmt.Errorf("%w: the index's dimension universe is %q, the repository's %q", errs.ErrInvalid, idx.Refs.UniverseNamespace, ns)
	}
	if idx.Refs.UniverseVersion != u.Version {
		b.log.Warn("zip written with another dimension universe version", "zip", src, "zip_version", idx.Refs.UniverseVersion, "repo_version", u.Version)
	}
	plan := &zipPlan{types: map[string]dataset.Type{}, members: idx.MemberNames()}
	for name, zt := range idx.Refs.DatasetTypes {
		if zt.Name != "" && zt.Name != name {
			return nil, nil, fmt.Errorf("%w: dataset type entry %q is named %q", errs.ErrInvalid, name, zt.Name)
		}
		if zt.ParentStorageClass != nil {
			return nil, nil, fmt.Errorf("dataset type %q: %w: component dataset types cannot be ingested", name, errs.ErrUnsupported)
		}
		g, err := u.Group(zt.Dimensions...)
		if err != nil {
			return nil, nil, fmt.Errorf("dataset type %q: %w", name, err)
		}
		if !sameNames(g.RequiredNames(), zt.Dimensions) {
			return nil, nil, fmt.Errorf("dataset type %q: %w: dimensions %v are %v in this repository's universe", name, errs.ErrInvalid, []string(zt.Dimensions), g.RequiredNames())
		}
		t := dataset.Type{Name: name, Dimensions: g, StorageClass: zt.StorageClass, IsCalibration: zt.IsCalibration}
		old, err := b.reg.DatasetType(ctx, name)
		switch {
		case err == nil:
			if !old.Equal(t) {
				return nil, nil, fmt.Errorf("dataset type %q: %w: the repository has %s, the zip %s", name, errs.ErrConflict, old, t)
			}
		case errors.Is(err, errs.ErrNotFound):
			if b.storageCls != nil {
				if _, ok := b.storageCls[t.StorageClass]; !ok {
					return nil, nil, fmt.Errorf("dataset type %q: %w: unknown storage class %q", name, errs.ErrInvalid, t.StorageClass)
				}
			}
		default:
			return nil, nil, err
		}
		plan.types[name] = t
	}
	withFile := map[dataset.ID]bool{}
	for _, m := range plan.members {
		if inZip[m] == nil {
			return nil, nil, fmt.Errorf("%w: the index lists %q, which is not in the zip", errs.ErrInvalid, m)
		}
		a := idx.ArtifactMap[m]
		if len(a.IDs) == 0 {
			return nil, nil, fmt.Errorf("%w: member %q is for no dataset", errs.ErrInvalid, m)
		}
		for _, s := range a.IDs {
			id, err := uuid.Parse(s)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: member %q: dataset ID %q: %w", errs.ErrInvalid, m, s, err)
			}
			if _, ok := idx.Refs.CompactRefs[s]; !ok {
				if _, ok := idx.Refs.CompactRefs[id.String()]; !ok {
					return nil, nil, fmt.Errorf("%w: member %q is for dataset %s, which the index does not describe", errs.ErrInvalid, m, s)
				}
			}
			withFile[id] = true
		}
	}
	for s, cr := range idx.Refs.CompactRefs {
		id, err := uuid.Parse(s)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: dataset ID %q: %w", errs.ErrInvalid, s, err)
		}
		t, ok := plan.types[cr.DatasetTypeName]
		if !ok {
			return nil, nil, fmt.Errorf("dataset %s: %w: its dataset type %q is not defined in the index", id, errs.ErrInvalid, cr.DatasetTypeName)
		}
		if !withFile[id] {
			return nil, nil, fmt.Errorf("dataset %s: %w: no member of the zip holds it", id, errs.ErrInvalid)
		}
		raw := dimensions.DataID{}
		for k, v := range cr.DataID {
			if t.Dimensions.Has(k) {
				raw[k] = zipindex.JSONScalar(v)
			}
		}
		full, err := u.Normalize(t.Dimensions, raw)
		if err != nil {
			return nil, nil, fmt.Errorf("dataset %s (%s): %w", id, t.Name, err)
		}
		required := dimensions.DataID{}
		for _, e := range t.Dimensions.Required {
			required[e.Name] = full[e.Name]
		}
		if err := checkRunName(cr.Run); err != nil {
			return nil, nil, fmt.Errorf("dataset %s: %w", id, err)
		}
		plan.refs = append(plan.refs, dataset.Ref{ID: id, Type: t, DataID: required, Run: cr.Run})
	}
	sort.Slice(plan.refs, func(i, j int) bool {
		a, c := plan.refs[i], plan.refs[j]
		if a.Type.Name != c.Type.Name {
			return a.Type.Name < c.Type.Name
		}
		if a.Run != c.Run {
			return a.Run < c.Run
		}
		return a.ID.String() < c.ID.String()
	})
	if opts.TransferDimensions && len(idx.Refs.DimensionRecords) > 0 {
		for _, e := range u.Elements {
			rows, ok := idx.Refs.DimensionRecords[e.Name]
			if !ok || !e.HasTable() {
				continue
			}
			set := RecordSet{Element: e.Name}
			for _, row := range rows {
				rec, err := zipindex.DecodeRecordRow(e, row)
				if err != nil {
					return nil, nil, err
				}
				set.Records = append(set.Records, rec)
			}
			plan.records = append(plan.records, set)
		}
		for el := range idx.Refs.DimensionRecords {
			if _, ok := u.Element(el); !ok {
				return nil, nil, fmt.Errorf("%w: the index has records of %q, which is not in dimension universe %d", errs.ErrInvalid, el, u.Version)
			}
		}
	}
	return idx, plan, nil
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	s := map[string]bool{}
	for _, x := range a {
		s[x] = true
	}
	for _, x := range b {
		if !s[x] {
			return false
		}
	}
	return true
}

// checkRunName is checkRun's name rule, for runs the transaction will create.
func checkRunName(run string) error {
	if run == "" || len(run) > dataset.MaxCollectionName {
		return fmt.Errorf("run %q: %w: a collection name must be 1 to %d characters", run, errs.ErrInvalid, dataset.MaxCollectionName)
	}
	return nil
}

// zipRegister registers the plan's new dataset types and runs and inserts the
// dimension records it carries (existing ones are left as they are, as upstream).
func (b *Butler) zipRegister(ctx context.Context, c *registry.Tx, plan *zipPlan) error {
	names := make([]string, 0, len(plan.types))
	for n := range plan.types {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := c.RegisterDatasetType(ctx, plan.types[n]); err != nil {
			return err
		}
	}
	runs := map[string]bool{}
	for _, r := range plan.refs {
		runs[r.Run] = true
	}
	sorted := make([]string, 0, len(runs))
	for r := range runs {
		sorted = append(sorted, r)
	}
	// Sorted, so concurrent ingests take locks in one order.
	sort.Strings(sorted)
	for _, r := range sorted {
		if _, err := c.RegisterRun(ctx, r, ""); err != nil {
			return err
		}
	}
	for _, set := range plan.records {
		if err := c.InsertRecords(ctx, set.Element, set.Records, registry.InsertSkip); err != nil {
			return fmt.Errorf("insert %s records of the zip: %w", set.Element, err)
		}
	}
	return nil
}

// zipCheckDataIDs makes sure the dimension records of every data ID exist, so
// that a missing one is named rather than reported as a foreign-key failure.
func (b *Butler) zipCheckDataIDs(ctx context.Context, c *registry.Tx, plan *zipPlan, idx *zipindex.Index, opts IngestZipOptions) error {
	seen := map[string]bool{}
	for _, r := range plan.refs {
		key := r.Type.Dimensions.Key() + r.DataID.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		if _, _, err := c.ExpandIn(ctx, r.Type.Dimensions, r.DataID); err != nil {
			if errors.Is(err, errs.ErrNotFound) && len(idx.Refs.DimensionRecords) > 0 && !opts.TransferDimensions {
				return fmt.Errorf("dataset %s: %w (the zip carries dimension records: use --transfer-dimensions)", r.ID, err)
			}
			return fmt.Errorf("dataset %s: %w", r.ID, err)
		}
	}
	return nil
}

// zipInsertDatasets inserts the datasets, one batch per dataset type and run.
func (b *Butler) zipInsertDatasets(ctx context.Context, c *registry.Tx, plan *zipPlan) error {
	for start := 0; start < len(plan.refs); {
		end := start
		var news []registry.NewDataset
		for end < len(plan.refs) && plan.refs[end].Type.Name == plan.refs[start].Type.Name && plan.refs[end].Run == plan.refs[start].Run {
			news = append(news, registry.NewDataset{ID: plan.refs[end].ID, DataID: plan.refs[end].DataID})
			end++
		}
		if err := c.InsertDatasets(ctx, plan.refs[start].Type.Name, plan.refs[start].Run, news, false); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// zipStoredConflict describes the zip's datasets that are already stored,
// naming first one that the repository has under another type, run or data ID.
func (b *Butler) zipStoredConflict(ctx context.Context, plan *zipPlan, stored map[dataset.ID][]registry.FileRecord) error {
	var first *dataset.Ref
	looked := 0
	for i, r := range plan.refs {
		if _, ok := stored[r.ID]; !ok {
			continue
		}
		if first == nil {
			first = &plan.refs[i]
		}
		if looked++; looked > 1000 {
			break // enough to find a mismatch in any likely zip; this is only the message
		}
		if err := b.zipDiffers(ctx, r); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: %d of its datasets are already stored, such as %s %s in run %s (%s)", errs.ErrConflict, len(stored), first.Type.Name, first.DataID, first.Run, first.ID)
}

// zipDiffers reports a conflict when the repository has r's ID as another dataset.
func (b *Butler) zipDiffers(ctx context.Context, r dataset.Ref) error {
	old, err := b.reg.Dataset(ctx, r.ID)
	if err != nil || old == nil {
		return nil
	}
	if old.Type.Name != r.Type.Name || old.Run != r.Run || old.DataID.String() != r.DataID.String() {
		return fmt.Errorf("%w: dataset %s is already in the repository as %s %s in run %s; the zip has it as %s %s in run %s",
			errs.ErrConflict, r.ID, old.Type.Name, old.DataID, old.Run, r.Type.Name, r.DataID, r.Run)
	}
	return nil
}

// zipExplainConflict names a dataset behind a registry conflict when one of the
// zip's IDs is already in use (by a dataset with no file, or of another run).
func (b *Butler) zipExplainConflict(ctx context.Context, plan *zipPlan, err error) error {
	for i, r := range plan.refs {
		if i >= 1000 {
			break
		}
		if derr := b.zipDiffers(ctx, r); derr != nil {
			return derr
		}
	}
	return err
}

// zipRecordsUsing counts the file records that read members of the stored zip.
func (b *Butler) zipRecordsUsing(ctx context.Context, c *registry.Tx, zipPath string) (int, error) {
	n, err := c.CountFileRecordsUnder(ctx, b.ds.RecordsTable(), zipPath+datastore.ZipMemberSep)
	if err != nil {
		return 0, fmt.Errorf("count records of %s: %w", zipPath, err)
	}
	return n, nil
}

// zipOrphans turns the paths whose records a removal deleted into the files to
// delete: a zip member becomes its zip once no record reads any member of it,
// and nothing while one still does. Other paths pass through.
func (b *Butler) zipOrphans(ctx context.Context, c *registry.Tx, paths []string) ([]string, error) {
	var out []string
	checked := map[string]bool{}
	for _, p := range paths {
		zipPath, _, ok := datastore.SplitZipMember(p)
		if !ok {
			out = append(out, p)
			continue
		}
		if checked[zipPath] || datastore.IsURI(zipPath) {
			continue
		}
		checked[zipPath] = true
		n, err := b.zipRecordsUsing(ctx, c, zipPath)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			out = append(out, zipPath)
		}
	}
	return out, nil
}
