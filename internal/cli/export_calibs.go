package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/exportfile"
	"github.com/spf13/cobra"
)

type exportCalibsOptions struct {
	types    []string
	transfer string
}

func newExportCalibsCmd(g *globals) *cobra.Command {
	var o exportCalibsOptions
	cmd := &cobra.Command{
		Use:   "export-calibs REPO DIRECTORY [COLLECTIONS...]",
		Short: "Export calibration collections with their datasets and files",
		Long: `Export the CALIBRATION collections named (globs; all when none), the datasets certified
in them with their validity ranges, their RUN collections, dataset types and dimension
records, as DIRECTORY/export.yaml, copying the files into DIRECTORY.`,
		Example: "  butler export-calibs REPO calibs/ LSSTCam/calib -d bias -d flat",
		Args:    cobra.MinimumNArgs(2),
		RunE:    func(c *cobra.Command, args []string) error { return runExportCalibs(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.types, "dataset-type", "d", nil, "dataset types (globs; comma-separated, repeatable)")
	f.StringVarP(&o.transfer, "transfer", "t", "auto", "auto (copy), copy, link, symlink, hardlink, relsymlink or none")
	return cmd
}

func runExportCalibs(ctx context.Context, g *globals, o exportCalibsOptions, args []string) error {
	b, err := g.open(ctx, args[0], false)
	if err != nil {
		return err
	}
	defer b.Close()
	refs, cols, err := exportfile.CalibrationRefs(ctx, b, splitList(args[2:]), splitList(o.types))
	if err != nil {
		return err
	}
	bun, err := exportfile.ExportDir(ctx, b, refs, args[1], "", o.transfer, butler.ExportOptions{Collections: cols})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Exported %d calibration dataset(s) with %d validity range(s) from %d collection(s) to %s.\n", len(refs), len(bun.Calibs), len(cols), args[1])
	return nil
}
