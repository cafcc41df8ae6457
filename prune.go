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
		for _, tag := range opts.Disassociate {
			if err := c.Disassociate(ctx, tag, refs); err != nil {
				return err
			}
		}
		var err error
		switch {
		case opts.Purge:
			if orphans, err = b.removeRefs(ctx, c, ids); err != nil {
				return fmt.Errorf("remove %d dataset(s): %w", len(refs), err)
			}
		case opts.Unstore:
			if orphans, err = c.DeleteFileRecords(ctx, b.ds.RecordsTable(), ids); err != nil {
				return err
			}
			orphans, err = b.zipOrphans(ctx, c, orphans)
		}
		return err
	})
	if err != nil {
		return err
	}
	// Files go after the commit: a crash in between leaves files without
	// records (harmless, found by a repair), never records without files.
	return b.ds.Remove(ctx, orphans)
}
