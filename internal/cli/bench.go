package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/rawgen"
	"github.com/spf13/cobra"
)

type benchOptions struct {
	exposures, detectors, processes int
	transfer, dir, raws             string
	keep                            bool
	format                          string
}

func newBenchCmd(g *globals) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the butler on this machine (repository create, raw ingest vs. reading headers alone)",
		Long: `Measure, in one run: creating a repository; reading and translating the headers of
synthetic raws alone (the physical limit of an ingest); then ingest-raws of the same
files into a fresh SQLite repository. Raws are generated first unless --raws names them.`,
		Example: "  butler bench --exposures 488 --detectors -1 --processes 4   # 100,040 LSSTCam raws",
		Args:    cobra.NoArgs,
		RunE:    func(c *cobra.Command, args []string) error { return runBench(c.Context(), g, o) },
	}
	f := cmd.Flags()
	f.IntVar(&o.exposures, "exposures", 10, "LSSTCam exposures to generate")
	f.IntVar(&o.detectors, "detectors", -1, "detectors per exposure (-1: all 205)")
	f.IntVarP(&o.processes, "processes", "j", 4, "parallel header readers, as ingest-raws --processes")
	f.StringVar(&o.transfer, "transfer", "symlink", "ingest transfer mode")
	f.StringVar(&o.dir, "dir", "", "work directory (default: a temporary one, removed afterwards)")
	f.StringVar(&o.raws, "raws", "", "existing raw files to use instead of generating them")
	f.BoolVar(&o.keep, "keep", false, "keep the work directory")
	addFormatFlag(cmd, &o.format)
	cmd.AddCommand(newBenchQueryCmd(g), newBenchServeCmd(g), newBenchPlotCmd(g))
	return cmd
}

func runBench(ctx context.Context, g *globals, o benchOptions) error {
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "butler-bench-")
		if err != nil {
			return err
		}
		dir = d
	}
	if !o.keep && o.dir == "" {
		defer os.RemoveAll(dir)
	}
	out := map[string]any{"cpus": runtime.NumCPU(), "processes": o.processes, "transfer": o.transfer}
	raws := o.raws
	if raws == "" {
		raws = filepath.Join(dir, "raws")
		opts := rawgen.Options{Instrument: rawgen.LSSTCam, Exposures: o.exposures, Seed: 1}
		if o.detectors < 0 {
			opts.Detectors = rawgen.AllDetectors(rawgen.LSSTCam)
		} else if o.detectors > 0 {
			all := rawgen.AllDetectors(rawgen.LSSTCam)
			for i := 0; i < o.detectors && i < len(all); i++ {
				opts.Detectors = append(opts.Detectors, all[i*len(all)/o.detectors])
			}
		}
		t0 := time.Now()
		n, err := rawgen.Generate(ctx, raws, opts, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stderr, "generated %d raws in %.1fs\n", n, time.Since(t0).Seconds())
	}
	repo := filepath.Join(dir, "repo")
	t0 := time.Now()
	if _, err := butler.Create(ctx, repo, butler.CreateOptions{}); err != nil {
		return err
	}
	out["create_ms"] = float64(time.Since(t0).Microseconds()) / 1000
	b, err := butler.Open(ctx, repo, butler.OpenOptions{Writeable: true, Logger: g.log})
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := ingest.RegisterInstrument(ctx, b, "lsst.obs.lsst.LsstCam", false); err != nil {
		return err
	}
	sr, err := ingest.ReadHeaders(ctx, []string{raws}, ingest.Options{Processes: o.processes})
	if err != nil {
		return err
	}
	out["files"] = sr.Files
	out["headers_only_files_per_s"] = float64(sr.Files) / sr.Elapsed.Seconds()
	res, err := ingest.Raws(ctx, b, []string{raws}, ingest.Options{Transfer: o.transfer, Processes: o.processes})
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out["ingested"] = res.Ingested
	out["failed"] = len(res.Failures)
	out["ingest_seconds"] = res.Elapsed.Seconds()
	out["ingest_files_per_s"] = res.FilesPerSecond()
	out["ingest_vs_limit"] = res.FilesPerSecond() / out["headers_only_files_per_s"].(float64)
	out["heap_sys_mib"] = float64(ms.HeapSys) / (1 << 20)
	if o.format != "table" {
		return renderValue(g.stdout, o.format, out)
	}
	fmt.Fprintf(g.stdout, "create:        %.1f ms\n", out["create_ms"])
	fmt.Fprintf(g.stdout, "headers alone: %d files, %.0f files/s (%d readers)\n", sr.Files, out["headers_only_files_per_s"], o.processes)
	fmt.Fprintf(g.stdout, "ingest-raws:   %d files, %.0f files/s (%.0f%% of the header-reading limit), %.1f s\n", res.Ingested, res.FilesPerSecond(), 100*out["ingest_vs_limit"].(float64), res.Elapsed.Seconds())
	fmt.Fprintf(g.stdout, "heap:          %.0f MiB\n", out["heap_sys_mib"])
	return nil
}
