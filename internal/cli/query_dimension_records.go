package cli

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/timespan"
	"github.com/spf13/cobra"
)

type queryDimensionRecordsOptions struct {
	queryOptions
	datasets []string
	noCheck  bool
}

func newQueryDimensionRecordsCmd(g *globals) *cobra.Command {
	var o queryDimensionRecordsOptions
	cmd := &cobra.Command{
		Use:     "query-dimension-records REPO ELEMENT",
		Short:   "List the records of a dimension element (instrument, detector, exposure...)",
		Example: `  butler query-dimension-records REPO exposure --where "instrument='LSSTCam' AND day_obs=20250415"`,
		Args:    cobra.ExactArgs(2),
		RunE:    func(c *cobra.Command, args []string) error { return runQueryDimensionRecords(c.Context(), g, o, args) },
	}
	addQueryFlags(cmd, &o.queryOptions, -20000)
	cmd.Flags().StringArrayVar(&o.datasets, "datasets", nil, "only records that datasets of these types (in --collections) refer to")
	cmd.Flags().BoolVar(&o.noCheck, "no-check", false, "accepted for compatibility; does nothing")
	return cmd
}

func runQueryDimensionRecords(ctx context.Context, g *globals, o queryDimensionRecordsOptions, args []string) error {
	if o.noCheck {
		fmt.Fprintln(g.stdout, "WARNING: --no-check option has no effect and will be removed after v28.") // upstream's words, on stdout
	}
	cols := splitList(o.collections)
	if len(o.datasets) > 0 && len(cols) == 0 {
		cols = []string{"*"} // as upstream
	}
	qs, err := o.start(ctx, g, args[0])
	if err != nil {
		return err
	}
	defer qs.b.Close()
	b := qs.b
	t := &table{raw: []map[string]any{}}
	n := 0
	search := butler.RecordSearch{Element: args[1], Where: o.whereText(), Bind: qs.binds, DataID: qs.dataID, Limit: qs.fetch, OrderBy: splitList(o.orderBy),
		Datasets: splitList(o.datasets), Collections: cols}
	err = b.QueryRecords(ctx, search, func(r dimensions.Record) error {
		n++
		if n <= o.offset {
			return nil
		}
		if t.cols == nil {
			t.cols = recordColumns(r)
		}
		cells := make([]any, len(t.cols))
		csvCells := make([]any, len(t.cols))
		typed := make(map[string]any, len(t.cols))
		for i, c := range t.cols {
			cells[i], csvCells[i] = recordCell(r, c), r.Values[c]
			if ts, ok := r.Values["timespan"].(timespan.Timespan); ok && c == "timespan (TAI)" {
				csvCells[i] = ts.String() // nanoseconds: [begin, end)
			}
			k, v := recordJSON(r, c)
			typed[k] = v
		}
		t.add(typed, cells...)
		t.csv = append(t.csv, csvCells)
		return nil
	})
	if err != nil {
		return err
	}
	var keys []string
	if e, ok := b.Universe.Element(args[1]); ok {
		for _, d := range e.Required {
			keys = append(keys, d.Name)
		}
		if e.IsDimension() {
			keys = append(keys, e.PrimaryKey().Name)
		}
	}
	return o.finish(g, qs, "queryDimensionRecords", t, keys, true, func() []string { return b.ExplainNoRecords(ctx, search) })
}

// recordColumns lists a record's fields in upstream's order (required
// dimensions, the primary key, implied dimensions, alternate keys, metadata,
// region, timespan), the timespan's header saying its scale.
func recordColumns(r dimensions.Record) []string {
	e := r.Element
	var cols []string
	for _, d := range e.Required {
		cols = append(cols, d.Name)
	}
	if e.IsDimension() {
		cols = append(cols, e.PrimaryKey().Name)
	}
	for _, d := range e.Implied {
		cols = append(cols, d.Name)
	}
	if e.IsDimension() {
		for _, k := range e.Keys[1:] {
			cols = append(cols, k.Name)
		}
	}
	for _, m := range e.Metadata {
		cols = append(cols, m.Name)
	}
	if e.Spatial != "" {
		cols = append(cols, "region")
	}
	if e.Temporal != "" {
		cols = append(cols, "timespan (TAI)")
	}
	return cols
}

// recordCell is a record's field as upstream's queryDimensionRecords shows
// it: regions "(elided)", timespans as Timespan's str, bytes as 0x-hex.
func recordCell(r dimensions.Record, col string) any {
	switch col {
	case "timespan (TAI)":
		ts, ok := r.Values["timespan"].(timespan.Timespan)
		if !ok {
			return nil
		}
		return timespanText(ts)
	case "region":
		if v := r.Values["region"]; v != nil {
			return "(elided)"
		}
		return nil
	}
	return r.Values[col]
}

// recordJSON is a record's field in JSON and YAML: regions as
// {"encoded": hex, "pos": IVOA POS text}, timespans as {"begin", "end"} TAI
// ISO times with nanoseconds (null when unbounded), bytes as hex.
func recordJSON(r dimensions.Record, col string) (string, any) {
	switch col {
	case "timespan (TAI)":
		ts, ok := r.Values["timespan"].(timespan.Timespan)
		if !ok {
			return "timespan", nil
		}
		return "timespan", timespanJSON(ts)
	case "region":
		b, ok := r.Values["region"].([]byte)
		if !ok {
			return col, nil
		}
		return col, regionJSON(b)
	}
	if b, ok := r.Values[col].([]byte); ok {
		return col, hex.EncodeToString(b)
	}
	return col, r.Values[col]
}
