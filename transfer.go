package butler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/datastore"
	"github.com/gobutler/butler/internal/registry"
	"github.com/gobutler/butler/timespan"
)

// Bundle is repository content moved between repositories: what daf_butler's
// export files hold. Records are in universe order; data IDs of refs hold the
// required dimensions.
type Bundle struct {
	Records      []RecordSet
	Collections  []CollectionSpec
	DatasetTypes []dataset.Type
	Files        []BundleFile
	Tags         []Association // TAGGED collection memberships
	Calibs       []Association // CALIBRATION memberships, with their validity ranges
}

// CollectionSpec describes one collection; Children is the chain of a CHAINED one.
type CollectionSpec struct {
	Name     string
	Type     dataset.CollectionType
	Doc      string
	Children []string
}

// BundleFile is one file and the datasets stored in it (usually one).
// Path is relative to the bundle's directory, or absolute, or a URI.
type BundleFile struct {
	Path      string
	Formatter string
	Refs      []dataset.Ref
}

// Association puts datasets in a TAGGED collection or, with a Timespan, certifies
// them in a CALIBRATION collection.
type Association struct {
	Collection string
	Timespan   timespan.Timespan
	IDs        []dataset.ID
}

// ImportOptions tune Import.
type ImportOptions struct {
	// Dir is where relative file paths are found.
	Dir string
	// Transfer is the transfer mode for the files ("auto" when empty).
	Transfer string
	// SkipDimensions names elements whose records are not imported.
	SkipDimensions []string
	// NoFileAttrs stores -1 instead of file sizes (upstream --no-track-file-attrs).
	NoFileAttrs bool
	// RegistryOnly imports collections, types, records and datasets but no files.
	RegistryOnly bool
	// Parallel is the number of files transferred at once (4 when 0).
	Parallel int
	// Source, when set, is the repository the bundle's file paths belong to
	// (paths are its datastore paths); Dir is then ignored.
	Source *Butler
}

// ImportResult counts what Import wrote.
type ImportResult struct {
	Records, Collections, DatasetTypes, Datasets, Files int
	// Skipped counts datasets that were already there, identical.
	Skipped int
}

// EntryError names the bundle entry that could not be imported.
type EntryError struct {
	Entry string // e.g. "dataset calexp {instrument: HSC, ...} in run X"
	Err   error
}

func (e *EntryError) Error() string { return e.Entry + ": " + e.Err.Error() }
func (e *EntryError) Unwrap() error { return e.Err }

// Import writes a bundle into the repository in one transaction, as daf_butler's
// import does: dimension records (existing ones are kept), collections, dataset
// types, datasets with their IDs, files, chains, tags and certifications. Any
// failure leaves the repository as it was and removes the files it placed.
// Datasets already present with the same ID, type, run and data ID are skipped.
func (b *Butler) Import(ctx context.Context, bun *Bundle, opts ImportOptions) (ImportResult, error) {
	if err := b.checkWriteable("import"); err != nil {
		return ImportResult{}, err
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	plan, err := b.planImport(ctx, bun, opts)
	if err != nil {
		return ImportResult{}, err
	}
	return b.applyImport(ctx, bun, opts, plan)
}

// importPlan is what Import writes, checked and computed before any write.
type importPlan struct {
	mode    string                     // transfer mode of the files
	types   map[string]dataset.Type    // the bundle's types, and registered ones its refs name
	skip    map[string]bool            // elements whose records are not imported
	groups  []*importGroup             // the files by dataset type and run, in bundle order
	byID    map[dataset.ID]dataset.Ref // every ref of the bundle's files, normalised
	present map[dataset.ID]bool        // refs already in the repository, identical (skipped)
}

// importGroup is the files of one dataset type and run: one InsertDatasets.
type importGroup struct {
	typ   dataset.Type
	run   string
	files []BundleFile // with normalised refs and resolved local paths
}

// planImport checks everything that can be checked before writing, so a bad
// bundle fails fast with the entry named and nothing touched: dataset types
// against the repository, refs (data IDs normalised, IDs made for refs without
// one, duplicates refused), files present, dimension records well-formed, and
// which datasets are already stored.
func (b *Butler) planImport(ctx context.Context, bun *Bundle, opts ImportOptions) (*importPlan, error) {
	mode, err := transferMode(opts.Transfer)
	if err != nil {
		return nil, err
	}
	types, err := b.importTypes(ctx, bun)
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{}
	for _, e := range opts.SkipDimensions {
		skip[e] = true
	}
	var groups []*importGroup
	byKey := map[string]*importGroup{}
	byID := map[dataset.ID]dataset.Ref{}
	for _, f := range bun.Files {
		if len(f.Refs) == 0 {
			return nil, &EntryError{Entry: "file " + f.Path, Err: fmt.Errorf("%w: no datasets", errs.ErrInvalid)}
		}
		var refs []dataset.Ref
		for _, ref := range f.Refs {
			t, ok := types[ref.Type.Name]
			if !ok {
				return nil, &EntryError{Entry: "dataset " + ref.ID.String(), Err: fmt.Errorf("%w: dataset type %q is neither in the export nor registered", errs.ErrNotFound, ref.Type.Name)}
			}
			id, err := b.Universe.Normalize(t.Dimensions, onlyGroup(t.Dimensions, ref.DataID))
			if err != nil {
				return nil, &EntryError{Entry: describeRef(ref), Err: err}
			}
			req := dimensions.DataID{}
			for _, e := range t.Dimensions.Required {
				req[e.Name] = id[e.Name]
			}
			ref.Type, ref.DataID = t, req
			if ref.ID == (dataset.ID{}) {
				if ref.ID, err = dataset.NewID(dataset.Unique, t.Name, ref.Run, req); err != nil {
					return nil, err
				}
			}
			if _, dup := byID[ref.ID]; dup {
				return nil, &EntryError{Entry: describeRef(ref), Err: fmt.Errorf("%w: dataset ID %s appears twice", errs.ErrInvalid, ref.ID)}
			}
			byID[ref.ID] = ref
			refs = append(refs, ref)
		}
		f.Refs = refs
		if !opts.RegistryOnly && opts.Source != nil {
			if f.Path == "" {
				return nil, &EntryError{Entry: describeRef(refs[0]), Err: fmt.Errorf("%w: it has no file in the source repository", errs.ErrNotFound)}
			}
		} else if !opts.RegistryOnly {
			src := strings.TrimPrefix(f.Path, "file://") // a direct-ingested file exported as its URI
			if !filepath.IsAbs(src) && !datastore.IsURI(src) && opts.Dir != "" {
				src = filepath.Join(opts.Dir, src)
			}
			if datastore.IsURI(src) {
				return nil, &EntryError{Entry: describeRef(refs[0]), Err: fmt.Errorf("%w: file %s: only local files can be imported", errs.ErrUnsupported, src)}
			}
			if _, err := os.Stat(src); err != nil {
				return nil, &EntryError{Entry: describeRef(refs[0]), Err: fmt.Errorf("file %s: %w", src, classifyOS(err))}
			}
			f.Path = src
		}
		k := refs[0].Type.Name + "\x00" + refs[0].Run
		g := byKey[k]
		if g == nil {
			g = &importGroup{typ: refs[0].Type, run: refs[0].Run}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.files = append(g.files, f)
	}
	if err := checkRecords(b.Universe, bun, skip); err != nil {
		return nil, err
	}
	present, err := b.presentDatasets(ctx, byID)
	if err != nil {
		return nil, err
	}
	return &importPlan{mode: mode, types: types, skip: skip, groups: groups, byID: byID, present: present}, nil
}

// applyImport writes a planned bundle in one transaction: records, collections,
// runs and dataset types, then each group's datasets and files, then chains,
// tags and certifications. On failure it removes the files it placed (unless
// the commit's outcome is unknown).
func (b *Butler) applyImport(ctx context.Context, bun *Bundle, opts ImportOptions, plan *importPlan) (ImportResult, error) {
	var res ImportResult
	var written []string
	var mu sync.Mutex
	err := b.reg.Update(ctx, func(c *registry.Tx) error {
		res = ImportResult{Skipped: len(plan.present)}
		if err := b.importRegister(ctx, c, bun, plan, &res); err != nil {
			return err
		}
		cache := registry.RecordCache{}
		for _, g := range plan.groups {
			if err := b.importDatasets(ctx, c, g, opts, plan, cache, &res, &written, &mu); err != nil {
				return err
			}
		}
		return b.importAssociations(ctx, c, bun, plan)
	})
	if err != nil {
		if plan.mode != datastore.Move && !errors.Is(err, registry.ErrCommitUnknown) {
			if rmErr := b.ds.Remove(context.WithoutCancel(ctx), written); rmErr != nil {
				b.log.Warn("could not remove files of a failed import", "err", rmErr)
			}
		}
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	return res, nil
}

// importRegister inserts the bundle's dimension records (existing ones are
// kept) and registers its collections, the runs of its datasets and its
// dataset types, counting what was added.
func (b *Butler) importRegister(ctx context.Context, c *registry.Tx, bun *Bundle, plan *importPlan, res *ImportResult) error {
	for _, set := range bun.Records {
		if plan.skip[set.Element] || len(set.Records) == 0 {
			continue
		}
		if err := c.InsertRecords(ctx, set.Element, set.Records, registry.InsertSkip); err != nil {
			return &EntryError{Entry: "dimension " + set.Element, Err: err}
		}
		res.Records += len(set.Records)
	}
	for _, cs := range bun.Collections {
		added, err := c.RegisterCollection(ctx, cs.Name, cs.Type, cs.Doc)
		if err != nil {
			return &EntryError{Entry: "collection " + cs.Name, Err: err}
		}
		if added {
			res.Collections++
		}
	}
	for _, g := range plan.groups {
		if _, err := c.RegisterRun(ctx, g.run, ""); err != nil {
			return &EntryError{Entry: "run " + g.run, Err: err}
		}
	}
	for _, t := range bun.DatasetTypes {
		added, err := c.RegisterDatasetType(ctx, plan.types[t.Name])
		if err != nil {
			return &EntryError{Entry: "dataset type " + t.Name, Err: err}
		}
		if added {
			res.DatasetTypes++
		}
	}
	return nil
}

// importDatasets inserts one group's datasets that are not already present and,
// unless RegistryOnly, transfers their files and inserts the file records.
func (b *Butler) importDatasets(ctx context.Context, c *registry.Tx, g *importGroup, opts ImportOptions, plan *importPlan, cache registry.RecordCache, res *ImportResult, written *[]string, mu *sync.Mutex) error {
	var news []registry.NewDataset
	var items []fileTransfer
	for _, f := range g.files {
		var refs []dataset.Ref
		for _, ref := range f.Refs {
			if !plan.present[ref.ID] {
				news = append(news, registry.NewDataset{ID: ref.ID, DataID: ref.DataID})
				refs = append(refs, ref)
			}
		}
		if len(refs) == 0 || opts.RegistryOnly {
			continue
		}
		full, recs, err := c.ExpandCached(ctx, g.typ.Dimensions, refs[0].DataID, cache)
		if err != nil {
			return &EntryError{Entry: describeRef(refs[0]), Err: err}
		}
		tgt := b.target(g.typ, g.run, refs[0].ID, full, recs)
		key, err := b.ds.Path(tgt)
		if err != nil {
			return &EntryError{Entry: describeRef(refs[0]), Err: err}
		}
		form := f.Formatter
		if form == "" {
			form = b.ds.Formatter(tgt)
		}
		items = append(items, b.importItem(f, key, form, refs, opts.Source))
	}
	if err := c.InsertDatasets(ctx, g.typ.Name, g.run, news, false); err != nil {
		return &EntryError{Entry: fmt.Sprintf("datasets of type %s in run %s", g.typ.Name, g.run), Err: err}
	}
	res.Datasets += len(news)
	if len(items) == 0 {
		return nil
	}
	recs, err := b.transferFiles(ctx, items, plan.mode, opts.Parallel, opts.NoFileAttrs, written, mu)
	if err != nil {
		return err
	}
	if err := b.insertFileRecords(ctx, c, recs, false); err != nil {
		return err
	}
	res.Files += len(items)
	return nil
}

// importAssociations sets the bundle's chains and adds its tags and
// certifications; their datasets are the bundle's or already stored.
func (b *Butler) importAssociations(ctx context.Context, c *registry.Tx, bun *Bundle, plan *importPlan) error {
	for _, cs := range bun.Collections {
		if cs.Type == dataset.Chained {
			if err := c.SetChain(ctx, cs.Name, cs.Children, false); err != nil {
				return &EntryError{Entry: "chain " + cs.Name, Err: err}
			}
		}
	}
	resolve := func(a Association) ([]dataset.Ref, error) {
		refs := make([]dataset.Ref, 0, len(a.IDs))
		for _, id := range a.IDs {
			ref, ok := plan.byID[id]
			if !ok {
				r, err := b.reg.Dataset(ctx, id)
				if err == nil && r == nil {
					err = fmt.Errorf("%w: no such dataset", errs.ErrNotFound)
				}
				if err != nil {
					return nil, &EntryError{Entry: "association with " + a.Collection, Err: fmt.Errorf("dataset %s: %w", id, err)}
				}
				ref = *r
			}
			refs = append(refs, ref)
		}
		return refs, nil
	}
	for _, a := range bun.Tags {
		refs, err := resolve(a)
		if err != nil {
			return err
		}
		if _, err := c.RegisterCollection(ctx, a.Collection, dataset.Tagged, ""); err != nil {
			return &EntryError{Entry: "collection " + a.Collection, Err: err}
		}
		if err := c.Associate(ctx, a.Collection, refs); err != nil {
			return &EntryError{Entry: "association with " + a.Collection, Err: err}
		}
	}
	for _, a := range bun.Calibs {
		refs, err := resolve(a)
		if err != nil {
			return err
		}
		if _, err := c.RegisterCollection(ctx, a.Collection, dataset.Calibration, ""); err != nil {
			return &EntryError{Entry: "collection " + a.Collection, Err: err}
		}
		if err := c.Certify(ctx, a.Collection, refs, a.Timespan); err != nil {
			return &EntryError{Entry: fmt.Sprintf("certification in %s over %s", a.Collection, a.Timespan), Err: err}
		}
	}
	return nil
}

// importItem plans the transfer of one bundle file to key. A file of a source
// repository is read where it is: a local path when its datastore is a
// directory, else through the source's datastore (then it is copied).
func (b *Butler) importItem(f BundleFile, key, form string, refs []dataset.Ref, src *Butler) fileTransfer {
	it := fileTransfer{src: f.Path, key: key + fileExtension(f.Path), form: form, refs: refs}
	if src == nil {
		return it
	}
	if s, ok := src.be.(server); ok {
		// Downloaded from the URL the server hands out for the file.
		it.size = -1
		it.open = func(ctx context.Context) (io.ReadCloser, error) { return s.openPath(ctx, refs, f.Path) }
		return it
	}
	if strings.HasPrefix(f.Path, "file://") {
		it.src = strings.TrimPrefix(f.Path, "file://")
		return it
	}
	if root := src.ds.Root(); root != "" && !datastore.IsURI(f.Path) {
		it.src = filepath.Join(root, filepath.FromSlash(f.Path))
		return it
	}
	stored := f.Path
	it.size = -1
	it.open = func(ctx context.Context) (io.ReadCloser, error) { return src.ds.Open(ctx, stored) }
	return it
}

// importTypes resolves the bundle's dataset types against the repository: a type
// the repository has must match exactly; refs may also name registered types.
func (b *Butler) importTypes(ctx context.Context, bun *Bundle) (map[string]dataset.Type, error) {
	types := map[string]dataset.Type{}
	for _, t := range bun.DatasetTypes {
		if err := dataset.ValidateTypeName(t.Name); err != nil {
			return nil, &EntryError{Entry: "dataset type " + t.Name, Err: err}
		}
		if b.storageCls != nil {
			if _, ok := b.storageCls[t.StorageClass]; !ok {
				return nil, &EntryError{Entry: "dataset type " + t.Name, Err: fmt.Errorf("%w: unknown storage class %q", errs.ErrInvalid, t.StorageClass)}
			}
		}
		if old, err := b.reg.DatasetType(ctx, t.Name); err == nil && !old.Equal(t) {
			return nil, &EntryError{Entry: "dataset type " + t.Name, Err: fmt.Errorf("%w: the export has %s, the repository %s", errs.ErrConflict, t, old)}
		}
		types[t.Name] = t
	}
	for _, f := range bun.Files {
		for _, ref := range f.Refs {
			if _, ok := types[ref.Type.Name]; ok {
				continue
			}
			if t, err := b.reg.DatasetType(ctx, ref.Type.Name); err == nil {
				types[t.Name] = t
			}
		}
	}
	return types, nil
}

// presentDatasets finds which of the refs are already in the repository. An
// identical one (same type, run and data ID) is reported; a different dataset
// under the same ID is a conflict.
func (b *Butler) presentDatasets(ctx context.Context, refs map[dataset.ID]dataset.Ref) (map[dataset.ID]bool, error) {
	ids := make([]dataset.ID, 0, len(refs))
	for id := range refs {
		ids = append(ids, id)
	}
	found, err := b.reg.ExistingIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	// The IDs already stored are checked in batches per type and run: the
	// same dataset (type, run, data ID) is skipped, anything else conflicts.
	byGroup := map[[2]string][]dataset.ID{}
	for id := range found {
		ref := refs[id]
		k := [2]string{ref.Type.Name, ref.Run}
		byGroup[k] = append(byGroup[k], id)
	}
	present := map[dataset.ID]bool{}
	for k, ids := range byGroup {
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			same := map[dataset.ID]bool{}
			err := b.reg.Datasets(ctx, registry.DatasetQuery{Type: k[0], Collections: []string{k[1]}, IDs: chunk}, func(old dataset.Ref) error {
				same[old.ID] = sameRequired(old, refs[old.ID])
				return nil
			})
			if err != nil && !errors.Is(err, errs.ErrNotFound) {
				return nil, err
			}
			for _, id := range chunk {
				if same[id] {
					present[id] = true
					continue
				}
				ref := refs[id]
				old, err := b.reg.Dataset(ctx, id)
				if err != nil {
					return nil, err
				}
				if old == nil {
					continue
				}
				return nil, &EntryError{Entry: describeRef(ref), Err: fmt.Errorf("%w: the repository already has dataset %s as %s", errs.ErrConflict, id, describeRef(*old))}
			}
		}
	}
	return present, nil
}

// sameRequired reports whether two refs have the same required data ID values
// (a stored ref may also carry implied ones).
func sameRequired(a, b dataset.Ref) bool {
	for _, d := range b.Type.Dimensions.Required {
		if fmt.Sprint(a.DataID[d.Name]) != fmt.Sprint(b.DataID[d.Name]) {
			return false
		}
	}
	return true
}

func describeRef(r dataset.Ref) string {
	return fmt.Sprintf("dataset %s %s in run %s", r.Type.Name, r.DataID, r.Run)
}

// ExportOptions choose what Export adds around the datasets.
type ExportOptions struct {
	// Collections are exported too (their records, chains' children, and the
	// memberships of the exported datasets in TAGGED and CALIBRATION ones).
	Collections []string
	// Elements limits the dimension records exported with the datasets (all
	// stored elements of their dimensions when nil; empty non-nil: none).
	Elements []string
}

// Export gathers datasets, their runs, dataset types and the dimension records of
// their data IDs into a bundle, as daf_butler's export does. File paths are the
// datastore paths (relative to its root, or absolute URIs).
func (b *Butler) Export(ctx context.Context, refs []dataset.Ref, opts ExportOptions) (*Bundle, error) {
	refs = uniqueRefs(refs)
	bun := &Bundle{}
	allowed := map[string]bool{}
	for _, e := range opts.Elements {
		allowed[e] = true
	}
	recsByElement := map[string]map[string]dimensions.Record{}
	types := map[string]dataset.Type{}
	runs := map[string]bool{}
	ids := make([]dataset.ID, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	files, err := b.fileRecords(ctx, ids)
	if err != nil {
		return nil, err
	}
	if opts.Elements == nil || len(allowed) > 0 {
		if err := b.gatherRecords(ctx, refs, allowed, recsByElement); err != nil {
			return nil, err
		}
	}
	byPath := map[string]*BundleFile{}
	var order []string
	for _, ref := range refs {
		types[ref.Type.Name] = ref.Type
		runs[ref.Run] = true
		recs := files[ref.ID]
		p, form := "", ""
		if len(recs) > 0 {
			p, form = recs[0].Path, recs[0].Formatter
		}
		fk := ref.Run + "\x00" + ref.Type.Name + "\x00" + p
		if p == "" {
			fk += ref.ID.String()
		}
		if f, ok := byPath[fk]; ok {
			f.Refs = append(f.Refs, ref)
			continue
		}
		byPath[fk] = &BundleFile{Path: p, Formatter: form, Refs: []dataset.Ref{ref}}
		order = append(order, fk)
	}
	for _, e := range b.Universe.Elements {
		m := recsByElement[e.Name]
		if len(m) == 0 {
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		set := RecordSet{Element: e.Name}
		for _, k := range keys {
			set.Records = append(set.Records, m[k])
		}
		bun.Records = append(bun.Records, set)
	}
	// Runs first, then the named collections, as upstream writes them.
	runNames := make([]string, 0, len(runs))
	for r := range runs {
		runNames = append(runNames, r)
	}
	sort.Strings(runNames)
	seen := map[string]bool{}
	for _, name := range append(runNames, opts.Collections...) {
		if seen[name] {
			continue
		}
		seen[name] = true
		col, err := b.Collection(ctx, name)
		if err != nil {
			return nil, err
		}
		cs := CollectionSpec{Name: col.Name, Type: col.Type, Doc: col.Doc}
		if col.Type == dataset.Chained {
			if cs.Children, err = b.Chain(ctx, col.Name); err != nil {
				return nil, err
			}
		}
		bun.Collections = append(bun.Collections, cs)
	}
	sort.Slice(order, func(i, j int) bool {
		fi, fj := byPath[order[i]], byPath[order[j]]
		ti, tj := fi.Refs[0].Type.Name, fj.Refs[0].Type.Name
		if ti != tj {
			return ti < tj
		}
		return fi.Refs[0].Run < fj.Refs[0].Run
	})
	for _, k := range order {
		bun.Files = append(bun.Files, *byPath[k])
	}
	typeNames := make([]string, 0, len(types))
	for n := range types {
		typeNames = append(typeNames, n)
	}
	sort.Strings(typeNames)
	for _, n := range typeNames {
		bun.DatasetTypes = append(bun.DatasetTypes, types[n])
	}
	if err := b.exportAssociations(ctx, bun, opts.Collections, ids); err != nil {
		return nil, err
	}
	return bun, nil
}

// gatherRecords adds the records of every stored element whose dimensions the
// refs' data IDs cover (visit_detector_region for a calexp, as upstream). It
// works element by element over distinct keys, reading a whole table when many
// of its records are wanted, so its cost grows with the records, not the refs.
func (b *Butler) gatherRecords(ctx context.Context, refs []dataset.Ref, allowed map[string]bool, out map[string]map[string]dimensions.Record) error {
	type groupIDs struct {
		g   dimensions.Group
		ids map[string]dimensions.DataID
	}
	groups := map[string]*groupIDs{}
	for _, r := range refs {
		k := r.Type.Dimensions.Key()
		gi := groups[k]
		if gi == nil {
			gi = &groupIDs{g: r.Type.Dimensions, ids: map[string]dimensions.DataID{}}
			groups[k] = gi
		}
		gi.ids[r.DataID.String()] = r.DataID.Clone()
	}
	for _, gi := range groups {
		done := map[string]bool{}
		for progress := true; progress; {
			progress = false
			for _, e := range b.Universe.Elements {
				if done[e.Name] || !e.HasTable() {
					continue
				}
				covered, ready := true, true
				for _, d := range e.Dimensions() {
					if !gi.g.Has(d.Name) {
						covered = false
						break
					}
					for _, id := range gi.ids {
						if _, ok := id[d.Name]; !ok {
							ready = false
						}
						break
					}
				}
				if !covered {
					done[e.Name] = true
					continue
				}
				if !ready {
					continue
				}
				done[e.Name], progress = true, true
				recs, err := b.recordsFor(ctx, e, gi.ids)
				if err != nil {
					return err
				}
				// Implied values (exposure → physical_filter) complete the data
				// IDs so that the implied elements' records can be found next.
				for _, id := range gi.ids {
					rec, ok := recs[recordKey(e.Dimensions(), id)]
					if !ok {
						continue
					}
					for _, imp := range e.Implied {
						if v := rec.Values[imp.Name]; v != nil && gi.g.Has(imp.Name) {
							id[imp.Name] = v
						}
					}
				}
				if len(allowed) > 0 && !allowed[e.Name] {
					continue
				}
				m := out[e.Name]
				if m == nil {
					m = map[string]dimensions.Record{}
					out[e.Name] = m
				}
				for _, rec := range recs {
					m[recordSortKey(rec)] = rec
				}
			}
		}
	}
	return nil
}

// recordsFor reads the records of e the data IDs point at, keyed by recordKey.
func (b *Butler) recordsFor(ctx context.Context, e *dimensions.Element, ids map[string]dimensions.DataID) (map[string]dimensions.Record, error) {
	want := map[string]dimensions.DataID{}
	for _, id := range ids {
		want[recordKey(e.Dimensions(), id)] = id
	}
	out := map[string]dimensions.Record{}
	add := func(rec dimensions.Record) {
		k := recordKey(e.Dimensions(), rec.DataID())
		if _, ok := want[k]; ok {
			out[k] = rec
		}
	}
	if len(want) > 200 {
		err := b.EachRecord(ctx, e.Name, func(rec dimensions.Record) error {
			add(rec)
			return nil
		})
		return out, err
	}
	for _, id := range want {
		rec, ok, err := b.record(ctx, e, id)
		if err != nil {
			return nil, err
		}
		if ok {
			add(rec)
		}
	}
	return out, nil
}

// recordSortKey orders records by their data ID values (numbers numerically).
func recordSortKey(r dimensions.Record) string {
	var sb strings.Builder
	for _, d := range r.Element.Dimensions() {
		v := r.Values[d.Name]
		if d == r.Element {
			v = r.Values[d.PrimaryKey().Name]
		}
		switch x := v.(type) {
		case int64:
			fmt.Fprintf(&sb, "%020d\x00", x+1<<62)
		case int:
			fmt.Fprintf(&sb, "%020d\x00", int64(x)+1<<62)
		default:
			fmt.Fprintf(&sb, "%v\x00", x)
		}
	}
	return sb.String()
}

// exportAssociations adds the exported datasets' memberships of the named TAGGED
// and CALIBRATION collections.
func (b *Butler) exportAssociations(ctx context.Context, bun *Bundle, names []string, ids []dataset.ID) error {
	want := map[dataset.ID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, name := range sorted {
		col, err := b.reg.Collection(ctx, name)
		if err != nil {
			return err
		}
		switch col.Type {
		case dataset.Tagged:
			a := Association{Collection: name}
			for _, t := range bun.DatasetTypes {
				err := b.reg.Datasets(ctx, registry.DatasetQuery{Type: t.Name, Collections: []string{name}}, func(r dataset.Ref) error {
					if want[r.ID] {
						a.IDs = append(a.IDs, r.ID)
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			if len(a.IDs) > 0 {
				bun.Tags = append(bun.Tags, a)
			}
		case dataset.Calibration:
			certs, err := b.reg.Certifications(ctx, name)
			if err != nil {
				return err
			}
			byRange := map[timespan.Timespan]int{}
			for _, c := range certs {
				if !want[c.ID] {
					continue
				}
				i, ok := byRange[c.Timespan]
				if !ok {
					i = len(bun.Calibs)
					byRange[c.Timespan] = i
					bun.Calibs = append(bun.Calibs, Association{Collection: name, Timespan: c.Timespan})
				}
				bun.Calibs[i].IDs = append(bun.Calibs[i].IDs, c.ID)
			}
		}
	}
	return nil
}

// TransferOptions tune TransferFrom.
type TransferOptions struct {
	Transfer string // transfer mode for the files ("auto" when empty)
	// RegisterDatasetTypes registers dataset types the destination lacks;
	// otherwise they must already be there.
	RegisterDatasetTypes bool
	// TransferDimensions copies the dimension records of the data IDs too.
	TransferDimensions bool
	// DryRun only counts what would be transferred.
	DryRun bool
	// BatchSize is the number of datasets per transaction (10,000 when 0).
	BatchSize int
	// Parallel is the number of files copied at once (4 when 0).
	Parallel int
	// Progress is called after each batch with the datasets handled so far.
	Progress func(done int)
	// Warn receives non-fatal notes (of universe migrations); nil: the log.
	Warn func(msg string)
}

// TransferResult counts what TransferFrom did (or would do, in a dry run).
type TransferResult struct {
	Transferred, Skipped int
}

// TransferFrom copies datasets, with their files, runs, dataset types and
// (optionally) dimension records, from another repository, in transactions of
// BatchSize datasets. Datasets already here (same ID, type, run and data ID)
// are skipped, so an interrupted transfer can simply be run again. Dataset IDs
// are kept. From a repository of another dimension universe the content is
// migrated as import migrates old export files (MigrateBundle); what the
// destination's universe cannot represent stops the transfer before anything
// is written.
func (b *Butler) TransferFrom(ctx context.Context, src *Butler, refs []dataset.Ref, opts TransferOptions) (TransferResult, error) {
	var res TransferResult
	if !opts.DryRun {
		if err := b.checkWriteable("transfer datasets"); err != nil {
			return res, err
		}
	}
	if opts.Transfer == datastore.Move {
		return res, fmt.Errorf("transfer datasets: %w: transfer mode move would take files from the source repository", errs.ErrInvalid)
	}
	if src.IsRemote() && opts.Transfer != "" && opts.Transfer != datastore.Auto && opts.Transfer != datastore.Copy {
		return res, fmt.Errorf("transfer datasets: %w: transfer mode %s from a remote repository; its files can only be copied", errs.ErrUnsupported, opts.Transfer)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 10000
	}
	cross := !SameUniverse(src.Universe, b.Universe)
	warned := map[string]bool{} // each note once, not once per batch
	warn := func(msg string) {
		if warned[msg] {
			return
		}
		warned[msg] = true
		if opts.Warn != nil {
			opts.Warn(msg)
		} else {
			b.log.Warn(msg)
		}
	}
	if !opts.RegisterDatasetTypes {
		seen := map[string]bool{}
		for _, r := range refs {
			if seen[r.Type.Name] {
				continue
			}
			seen[r.Type.Name] = true
			t, err := b.reg.DatasetType(ctx, r.Type.Name)
			if err != nil {
				return res, fmt.Errorf("transfer datasets: dataset type %s: %w (use --register-dataset-types)", r.Type.Name, err)
			}
			st := r.Type
			if cross {
				if st, err = migrateType(src.Universe, b.Universe, st); err != nil {
					return res, fmt.Errorf("transfer datasets: %w", err)
				}
			}
			if !t.Equal(st) {
				return res, fmt.Errorf("transfer datasets: dataset type %s: %w: the source has %s, the destination %s", r.Type.Name, errs.ErrConflict, st, t)
			}
		}
	}
	elements := []string{}
	if opts.TransferDimensions {
		elements = nil
	}
	// Between dimension universes every batch is migrated, the same way import
	// migrates old export files. When there are several batches, all of them
	// are checked first, so that content the destination cannot represent
	// stops the transfer before anything is written.
	export := func(batch []dataset.Ref) (*Bundle, error) {
		bun, err := src.Export(ctx, batch, ExportOptions{Elements: elements})
		if err != nil {
			return nil, fmt.Errorf("transfer datasets: read source: %w", err)
		}
		if cross {
			err := MigrateBundle(bun, src.Universe, b.Universe, MigrateOptions{Warn: warn})
			if err != nil {
				return nil, fmt.Errorf("transfer datasets: %w", err)
			}
		}
		return bun, nil
	}
	if cross && len(refs) > opts.BatchSize {
		for start := 0; start < len(refs); start += opts.BatchSize {
			bun, err := export(refs[start:min(start+opts.BatchSize, len(refs))])
			if err != nil {
				return res, err
			}
			if err := checkRecords(b.Universe, bun, nil); err != nil {
				return res, fmt.Errorf("transfer datasets: %w", err)
			}
		}
	}
	for start := 0; start < len(refs); start += opts.BatchSize {
		batch := refs[start:min(start+opts.BatchSize, len(refs))]
		bun, err := export(batch)
		if err != nil {
			return res, err
		}
		if !opts.RegisterDatasetTypes {
			bun.DatasetTypes = nil
		}
		if opts.DryRun {
			byID := map[dataset.ID]dataset.Ref{}
			for _, r := range batch {
				byID[r.ID] = r
			}
			present, err := b.presentDatasets(ctx, byID)
			if err != nil {
				return res, err
			}
			res.Skipped += len(present)
			res.Transferred += len(batch) - len(present)
		} else {
			ir, err := b.Import(ctx, bun, ImportOptions{Transfer: opts.Transfer, Source: src, Parallel: opts.Parallel})
			if err != nil {
				return res, fmt.Errorf("transfer datasets %d–%d of %d: %w", start+1, start+len(batch), len(refs), err)
			}
			res.Transferred += ir.Datasets
			res.Skipped += ir.Skipped
		}
		if opts.Progress != nil {
			opts.Progress(start + len(batch))
		}
	}
	return res, nil
}

// uniqueRefs drops repeated datasets (the same dataset found through several
// collections), keeping the first of each, as upstream's export does.
func uniqueRefs(refs []dataset.Ref) []dataset.Ref {
	seen := make(map[dataset.ID]bool, len(refs))
	out := refs[:0:0]
	for _, r := range refs {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}
