package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/progress"
	"github.com/spf13/cobra"
)

type transferDatasetsOptions struct {
	refSearchOptions
	transfer             string
	registerTypes        bool
	noTransferDimensions bool
	dryRun               bool
	processes, batch     int
	format               string
}

func newTransferDatasetsCmd(g *globals) *cobra.Command {
	var o transferDatasetsOptions
	cmd := &cobra.Command{
		Use:   "transfer-datasets SOURCE DEST",
		Short: "Copy datasets, with their files, from one repository to another",
		Long: `Copy the datasets found in SOURCE by --dataset-type/--collections/--where into DEST:
their files (with --transfer), runs, dimension records (unless --no-transfer-dimensions)
and, with --register-dataset-types, their dataset types. The repositories may use any
registry (SQLite, PostgreSQL) and datastore (directory, S3). Datasets already in DEST are
skipped, so an interrupted transfer is finished by running it again; each batch is one
transaction.

Exit status: 0 done, 1 error (nothing of the failing batch is written), 2 usage error.`,
		Example: "  butler transfer-datasets laptop/ /project/repo -d calexp --collections u/me/run1 --register-dataset-types",
		Args:    cobra.ExactArgs(2),
		RunE:    func(c *cobra.Command, args []string) error { return runTransferDatasets(c.Context(), g, o, args) },
	}
	o.addFlagsWith(cmd, -20000, true)
	f := cmd.Flags()
	f.StringVarP(&o.transfer, "transfer", "t", "auto", "auto, copy, link, symlink, hardlink, relsymlink or direct")
	f.BoolVar(&o.registerTypes, "register-dataset-types", false, "register dataset types DEST lacks")
	f.Bool("transfer-dimensions", true, "copy the dimension records of the data IDs (default)")
	f.BoolVar(&o.noTransferDimensions, "no-transfer-dimensions", false, "do not copy dimension records (DEST must have them)")
	f.BoolVar(&o.dryRun, "dry-run", false, "only count what would be transferred")
	f.Bool("no-dry-run", true, "transfer (default)")
	f.IntVarP(&o.processes, "processes", "j", 4, "files copied at once")
	f.IntVar(&o.batch, "batch-size", 10000, "datasets per transaction")
	addFormatFlag(cmd, &o.format)
	return cmd
}

func runTransferDatasets(ctx context.Context, g *globals, o transferDatasetsOptions, args []string) error {
	src, err := g.open(ctx, args[0], false)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := g.open(ctx, args[1], !o.dryRun)
	if err != nil {
		return err
	}
	defer dst.Close()
	start := time.Now()
	refs, err := o.refs(ctx, src, g.stderr)
	if err != nil {
		return err
	}
	var task progress.Task = &progress.Counter{}
	if g.showProgress() {
		bar := newBar(g.stderr)
		defer bar.Close()
		task = bar.Task("datasets", int64(len(refs)))
	}
	last := 0
	res, err := dst.TransferFrom(ctx, src, refs, butler.TransferOptions{
		Transfer: o.transfer, RegisterDatasetTypes: o.registerTypes, TransferDimensions: !o.noTransferDimensions,
		DryRun: o.dryRun, BatchSize: o.batch, Parallel: o.processes,
		Progress: func(done int) { task.Add(int64(done - last)); last = done },
	})
	if err != nil {
		return err
	}
	el := time.Since(start)
	if o.format != "table" {
		return renderValue(g.stdout, o.format, map[string]any{"transferred": res.Transferred, "skipped": res.Skipped, "dry_run": o.dryRun, "seconds": el.Seconds()})
	}
	if o.dryRun {
		fmt.Fprintf(g.stdout, "Number of datasets that would be transferred: %d (%d already present)\n", res.Transferred, res.Skipped)
		return nil
	}
	fmt.Fprintf(g.stdout, "Number of datasets transferred: %d\n", res.Transferred)
	if res.Skipped > 0 {
		fmt.Fprintf(g.stdout, "Already present, skipped: %d\n", res.Skipped)
	}
	return nil
}
