package cli

import (
	"context"
	"fmt"
	"sort"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/spf13/cobra"
)

type queryDatasetTypesOptions struct {
	verbose     bool
	collections []string
	format      string
}

func newQueryDatasetTypesCmd(g *globals) *cobra.Command {
	var o queryDatasetTypesOptions
	cmd := &cobra.Command{
		Use:   "query-dataset-types REPO [GLOB...]",
		Short: "List dataset types",
		Args:  cobra.MinimumNArgs(1),
		RunE:  func(c *cobra.Command, args []string) error { return runQueryDatasetTypes(c.Context(), g, o, args) },
	}
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "also show dimensions and storage class")
	cmd.Flags().StringArrayVar(&o.collections, "collections", nil, "only types with datasets in these collections (comma-separated, repeatable)")
	addFormatFlag(cmd, &o.format)
	return cmd
}

func runQueryDatasetTypes(ctx context.Context, g *globals, o queryDatasetTypesOptions, args []string) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	b, err := g.open(ctx, args[0], false)
	if err != nil {
		return err
	}
	defer b.Close()
	types, err := b.DatasetTypes(ctx, splitList(args[1:])...)
	if err != nil {
		return err
	}
	var allowed map[string]bool
	if cols := splitList(o.collections); len(cols) > 0 {
		allowed = map[string]bool{}
		tree, err := b.CollectionTree(ctx, cols, butler.CollectionTreeOptions{DatasetTypes: true})
		if err != nil {
			return err
		}
		for _, c := range tree.Matched {
			for _, n := range c.DatasetTypes {
				allowed[n] = true
			}
		}
	}
	t := &table{cols: []string{"name"}, left: true, raw: []map[string]any{}}
	if o.verbose {
		t.cols = append(t.cols, "dimensions", "storage class")
	}
	sort.Slice(types, func(i, j int) bool { return types[i].Name < types[j].Name })
	for _, dt := range types {
		if allowed != nil && !allowed[dt.Name] {
			continue
		}
		typed := map[string]any{"name": dt.Name}
		cells := []any{dt.Name}
		if o.verbose {
			// As upstream's str(list(d.dimensions.names)): every dimension,
			// required and implied, in universe order.
			dims := append([]*dimensions.Element{}, dt.Dimensions.Required...)
			dims = append(dims, dt.Dimensions.Implied...)
			sort.SliceStable(dims, func(i, j int) bool { return dims[i].Index() < dims[j].Index() })
			names := make([]string, len(dims))
			for i, d := range dims {
				names[i] = d.Name
			}
			typed["dimensions"], typed["storage_class"], typed["is_calibration"] = dt.Dimensions.RequiredNames(), dt.StorageClass, dt.IsCalibration
			typed["all_dimensions"] = names
			cells = append(cells, names, dt.StorageClass)
		}
		t.add(typed, cells...)
	}
	if o.format == "table" && len(t.rows) == 0 {
		fmt.Fprintln(g.stdout, "No results. Try --help for more information.")
		return nil
	}
	return render(g.stdout, o.format, t)
}
