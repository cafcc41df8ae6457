package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gobutler/butler/internal/serveload"
	"github.com/spf13/cobra"
)

type benchServeOptions struct {
	o                   serveload.Options
	mix, format, binary string
}

func newBenchServeCmd(g *globals) *cobra.Command {
	var bo benchServeOptions
	o := &bo.o
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Load-test `butler serve` on loopback: many clients, a mixed workload, a large registry",
		Long: `Build a registry-only LSSTCam raw repository (as 'butler bench query'; an existing one
at --repo is reused) with a few small datasets with files beside, start 'butler serve' on
127.0.0.1 in its own process with one token per client, and run --clients concurrent
clients for --duration: find_dataset of one raw, the raws of one exposure
(query/all_datasets), and downloads (get_file, then the signed URL). Reports requests/s,
p50/p99 latency and errors per route, 429/503 refusals, and the server's RSS and CPU
over time. The clients run in this process and share the machine with the server.

Without --rate each client sends its next request when the last is answered (a closed
loop: the throughput the server sustains). With --rate N the clients together send N
operations per second on a fixed schedule (an open loop, as wrk2), and each latency
counts from the request's scheduled time, so requests delayed behind a slow one are
charged for the wait; "late" counts those sent behind schedule. The warm-up's rate ramps
up from a tenth of --rate, so the measured run starts from the steady state, not from
the backlog of every client connecting at once.`,
		Example: `  butler bench serve --repo /tmp/bs1m --db postgresql://localhost:5432/butler --namespace bs1m
  butler bench serve --repo /tmp/bs --exposures 100 --clients 64 --duration 10s --mix find=100
  butler bench serve --repo /tmp/bs1m --rate 5000 --mix find=100`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error { return runBenchServe(c.Context(), g, bo) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Repo, "repo", "", "repository root (required; built unless it already holds a repository)")
	f.StringVar(&o.DB, "db", "", "registry database URL of a new repository (postgresql://HOST:PORT/DB; credentials from db-auth); default SQLite")
	f.StringVar(&o.Namespace, "namespace", "", "PostgreSQL schema of the registry (with --db)")
	f.IntVar(&o.Exposures, "exposures", 5000, "exposures of a new repository (× --detectors raws)")
	f.IntVar(&o.Detectors, "detectors", 205, "detectors per exposure (at most 205)")
	f.IntVar(&o.PerNight, "per-night", 250, "exposures per observing day")
	f.IntVar(&o.Batch, "batch", 50000, "datasets per import transaction")
	f.IntVar(&o.Files, "files", 200, "small datasets with files, for downloads")
	f.IntVar(&o.Clients, "clients", 500, "concurrent clients")
	f.DurationVar(&o.Duration, "duration", 30*time.Second, "length of the measured run")
	f.DurationVar(&o.Warmup, "warmup", 5*time.Second, "the same load before the measured run, its latencies reported apart (connections being set up; with --rate the rate ramps up from a tenth over it); negative: none")
	f.Float64Var(&o.Rate, "rate", 0, "open loop: operations per second offered in all, on a fixed schedule over the clients, latency from the scheduled time (default: closed loop, as fast as answered)")
	f.StringVar(&bo.mix, "mix", "find=90,query=5,download=5", "weights of the operations")
	f.StringVar(&bo.binary, "binary", "", "butler binary whose serve is measured (default: this executable)")
	f.StringArrayVar(&o.ServeArgs, "serve-arg", nil, "extra argument of 'butler serve' (repeatable)")
	cmd.MarkFlagRequired("repo")
	addFormatFlag(cmd, &bo.format)
	return cmd
}

func runBenchServe(ctx context.Context, g *globals, bo benchServeOptions) error {
	if err := checkFormat(bo.format); err != nil {
		return err
	}
	o := bo.o
	for _, kv := range strings.Split(bo.mix, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return usagef("--mix %q: want find=N,query=N,download=N", bo.mix)
		}
		switch k {
		case "find":
			o.Find = n
		case "query":
			o.Query = n
		case "download":
			o.Download = n
		default:
			return usagef("--mix %q: %q is not find, query or download", bo.mix, k)
		}
	}
	if o.Find+o.Query+o.Download == 0 {
		return usagef("--mix %q: all weights are zero", bo.mix)
	}
	o.Binary = bo.binary
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the butler executable: %w", err)
		}
		o.Binary = exe
	}
	o.Logger, o.Progress = g.log, g.stderr
	rep, err := serveload.Run(ctx, o)
	if err != nil {
		return err
	}
	if bo.format != "table" {
		return renderValue(g.stdout, bo.format, rep)
	}
	loop := "closed loop"
	if rep.Rate > 0 {
		loop = fmt.Sprintf("open loop at %.0f/s offered, %d sent late", rep.Rate, rep.Late)
	}
	fmt.Fprintf(g.stdout, "%d clients (%s) for %.1f s after %.0f s of warm-up over %d raws (%s), %d CPUs; server CPU %.1f s, load generator CPU %.1f s\n\n",
		rep.Clients, loop, rep.Seconds, rep.Warmup, rep.Datasets, rep.DB, rep.CPUs, rep.ServerCPU, rep.LoadCPU)
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "route\trequests\treq/s\tp50 ms\tp99 ms\tmax ms\terrors\t429/503\twarm-up p99 ms\t")
	for _, r := range rep.Routes {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%.2f\t\n", r.Route, r.Requests, r.PerSecond, r.P50MS, r.P99MS, r.MaxMS, r.Errors, r.Refused, r.WarmupP99MS)
	}
	tw.Flush()
	fmt.Fprint(g.stdout, "\nserver RSS (MiB) over time:")
	for i, s := range rep.Samples {
		if i%5 == 0 || i == len(rep.Samples)-1 {
			fmt.Fprintf(g.stdout, " %.0fs:%.0f", s.Seconds, s.RSSMiB)
		}
	}
	fmt.Fprintln(g.stdout)
	if rep.FindsPerQuery > 0 {
		fmt.Fprintf(g.stdout, "finds per database query: %.2f\n", rep.FindsPerQuery)
	}
	for _, e := range rep.Errors {
		fmt.Fprintln(g.stdout, "error:", e)
	}
	if rep.ServerLogErrors > 0 {
		fmt.Fprintf(g.stdout, "server logged %d errors\n", rep.ServerLogErrors)
	}
	return nil
}
