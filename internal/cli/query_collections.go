package cli

import (
	"context"
	"slices"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/spf13/cobra"
)

type queryCollectionsOptions struct {
	chains       string
	types        []string
	showTypes    bool
	excludeTypes []string
	format       string
}

func newQueryCollectionsCmd(g *globals) *cobra.Command {
	var o queryCollectionsOptions
	cmd := &cobra.Command{
		Use:   "query-collections REPO [GLOB...]",
		Short: "List collections",
		Long: `List collections whose names match the globs (all when none).
--chains says how CHAINED collections are shown: TREE (children indented below their
parent, default), INVERSE-TREE (parents below children), TABLE (children in a column),
INVERSE-TABLE (parents in a column), FLATTEN (chains replaced by the collections they
search, in order) or NO-CHILDREN (no chain contents).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runQueryCollections(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.chains, "chains", "TREE", "TREE, INVERSE-TREE, TABLE, INVERSE-TABLE, FLATTEN or NO-CHILDREN")
	f.StringArrayVar(&o.types, "collection-type", nil, "only these types: RUN, TAGGED, CHAINED, CALIBRATION (repeatable)")
	f.BoolVarP(&o.showTypes, "show-dataset-types", "t", false, "also list the dataset types in each collection")
	f.StringArrayVar(&o.excludeTypes, "exclude-dataset-types", []string{"*_config,*_log,*_metadata,packages"}, "dataset types not shown with -t (globs)")
	addFormatFlag(cmd, &o.format)
	return cmd
}

func runQueryCollections(ctx context.Context, g *globals, o queryCollectionsOptions, args []string) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	mode := strings.ToUpper(o.chains)
	switch mode {
	case "TREE", "INVERSE-TREE", "TABLE", "INVERSE-TABLE", "FLATTEN", "NO-CHILDREN":
	default:
		return usagef("--chains %q: want TREE, INVERSE-TREE, TABLE, INVERSE-TABLE, FLATTEN or NO-CHILDREN", o.chains)
	}
	var types []dataset.CollectionType
	for _, s := range splitList(o.types) {
		t, err := dataset.ParseCollectionType(s)
		if err != nil {
			return usagef("--collection-type: %v", err)
		}
		types = append(types, t)
	}
	b, err := g.open(ctx, args[0], false)
	if err != nil {
		return err
	}
	defer b.Close()
	tree, err := b.CollectionTree(ctx, splitList(args[1:]), butler.CollectionTreeOptions{Types: types, DatasetTypes: o.showTypes, ExcludeDatasetTypes: splitList(o.excludeTypes)})
	if err != nil {
		return err
	}
	var t *table
	switch mode {
	case "TREE", "INVERSE-TREE":
		t = collectionTree(tree.Matched, o.showTypes, mode == "INVERSE-TREE")
	case "TABLE", "INVERSE-TABLE":
		t = collectionTable(tree.Matched, o.showTypes, mode == "INVERSE-TABLE")
	default:
		t = collectionList(tree.List(mode == "FLATTEN"), o.showTypes)
	}
	if o.format == "table" && len(t.rows) == 0 {
		return nil // upstream prints nothing for an empty table
	}
	return render(g.stdout, o.format, t)
}

// query-collections' tables are built as upstream's script/queryCollections.py
// builds them: one row per collection, and where a collection has several
// children, parents or dataset types, one more row for each, with the other
// cells blank. JSON and YAML get one record per collection.

// block appends lead followed by the first of sub, then the rest of sub
// under blank lead cells (astropy's hstack(...).filled("")).
func block(t *table, lead []any, sub [][]any) {
	if len(sub) == 0 {
		sub = [][]any{nil}
	}
	for i, s := range sub {
		row := make([]any, 0, len(lead)+len(s))
		if i == 0 {
			row = append(row, lead...)
		} else {
			for range lead {
				row = append(row, "")
			}
		}
		t.rows = append(t.rows, append(row, s...))
	}
}

// typeRows is one single-cell row per dataset type ("" when there are none).
func typeRows(types []string) [][]any {
	if len(types) == 0 {
		return [][]any{{""}}
	}
	out := make([][]any, len(types))
	for i, n := range types {
		out[i] = []any{n}
	}
	return out
}

func collectionTree(cols []*butler.CollectionNode, showTypes, inverse bool) *table {
	t := &table{cols: []string{"Name", "Type"}, left: true, raw: []map[string]any{}}
	if showTypes {
		t.cols = append(t.cols, "Dataset Types")
	}
	var add func(c *butler.CollectionNode, depth int)
	add = func(c *butler.CollectionNode, depth int) {
		rec := map[string]any{"name": c.Name, "type": c.Type.String(), "depth": depth}
		lead := []any{strings.Repeat("  ", depth) + c.Name, c.Type.String()}
		var sub [][]any
		if showTypes {
			types := []string{}
			if c.Type != dataset.Chained {
				types = c.DatasetTypes
			}
			rec["dataset_types"] = types
			sub = typeRows(types)
		}
		block(t, lead, sub)
		t.raw = append(t.raw, rec)
		next := c.Children
		if inverse {
			next = byName(c.Parents)
		}
		for _, n := range next {
			add(n, depth+1)
		}
	}
	for _, c := range cols {
		add(c, 0)
	}
	return t
}

func collectionTable(cols []*butler.CollectionNode, showTypes, inverse bool) *table {
	rel, key := "Children", "children"
	if inverse {
		rel, key = "Parents", "parents"
	}
	t := &table{cols: []string{"Name", "Type", rel}, left: true, raw: []map[string]any{}}
	if showTypes {
		t.cols = append(t.cols, "Dataset Types")
	}
	keep := false // whether the relatives column has anything to show
	for _, c := range cols {
		relatives := c.Children
		if inverse {
			relatives = byName(c.Parents)
		}
		if inverse && len(relatives) > 0 || !inverse && c.Type == dataset.Chained {
			keep = true
		}
		names := []string{}
		for _, r := range relatives {
			names = append(names, r.Name)
		}
		rec := map[string]any{"name": c.Name, "type": c.Type.String(), key: names}
		var sub [][]any
		if len(relatives) == 0 {
			sub = [][]any{{""}}
			if showTypes {
				rec["dataset_types"] = c.DatasetTypes
				sub = nil
				for _, r := range typeRows(c.DatasetTypes) {
					sub = append(sub, append([]any{""}, r...))
				}
			}
		} else {
			// Each relative with its own dataset types below it.
			for _, r := range relatives {
				if !showTypes {
					sub = append(sub, []any{r.Name})
					continue
				}
				for i, tr := range typeRows(r.DatasetTypes) {
					cell := any(r.Name)
					if i > 0 {
						cell = ""
					}
					sub = append(sub, append([]any{cell}, tr...))
				}
			}
			if showTypes {
				rec["dataset_types"] = c.DatasetTypes
			}
		}
		block(t, []any{c.Name, c.Type.String()}, sub)
		t.raw = append(t.raw, rec)
	}
	if !keep {
		// Upstream drops the column when no collection has relatives to show.
		t.cols = slices.Delete(t.cols, 2, 3)
		for i, r := range t.rows {
			t.rows[i] = slices.Delete(r, 2, 3)
		}
	}
	return t
}

// collectionList is FLATTEN and NO-CHILDREN: the collections of
// CollectionTree.List, one after the other.
func collectionList(cols []*butler.CollectionNode, showTypes bool) *table {
	t := &table{cols: []string{"Name", "Type"}, left: true, raw: []map[string]any{}}
	if showTypes {
		t.cols = append(t.cols, "Dataset Types")
	}
	for _, c := range cols {
		rec := map[string]any{"name": c.Name, "type": c.Type.String()}
		var sub [][]any
		if showTypes {
			rec["dataset_types"] = c.DatasetTypes
			sub = typeRows(c.DatasetTypes)
		}
		block(t, []any{c.Name, c.Type.String()}, sub)
		t.raw = append(t.raw, rec)
	}
	return t
}

// byName sorts parents by name, byte-wise as upstream's sorted() does (the
// registry lists them in the database's collation).
func byName(ns []*butler.CollectionNode) []*butler.CollectionNode {
	ns = slices.Clone(ns)
	slices.SortStableFunc(ns, func(a, b *butler.CollectionNode) int { return strings.Compare(a.Name, b.Name) })
	return ns
}
