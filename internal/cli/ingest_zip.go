package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/spf13/cobra"
)

type ingestZipOptions struct {
	transfer             string
	transferDimensions   bool
	noTransferDimensions bool
	dryRun, noDryRun     bool
}

func newIngestZipCmd(g *globals) *cobra.Command {
	var o ingestZipOptions
	cmd := &cobra.Command{
		Use:   "ingest-zip REPO ZIP",
		Short: "Ingest a zip of datasets written by retrieve-artifacts --zip",
		Long: `Ingest the datasets of ZIP, a zip written by "butler retrieve-artifacts --zip" (by this
butler or the Python one), keeping their dataset IDs. The zip is stored whole in the
datastore (zips/<xxxx>/<uuid>.zip) and each dataset reads its member of it. Dataset types
and runs are registered when missing; the data IDs' dimension records must exist, or be
taken from the zip with --transfer-dimensions. All or nothing: on failure the repository
is unchanged.

Exit status: 0 ingested, 1 error (bad zip, conflict, missing records), 2 usage error.`,
		Example: "  butler ingest-zip REPO 3f9e0c1a-....zip --transfer-dimensions",
		Args:    cobra.ExactArgs(2),
		RunE:    func(c *cobra.Command, args []string) error { return runIngestZip(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.transfer, "transfer", "t", "auto", "auto, link, symlink, hardlink, copy, move, relsymlink or direct")
	f.BoolVar(&o.transferDimensions, "transfer-dimensions", false, "insert the zip's dimension records that the repository lacks")
	f.BoolVar(&o.noTransferDimensions, "no-transfer-dimensions", false, "require the dimension records to exist already (default)")
	f.BoolVar(&o.dryRun, "dry-run", false, "check everything, change nothing")
	f.BoolVar(&o.noDryRun, "no-dry-run", false, "ingest (default)")
	return cmd
}

func runIngestZip(ctx context.Context, g *globals, o ingestZipOptions, args []string) error {
	if err := butler.CheckTransferMode(o.transfer); err != nil {
		return usagef("--transfer: %v", err)
	}
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	dry := o.dryRun && !o.noDryRun
	res, err := b.IngestZip(ctx, args[1], butler.IngestZipOptions{
		Transfer: o.transfer, TransferDimensions: o.transferDimensions && !o.noTransferDimensions, DryRun: dry,
	})
	if err != nil {
		return err
	}
	if dry {
		fmt.Fprintf(g.stdout, "Dry run: would ingest %d dataset(s) in %d file(s) from %s.\n", len(res.Refs), res.Files, args[1])
		return nil
	}
	fmt.Fprintf(g.stdout, "Ingested %d dataset(s) in %d file(s) from %s.\n", len(res.Refs), res.Files, args[1])
	return nil
}
