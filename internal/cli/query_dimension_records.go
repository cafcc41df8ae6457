package cli

import (
	"context"
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
		g.log.Warn("--no-check does nothing (as upstream, where it is deprecated)")
	}
	cols := splitList(o.collections)
	if len(o.datasets) > 0 && len(cols) == 0 {
		return usagef("--datasets needs --collections")
	}
	if err := checkFormat(o.format); err != nil {
		return err
	}
	binds, err := o.bindMap()
	if err != nil {
		return err
	}
	dataID, err := parseDataID(o.dataID)
	if err != nil {
		return err
	}
	b, err := g.open(ctx, args[0], false)
	if err != nil {
		return err
	}
	defer b.Close()
	fetch, warn := effectiveLimit(o.limit)
	if fetch > 0 {
		fetch += o.offset
	}
	t := &table{}
	n := 0
	search := butler.RecordSearch{Element: args[1], Where: o.whereText(), Bind: binds, DataID: dataID, Limit: fetch, OrderBy: splitList(o.orderBy),
		Datasets: splitList(o.datasets), Collections: cols}
	err = b.QueryRecords(ctx, search, func(r dimensions.Record) error {
		n++
		if n <= o.offset {
			return nil
		}
		if t.cols == nil {
			t.cols = recordColumns(r)
		}
		t.addRow(func(col string) any { return recordValue(r, col) })
		return nil
	})
	if err != nil {
		return err
	}
	if err := o.print(g, t, warn); err != nil || len(t.rows) > 0 || o.format != "table" {
		return err
	}
	for _, why := range b.ExplainNoRecords(ctx, search) {
		fmt.Fprintln(g.stderr, why)
	}
	return nil
}

// recordColumns lists a record's fields in table order, timespans split in two.
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

func recordValue(r dimensions.Record, col string) any {
	if col == "timespan (TAI)" {
		ts, ok := r.Values["timespan"].(timespan.Timespan)
		if !ok {
			return nil
		}
		return ts.String()
	}
	return r.Values[col]
}
