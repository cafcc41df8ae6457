package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/instrument"
	"github.com/spf13/cobra"
)

func newRegisterInstrumentCmd(g *globals) *cobra.Command {
	var update bool
	cmd := &cobra.Command{
		Use:   "register-instrument REPO INSTRUMENT_CLASS...",
		Short: "Add instruments (their detectors and filters) to the repository",
		Long: `Write the instrument, detector, physical_filter and visit_system records of each
instrument. Registering again is a no-op; a changed definition needs --update.
Known instruments:`,
		Example: "  butler register-instrument REPO lsst.obs.lsst.LsstCam",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			b, err := g.open(ctx, args[0], true)
			if err != nil {
				return err
			}
			defer b.Close()
			return runRegisterInstrument(ctx, g, b, args[1:], update)
		},
	}
	cmd.Flags().BoolVar(&update, "update", false, "overwrite records whose definition changed")
	// The instrument list is read only for the help: every command builds
	// this one, and parsing the instrument data cost each a millisecond or two.
	listed := false
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		if !listed {
			listed = true
			for _, in := range instrument.All() {
				c.Long += "\n  " + in.ClassName
			}
		}
		c.Root().HelpFunc()(c, args)
	})
	return cmd
}

func runRegisterInstrument(ctx context.Context, g *globals, b ingestTarget, classes []string, update bool) error {
	for _, cls := range classes {
		if _, err := instrument.Lookup(cls); err != nil {
			return err
		}
	}
	for _, cls := range classes {
		n, err := ingest.RegisterInstrument(ctx, b, cls, update)
		if err != nil {
			return err
		}
		g.log.Info("registered instrument", "class", cls, "records_written", n)
		if n == 0 {
			fmt.Fprintf(g.stderr, "Instrument %s was already registered.\n", cls)
		} else {
			fmt.Fprintf(g.stderr, "Registered instrument %s (%d records).\n", cls, n)
		}
	}
	return nil
}
