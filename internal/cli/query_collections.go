package cli

import (
	"context"
	"path"
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
	cols, err := b.Collections(ctx, splitList(args[1:]), types...)
	if err != nil {
		return err
	}
	excl := splitList(o.excludeTypes)
	datasetTypes := func(name string) (string, []string, error) {
		if !o.showTypes {
			return "", nil, nil
		}
		names, err := b.CollectionDatasetTypes(ctx, name)
		if err != nil {
			return "", nil, err
		}
		var kept []string
		for _, n := range names {
			skip := false
			for _, p := range excl {
				if ok, _ := path.Match(p, n); ok {
					skip = true
				}
			}
			if !skip {
				kept = append(kept, n)
			}
		}
		return strings.Join(kept, ", "), kept, nil
	}
	t := &table{cols: []string{"Name", "Type"}}
	switch mode {
	case "TABLE":
		t.cols = append(t.cols, "Children")
	case "INVERSE-TABLE":
		t.cols = append(t.cols, "Parents")
	}
	if o.showTypes {
		t.cols = append(t.cols, "Dataset Types")
	}
	addRow := func(indent int, c *butler.Collection, extra string, extraList []string) error {
		dts, dtList, err := datasetTypes(c.Name)
		if err != nil {
			return err
		}
		typed := map[string]any{"name": c.Name, "type": c.Type.String()}
		cells := []string{strings.Repeat("  ", indent) + c.Name, c.Type.String()}
		switch mode {
		case "TABLE":
			typed["children"] = orEmptyStrings(extraList)
			cells = append(cells, extra)
		case "INVERSE-TABLE":
			typed["parents"] = orEmptyStrings(extraList)
			cells = append(cells, extra)
		case "TREE", "INVERSE-TREE":
			typed["depth"] = indent
		}
		if o.showTypes {
			typed["dataset_types"] = orEmptyStrings(dtList)
			cells = append(cells, dts)
		}
		t.add(typed, cells...)
		return nil
	}
	var walk func(c *butler.Collection, depth int, inverse bool, seen map[string]bool) error
	walk = func(c *butler.Collection, depth int, inverse bool, seen map[string]bool) error {
		if err := addRow(depth, c, "", nil); err != nil {
			return err
		}
		if seen[c.Name] {
			return nil
		}
		seen[c.Name] = true
		defer delete(seen, c.Name)
		var next []string
		var err error
		if inverse {
			next, err = b.ParentChains(ctx, c.Name)
		} else if c.Type == dataset.Chained {
			next, err = b.Chain(ctx, c.Name)
		}
		if err != nil {
			return err
		}
		for _, n := range next {
			nc, err := b.Collection(ctx, n)
			if err != nil {
				return err
			}
			if err := walk(nc, depth+1, inverse, seen); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range cols {
		var err error
		switch mode {
		case "TREE":
			err = walk(c, 0, false, map[string]bool{})
		case "INVERSE-TREE":
			err = walk(c, 0, true, map[string]bool{})
		case "TABLE":
			var kids []string
			if c.Type == dataset.Chained {
				if kids, err = b.Chain(ctx, c.Name); err != nil {
					return err
				}
			}
			err = addRow(0, c, strings.Join(kids, "\n"), kids)
		case "INVERSE-TABLE":
			parents, err2 := b.ParentChains(ctx, c.Name)
			if err2 != nil {
				return err2
			}
			sort.Strings(parents)
			err = addRow(0, c, strings.Join(parents, "\n"), parents)
		case "NO-CHILDREN":
			err = addRow(0, c, "", nil)
		case "FLATTEN":
			if c.Type != dataset.Chained {
				err = addRow(0, c, "", nil)
				break
			}
			flat, err2 := b.Flatten(ctx, []string{c.Name})
			if err2 != nil {
				return err2
			}
			for _, n := range flat {
				nc, err2 := b.Collection(ctx, n)
				if err2 != nil {
					return err2
				}
				if err = addRow(0, nc, "", nil); err != nil {
					return err
				}
			}
		}
		if err != nil {
			return err
		}
	}
	if mode == "FLATTEN" {
		t.rows, t.raw = dedupRows(t.rows, t.raw)
	}
	return render(g.stdout, o.format, t)
}

func dedupRows(rows [][]string, raw []map[string]any) ([][]string, []map[string]any) {
	seen := map[string]bool{}
	var outR [][]string
	var outRaw []map[string]any
	for i, r := range rows {
		if seen[r[0]] {
			continue
		}
		seen[r[0]] = true
		outR = append(outR, r)
		if i < len(raw) {
			outRaw = append(outRaw, raw[i])
		}
	}
	return outR, outRaw
}

func orEmptyStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
