package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/timespan"
	"github.com/spf13/cobra"
)

type certifyOptions struct {
	begin, end      string
	searchAllInputs bool
}

func newCertifyCalibrationsCmd(g *globals) *cobra.Command {
	var o certifyOptions
	cmd := &cobra.Command{
		Use:   "certify-calibrations REPO INPUT_COLLECTION OUTPUT_COLLECTION DATASET_TYPE",
		Short: "Certify calibrations found in INPUT into the CALIBRATION collection OUTPUT for a validity range",
		Long: `Certify every dataset of DATASET_TYPE in INPUT_COLLECTION into the CALIBRATION collection
OUTPUT_COLLECTION (created when missing), valid from --begin-date to --end-date (TAI,
ISO-8601; a missing end is unbounded). Without --search-all-inputs a CHAINED input is
replaced by its first child, as upstream does.`,
		Example: "  butler certify-calibrations REPO u/me/bias LSSTCam/calib bias --begin-date 2025-04-01T00:00:00",
		Args:    cobra.ExactArgs(4),
		RunE:    func(c *cobra.Command, args []string) error { return runCertifyCalibrations(c.Context(), g, o, args) },
	}
	cmd.Flags().StringVar(&o.begin, "begin-date", "", "start of the validity range (TAI, ISO-8601); unbounded when empty")
	cmd.Flags().StringVar(&o.end, "end-date", "", "end of the validity range (TAI, ISO-8601); unbounded when empty")
	cmd.Flags().BoolVar(&o.searchAllInputs, "search-all-inputs", false, "search every collection of a CHAINED input, not only its first child")
	return cmd
}

func runCertifyCalibrations(ctx context.Context, g *globals, o certifyOptions, args []string) error {
	begin, end := timespan.Min, timespan.Max
	var err error
	if o.begin != "" {
		if begin, err = timespan.ParseTAI(o.begin); err != nil {
			return usagef("--begin-date: %v", err)
		}
	}
	if o.end != "" {
		if end, err = timespan.ParseTAI(o.end); err != nil {
			return usagef("--end-date: %v", err)
		}
	}
	ts := timespan.New(begin, end)
	if ts.IsEmpty() {
		return usagef("--begin-date must be before --end-date")
	}
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	input := []string{args[1]}
	if col, err := b.Collection(ctx, args[1]); err != nil {
		return err
	} else if col.Type == dataset.Chained && !o.searchAllInputs {
		kids, err := b.Chain(ctx, args[1])
		if err != nil {
			return err
		}
		if len(kids) == 0 {
			return fmt.Errorf("input collection %q is an empty chain", args[1])
		}
		input = kids[:1]
	}
	var refs []dataset.Ref
	err = each(b.Query().Implied(false).Collections(input...).Datasets(ctx, args[3]), func(r dataset.Ref) error {
		refs = append(refs, r)
		return nil
	})
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		return fmt.Errorf("no %s datasets in %v: nothing to certify", args[3], input)
	}
	if err := b.Certify(ctx, args[2], refs, ts); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Certified %d %s dataset(s) into %s over %s.\n", len(refs), args[3], args[2], ts)
	return nil
}
