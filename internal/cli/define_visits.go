package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/spf13/cobra"
)

type defineVisitsOptions struct {
	configFile           string
	configs              []string
	collections          []string
	where                string
	updateRecords        bool
	incremental          bool
	skipConflicting      bool
	prefilter            bool
	checkDetectorRegions bool
	batch                int
	format               string
}

// negatable registers --name and --no-name (upstream's click "--x/--no-x"
// switches); the --no- form wins when both are given.
type negatable struct {
	name string
	on   *bool
	off  bool
}

func newDefineVisitsCmd(g *globals) *cobra.Command {
	var o defineVisitsOptions
	var switches []*negatable
	cmd := &cobra.Command{
		Use:   "define-visits REPO INSTRUMENT",
		Short: "Define visits from exposures.",
		Long: `Define visits from exposures in the butler registry.

Groups the on-sky exposures of INSTRUMENT (its registry name, LSSTCam, or class
name, lsst.obs.lsst.LsstCam) into visits and writes their visit, visit_definition,
visit_system_membership and visit_detector_region records, with sky regions from the
nominal camera geometry and each exposure's boresight and rotation. Raw files are not
needed. Re-running is a no-op; a visit already defined differently is an error unless
--update-records, --incremental or --skip-conflicting.

The calibration collection containing the camera geometry can not be specified: the
nominal camera geometry is always used (--collections is accepted and unused).

Config fields for -C/-c (as obs_base's DefineVisitsConfig): groupExposures.name
(one-to-one, by-group-metadata, one-to-one-and-by-counter; default one-to-one),
computeVisitRegions.active.padding (pixels; default 250, LATISS 4000),
computeVisitRegions.active.mergeExposures, ignoreNonScienceExposures.`,
		Example: "  butler define-visits REPO lsst.obs.lsst.LsstCam\n" +
			"  butler define-visits REPO LSSTCam --where \"exposure.day_obs = 20250415\" -c groupExposures.name=one-to-one-and-by-counter",
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			for _, s := range switches {
				if s.off {
					*s.on = false
				}
			}
			return runDefineVisits(c.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.configFile, "config-file", "C", "", "Path to a pex config override to be included after the Instrument config overrides are applied.")
	f.StringArrayVarP(&o.configs, "config", "c", nil, "Config override, as FIELD=VALUE, applied after --config-file (e.g. groupExposures.name=one-to-one-and-by-counter).")
	f.StringSliceVar(&o.collections, "collections", nil, "The collections to be searched (in order) for camera geometry.")
	f.StringVar(&o.where, "where", "", "A string expression similar to a SQL WHERE clause.")
	for _, s := range []struct {
		name, help, noHelp string
		dst                *bool
	}{
		{"update-records", "Use this option to force updates to the visit definition record. Should only be used if you know that there has been a change to the exposure records, such as a change to the metadata translator.", "", &o.updateRecords},
		{"incremental", "Use this option to force updates to the visit definition record when multi-snap visits are being ingested incrementally and so you might encounter partial visits.  Implies --update-records.", "", &o.incremental},
		{"skip-conflicting", "Use this option to skip over any visits that are currently defined with a different value and you are not sure whether to accept the new value. Ignored if incremental or update mode is enabled.", "", &o.skipConflicting},
		{"prefilter", "Whether to filter out exposures that are already associated with a visit before computing the visits they would be associated with now.  This is incompatible with --update-records and --incremental.", "", &o.prefilter},
		{"check-detector-regions", "Whether to check that already-defined visits have the full set of detector regions defined, in order to insert missing ones.", "", &o.checkDetectorRegions},
	} {
		n := &negatable{name: s.name, on: s.dst}
		switches = append(switches, n)
		f.BoolVar(s.dst, s.name, false, s.help)
		f.BoolVar(&n.off, "no-"+s.name, false, "(default) the opposite of --"+s.name+".")
	}
	f.IntVar(&o.batch, "batch-size", butler.DefaultVisitBatch, "visits written per database transaction")
	addFormatFlag(cmd, &o.format)
	return cmd
}

func runDefineVisits(ctx context.Context, g *globals, o defineVisitsOptions, args []string) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	if o.prefilter && (o.updateRecords || o.incremental) {
		return usagef("--prefilter cannot be used with --update-records or --incremental")
	}
	if o.batch < 1 {
		return usagef("--batch-size must be at least 1")
	}
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	rep, endBar := g.reporter()
	defer endBar()
	res, err := b.DefineVisits(ctx, args[1], butler.DefineVisitsOptions{
		Where: o.where, Collections: o.collections, UpdateRecords: o.updateRecords, Incremental: o.incremental,
		SkipConflicting: o.skipConflicting, Prefilter: o.prefilter, CheckDetectorRegions: o.checkDetectorRegions,
		ConfigFile: o.configFile, Config: o.configs, BatchSize: o.batch, Progress: rep,
	})
	if err != nil {
		return err
	}
	if o.format != "table" {
		return renderValue(g.stdout, o.format, map[string]any{
			"instrument": res.Instrument, "algorithm": res.Algorithm, "exposures": res.Exposures, "not_on_sky": res.NotOnSky,
			"filtered": res.Filtered, "visits": res.Visits, "unchanged": res.Skipped, "new": res.New,
			"updated_with_regions": res.FullyUpdated, "updated_without_regions": res.PartiallyUpdated,
			"detector_regions": res.DetectorRegions, "seconds": res.Elapsed.Seconds(),
		})
	}
	if res.Exposures == 0 {
		fmt.Fprintf(g.stdout, "No on-sky exposures of %s found (%d not on sky, %d already in visits).\n", res.Instrument, res.NotOnSky, res.Filtered)
		return nil
	}
	fmt.Fprintf(g.stdout, "Defined %d visit(s) of %s from %d exposure(s) (%s): %d left unchanged, %d new, %d updated with new detector regions, %d updated without new detector regions; %d detector region(s) written.\n",
		res.Visits, res.Instrument, res.Exposures, res.Algorithm, res.Skipped, res.New, res.FullyUpdated, res.PartiallyUpdated, res.DetectorRegions)
	return nil
}
