package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/spf13/cobra"
)

type queryDataIDsOptions struct {
	queryOptions
	datasets []string
}

func newQueryDataIDsCmd(g *globals) *cobra.Command {
	var o queryDataIDsOptions
	cmd := &cobra.Command{
		Use:   "query-data-ids REPO [DIMENSIONS...]",
		Short: "List the data IDs of dimensions (from dimension records, or from datasets with --datasets)",
		Example: `  butler query-data-ids REPO exposure detector --where "exposure.day_obs = 20250414 AND detector IN (0..8)"
  butler query-data-ids REPO exposure --datasets raw --collections LSSTCam/raw/all`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runQueryDataIDs(c.Context(), g, o, args) },
	}
	addQueryFlags(cmd, &o.queryOptions, -20000)
	cmd.Flags().StringArrayVar(&o.datasets, "datasets", nil, "only data IDs of datasets of these types (with --collections)")
	return cmd
}

func runQueryDataIDs(ctx context.Context, g *globals, o queryDataIDsOptions, args []string) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	binds, err := o.bindMap()
	if err != nil {
		return err
	}
	dataID, err := parseDataID(o.dataID)
	if err != nil {
		return err
	}
	cols := splitList(o.collections)
	if len(cols) > 0 && len(o.datasets) == 0 {
		g.log.Warn("--collections only applies with --datasets; ignored")
		cols = nil
	}
	dims := splitList(args[1:])
	if len(dims) == 0 && len(o.datasets) == 0 {
		fmt.Fprintln(g.stdout, "No results. Try requesting some dimensions or datasets, see --help for more information.")
		return nil
	}
	b, err := g.open(ctx, args[0], false)
	if err != nil {
		return err
	}
	defer b.Close()
	if len(dims) == 0 {
		// As upstream: the dimensions every dataset type has.
		if len(cols) == 0 {
			fmt.Fprintln(g.stdout, "Result has one logical row but no columns because no dimensions were requested.")
			fmt.Fprintln(g.stdout, "No results. Try --help for more information.")
			return nil
		}
		if dims, err = commonDimensions(ctx, b, splitList(o.datasets)); err != nil || len(dims) == 0 {
			if err == nil {
				fmt.Fprintf(g.stdout, "No dimensions in common for specified dataset types (%s)\n", strings.Join(splitList(o.datasets), ", "))
				fmt.Fprintln(g.stdout, "No results. Try --help for more information.")
			}
			return err
		}
	}
	if len(o.datasets) > 0 && len(cols) == 0 {
		cols = []string{"*"}
	}
	fetch, warn := effectiveLimit(o.limit)
	if fetch > 0 {
		fetch += o.offset
	}
	grp, err := b.Universe.Group(dims...)
	if err != nil {
		return err
	}
	t := &table{cols: grp.Names()}
	n := 0
	search := butler.DataIDSearch{Dimensions: dims, Where: o.whereText(), Bind: binds, DataID: dataID,
		Datasets: splitList(o.datasets), Collections: cols, Limit: fetch, OrderBy: splitList(o.orderBy)}
	err = b.QueryDataIDs(ctx, search, func(id dimensions.DataID) error {
		n++
		if n <= o.offset {
			return nil
		}
		t.addRow(func(col string) any { return id[col] })
		return nil
	})
	if err != nil {
		return err
	}
	printed, err := o.print(g, "queryDataIds", t, warn, dataIDSortKeys(grp))
	if err != nil || printed {
		return err
	}
	// As upstream: the reasons, then the hint.
	for _, why := range b.ExplainNoDataIDs(ctx, search) {
		fmt.Fprintln(g.stdout, why)
	}
	fmt.Fprintln(g.stdout, "No results. Try --help for more information.")
	return nil
}

// commonDimensions are the dimensions (required and implied) that every one of
// the dataset types matching the patterns has.
func commonDimensions(ctx context.Context, b *butler.Butler, patterns []string) ([]string, error) {
	types, err := b.DatasetTypes(ctx, patterns...)
	if err != nil {
		return nil, err
	}
	var common []string
	for i, dt := range types {
		names := dt.Dimensions.Names()
		if i == 0 {
			common = names
			continue
		}
		common = slices.DeleteFunc(common, func(n string) bool { return !slices.Contains(names, n) })
	}
	return common, nil
}
