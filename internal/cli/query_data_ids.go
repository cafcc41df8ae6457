package cli

import (
	"context"
	"fmt"

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
		Long: `List the data IDs of dimensions (from dimension records, or from datasets with --datasets).

Without DIMENSIONS, --datasets with --collections uses the dimensions the dataset types
have in common; a search over no dimensions has at most one row with no columns, which is
reported in words.`,
		Example: `  butler query-data-ids REPO exposure detector --where "exposure.day_obs = 20250414 AND detector IN (0..8)"
  butler query-data-ids REPO exposure --datasets raw --collections LSSTCam/raw/all
  butler query-data-ids REPO --datasets raw --collections LSSTCam/raw/all`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runQueryDataIDs(c.Context(), g, o, args) },
	}
	addQueryFlags(cmd, &o.queryOptions, -20000)
	cmd.Flags().StringArrayVar(&o.datasets, "datasets", nil, "only data IDs of datasets of these types (with --collections)")
	return cmd
}

func runQueryDataIDs(ctx context.Context, g *globals, o queryDataIDsOptions, args []string) error {
	qs, err := o.start(ctx, g, args[0])
	if err != nil {
		return err
	}
	defer qs.b.Close()
	b := qs.b
	cols := splitList(o.collections)
	if len(cols) > 0 && len(o.datasets) == 0 {
		g.log.Warn("--collections only applies with --datasets; ignored")
		cols = nil
	}
	dims := splitList(args[1:])
	if len(dims) == 0 && len(o.datasets) > 0 && len(cols) > 0 {
		// As upstream: the dimensions all the dataset types have.
		common, names, err := b.CommonDimensions(ctx, splitList(o.datasets))
		if err != nil {
			return err
		}
		if len(common) == 0 {
			return noDataIDColumns(g, o, fmt.Sprintf("No dimensions in common for specified dataset types (%s)", pyList(names)))
		}
		dims = common
	}
	if len(o.datasets) > 0 && len(cols) == 0 {
		cols = []string{"*"}
	}
	grp, err := b.Universe.Group(dims...)
	if err != nil {
		return err
	}
	t := &table{cols: grp.Names()}
	n := 0
	search := butler.DataIDSearch{Dimensions: dims, Where: o.whereText(), Bind: qs.binds, DataID: qs.dataID,
		Datasets: splitList(o.datasets), Collections: cols, Limit: qs.fetch, OrderBy: splitList(o.orderBy)}
	if len(grp.Required) == 0 {
		// No dimensions: upstream's query has one row with no columns when the
		// where matches, which it reports in words.
		found := false
		err := b.QueryDataIDs(ctx, search, func(dimensions.DataID) error {
			found = true
			return nil
		})
		if err != nil {
			return err
		}
		if found && o.format != "table" {
			t.addRow(func(string) any { return nil }) // the one row, with no columns
			return render(g.stdout, o.format, t)
		}
		if found {
			return noDataIDColumns(g, o, "Result has one logical row but no columns because no dimensions were requested.")
		}
		return noDataIDColumns(g, o, b.ExplainNoDataIDs(ctx, search)...)
	}
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
	// As upstream: the reasons, then the hint.
	return o.finish(g, qs, "queryDataIds", t, dataIDSortKeys(grp), false, func() []string { return b.ExplainNoDataIDs(ctx, search) })
}

// noDataIDColumns reports a data ID search that gives no table (nothing in
// common, or no dimensions asked for) as upstream prints it: the reasons, then
// a hint; other formats print an empty list.
func noDataIDColumns(g *globals, o queryDataIDsOptions, reasons ...string) error {
	if o.format != "table" {
		return render(g.stdout, o.format, &table{})
	}
	for _, r := range reasons {
		fmt.Fprintln(g.stdout, r)
	}
	if len(o.datasets) == 0 {
		fmt.Fprintln(g.stdout, "No results. Try requesting some dimensions or datasets, see --help for more information.")
	} else {
		fmt.Fprintln(g.stdout, "No results. Try --help for more information.")
	}
	return nil
}
