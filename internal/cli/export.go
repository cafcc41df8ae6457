package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/exportfile"
	"github.com/spf13/cobra"
)

type exportOptions struct {
	refSearchOptions
	transfer, exportFile string
	include              []string
	noDimensions         bool
}

func newExportCmd(g *globals) *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export REPO DIRECTORY",
		Short: "Export datasets, their files and dimension records to a directory",
		Long: `Write the datasets found by --dataset-type/--collections/--where, their RUN
collections, dataset types and dimension records as DIRECTORY/export.yaml in daf_butler's
export format (1.0.2, readable by "butler import" here and in the Python butler), and
copy their files into DIRECTORY with --transfer (keeping the datastore layout).
--include-collection adds TAGGED, CALIBRATION or CHAINED collections with the exported
datasets' memberships.`,
		Example: "  butler export REPO out/ -d raw --collections LSSTCam/raw/all --where \"exposure.day_obs = 20250520\"",
		Args:    cobra.ExactArgs(2),
		RunE:    func(c *cobra.Command, args []string) error { return runExport(c.Context(), g, o, args) },
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.transfer, "transfer", "t", "copy", "copy, link, symlink, hardlink, relsymlink, or none (paths stay relative to the datastore)")
	f.StringVar(&o.exportFile, "export-file", exportfile.DefaultExportFile, "export file name (in DIRECTORY)")
	f.StringArrayVar(&o.include, "include-collection", nil, "also export these collections (repeatable, comma-separated)")
	f.BoolVar(&o.noDimensions, "no-dimensions", false, "do not export dimension records")
	return cmd
}

func runExport(ctx context.Context, g *globals, o exportOptions, args []string) error {
	b, refs, err := o.openRefs(ctx, g, args[0], false)
	if err != nil {
		return err
	}
	defer b.Close()
	opts := butler.ExportOptions{Collections: splitList(o.include)}
	if o.noDimensions {
		opts.Elements = []string{}
	}
	bun, err := exportfile.ExportDir(ctx, b, refs, args[1], o.exportFile, o.transfer, opts)
	if err != nil {
		return err
	}
	nrec, nds := 0, 0
	for _, s := range bun.Records {
		nrec += len(s.Records)
	}
	for _, f := range bun.Files {
		nds += len(f.Refs) // each dataset once, however many collections it was found in
	}
	fmt.Fprintf(g.stdout, "Exported %d dataset(s), %d collection(s), %d dimension record(s) to %s.\n", nds, len(bun.Collections), nrec, args[1])
	return nil
}
