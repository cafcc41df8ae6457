package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/spf13/cobra"
)

func newUpdateDimensionRegionsCmd(g *globals) *cobra.Command {
	var o butler.UpdateDimensionRegionsOptions
	var format string
	cmd := &cobra.Command{
		Use:   "update-dimension-regions REPO INSTRUMENT [COLLECTIONS...]",
		Short: "Update dimension record regions from visit geometry datasets.",
		Long: `Update dimension record regions from visit geometry datasets.

Reads the visit geometry datasets (obs_base's VisitGeometry JSON: a re-fit boresight and
rotation with the visit and detector regions they give) found in COLLECTIONS and rewrites
the visit's region, its visit_detector_region regions and the boresight of the exposure
with the visit's ID. To recompute regions from the exposure records and the camera
geometry instead, run define-visits --update-records.`,
		Example: "  butler update-dimension-regions REPO LSSTCam u/me/refit --where \"visit.day_obs = 20250415\"",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if o.BatchSize < 1 {
				return usagef("--batch-size must be at least 1")
			}
			o.Collections = args[2:]
			if len(o.Collections) == 0 {
				return usagef("no COLLECTIONS to search for %s datasets", o.DatasetType)
			}
			return runUpdateDimensionRegions(c.Context(), g, args[0], args[1], o, format)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.DatasetType, "dataset-type", "visit_geometry", "Name of the visit geometry dataset type.")
	f.IntVar(&o.BatchSize, "batch-size", 11, "Number of visits to process in each transaction.")
	f.StringVar(&o.Where, "where", "", "A string expression similar to a SQL WHERE clause.")
	addFormatFlag(cmd, &format)
	return cmd
}

func runUpdateDimensionRegions(ctx context.Context, g *globals, repo, instrument string, o butler.UpdateDimensionRegionsOptions, format string) error {
	b, err := g.open(ctx, repo, true)
	if err != nil {
		return err
	}
	defer b.Close()
	n, err := b.UpdateDimensionRegions(ctx, instrument, o)
	if err != nil {
		return err
	}
	if format != "table" {
		return renderValue(g.stdout, format, map[string]any{"visits": n})
	}
	fmt.Fprintf(g.stdout, "Records for %d visit(s) updated.\n", n)
	return nil
}
