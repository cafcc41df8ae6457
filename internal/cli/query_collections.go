package cli

import (
	"context"
	"path"
	"slices"
	"sort"
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
	globs := splitList(args[1:])
	cols, err := b.Collections(ctx, globs, types...) // by name
	if err != nil {
		return err
	}
	q := &collectionLister{ctx: ctx, b: b, showTypes: o.showTypes, exclude: splitList(o.excludeTypes), cache: map[string]*butler.Collection{}}
	var t *table
	switch mode {
	case "TREE", "INVERSE-TREE":
		t, err = q.tree(cols, mode == "INVERSE-TREE")
	case "TABLE", "INVERSE-TABLE":
		t, err = q.table(cols, mode == "INVERSE-TABLE")
	default:
		all := len(globs) == 0 || slices.Contains(globs, "*") || slices.Contains(globs, "...")
		t, err = q.list(cols, all, mode == "FLATTEN")
	}
	if err != nil {
		return err
	}
	if o.format == "table" && len(t.rows) == 0 {
		return nil // upstream prints nothing for an empty table
	}
	return render(g.stdout, o.format, t)
}

// collectionLister builds query-collections' tables as upstream's
// script/queryCollections.py does: one row per collection, and where a
// collection has several children, parents or dataset types, one more row for
// each, with the other cells blank. JSON and YAML get one record per collection.
type collectionLister struct {
	ctx       context.Context
	b         *butler.Butler
	showTypes bool
	exclude   []string
	cache     map[string]*butler.Collection
}

func (q *collectionLister) get(name string) (*butler.Collection, error) {
	if c, ok := q.cache[name]; ok {
		return c, nil
	}
	c, err := q.b.Collection(q.ctx, name)
	if err == nil {
		q.cache[name] = c
	}
	return c, err
}

// datasetTypes lists a collection's dataset types, sorted, less the excluded
// ones.
func (q *collectionLister) datasetTypes(name string) ([]string, error) {
	names, err := q.b.CollectionDatasetTypes(q.ctx, name)
	if err != nil {
		return nil, err
	}
	kept := []string{}
	for _, n := range names {
		skip := false
		for _, p := range q.exclude {
			if ok, _ := path.Match(p, n); ok {
				skip = true
			}
		}
		if !skip {
			kept = append(kept, n)
		}
	}
	sort.Strings(kept)
	return kept, nil
}

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

func (q *collectionLister) tree(cols []*butler.Collection, inverse bool) (*table, error) {
	t := &table{cols: []string{"Name", "Type"}, left: true, raw: []map[string]any{}}
	if q.showTypes {
		t.cols = append(t.cols, "Dataset Types")
	}
	var add func(c *butler.Collection, depth int) error
	add = func(c *butler.Collection, depth int) error {
		rec := map[string]any{"name": c.Name, "type": c.Type.String(), "depth": depth}
		lead := []any{strings.Repeat("  ", depth) + c.Name, c.Type.String()}
		var sub [][]any
		if q.showTypes {
			types := []string{}
			if c.Type != dataset.Chained {
				var err error
				if types, err = q.datasetTypes(c.Name); err != nil {
					return err
				}
			}
			rec["dataset_types"] = types
			sub = typeRows(types)
		}
		block(t, lead, sub)
		t.raw = append(t.raw, rec)
		var next []string
		var err error
		if inverse {
			next, err = q.b.ParentChains(q.ctx, c.Name)
			sort.Strings(next)
		} else if c.Type == dataset.Chained {
			next, err = q.b.Chain(q.ctx, c.Name)
		}
		if err != nil {
			return err
		}
		for _, n := range next {
			nc, err := q.get(n)
			if err != nil {
				return err
			}
			if err := add(nc, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range cols {
		if err := add(c, 0); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (q *collectionLister) table(cols []*butler.Collection, inverse bool) (*table, error) {
	rel, key := "Children", "children"
	if inverse {
		rel, key = "Parents", "parents"
	}
	t := &table{cols: []string{"Name", "Type", rel}, left: true, raw: []map[string]any{}}
	if q.showTypes {
		t.cols = append(t.cols, "Dataset Types")
	}
	keep := false // whether the relatives column has anything to show
	for _, c := range cols {
		var relatives []string
		var err error
		if inverse {
			relatives, err = q.b.ParentChains(q.ctx, c.Name)
			sort.Strings(relatives)
		} else if c.Type == dataset.Chained {
			relatives, err = q.b.Chain(q.ctx, c.Name)
		}
		if err != nil {
			return nil, err
		}
		if inverse && len(relatives) > 0 || !inverse && c.Type == dataset.Chained {
			keep = true
		}
		rec := map[string]any{"name": c.Name, "type": c.Type.String(), key: orEmptyStrings(relatives)}
		var sub [][]any
		if len(relatives) == 0 {
			sub = [][]any{{""}}
			if q.showTypes {
				types, err := q.datasetTypes(c.Name)
				if err != nil {
					return nil, err
				}
				rec["dataset_types"] = types
				sub = nil
				for _, r := range typeRows(types) {
					sub = append(sub, append([]any{""}, r...))
				}
			}
		} else {
			// Each relative with its own dataset types below it.
			for _, r := range relatives {
				if !q.showTypes {
					sub = append(sub, []any{r})
					continue
				}
				types, err := q.datasetTypes(r)
				if err != nil {
					return nil, err
				}
				for i, tr := range typeRows(types) {
					cell := any(r)
					if i > 0 {
						cell = ""
					}
					sub = append(sub, append([]any{cell}, tr...))
				}
			}
			if q.showTypes {
				types, err := q.datasetTypes(c.Name)
				if err != nil {
					return nil, err
				}
				rec["dataset_types"] = types
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
	return t, nil
}

// list is FLATTEN and NO-CHILDREN. As upstream, the order is the registry's
// (creation order) when listing everything; FLATTEN leaves chains out and
// lists what they hold instead, depth first, each collection once.
func (q *collectionLister) list(cols []*butler.Collection, all, flatten bool) (*table, error) {
	t := &table{cols: []string{"Name", "Type"}, left: true, raw: []map[string]any{}}
	if q.showTypes {
		t.cols = append(t.cols, "Dataset Types")
	}
	if all {
		cols = slices.Clone(cols)
		sort.SliceStable(cols, func(i, j int) bool { return cols[i].ID < cols[j].ID })
	}
	var out []*butler.Collection
	seen := map[string]bool{}
	var visit func(c *butler.Collection) error
	visit = func(c *butler.Collection) error {
		if c.Type != dataset.Chained || !flatten {
			if !seen[c.Name] {
				seen[c.Name] = true
				out = append(out, c)
			}
			return nil
		}
		kids, err := q.b.Chain(q.ctx, c.Name)
		if err != nil {
			return err
		}
		for _, k := range kids {
			kc, err := q.get(k)
			if err != nil {
				return err
			}
			if err := visit(kc); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range cols {
		if flatten && c.Type == dataset.Chained {
			continue // matched chains are expanded after the direct matches
		}
		if err := visit(c); err != nil {
			return nil, err
		}
	}
	if flatten && !all {
		for _, c := range cols {
			if c.Type == dataset.Chained {
				if err := visit(c); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, c := range out {
		rec := map[string]any{"name": c.Name, "type": c.Type.String()}
		var sub [][]any
		if q.showTypes {
			types, err := q.datasetTypes(c.Name)
			if err != nil {
				return nil, err
			}
			rec["dataset_types"] = types
			sub = typeRows(types)
		}
		block(t, []any{c.Name, c.Type.String()}, sub)
		t.raw = append(t.raw, rec)
	}
	return t, nil
}

func orEmptyStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
