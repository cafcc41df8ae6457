package butler

import (
	"context"
	"path"
	"slices"
	"sort"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/registry"
)

// CollectionTreeOptions tune CollectionTree.
type CollectionTreeOptions struct {
	// Types keeps only matched collections of these types (all when empty);
	// the children and parents of those kept are of any type.
	Types []dataset.CollectionType
	// DatasetTypes fills each node's DatasetTypes.
	DatasetTypes bool
	// ExcludeDatasetTypes are globs of dataset types left out of DatasetTypes.
	ExcludeDatasetTypes []string
}

// CollectionNode is one collection in a CollectionTree, linked to its
// relatives. Nodes are shared: a collection in several chains is one node.
type CollectionNode struct {
	*Collection
	// Children are a CHAINED collection's children, in search order.
	Children []*CollectionNode
	// Parents are the CHAINED collections that directly hold this one, by
	// name in the registry's order (the database's collation), as
	// ParentChains lists them.
	Parents []*CollectionNode
	// DatasetTypes (with CollectionTreeOptions.DatasetTypes) are the dataset
	// types the collection holds, sorted, less the excluded ones; a chain's
	// are those of the collections it searches.
	DatasetTypes []string
}

// CollectionTree is the answer of CollectionTree: the matched collections
// with their chains' children and parents, as query-collections shows them.
type CollectionTree struct {
	// Matched are the collections matching the patterns and types, by name.
	Matched []*CollectionNode
	// all is whether the patterns match every collection.
	all bool
}

// CollectionTree finds the collections matching glob patterns (all when
// none) and links them to their children and parents, recursively, reading
// the registry a fixed number of times however large the tree.
func (b *Butler) CollectionTree(ctx context.Context, patterns []string, opts CollectionTreeOptions) (*CollectionTree, error) {
	return b.be.collectionTree(ctx, patterns, opts)
}

func (b local) collectionTree(ctx context.Context, patterns []string, opts CollectionTreeOptions) (*CollectionTree, error) {
	g, err := b.reg.CollectionGraph(ctx, opts.DatasetTypes)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*CollectionNode, len(g.Collections))
	for _, c := range g.Collections {
		byID[c.ID] = &CollectionNode{Collection: collectionOf(c)}
	}
	for _, c := range g.Collections { // by name, so parents come out by name too
		parent := byID[c.ID]
		for _, id := range g.Children[c.ID] {
			child, ok := byID[id]
			if !ok {
				continue // a collection made after the first query
			}
			parent.Children = append(parent.Children, child)
			if !slices.Contains(child.Parents, parent) {
				child.Parents = append(child.Parents, parent)
			}
		}
	}
	t := &CollectionTree{all: len(patterns) == 0 || slices.Contains(patterns, "*") || slices.Contains(patterns, "...")}
	for _, c := range g.Collections {
		if len(opts.Types) > 0 && !slices.Contains(opts.Types, c.Type) {
			continue
		}
		if registry.MatchesCollection(patterns, c.Name) {
			t.Matched = append(t.Matched, byID[c.ID])
		}
	}
	if opts.DatasetTypes {
		for _, n := range byID {
			n.DatasetTypes = nodeDatasetTypes(n, g.DatasetTypes, opts.ExcludeDatasetTypes)
		}
	}
	return t, nil
}

// nodeDatasetTypes unites the summary dataset types of the collections n
// searches (itself, or a chain's flattened children), sorted, less the
// excluded ones.
func nodeDatasetTypes(n *CollectionNode, summary map[int64][]string, exclude []string) []string {
	set := map[string]bool{}
	visiting := map[*CollectionNode]bool{}
	var walk func(*CollectionNode)
	walk = func(n *CollectionNode) {
		if n.Type != dataset.Chained {
			for _, t := range summary[n.ID] {
				set[t] = true
			}
			return
		}
		if visiting[n] {
			return // chains cannot hold themselves; guard all the same
		}
		visiting[n] = true
		defer delete(visiting, n)
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(n)
	out := []string{}
	for t := range set {
		excluded := false
		for _, p := range exclude {
			if ok, _ := path.Match(p, t); ok {
				excluded = true
			}
		}
		if !excluded {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// List is the matched collections as one list, as query-collections'
// FLATTEN (flatten) and NO-CHILDREN modes show them: when every collection
// matched, in registry (creation) order, else by name; with flatten, chains
// give way to the collections they search, depth first, after the
// collections matched directly, each collection once.
func (t *CollectionTree) List(flatten bool) []*CollectionNode {
	cols := t.Matched
	if t.all {
		cols = slices.Clone(cols)
		sort.SliceStable(cols, func(i, j int) bool { return cols[i].ID < cols[j].ID })
	}
	var out []*CollectionNode
	seen := map[*CollectionNode]bool{}
	var visit func(n *CollectionNode)
	visit = func(n *CollectionNode) {
		if n.Type != dataset.Chained || !flatten {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
			return
		}
		for _, c := range n.Children {
			visit(c)
		}
	}
	for _, n := range cols {
		if flatten && n.Type == dataset.Chained {
			continue // matched chains are expanded after the direct matches
		}
		visit(n)
	}
	if flatten && !t.all {
		for _, n := range cols {
			if n.Type == dataset.Chained {
				visit(n)
			}
		}
	}
	return out
}
