package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/spf13/cobra"
)

// ingestTarget is the open repository ingest works on.
type ingestTarget = *butler.Butler

type ingestRawsOptions struct {
	regex, outputRun, transfer string
	processes, batch           int
	noTrackFileAttrs, failFast bool
	updateRecords              bool
	noSkipExisting             bool
	configs                    []string
	configFile                 string
	format                     string
}

func newIngestRawsCmd(g *globals) *cobra.Command {
	var o ingestRawsOptions
	cmd := &cobra.Command{
		Use:   "ingest-raws REPO LOCATIONS...",
		Short: "Ingest raw camera files (LSSTCam, LSSTComCam, LATISS) as raw datasets",
		Long: `Read the headers of the raw files under LOCATIONS (files or directories, walked
recursively), write their exposure, group and day_obs records and ingest them as "raw"
datasets in <INSTRUMENT>/raw/all (or --output-run). A metadata sidecar <name>.json beside a
file is used instead of its header. Files already ingested are skipped, so re-running is
safe. Exit status 3 when some files failed (the others are ingested).`,
		Example: "  butler ingest-raws --transfer symlink --processes 4 REPO /data/raw",
		Args:    cobra.MinimumNArgs(2),
		RunE:    func(c *cobra.Command, args []string) error { return runIngestRaws(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.regex, "regex", ingest.DefaultRegex, "file names to ingest while walking directories (regular expression search)")
	f.StringVar(&o.outputRun, "output-run", "", "RUN collection (default <INSTRUMENT>/raw/all)")
	f.StringVarP(&o.transfer, "transfer", "t", "auto", "auto, link, symlink, hardlink, copy, move, relsymlink or direct")
	f.IntVarP(&o.processes, "processes", "j", 1, "files whose headers are read in parallel")
	f.Bool("track-file-attrs", true, "record file sizes (default)")
	f.BoolVar(&o.noTrackFileAttrs, "no-track-file-attrs", false, "do not record file sizes")
	f.BoolVar(&o.failFast, "fail-fast", false, "stop at the first bad file; nothing of its batch is committed")
	f.BoolVar(&o.updateRecords, "update-records", false, "overwrite exposure/group/day_obs records that differ")
	f.Bool("skip-existing", true, "skip raws already ingested (default)")
	f.BoolVar(&o.noSkipExisting, "no-skip-existing", false, "an already-ingested raw is an error")
	f.StringArrayVarP(&o.configs, "config", "c", nil, "task config override KEY=VALUE (transfer, failFast)")
	f.StringVarP(&o.configFile, "config-file", "C", "", "file of task config overrides, one KEY=VALUE (or config.KEY=VALUE) per line")
	f.IntVar(&o.batch, "batch-size", 2000, "files per database transaction")
	addFormatFlag(cmd, &o.format)
	return cmd
}

func runIngestRaws(ctx context.Context, g *globals, o ingestRawsOptions, args []string) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	if o.configFile != "" {
		data, err := os.ReadFile(o.configFile)
		if err != nil {
			return fmt.Errorf("read --config-file: %w", err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			line = strings.TrimPrefix(strings.ReplaceAll(line, " ", ""), "config.")
			if !strings.Contains(line, "=") {
				return usagef("--config-file %s line %d: want KEY=VALUE, got %q", o.configFile, i+1, line)
			}
			o.configs = append([]string{strings.Trim(line, "\"'")}, o.configs...)
		}
	}
	for _, kv := range o.configs {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return usagef("-c %q: want KEY=VALUE", kv)
		case k == "transfer":
			o.transfer = strings.Trim(v, "\"'")
		case k == "failFast":
			o.failFast = strings.EqualFold(v, "true")
		default:
			return usagef("-c %q: unknown config key (known: transfer, failFast)", kv)
		}
	}
	o.transfer = strings.ToLower(o.transfer)
	if err := butler.CheckTransferMode(o.transfer); err != nil {
		return usagef("--transfer: %v", err)
	}
	if o.processes < 1 {
		return usagef("--processes must be at least 1")
	}
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	rep, endBar := g.reporter()
	defer endBar()
	res, err := ingest.Raws(ctx, b, args[1:], ingest.Options{
		Transfer: o.transfer, Processes: o.processes, Run: o.outputRun, Regex: o.regex, NoFileAttrs: o.noTrackFileAttrs,
		FailFast: o.failFast, UpdateRecords: o.updateRecords, NoSkipExisting: o.noSkipExisting, BatchSize: o.batch,
		Progress: rep, Logger: g.log,
	})
	summary := fmt.Sprintf("Ingested %d, skipped %d, failed %d file(s) of %d exposure(s) in %.2fs (%.0f files/s).",
		res.Ingested, res.Skipped, len(res.Failures), res.Exposures, res.Elapsed.Seconds(), res.FilesPerSecond())
	if err != nil {
		summary += " Stopped early by the error below; files not listed were not ingested."
	}
	if o.format != "table" {
		t := &table{cols: []string{"file", "error"}, left: true}
		for _, f := range res.Failures {
			t.add(nil, f.Path, f.Err.Error())
		}
		out := map[string]any{"ingested": res.Ingested, "skipped": res.Skipped, "failed": len(res.Failures), "exposures": res.Exposures,
			"seconds": res.Elapsed.Seconds(), "files_per_second": res.FilesPerSecond(), "failures": t.records()}
		if rerr := renderValue(g.stdout, o.format, out); rerr != nil {
			return rerr
		}
	} else {
		for _, f := range res.Failures {
			fmt.Fprintf(g.stderr, "failed: %s: %v\n", f.Path, f.Err)
		}
		fmt.Fprintln(g.stdout, summary)
	}
	if err != nil {
		return err
	}
	if len(res.Failures) > 0 {
		return &partialError{fmt.Sprintf("some files could not be ingested (%d of %d)", len(res.Failures), res.Ingested+res.Skipped+len(res.Failures))}
	}
	return nil
}
