package butler

import (
	"context"
	"fmt"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry"
)

// PruneOptions say what Prune does with the datasets, as prune-datasets'
// flags: Purge deletes them entirely (files and registry entries); otherwise
// Disassociate removes them from those TAGGED collections and Unstore deletes
// their files but keeps their registry entries.
type PruneOptions struct {
	Purge        bool
	Unstore      bool
	Disassociate []string
}

// Prune removes datasets as opts say, in one registry transaction: a failure
// part-way (a tag that is not TAGGED, a lost connection) leaves the registry
// as it was. Files are deleted after the commit, as Remove and Unstore do. A
// purge cannot be combined with Disassociate (the datasets are gone
// entirely), and Prune with nothing to do is an error.
func (b *Butler) Prune(ctx context.Context, refs []dataset.Ref, opts PruneOptions) error {
	what := "remove datasets"
	switch {
	case opts.Purge && len(opts.Disassociate) > 0:
		return fmt.Errorf("prune datasets: %w: a purge removes datasets entirely; it cannot be combined with disassociating them", errs.ErrInvalid)
	case opts.Purge:
	case len(opts.Disassociate) > 0:
		what = "disassociate"
	case opts.Unstore:
		what = "unstore datasets"
	default:
		return fmt.Errorf("prune datasets: %w: nothing to do (purge, unstore or disassociate)", errs.ErrInvalid)
	}
	if err := b.checkWriteable(what); err != nil {
		return err
	}
	ids := make([]dataset.ID, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	var orphans []string
	err := b.reg.Update(ctx, func(c *registry.Tx) error {
		var err error
		orphans, err = b.pruneIn(ctx, c, refs, ids, opts)
		return err
	})
	if err != nil {
		return err
	}
	// Files go after the commit: a crash in between leaves files without
	// records (harmless, found by a repair), never records without files.
	return b.removeAfterCommit(ctx, what, orphans)
}

// pruneIn is the registry part of Prune, inside the caller's transaction: it
// returns the paths no remaining record reads, for the caller to delete (or
// quarantine) once the transaction has committed.
func (b *Butler) pruneIn(ctx context.Context, c *registry.Tx, refs []dataset.Ref, ids []dataset.ID, opts PruneOptions) ([]string, error) {
	for _, tag := range opts.Disassociate {
		if err := c.Disassociate(ctx, tag, refs); err != nil {
			return nil, err
		}
	}
	switch {
	case opts.Purge:
		orphans, err := b.removeRefs(ctx, c, ids)
		if err != nil {
			return nil, fmt.Errorf("remove %d dataset(s): %w", len(ids), err)
		}
		return orphans, nil
	case opts.Unstore:
		orphans, err := c.DeleteFileRecords(ctx, b.ds.RecordsTable(), ids)
		if err != nil {
			return nil, err
		}
		return b.zipOrphans(ctx, c, orphans)
	}
	return nil, nil
}

// removeAfterCommit deletes the files whose records a committed transaction
// removed. An interrupt no longer stops it (the registry has already
// changed), and a failure says that only files are left, which verify
// --orphans finds and --repair removes.
func (b *Butler) removeAfterCommit(ctx context.Context, what string, paths []string) error {
	if err := b.ds.Remove(context.WithoutCancel(ctx), paths); err != nil {
		return fmt.Errorf("%s: the registry entries are removed, but deleting their files failed (butler verify --orphans lists what is left): %w", what, err)
	}
	return nil
}
