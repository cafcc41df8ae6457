package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type registerDatasetTypeOptions struct{ isCalibration bool }

func newRegisterDatasetTypeCmd(g *globals) *cobra.Command {
	var o registerDatasetTypeOptions
	cmd := &cobra.Command{
		Use:     "register-dataset-type REPO NAME STORAGE_CLASS [DIMENSIONS...]",
		Short:   "Register a dataset type",
		Example: "  butler register-dataset-type REPO bias ExposureF instrument detector --is-calibration",
		Args:    cobra.MinimumNArgs(3),
		RunE:    func(c *cobra.Command, args []string) error { return runRegisterDatasetType(c.Context(), g, o, args) },
	}
	cmd.Flags().BoolVar(&o.isCalibration, "is-calibration", false, "the dataset type is a calibration (can be certified)")
	cmd.Flags().Bool("no-is-calibration", false, "the dataset type is not a calibration (default)")
	return cmd
}

func runRegisterDatasetType(ctx context.Context, g *globals, o registerDatasetTypeOptions, args []string) error {
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	added, err := b.RegisterDatasetType(ctx, args[1], args[2], splitList(args[3:]), o.isCalibration)
	if err != nil {
		return err
	}
	if added {
		fmt.Fprintf(g.stdout, "Dataset type '%s' successfully registered.\n", args[1])
	} else {
		fmt.Fprintf(g.stdout, "Dataset type '%s' already existed with the same definition.\n", args[1])
	}
	return nil
}
