package butler

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/blake2b"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/datastore"
	"github.com/gobutler/butler/internal/registry"
	"github.com/gobutler/butler/progress"
	"github.com/gobutler/butler/storage"
)

// ProblemKind names what Verify found wrong.
type ProblemKind string

// The kinds of problem Verify reports.
const (
	// ProblemMissing: a file record's artifact is not in the datastore.
	ProblemMissing ProblemKind = "missing"
	// ProblemSize: the artifact's size differs from the recorded one.
	ProblemSize ProblemKind = "size-mismatch"
	// ProblemChecksum: the artifact's blake2b checksum differs from the recorded one.
	ProblemChecksum ProblemKind = "checksum-mismatch"
	// ProblemZipMissing: the zip a record reads a member of is missing or unreadable.
	ProblemZipMissing ProblemKind = "zip-missing"
	// ProblemZipMember: the zip exists but does not hold the member.
	ProblemZipMember ProblemKind = "zip-member-missing"
	// ProblemBrokenSymlink: the artifact is a symbolic link (a symlink or
	// relsymlink ingest) whose target is gone; the repository does not own it.
	ProblemBrokenSymlink ProblemKind = "broken-symlink"
	// ProblemExternalMissing: a direct-ingested file (an absolute URI outside
	// the datastore, which the repository does not own) is gone.
	ProblemExternalMissing ProblemKind = "external-missing"
	// ProblemNoFileRecord: dataset_location says the datastore holds the
	// dataset, but it has no file record.
	ProblemNoFileRecord ProblemKind = "no-file-record"
	// ProblemRecordWithoutDataset: a file record whose dataset row is gone.
	ProblemRecordWithoutDataset ProblemKind = "record-without-dataset"
	// ProblemTrash: a row left in the datastore trash (dataset_location_trash).
	ProblemTrash ProblemKind = "trash"
	// ProblemOrphan: an artifact under the datastore root no record refers to.
	ProblemOrphan ProblemKind = "orphan"
	// ProblemUnchecked: the item could not be checked (storage unreachable,
	// permission denied...); not a finding about the repository itself.
	ProblemUnchecked ProblemKind = "unchecked"
)

// ProblemKinds lists every kind, in the order Verify's summary counts them.
var ProblemKinds = []ProblemKind{ProblemMissing, ProblemSize, ProblemChecksum, ProblemZipMissing, ProblemZipMember, ProblemBrokenSymlink,
	ProblemExternalMissing, ProblemNoFileRecord, ProblemRecordWithoutDataset, ProblemTrash, ProblemOrphan, ProblemUnchecked}

// Problem is one finding of Verify. Fields that do not apply (the dataset of
// an orphan artifact, the data ID of a record without dataset) are empty.
type Problem struct {
	Kind        ProblemKind       `json:"kind"`
	ID          dataset.ID        `json:"id"`
	DatasetType string            `json:"dataset_type,omitempty"`
	DataID      dimensions.DataID `json:"data_id,omitempty"`
	Run         string            `json:"run,omitempty"`
	// Path is the stored path: a key relative to the datastore root,
	// <zip>#zip-path=<member>, or an absolute URI for a direct ingest.
	Path    string `json:"path,omitempty"`
	URI     string `json:"uri,omitempty"`
	Message string `json:"message"`
}

// MarshalJSON writes the problem with a null id when it names no dataset.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	out := struct {
		plain
		ID *dataset.ID `json:"id"`
	}{plain: plain(p)}
	if p.ID != (dataset.ID{}) {
		out.ID = &p.ID
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Problem) UnmarshalJSON(data []byte) error {
	type plain Problem
	var in struct {
		plain
		ID *dataset.ID `json:"id"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*p = Problem(in.plain)
	if in.ID != nil {
		p.ID = *in.ID
	}
	return nil
}

// VerifyOptions select what Verify checks. Without Collections,
// DatasetTypes and Where the whole repository is checked, including the
// repository-wide checks (records without datasets, trash rows, orphans);
// with a selection only the selected datasets are.
type VerifyOptions struct {
	Collections  []string // collection names or globs; empty: every RUN
	DatasetTypes []string // names or globs; empty: all
	Where        string
	Bind         map[string]any
	// Checksums reads every artifact that has a recorded checksum and
	// compares its blake2b digest (one read, which also gives its size).
	Checksums bool
	// Orphans lists the datastore for artifacts no record refers to.
	Orphans bool
	// RecordsOnly checks the registry's tables against each other without
	// touching storage (no stat, no checksum, no orphans).
	RecordsOnly bool
	// Workers is the number of artifacts checked at once (default 8).
	Workers int
	// PageSize is the number of records checked per registry read (default
	// 5000): a page of a selection, or of the whole repository on SQLite
	// (PostgreSQL reads each whole-repository check as one statement).
	PageSize int
	Progress progress.Reporter
	// Stats, when set, is filled in as Verify runs.
	Stats *VerifyStats
}

// VerifyStats counts what Verify looked at.
type VerifyStats struct {
	Datasets  atomic.Int64 // datasets (selection) or file records (whole repository) checked
	Artifacts atomic.Int64 // artifacts stat'ed or read
	Bytes     atomic.Int64 // bytes read for checksums
	Listed    atomic.Int64 // keys listed for orphans
}

// selection reports whether opts narrow the check to some datasets.
func (o VerifyOptions) selection() bool {
	return len(o.Collections) > 0 || len(o.DatasetTypes) > 0 || strings.TrimSpace(o.Where) != ""
}

// Verify checks that the registry and the datastore agree and streams what
// it finds. A non-nil error ends the sequence (the registry could not be
// read); items that could not be checked are ProblemUnchecked problems.
// Memory stays bounded: records are read in pages, and orphans are found
// with a sorted set of 8-byte hashes of the referenced keys.
//
// A records-only check of the whole repository reads only the records
// that are problems (the registry finds them). On SQLite the registry is
// read a page at a time and nothing is held between pages; on PostgreSQL
// each check is one statement in a read-only transaction, streamed while
// the sequence is consumed (MVCC: writers are not held up).
func (b *Butler) Verify(ctx context.Context, opts VerifyOptions) iter.Seq2[Problem, error] {
	return func(yield func(Problem, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		out := make(chan Problem, 256)
		errc := make(chan error, 1)
		go func() {
			if err := b.be.unsupported("verify"); err != nil {
				errc <- err
				close(out)
				return
			}
			errc <- b.verify(ctx, opts, out)
			close(out)
		}()
		for p := range out {
			if !yield(p, nil) {
				cancel()
				for range out {
				}
				<-errc
				return
			}
		}
		if err := <-errc; err != nil {
			yield(Problem{}, err)
		}
	}
}

type verifier struct {
	b     *Butler
	opts  VerifyOptions
	out   chan<- Problem
	stats *VerifyStats
	task  progress.Task
	seed  maphash.Seed
	keys  []uint64 // hashes of the keys records refer to (with Orphans)
	root  string   // local datastore root, "" for object stores
	refs  map[dataset.ID]dataset.Ref
	bufs  sync.Pool // *[]byte read buffers for checksums
}

func (b *Butler) verify(ctx context.Context, opts VerifyOptions, out chan<- Problem) error {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 5000
	}
	if opts.Orphans && opts.selection() {
		return fmt.Errorf("verify: %w: orphans are looked for in the whole datastore; they cannot be combined with a selection of collections, dataset types or a where expression", errs.ErrInvalid)
	}
	if opts.RecordsOnly && (opts.Checksums || opts.Orphans) {
		return fmt.Errorf("verify: %w: a records-only check reads no files; it cannot be combined with checksums or orphans", errs.ErrInvalid)
	}
	v := &verifier{b: b, opts: opts, out: out, stats: opts.Stats, seed: maphash.MakeSeed(), root: localRoot(b.ds.Backend)}
	v.bufs.New = func() any { buf := make([]byte, 256<<10); return &buf }
	if v.stats == nil {
		v.stats = &VerifyStats{}
	}
	rep := progress.OrDiscard(opts.Progress)
	if opts.selection() {
		v.task = rep.Task("verify datasets", 0)
		defer v.task.Done()
		return v.selected(ctx)
	}
	table := b.ds.RecordsTable()
	total, err := b.reg.EstimateFileRecords(ctx, table)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	v.task = rep.Task("verify records", total)
	if opts.RecordsOnly {
		// The registry finds the records without a dataset itself: only
		// those are read.
		err = b.reg.RecordsWithoutDataset(ctx, table, opts.PageSize, func(checked int, gone []registry.FileRecord) error {
			v.stats.Datasets.Add(int64(checked))
			v.task.Add(int64(checked))
			for _, r := range gone {
				if err := v.emit(ctx, Problem{Kind: ProblemRecordWithoutDataset, ID: r.DatasetID, Path: r.Path,
					Message: "file record of a dataset that is not in the registry"}); err != nil {
					return err
				}
			}
			return nil
		})
	} else {
		err = b.reg.StreamStoredRecords(ctx, table, opts.PageSize, func(page []registry.StoredRecord) error {
			return v.checkRecords(ctx, page)
		})
	}
	if err == nil {
		err = b.reg.LocatedWithoutRecords(ctx, table, b.ds.Name(), opts.PageSize, func(ids []dataset.ID) error {
			for _, id := range ids {
				if err := v.emit(ctx, Problem{Kind: ProblemNoFileRecord, ID: id, Message: "the datastore is said to hold the dataset, but it has no file record"}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil {
		err = b.reg.StreamTrash(ctx, b.ds.Name(), opts.PageSize, func(ids []dataset.ID) error {
			for _, id := range ids {
				if err := v.emit(ctx, Problem{Kind: ProblemTrash, ID: id, Message: "row left in the datastore trash"}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	v.task.Done()
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if opts.Orphans {
		return v.orphans(ctx, rep)
	}
	return nil
}

// selected checks the datasets a selection finds, a page at a time.
func (v *verifier) selected(ctx context.Context) error {
	colls := v.opts.Collections
	if len(colls) == 0 {
		runs, err := v.b.Collections(ctx, []string{"*"}, dataset.Run)
		if err != nil {
			return err
		}
		for _, c := range runs {
			colls = append(colls, c.Name)
		}
		if len(colls) == 0 {
			return nil
		}
	}
	q := v.b.Query().Implied(false).Collections(colls...).Where(v.opts.Where, v.opts.Bind).FindFirst(false)
	var page []dataset.Ref
	flush := func() error {
		if len(page) == 0 {
			return nil
		}
		err := v.checkRefs(ctx, page)
		page = page[:0]
		return err
	}
	for ref, err := range q.Datasets(ctx, v.opts.DatasetTypes...) {
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		page = append(page, ref)
		if len(page) >= v.opts.PageSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// checkRefs checks a page of selected datasets.
func (v *verifier) checkRefs(ctx context.Context, refs []dataset.Ref) error {
	ids := make([]dataset.ID, len(refs))
	v.refs = make(map[dataset.ID]dataset.Ref, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
		v.refs[r.ID] = r
	}
	recs, err := v.b.reg.FileRecords(ctx, v.b.ds.RecordsTable(), ids)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	var stored []registry.StoredRecord
	var bare []dataset.ID
	for _, r := range refs {
		rs, ok := recs[r.ID]
		if !ok {
			bare = append(bare, r.ID)
		}
		for _, fr := range rs {
			stored = append(stored, registry.StoredRecord{FileRecord: fr, HasDataset: true, TypeName: r.Type.Name, Run: r.Run})
		}
	}
	if len(bare) > 0 {
		located, err := v.b.reg.LocatedIDs(ctx, v.b.ds.Name(), bare)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		for _, id := range bare {
			if located[id] {
				if err := v.emit(ctx, Problem{Kind: ProblemNoFileRecord, ID: id, Message: "the datastore is said to hold the dataset, but it has no file record"}); err != nil {
					return err
				}
			}
		}
	}
	v.stats.Datasets.Add(int64(len(refs)) - int64(len(stored)))
	v.task.Add(int64(len(refs)) - int64(len(stored)))
	return v.checkRecords(ctx, stored)
}

// emit sends a problem, filling in the dataset's type, run and data ID and
// the artifact's URI.
func (v *verifier) emit(ctx context.Context, p Problem) error {
	if p.Path != "" && p.URI == "" {
		p.URI = v.b.ds.URI(p.Path)
	}
	if p.ID != (dataset.ID{}) && p.Kind != ProblemRecordWithoutDataset && p.DataID == nil {
		ref, ok := v.refs[p.ID]
		if !ok {
			if r, err := v.b.reg.Dataset(ctx, p.ID); err == nil && r != nil {
				ref, ok = *r, true
			}
		}
		if ok {
			p.DatasetType, p.Run, p.DataID = ref.Type.Name, ref.Run, ref.DataID
		}
	}
	select {
	case v.out <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (v *verifier) addKey(path string) {
	if !v.opts.Orphans || datastore.IsURI(path) {
		return
	}
	zipPath, _, _ := datastore.SplitZipMember(path)
	v.keys = append(v.keys, maphash.String(v.seed, zipPath))
}

// artifact is one stored file (or zip) and the records that read it.
type artifact struct {
	path string // the key, or the zip's key for members
	zip  bool
	recs []registry.StoredRecord
}

// checkRecords checks the artifacts of a page of records, Workers at a time;
// records sharing a file (or a zip) are checked with one stat or read.
func (v *verifier) checkRecords(ctx context.Context, page []registry.StoredRecord) error {
	var arts []*artifact
	byPath := map[string]*artifact{}
	var found []Problem
	for _, r := range page {
		v.addKey(r.Path)
		if !r.HasDataset {
			found = append(found, Problem{Kind: ProblemRecordWithoutDataset, ID: r.DatasetID, Path: r.Path,
				Message: "file record of a dataset that is not in the registry"})
			continue
		}
		p, zip := r.Path, false
		if zp, _, ok := datastore.SplitZipMember(r.Path); ok {
			p, zip = zp, true
		}
		a := byPath[p]
		if a == nil {
			a = &artifact{path: p, zip: zip}
			byPath[p] = a
			arts = append(arts, a)
		}
		a.recs = append(a.recs, r)
	}
	defer func() {
		v.stats.Datasets.Add(int64(len(page)))
		v.task.Add(int64(len(page)))
	}()
	if v.opts.RecordsOnly {
		arts = nil
	}
	var mu sync.Mutex
	work := make(chan *artifact)
	var wg sync.WaitGroup
	for range min(v.opts.Workers, len(arts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				ps := v.checkArtifact(ctx, a)
				if len(ps) > 0 {
					mu.Lock()
					found = append(found, ps...)
					mu.Unlock()
				}
			}
		}()
	}
	for _, a := range arts {
		select {
		case work <- a:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	slices.SortFunc(found, func(x, y Problem) int { return strings.Compare(x.Path+x.ID.String(), y.Path+y.ID.String()) })
	for _, p := range found {
		if err := v.emit(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// perRecord makes one problem per record of a.
func perRecord(a *artifact, kind ProblemKind, msg string) []Problem {
	ps := make([]Problem, len(a.recs))
	for i, r := range a.recs {
		ps[i] = Problem{Kind: kind, ID: r.DatasetID, DatasetType: r.TypeName, Run: r.Run, Path: r.Path, Message: msg}
	}
	return ps
}

func (v *verifier) checkArtifact(ctx context.Context, a *artifact) []Problem {
	v.stats.Artifacts.Add(1)
	if a.zip {
		return v.checkZip(ctx, a)
	}
	wantSum := ""
	if v.opts.Checksums {
		for _, r := range a.recs {
			wantSum = cmpOr(wantSum, r.Checksum)
		}
	}
	var size int64
	var sum string
	var err error
	if wantSum != "" {
		size, sum, err = v.digest(ctx, func() (io.ReadCloser, error) { return v.b.ds.Open(ctx, a.path) })
	} else {
		size, err = v.b.ds.Size(ctx, a.path)
	}
	if err != nil {
		return v.missing(a, err)
	}
	var ps []Problem
	for _, r := range a.recs {
		p := Problem{ID: r.DatasetID, DatasetType: r.TypeName, Run: r.Run, Path: r.Path}
		switch {
		case r.FileSize >= 0 && r.FileSize != size:
			p.Kind, p.Message = ProblemSize, fmt.Sprintf("recorded size %d bytes, found %d", r.FileSize, size)
		case wantSum != "" && r.Checksum != "" && r.Checksum != sum:
			p.Kind, p.Message = ProblemChecksum, "recorded blake2b checksum differs from the file's"
		default:
			continue
		}
		ps = append(ps, p)
	}
	return ps
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// missing turns an error reading an artifact into problems: missing, a
// broken link, an external file gone, or (not a not-found) unchecked.
func (v *verifier) missing(a *artifact, err error) []Problem {
	if !errors.Is(err, errs.ErrNotFound) {
		return perRecord(a, ProblemUnchecked, err.Error())
	}
	if datastore.IsURI(a.path) {
		return perRecord(a, ProblemExternalMissing, "file ingested in place (transfer direct) is gone")
	}
	if v.root != "" {
		full := filepath.Join(v.root, filepath.FromSlash(a.path))
		if fi, lerr := os.Lstat(full); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(full)
			return perRecord(a, ProblemBrokenSymlink, fmt.Sprintf("symbolic link to %s, which is gone", target))
		}
	}
	return perRecord(a, ProblemMissing, "artifact not found")
}

// digest reads what open gives once, returning its size and blake2b-512 hex digest.
func (v *verifier) digest(ctx context.Context, open func() (io.ReadCloser, error)) (int64, string, error) {
	rc, err := open()
	if err != nil {
		return 0, "", err
	}
	defer rc.Close()
	h, _ := blake2b.New512(nil)
	// A buffer per worker, not one allocated per file: 100,000 files of
	// 32 KiB buffers kept the garbage collector busy.
	buf := v.bufs.Get().(*[]byte)
	defer v.bufs.Put(buf)
	n, err := io.CopyBuffer(h, &ctxReader{ctx: ctx, r: rc}, *buf)
	v.stats.Bytes.Add(n)
	if err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (v *verifier) checkZip(ctx context.Context, a *artifact) []Problem {
	z, err := v.b.ds.OpenZip(ctx, a.path)
	if err != nil {
		switch {
		case errors.Is(err, errs.ErrNotFound):
			return perRecord(a, ProblemZipMissing, "zip not found")
		case errors.Is(err, errs.ErrInvalid):
			return perRecord(a, ProblemZipMissing, "not a readable zip: "+err.Error())
		}
		return perRecord(a, ProblemUnchecked, err.Error())
	}
	defer z.Close()
	var ps []Problem
	for _, r := range a.recs {
		_, member, _ := datastore.SplitZipMember(r.Path)
		p := Problem{ID: r.DatasetID, DatasetType: r.TypeName, Run: r.Run, Path: r.Path}
		size, ok := z.MemberSize(member)
		switch {
		case !ok:
			p.Kind, p.Message = ProblemZipMember, fmt.Sprintf("the zip has no member %q", member)
		case r.FileSize >= 0 && r.FileSize != size:
			p.Kind, p.Message = ProblemSize, fmt.Sprintf("recorded size %d bytes, zip member has %d", r.FileSize, size)
		case v.opts.Checksums && r.Checksum != "":
			_, sum, err := v.digest(ctx, func() (io.ReadCloser, error) { return z.Open(ctx, member) })
			switch {
			case err != nil && errors.Is(err, errs.ErrInvalid):
				p.Kind, p.Message = ProblemChecksum, "zip member unreadable: "+err.Error()
			case err != nil:
				p.Kind, p.Message = ProblemUnchecked, err.Error()
			case sum != r.Checksum:
				p.Kind, p.Message = ProblemChecksum, "recorded blake2b checksum differs from the zip member's"
			default:
				continue
			}
		default:
			continue
		}
		ps = append(ps, p)
	}
	return ps
}

// QuarantineDir is the directory, relative to the datastore root, under
// which Repair moves artifacts it takes out of the repository.
const QuarantineDir = ".butler-quarantine"

// ignoredKeys are the datastore keys that are not artifacts: the
// repository's config and a SQLite registry with its journals, when they
// are inside the datastore root.
func (v *verifier) ignoredKeys() map[string]bool {
	// The names upstream keeps at the root are ignored even when the
	// datastore's local root is hidden (a wrapped backend).
	ig := map[string]bool{"butler.yaml": true}
	for _, sfx := range []string{"", "-journal", "-wal", "-shm"} {
		ig["gen3.sqlite3"+sfx] = true
	}
	if v.root == "" {
		return ig
	}
	rel := func(p string) (string, bool) {
		r, err := filepath.Rel(v.root, p)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", false
		}
		return filepath.ToSlash(r), true
	}
	if v.b.ConfigFile != "" {
		if k, ok := rel(v.b.ConfigFile); ok {
			ig[k] = true
		}
	}
	if db, ok := strings.CutPrefix(v.b.repo.Registry.DB, "sqlite:///"); ok {
		if k, ok := rel("/" + strings.TrimPrefix(db, "/")); ok {
			for _, sfx := range []string{"", "-journal", "-wal", "-shm"} {
				ig[k+sfx] = true
			}
		}
	}
	return ig
}

// orphans lists the datastore and reports the keys no record refers to.
func (v *verifier) orphans(ctx context.Context, rep progress.Reporter) error {
	slices.Sort(v.keys)
	v.keys = slices.Compact(v.keys)
	ignored := v.ignoredKeys()
	task := rep.Task("look for orphans", 0)
	defer task.Done()
	err := v.b.ds.Backend.List(ctx, "", func(info storage.Info) error {
		v.stats.Listed.Add(1)
		task.Add(1)
		if ignored[info.Key] || strings.HasPrefix(info.Key, QuarantineDir+"/") {
			return nil
		}
		if _, ok := slices.BinarySearch(v.keys, maphash.String(v.seed, info.Key)); ok {
			return nil
		}
		return v.emit(ctx, Problem{Kind: ProblemOrphan, Path: info.Key, Message: fmt.Sprintf("no record refers to this artifact (%d bytes)", info.Size)})
	})
	if err != nil {
		return fmt.Errorf("verify: list %s: %w", v.b.ds.Backend.URI(""), err)
	}
	return nil
}

// localRoot is the local directory of a backend, looking through wrappers
// (Unwrap); "" for object stores.
func localRoot(be storage.Backend) string {
	for {
		if r, ok := be.(interface{ Root() string }); ok {
			return r.Root()
		}
		u, ok := be.(interface{ Unwrap() storage.Backend })
		if !ok {
			return ""
		}
		be = u.Unwrap()
	}
}
