package butler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/datastore"
	"github.com/gobutler/butler/internal/registry"
	"github.com/gobutler/butler/storage"
)

// RepairOptions say how Repair acts.
type RepairOptions struct {
	// Yes acts; without it Repair is a dry run that only counts what it would do.
	Yes bool
	// Purge removes datasets whose artifacts are lost entirely (as
	// prune-datasets --purge) instead of unstoring them (records removed,
	// dataset row kept, as prune-datasets --unstore).
	Purge bool
	// Quarantine is the directory, relative to the datastore root, that
	// artifacts are moved to; "" is QuarantineDir/<UTC time of the call>.
	// Give the same one to every batch of a run.
	Quarantine string
}

// DefaultQuarantine is the quarantine directory of a repair started at t.
func DefaultQuarantine(t time.Time) string {
	return QuarantineDir + "/" + t.UTC().Format("20060102T150405Z")
}

// RepairResult counts what Repair did (or, in a dry run, would do).
type RepairResult struct {
	DryRun         bool
	Unstored       int      // datasets whose records were removed, dataset rows kept
	Purged         int      // datasets removed entirely
	RecordsRemoved int      // file records without a dataset, removed
	TrashEmptied   int      // trash rows emptied
	Quarantined    []string // keys moved into the quarantine directory (their old keys)
	Deleted        int      // artifacts deleted by emptying the trash (as upstream)
	Skipped        int      // problems Repair does not act on (unchecked items)
	QuarantineDir  string
}

// Add adds the counts of o to r.
func (r *RepairResult) Add(o RepairResult) {
	r.DryRun = o.DryRun
	r.Unstored += o.Unstored
	r.Purged += o.Purged
	r.RecordsRemoved += o.RecordsRemoved
	r.TrashEmptied += o.TrashEmptied
	r.Quarantined = append(r.Quarantined, o.Quarantined...)
	r.Deleted += o.Deleted
	r.Skipped += o.Skipped
	r.QuarantineDir = o.QuarantineDir
}

// dangling reports whether a problem means the dataset's stored copy is lost.
func dangling(k ProblemKind) bool {
	switch k {
	case ProblemMissing, ProblemSize, ProblemChecksum, ProblemZipMissing, ProblemZipMember, ProblemBrokenSymlink, ProblemExternalMissing, ProblemNoFileRecord:
		return true
	}
	return false
}

// Repair fixes what Verify found, in one registry transaction for the batch:
//   - a dataset whose artifact is lost (missing, wrong size or checksum, zip
//     or member missing, broken link, no file record) is unstored, or purged
//     with Purge; an artifact that is still there (corrupt, a broken link) is
//     first moved to the quarantine directory;
//   - file records without a dataset are removed, and the artifacts no record
//     reads any more are quarantined;
//   - trash rows are emptied as daf_butler's emptyTrash does (records and
//     rows removed, then the artifacts no record reads deleted);
//   - orphan artifacts are moved to the quarantine directory.
//
// Nothing is ever deleted except by emptying the trash. The order keeps each
// step safe to interrupt: artifacts are quarantined before the transaction
// (a rerun finds their records missing and finishes), and the files made
// unreferenced by the commit are moved after it (a rerun with orphans finds
// any left behind). Unchecked items are skipped.
func (b *Butler) Repair(ctx context.Context, problems []Problem, opts RepairOptions) (RepairResult, error) {
	res := RepairResult{DryRun: !opts.Yes, QuarantineDir: opts.Quarantine}
	if res.QuarantineDir == "" {
		res.QuarantineDir = DefaultQuarantine(time.Now())
	}
	if opts.Yes {
		if err := b.checkWriteable("repair"); err != nil {
			return res, err
		}
	}
	var lost, noDataset, trash []dataset.ID
	seen := map[ProblemKind]map[dataset.ID]bool{}
	add := func(list *[]dataset.ID, group ProblemKind, id dataset.ID) {
		if seen[group] == nil {
			seen[group] = map[dataset.ID]bool{}
		}
		if !seen[group][id] {
			seen[group][id] = true
			*list = append(*list, id)
		}
	}
	var before, orphans []string // keys to quarantine before the transaction; orphan artifacts
	for _, p := range problems {
		switch {
		case dangling(p.Kind):
			add(&lost, ProblemMissing, p.ID)
			if p.Path != "" && !datastore.IsURI(p.Path) {
				zipPath, _, member := datastore.SplitZipMember(p.Path)
				switch {
				case !member && (p.Kind == ProblemSize || p.Kind == ProblemChecksum || p.Kind == ProblemBrokenSymlink):
					before = append(before, p.Path)
				case p.Kind == ProblemZipMissing:
					before = append(before, zipPath) // unreadable, or already gone
				}
			}
		case p.Kind == ProblemRecordWithoutDataset:
			add(&noDataset, p.Kind, p.ID)
		case p.Kind == ProblemTrash:
			add(&trash, p.Kind, p.ID)
		case p.Kind == ProblemOrphan:
			orphans = append(orphans, p.Path)
		default:
			res.Skipped++
		}
	}
	if !opts.Yes {
		if opts.Purge {
			res.Purged = len(lost)
		} else {
			res.Unstored = len(lost)
		}
		res.RecordsRemoved, res.TrashEmptied = len(noDataset), len(trash)
		for _, k := range dedupe(append(before, orphans...)) {
			if _, err := b.ds.Backend.Stat(ctx, k); err == nil || !errors.Is(err, errs.ErrNotFound) {
				res.Quarantined = append(res.Quarantined, k)
			} else if b.isLink(k) {
				res.Quarantined = append(res.Quarantined, k)
			}
		}
		return res, nil
	}
	for _, k := range dedupe(before) {
		moved, err := b.quarantine(ctx, res.QuarantineDir, k)
		if err != nil {
			return res, err
		}
		if moved {
			res.Quarantined = append(res.Quarantined, k)
		}
	}
	var unreferenced, trashFiles []string
	if len(lost)+len(noDataset)+len(trash) > 0 {
		err := b.reg.Update(ctx, func(c *registry.Tx) error {
			unreferenced, trashFiles = nil, nil
			if len(lost) > 0 {
				paths, err := b.pruneIn(ctx, c, nil, lost, PruneOptions{Purge: opts.Purge, Unstore: !opts.Purge})
				if err != nil {
					return err
				}
				unreferenced = append(unreferenced, paths...)
			}
			if len(noDataset) > 0 {
				paths, err := c.DeleteRecordsWithoutDataset(ctx, b.ds.RecordsTable(), noDataset)
				if err != nil {
					return err
				}
				if paths, err = b.zipOrphans(ctx, c, paths); err != nil {
					return err
				}
				unreferenced = append(unreferenced, paths...)
			}
			if len(trash) > 0 {
				paths, err := c.EmptyTrash(ctx, b.ds.RecordsTable(), b.ds.Name(), trash)
				if err != nil {
					return err
				}
				if trashFiles, err = b.zipOrphans(ctx, c, paths); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("repair: %w", err)
		}
		if opts.Purge {
			res.Purged = len(lost)
		} else {
			res.Unstored = len(lost)
		}
		res.RecordsRemoved, res.TrashEmptied = len(noDataset), len(trash)
	}
	for _, k := range dedupe(append(unreferenced, orphans...)) {
		if datastore.IsURI(k) {
			continue // not the repository's to move
		}
		moved, err := b.quarantine(ctx, res.QuarantineDir, k)
		if err != nil {
			return res, err
		}
		if moved {
			res.Quarantined = append(res.Quarantined, k)
		}
	}
	for _, k := range dedupe(trashFiles) {
		if datastore.IsURI(k) {
			continue
		}
		if err := b.ds.Backend.Delete(ctx, k); err == nil {
			res.Deleted++
		} else if !errors.Is(err, errs.ErrNotFound) {
			return res, fmt.Errorf("repair: empty trash: %w", err)
		}
	}
	return res, nil
}

func dedupe(keys []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// isLink reports whether key is a symbolic link in a local datastore.
func (b *Butler) isLink(key string) bool {
	root := b.ds.Root()
	if root == "" {
		return false
	}
	fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(key)))
	return err == nil && fi.Mode()&os.ModeSymlink != 0
}

// quarantine moves key to dir/key in the datastore; a key already gone is
// not an error (moved is false). A local datastore renames the entry (a
// symbolic link is moved as the link); an object store copies then deletes.
func (b *Butler) quarantine(ctx context.Context, dir, key string) (bool, error) {
	dest := dir + "/" + key
	if root := b.ds.Root(); root != "" {
		if mv, ok := b.ds.Backend.(storage.Mover); ok {
			err := mv.MoveFrom(ctx, filepath.Join(root, filepath.FromSlash(key)), dest)
			switch {
			case err == nil:
				return true, nil
			case errors.Is(err, errs.ErrNotFound):
				return false, nil
			}
			return false, fmt.Errorf("quarantine %s: %w", b.ds.Backend.URI(key), err)
		}
	}
	rc, err := b.ds.Backend.Get(ctx, key, 0, -1)
	if errors.Is(err, errs.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("quarantine %s: %w", b.ds.Backend.URI(key), err)
	}
	err = b.ds.Backend.Put(ctx, dest, rc, -1)
	rc.Close()
	if err != nil {
		return false, fmt.Errorf("quarantine %s: %w", b.ds.Backend.URI(key), err)
	}
	if err := b.ds.Backend.Delete(ctx, key); err != nil && !errors.Is(err, errs.ErrNotFound) {
		return false, fmt.Errorf("quarantine %s: %w", b.ds.Backend.URI(key), err)
	}
	return true, nil
}

// QuarantineURI is the URI of a quarantine directory (RepairResult.QuarantineDir).
func (b *Butler) QuarantineURI(dir string) string { return b.ds.URI(dir) + "/" }
