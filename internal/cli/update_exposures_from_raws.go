package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler/internal/ingest"
	"github.com/spf13/cobra"
)

type updateExposuresOptions struct {
	where      string
	failFast   bool
	configs    []string
	configFile string
	processes  int
	format     string
}

func newUpdateExposuresFromRawsCmd(g *globals) *cobra.Command {
	var o updateExposuresOptions
	cmd := &cobra.Command{
		Use:   "update-exposures-from-raws REPO INSTRUMENT [COLLECTIONS...]",
		Short: "Update exposure records associated with specific raw datasets.",
		Long: `Update exposure records associated with specific raw datasets.

Reads again the header of one raw per exposure selected by --where (required) in
COLLECTIONS (default <INSTRUMENT>/raw/all) and rewrites the exposure, group and day_obs
records that differ, e.g. after a metadata-translator fix. No dataset is written.
INSTRUMENT is the registry name (LSSTCam) or class name (lsst.obs.lsst.LsstCam).`,
		Example: `  butler update-exposures-from-raws REPO LSSTCam --where "exposure.day_obs = 20250415"`,
		Args:    cobra.MinimumNArgs(2),
		RunE:    func(c *cobra.Command, args []string) error { return runUpdateExposures(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.where, "where", "", "A string expression to use to query the butler to find raw datasets to use for record updates.")
	f.BoolVar(&o.failFast, "fail-fast", false, "Stop ingest as soon as any problem is encountered with any file. Otherwise problem files will be skipped and logged and a report issued at completion.")
	f.StringArrayVarP(&o.configs, "config", "c", nil, "Config override, as a key-value pair (failFast).")
	f.StringVarP(&o.configFile, "config-file", "C", "", "Path to a pex config override to be included after the Instrument config overrides are applied.")
	f.IntVarP(&o.processes, "processes", "j", 1, "Number of processes to use.")
	addFormatFlag(cmd, &o.format)
	return cmd
}

func runUpdateExposures(ctx context.Context, g *globals, o updateExposuresOptions, args []string) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	if o.where == "" {
		return usagef("--where is required: it selects the raws whose headers are read again")
	}
	if o.processes < 1 {
		return usagef("--processes must be at least 1")
	}
	for _, kv := range o.configs {
		switch kv {
		case "failFast=True", "failFast=true":
			o.failFast = true
		case "failFast=False", "failFast=false":
		default:
			return usagef("-c %q: unknown config override (known: failFast=True|False)", kv)
		}
	}
	if o.configFile != "" {
		return usagef("--config-file: no ingest config field other than failFast applies to updating exposures; use -c failFast=True")
	}
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	rep, endBar := g.reporter()
	defer endBar()
	res, err := ingest.UpdateExposures(ctx, b, args[1], o.where, args[2:], ingest.Options{
		Processes: o.processes, FailFast: o.failFast, Progress: rep, Logger: g.log,
	})
	if err != nil {
		return err
	}
	if o.format != "table" {
		t := &table{cols: []string{"file", "error"}, left: true}
		for _, f := range res.Failures {
			t.add(nil, f.Path, f.Err.Error())
		}
		if err := renderValue(g.stdout, o.format, map[string]any{"exposures": res.Exposures, "changed": res.ExposuresWritten, "failed": len(res.Failures), "failures": t.records()}); err != nil {
			return err
		}
	} else {
		for _, f := range res.Failures {
			fmt.Fprintf(g.stderr, "failed: %s: %v\n", f.Path, f.Err)
		}
		if res.ExposuresWritten == 0 {
			fmt.Fprintf(g.stdout, "No exposure records were changed (%d exposure(s) read).\n", res.Exposures)
		} else {
			fmt.Fprintf(g.stdout, "Changed %d exposure record(s) of %d read.\n", res.ExposuresWritten, res.Exposures)
		}
	}
	if len(res.Failures) > 0 {
		return &partialError{fmt.Sprintf("some files could not be read (%d)", len(res.Failures))}
	}
	return nil
}
