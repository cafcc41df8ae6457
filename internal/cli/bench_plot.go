package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"

	"github.com/gobutler/butler/internal/plot"
	"github.com/spf13/cobra"
)

func newBenchPlotCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "plot OUT.png RESULT.json...",
		Short: "Plot query time against repository size from `bench query --format json` results",
		Long: `Read the JSON results of several 'butler bench query --format json' runs (one per
repository size) and draw each query's time against the number of datasets, log-log,
as a PNG: in-process on the left, the real binary on the right. A flat line is a
query whose cost does not grow with the repository; the listing grows linearly.`,
		Example: `  for n in 5 49 489 4890 48900; do
    butler bench query --exposures $n --repo /tmp/bq$n --format json > bq$n.json
  done
  butler bench plot curve.png bq*.json`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error { return runBenchPlot(g, args[0], args[1:]) },
	}
}

// benchResult is the part of a bench query result the plot reads.
type benchResult struct {
	Build *struct {
		Datasets int `json:"datasets"`
	} `json:"build"`
	Queries []benchQueryCase `json:"queries"`
}

func runBenchPlot(g *globals, out string, files []string) error {
	type run struct {
		n       float64
		queries []benchQueryCase
	}
	var runs []run
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r benchResult
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: not a bench query JSON result: %w", f, err)
		}
		n := 0
		if r.Build != nil {
			n = r.Build.Datasets
		}
		for _, q := range r.Queries {
			if q.Name == listingCase && n == 0 {
				n = q.Rows
			}
		}
		if n <= 0 {
			return fmt.Errorf("%s: no dataset count (neither build.datasets nor the %q query's rows)", f, listingCase)
		}
		runs = append(runs, run{float64(n), r.Queries})
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].n < runs[j].n })
	var names []string
	for _, r := range runs {
		for _, q := range r.queries {
			if !slices.Contains(names, q.Name) {
				names = append(names, q.Name)
			}
		}
	}
	panel := func(title string, ms func(benchQueryCase) float64) plot.Panel {
		p := plot.Panel{Title: title, XLabel: "datasets in the repository", YLabel: "ms (median)"}
		for _, name := range names {
			s := plot.Series{Name: name}
			for _, r := range runs {
				for _, q := range r.queries {
					if q.Name == name && ms(q) > 0 {
						s.Points = append(s.Points, plot.Point{X: r.n, Y: ms(q)})
					}
				}
			}
			p.Series = append(p.Series, s)
		}
		return p
	}
	var buf bytes.Buffer
	err := plot.WritePNG(&buf, []plot.Panel{
		panel("in process", func(q benchQueryCase) float64 { return q.InMS }),
		panel("butler binary (wall)", func(q benchQueryCase) float64 { return q.BinMS }),
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "wrote %s: %d queries × %d sizes\n", out, len(names), len(runs))
	return nil
}
