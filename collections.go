package butler

import (
	"context"
	"fmt"
	"sort"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry"
)

// Collection describes one collection.
type Collection struct {
	ID   int64
	Name string
	Type dataset.CollectionType
	Doc  string
}

// collectionOf converts the registry's description of a collection.
func collectionOf(c *registry.Collection) *Collection {
	if c == nil {
		return nil
	}
	return &Collection{ID: c.ID, Name: c.Name, Type: c.Type, Doc: c.Doc}
}

// collectionsOf converts a list of the registry's collections.
func collectionsOf(cs []*registry.Collection) []*Collection {
	if cs == nil {
		return nil
	}
	out := make([]*Collection, len(cs))
	for i, c := range cs {
		out[i] = collectionOf(c)
	}
	return out
}

// RegisterRun makes a RUN collection; it reports whether it was new.
func (b *Butler) RegisterRun(ctx context.Context, name, doc string) (bool, error) {
	return b.RegisterCollection(ctx, name, dataset.Run, doc)
}

// RegisterCollection makes a collection of the given type; it reports whether it
// was new. An existing collection of another type is a conflict.
func (b *Butler) RegisterCollection(ctx context.Context, name string, typ dataset.CollectionType, doc string) (bool, error) {
	if err := b.checkWriteable("register collection " + name); err != nil {
		return false, err
	}
	var added bool
	err := b.reg.Update(ctx, func(c *registry.Tx) error {
		var err error
		added, err = c.RegisterCollection(ctx, name, typ, doc)
		return err
	})
	return added, err
}

// Collection returns one collection.
func (b *Butler) Collection(ctx context.Context, name string) (*Collection, error) {
	return b.be.collection(ctx, name)
}

func (b local) collection(ctx context.Context, name string) (*Collection, error) {
	c, err := b.reg.Collection(ctx, name)
	if err != nil {
		return nil, err
	}
	return collectionOf(c), nil
}

// Collections lists the collections matching glob patterns (all when none) and types.
func (b *Butler) Collections(ctx context.Context, patterns []string, types ...dataset.CollectionType) ([]*Collection, error) {
	return b.be.collections(ctx, patterns, types...)
}

func (b local) collections(ctx context.Context, patterns []string, types ...dataset.CollectionType) ([]*Collection, error) {
	cs, err := b.reg.MatchCollections(ctx, patterns, types...)
	if err != nil {
		return nil, err
	}
	return collectionsOf(cs), nil
}

// Chain returns the children of a CHAINED collection.
func (b *Butler) Chain(ctx context.Context, parent string) ([]string, error) {
	return b.be.chain(ctx, parent)
}

func (b local) chain(ctx context.Context, parent string) ([]string, error) {
	return b.reg.Chain(ctx, parent)
}

// ParentChains returns the CHAINED collections that directly hold name.
func (b *Butler) ParentChains(ctx context.Context, name string) ([]string, error) {
	if err := b.be.unsupported("listing parent chains"); err != nil {
		return nil, err
	}
	return b.reg.ParentChains(ctx, name)
}

// Flatten expands chains into the ordered list of searched collections.
func (b *Butler) Flatten(ctx context.Context, names []string) ([]string, error) {
	if err := b.be.unsupported("flattening chains"); err != nil {
		return nil, err
	}
	return b.reg.Flatten(ctx, names)
}

// CollectionDatasetTypes lists the dataset types a collection (or chain) holds.
func (b *Butler) CollectionDatasetTypes(ctx context.Context, name string) ([]string, error) {
	if err := b.be.unsupported("listing a collection's dataset types"); err != nil {
		return nil, err
	}
	return b.reg.CollectionDatasetTypes(ctx, name)
}

// ChainMode is how ChainCollections edits a chain.
type ChainMode string

const (
	ChainRedefine ChainMode = "redefine"
	ChainExtend   ChainMode = "extend"
	ChainPrepend  ChainMode = "prepend"
	ChainRemove   ChainMode = "remove"
	ChainPop      ChainMode = "pop"
)

// ChainOptions tune ChainCollections.
type ChainOptions struct {
	Mode    ChainMode // redefine by default
	Flatten bool
	Doc     string // documentation for a chain created here
	// Pop holds the positions removed by ChainPop (negative counts from the end;
	// empty means position 0).
	Pop []int
}

// ChainCollections edits (creating when missing) the CHAINED collection parent and
// returns its new children.
func (b *Butler) ChainCollections(ctx context.Context, parent string, children []string, opts ChainOptions) ([]string, error) {
	if err := b.checkWriteable("edit chain " + parent); err != nil {
		return nil, err
	}
	var out []string
	err := b.reg.Update(ctx, func(c *registry.Tx) error {
		if _, err := c.RegisterCollection(ctx, parent, dataset.Chained, opts.Doc); err != nil {
			return err
		}
		current, err := c.ChainIn(ctx, parent)
		if err != nil {
			return err
		}
		var next []string
		switch opts.Mode {
		case ChainRedefine, "":
			next = children
		case ChainExtend:
			next = append(without(current, children), children...)
		case ChainPrepend:
			next = append(append([]string(nil), children...), without(current, children)...)
		case ChainRemove:
			for _, ch := range children {
				if !contains(current, ch) {
					return fmt.Errorf("remove %q from chain %q: %w: it is not in the chain %v", ch, parent, errs.ErrNotFound, current)
				}
			}
			next = without(current, children)
		case ChainPop:
			pos := opts.Pop
			if len(pos) == 0 {
				pos = []int{0}
			}
			drop := map[int]bool{}
			for _, p := range pos {
				i := p
				if i < 0 {
					i += len(current)
				}
				if i < 0 || i >= len(current) {
					return fmt.Errorf("pop position %d from chain %q: %w: it has %d children", p, parent, errs.ErrInvalid, len(current))
				}
				drop[i] = true
			}
			for i, ch := range current {
				if !drop[i] {
					next = append(next, ch)
				}
			}
		default:
			return fmt.Errorf("chain mode %q: %w: want redefine, extend, prepend, remove or pop", opts.Mode, errs.ErrInvalid)
		}
		if err := c.SetChain(ctx, parent, next, opts.Flatten); err != nil {
			return err
		}
		out, err = c.ChainIn(ctx, parent)
		return err
	})
	return out, err
}

func without(list, remove []string) []string {
	var out []string
	for _, x := range list {
		if !contains(remove, x) {
			out = append(out, x)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RemoveCollections deletes non-RUN collections (TAGGED, CHAINED, CALIBRATION).
func (b *Butler) RemoveCollections(ctx context.Context, names []string, removeFromParents bool) error {
	if err := b.checkWriteable("remove collections"); err != nil {
		return err
	}
	return b.reg.Update(ctx, func(c *registry.Tx) error {
		for _, n := range names {
			col, err := b.reg.Collection(ctx, n)
			if err != nil {
				return err
			}
			if col.Type == dataset.Run {
				return fmt.Errorf("remove collection %q: %w: it is a RUN; use remove-runs", n, errs.ErrInvalid)
			}
			if err := c.RemoveCollection(ctx, n, removeFromParents); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveRuns deletes RUN collections, their datasets and the datasets' files.
// Runs that are children of chains are refused unless unlinkFromChains.
func (b *Butler) RemoveRuns(ctx context.Context, names []string, unlinkFromChains bool) (int, error) {
	if err := b.checkWriteable("remove runs"); err != nil {
		return 0, err
	}
	var orphans []string
	n := 0
	err := b.reg.Update(ctx, func(c *registry.Tx) error {
		for _, run := range names {
			ids, err := c.RunDatasetIDs(ctx, run)
			if err != nil {
				return err
			}
			paths, err := c.DeleteFileRecords(ctx, b.ds.RecordsTable(), ids)
			if err != nil {
				return err
			}
			if paths, err = b.zipOrphans(ctx, c, paths); err != nil {
				return err
			}
			if err := c.RemoveRun(ctx, run, unlinkFromChains); err != nil {
				return err
			}
			orphans = append(orphans, paths...)
			n += len(ids)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(orphans)
	return n, b.removeAfterCommit(ctx, "remove runs", orphans)
}

// Associate adds datasets to a TAGGED collection (registered when missing).
func (b *Butler) Associate(ctx context.Context, tag string, refs []dataset.Ref) error {
	if err := b.checkWriteable("associate"); err != nil {
		return err
	}
	return b.reg.Update(ctx, func(c *registry.Tx) error {
		if _, err := c.RegisterCollection(ctx, tag, dataset.Tagged, ""); err != nil {
			return err
		}
		return c.Associate(ctx, tag, refs)
	})
}

// Disassociate removes datasets from a TAGGED collection.
func (b *Butler) Disassociate(ctx context.Context, tag string, refs []dataset.Ref) error {
	if err := b.checkWriteable("disassociate"); err != nil {
		return err
	}
	return b.reg.Update(ctx, func(c *registry.Tx) error { return c.Disassociate(ctx, tag, refs) })
}

// SetCollectionDoc sets a collection's documentation.
func (b *Butler) SetCollectionDoc(ctx context.Context, name, doc string) error {
	if err := b.checkWriteable("document collection"); err != nil {
		return err
	}
	return b.reg.Update(ctx, func(c *registry.Tx) error { return c.SetDoc(ctx, name, doc) })
}
