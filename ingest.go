package butler

import (
	"context"
	"errors"
	"io"
	"sync"

	"fmt"
	"golang.org/x/sync/errgroup"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/datastore"
	"github.com/gobutler/butler/internal/registry"
)

// FileDataset is one existing file to ingest as a dataset.
type FileDataset struct {
	Path   string            // local path of the file
	DataID dimensions.DataID // the dataset's data ID (required dimensions at least)
	// Records holds dimension records used by the file template (exposure.obs_id,
	// detector.full_name); missing ones are read from the registry.
	Records   map[string]dimensions.Record
	Formatter string     // formatter class; "" = the configured one
	ID        dataset.ID // preset ID; zero = made by the ID mode
	Size      int64      // bytes; <= 0 = look it up
}

// IngestOptions tune Ingest.
type IngestOptions struct {
	Transfer string         // transfer mode, "auto" when empty
	IDMode   dataset.IDMode // how IDs are made when not preset
	// SkipExisting leaves datasets whose ID is already in the run alone instead of failing.
	SkipExisting bool
	// NoFileAttrs stores -1 instead of the file size (upstream --no-track-file-attrs).
	NoFileAttrs bool
	// Parallel is the number of files transferred at once (1 when 0).
	Parallel int
}

// IngestResult says what one Ingest call did.
type IngestResult struct {
	Refs    []dataset.Ref // ingested
	Skipped int           // already present (SkipExisting)
}

// Ingest adds existing files as datasets of one type in run, in one transaction:
// every file is transferred first, then all records are committed; when the
// commit fails the transferred files are removed again.
func (b *Butler) Ingest(ctx context.Context, typeName, run string, files []FileDataset, opts IngestOptions) (IngestResult, error) {
	var res IngestResult
	if err := b.checkWriteable("ingest " + typeName); err != nil {
		return res, err
	}
	mode, err := transferMode(opts.Transfer)
	if err != nil {
		return res, err
	}
	t, err := b.reg.DatasetType(ctx, typeName)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", typeName, err)
	}
	if err := b.checkRun(ctx, run); err != nil {
		return res, err
	}
	type planned struct {
		ref  dataset.Ref
		f    FileDataset
		key  string
		form string
	}
	plan := make([]planned, 0, len(files))
	for _, f := range files {
		id, err := b.Universe.Normalize(t.Dimensions, onlyGroup(t.Dimensions, f.DataID))
		if err != nil {
			return res, fmt.Errorf("ingest %s: %w", f.Path, err)
		}
		full, recs := f.DataID.Clone(), f.Records
		if recs == nil {
			if full, recs, err = b.reg.Expand(ctx, t.Dimensions, id); err != nil {
				return res, fmt.Errorf("ingest %s: %w", f.Path, err)
			}
		}
		required := dimensions.DataID{}
		for _, e := range t.Dimensions.Required {
			required[e.Name] = id[e.Name]
		}
		dsID := f.ID
		if dsID == (dataset.ID{}) {
			if dsID, err = dataset.NewID(opts.IDMode, typeName, run, required); err != nil {
				return res, err
			}
		}
		tgt := b.target(t, run, dsID, full, recs)
		p, err := b.ds.Path(tgt)
		if err != nil {
			return res, fmt.Errorf("ingest %s: %w", f.Path, err)
		}
		form := f.Formatter
		if form == "" {
			form = b.ds.Formatter(tgt)
		}
		plan = append(plan, planned{ref: dataset.Ref{ID: dsID, Type: t, DataID: required, Run: run}, f: f, key: p + fileExtension(f.Path), form: form})
	}
	if _, err := b.reg.Collection(ctx, run); err == nil && len(plan) > 0 {
		ids := make([]dataset.ID, len(plan))
		for i, p := range plan {
			ids[i] = p.ref.ID
		}
		present := map[dataset.ID]bool{}
		err := b.reg.Datasets(ctx, registry.DatasetQuery{Type: typeName, Collections: []string{run}, IDs: ids}, func(r dataset.Ref) error {
			present[r.ID] = true
			return nil
		})
		if err != nil {
			return res, err
		}
		kept := plan[:0]
		for _, p := range plan {
			if present[p.ref.ID] {
				if !opts.SkipExisting {
					// Refuse before any transfer, so the existing dataset's file is never touched.
					return IngestResult{}, &dataset.ConflictError{Type: typeName, Collection: run, DataID: p.ref.DataID, Err: fmt.Errorf("dataset %s is already there", p.ref.ID)}
				}
				res.Skipped++
				continue
			}
			kept = append(kept, p)
		}
		plan = kept
	}
	var written []string // files this call created, removed again if the commit fails
	var mu sync.Mutex
	// As in Put, the dataset rows go in first inside the transaction, so a
	// conflict is found before any file is touched and concurrent ingests of the
	// same files wait for each other instead of racing on the same keys.
	err = b.reg.Update(ctx, func(c *registry.Tx) error {
		if _, err := c.RegisterRun(ctx, run, ""); err != nil {
			return err
		}
		news := make([]registry.NewDataset, len(plan))
		for i, p := range plan {
			news[i] = registry.NewDataset{ID: p.ref.ID, DataID: p.ref.DataID}
		}
		if err := c.InsertDatasets(ctx, typeName, run, news, opts.SkipExisting); err != nil {
			return err
		}
		items := make([]fileTransfer, len(plan))
		for i, p := range plan {
			items[i] = fileTransfer{src: p.f.Path, key: p.key, form: p.form, size: p.f.Size, refs: []dataset.Ref{p.ref}}
		}
		recs, err := b.transferFiles(ctx, items, mode, opts.Parallel, opts.NoFileAttrs, &written, &mu)
		if err != nil {
			return err
		}
		return b.insertFileRecords(ctx, c, recs, opts.SkipExisting)
	})
	if err != nil {
		// After a commit of unknown outcome the files stay: the datasets may be
		// in the registry, and a rerun replaces files that turn out orphaned.
		if mode != datastore.Move && !errors.Is(err, registry.ErrCommitUnknown) {
			if rmErr := b.ds.Remove(context.WithoutCancel(ctx), written); rmErr != nil {
				b.log.Warn("could not remove files of a failed ingest", "err", rmErr)
			}
		}
		return IngestResult{}, fmt.Errorf("ingest %d %s file(s) into %s: %w", len(plan), typeName, run, err)
	}
	for _, p := range plan {
		res.Refs = append(res.Refs, p.ref)
	}
	return res, nil
}

// transferMode is the mode asked for, "auto" when empty, checked.
func transferMode(m string) (string, error) {
	if m == "" {
		m = datastore.Auto
	}
	return m, datastore.CheckMode(m)
}

// fileTransfer is one file to place in the datastore for one or more datasets.
type fileTransfer struct {
	src  string // local path of the source file
	key  string // datastore key it goes to (unless the mode keeps it where it is)
	form string // formatter class
	size int64  // bytes; <= 0 = look it up
	refs []dataset.Ref
	// open, when set, reads the source instead of src (a file in another
	// repository's datastore that is not a local file); it is always copied.
	open func(ctx context.Context) (io.ReadCloser, error)
}

// transferFiles places files in the datastore, several at once (links and copies
// are system-call bound), spread over directories, and syncs them. It returns a
// file record per ref in the items' order; keys it created are appended to
// *written (under mu) so that a caller whose transaction fails can remove them.
func (b *Butler) transferFiles(ctx context.Context, items []fileTransfer, mode string, parallel int, noAttrs bool, written *[]string, mu *sync.Mutex) ([]registry.FileRecord, error) {
	outs := make([]datastore.Stored, len(items))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(max(parallel, 1))
	for _, i := range interleaveByDir(items, func(p fileTransfer) string { return path.Dir(p.key) }) {
		p := items[i]
		if p.size <= 0 {
			p.size = -1 // unknown: the datastore stats the file (0 would be recorded as is)
		}
		eg.Go(func() error {
			// The dataset rows are already in (uncommitted), so nothing else
			// refers to this key: a file found there is an orphan of an
			// interrupted transfer, safe to replace, and to remove on failure.
			var st datastore.Stored
			var err error
			if p.open != nil {
				var rc io.ReadCloser
				if rc, err = p.open(ectx); err != nil {
					return err
				}
				st, err = b.ds.Write(ectx, p.key, rc, p.size)
				rc.Close()
			} else {
				st, err = b.ds.Ingest(ectx, p.src, p.key, mode, p.size)
			}
			if err != nil {
				return err
			}
			outs[i] = st
			if st.Path == p.key {
				mu.Lock()
				*written = append(*written, st.Path)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	var recs []registry.FileRecord
	keys := make([]string, 0, len(items))
	for i, p := range items {
		st := outs[i]
		size := st.Size
		if noAttrs {
			size = -1
		}
		for _, ref := range p.refs {
			recs = append(recs, registry.FileRecord{DatasetID: ref.ID, Path: st.Path, Formatter: p.form, StorageClass: ref.Type.StorageClass, Checksum: st.Checksum, FileSize: size})
		}
		if !datastore.IsURI(st.Path) {
			keys = append(keys, st.Path)
		}
	}
	return recs, b.syncFiles(ctx, keys)
}

// interleaveByDir orders indexes round-robin over the items' directories, so
// that parallel transfers land in different directories: creating entries in one
// directory serialises on its lock in the kernel.
func interleaveByDir[T any](items []T, dir func(T) string) []int {
	byDir := map[string][]int{}
	var dirs []string
	for i, it := range items {
		d := dir(it)
		if _, ok := byDir[d]; !ok {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], i)
	}
	out := make([]int, 0, len(items))
	for len(out) < len(items) {
		for _, d := range dirs {
			if q := byDir[d]; len(q) > 0 {
				out = append(out, q[0])
				byDir[d] = q[1:]
			}
		}
	}
	return out
}

// onlyGroup drops data ID keys outside the group (records may carry more).
func onlyGroup(g dimensions.Group, id dimensions.DataID) dimensions.DataID {
	out := dimensions.DataID{}
	for k, v := range id {
		if g.Has(k) {
			out[k] = v
		}
	}
	return out
}

// fileExtension keeps the source's extension, including compound ones (.fits.fz, .fits.gz).
func fileExtension(p string) string {
	base := path.Base(filepath.ToSlash(p))
	ext := path.Ext(base)
	if ext == ".fz" || ext == ".gz" {
		inner := path.Ext(strings.TrimSuffix(base, ext))
		if inner != "" && len(inner) <= 5 {
			return inner + ext
		}
	}
	return ext
}

// RetrieveOptions tune RetrieveArtifacts.
type RetrieveOptions struct {
	Transfer     string // copy (default), link, symlink, hardlink, relsymlink, move is refused
	PreservePath bool   // keep the datastore path under dest (else the file name only)
	Clobber      bool   // overwrite existing files
}

// RetrieveArtifacts copies the files of datasets into a local directory and
// returns the paths written.
func (b *Butler) RetrieveArtifacts(ctx context.Context, refs []dataset.Ref, dest string, opts RetrieveOptions) ([]string, error) {
	return b.be.retrieveArtifacts(ctx, refs, dest, opts)
}

func (b local) retrieveArtifacts(ctx context.Context, refs []dataset.Ref, dest string, opts RetrieveOptions) ([]string, error) {
	refs = uniqueRefs(refs)
	ids := make([]dataset.ID, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	recs, err := b.reg.FileRecords(ctx, b.ds.RecordsTable(), ids)
	if err != nil {
		return nil, err
	}
	mode := opts.Transfer
	if mode == "" || mode == datastore.Auto {
		mode = datastore.Copy
	}
	var out []string
	for _, id := range ids {
		for _, fr := range recs[id] {
			rel := fr.Path
			mode := mode
			if zip, member, ok := datastore.SplitZipMember(rel); ok {
				// A member of a stored zip is unpacked next to where the zip is.
				rel, mode = path.Join(path.Dir(zip), member), datastore.Copy
			}
			if datastore.IsURI(rel) || !opts.PreservePath {
				rel = path.Base(rel)
			}
			target := filepath.Join(dest, filepath.FromSlash(rel))
			if _, err := os.Stat(target); err == nil && !opts.Clobber {
				return out, fmt.Errorf("retrieve %s: %w: %s exists (use --clobber)", id, errs.ErrConflict, target)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return out, err
			}
			if err := b.copyOut(ctx, fr.Path, target, mode); err != nil {
				return out, fmt.Errorf("retrieve %s: %w", id, err)
			}
			out = append(out, target)
		}
	}
	return out, nil
}

func (b *Butler) copyOut(ctx context.Context, stored, target, mode string) error {
	src := ""
	if strings.HasPrefix(stored, "file://") {
		src = strings.TrimPrefix(stored, "file://")
	} else if root := b.ds.Root(); root != "" {
		src = filepath.Join(root, filepath.FromSlash(stored))
	}
	switch mode {
	case datastore.Symlink, datastore.Link, datastore.RelSymlink, datastore.Hardlink:
		if src == "" {
			return fmt.Errorf("%w: cannot link to a remote file; use copy", errs.ErrUnsupported)
		}
		real, err := filepath.EvalSymlinks(src)
		if err != nil {
			return classifyOS(err)
		}
		os.Remove(target)
		if mode == datastore.Hardlink || mode == datastore.Link {
			if err := os.Link(real, target); err == nil || mode == datastore.Hardlink {
				return err
			}
		}
		return os.Symlink(real, target)
	case datastore.Copy:
		rc, err := b.ds.Open(ctx, stored)
		if err != nil {
			return err
		}
		defer rc.Close()
		return writeWhole(target, rc, stored, -1)
	}
	return fmt.Errorf("transfer mode %q: %w for retrieving artifacts", mode, errs.ErrUnsupported)
}

// insertFileRecords stores file records after checking the one size a bug could
// leave behind unnoticed: a 0 recorded for a file that is not empty, which the
// Python butler refuses to read ("Integrity failure in Datastore"). Only records
// claiming 0 bytes are checked, so the cost is a stat per empty file.
func (b *Butler) insertFileRecords(ctx context.Context, c *registry.Tx, recs []registry.FileRecord, skipExisting bool) error {
	for _, fr := range recs {
		if fr.FileSize != 0 {
			continue
		}
		n, err := b.ds.Size(ctx, fr.Path)
		if err != nil {
			return fmt.Errorf("check the size of dataset %s's file: %w", fr.DatasetID, err)
		}
		if n != 0 {
			return fmt.Errorf("file record of dataset %s: size 0 recorded for %s, which holds %d bytes (this is a bug)", fr.DatasetID, b.ds.URI(fr.Path), n)
		}
	}
	return c.InsertFileRecords(ctx, b.ds.RecordsTable(), b.ds.Name(), recs, skipExisting)
}
