package cli

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/spf13/cobra"
)

type queryDatasetsOptions struct {
	queryOptions
	findFirst   bool
	noFindFirst bool
	showURI     bool
}

func newQueryDatasetsCmd(g *globals) *cobra.Command {
	var o queryDatasetsOptions
	cmd := &cobra.Command{
		Use:   "query-datasets REPO [DATASET_TYPE...]",
		Short: "List datasets",
		Long: `List the datasets of the given types (names or globs; all types when none) in the
collections, one table per dataset type, with their full data IDs.`,
		Example: `  butler query-datasets REPO raw --collections LSSTCam/raw/all --where "exposure.day_obs = 20250415 AND detector IN (10..20)"`,
		Args:    cobra.MinimumNArgs(1),
		RunE:    func(c *cobra.Command, args []string) error { return runQueryDatasets(c.Context(), g, o, args) },
	}
	addQueryFlags(cmd, &o.queryOptions, -20000)
	cmd.Flags().BoolVar(&o.findFirst, "find-first", false, "only the first dataset found for each data ID, searching the collections in order")
	cmd.Flags().BoolVar(&o.noFindFirst, "no-find-first", false, "every matching dataset in every collection (default)")
	cmd.Flags().BoolVar(&o.showURI, "show-uri", false, "also show each dataset's file URI")
	return cmd
}

func runQueryDatasets(ctx context.Context, g *globals, o queryDatasetsOptions, args []string) error {
	o.findFirst = o.findFirst && !o.noFindFirst
	qs, err := o.start(ctx, g, args[0])
	if err != nil {
		return err
	}
	defer qs.b.Close()
	b := qs.b
	cols := splitList(o.collections)
	if len(cols) == 0 {
		cols = []string{"*"}
		if o.findFirst {
			return usagef("--find-first needs --collections (an ordered list, without globs)")
		}
		// Upstream's FutureWarnings, on stderr.
		fmt.Fprintln(g.stderr, "FutureWarning: No --collections specified.  The --collections argument will become mandatory after v28.")
	}
	if len(splitList(args[1:])) == 0 {
		fmt.Fprintln(g.stderr, "FutureWarning: No dataset types specified.  Explicitly specifying dataset types will become mandatory after v28. Specify '*' to match the current behavior of querying all dataset types.")
	}
	q := b.Query().Collections(cols...).Where(o.whereText(), qs.binds).FindFirst(o.findFirst).Limit(qs.fetch, 0).OrderBy(splitList(o.orderBy)...)
	if qs.dataID != nil {
		q = q.DataID(qs.dataID)
	}
	types := splitList(args[1:])
	if (o.format == "csv" || o.format == "json") && !o.showURI {
		return streamDatasets(ctx, g, q, types, o)
	}
	byType := map[string][]dataset.Ref{}
	var order []string
	n := 0
	err = each(q.Datasets(ctx, types...), func(r dataset.Ref) error {
		n++
		if n <= o.offset {
			return nil
		}
		if _, ok := byType[r.Type.Name]; !ok {
			order = append(order, r.Type.Name)
		}
		byType[r.Type.Name] = append(byType[r.Type.Name], r)
		return nil
	})
	if err != nil {
		return err
	}
	total := n - o.offset
	if qs.warn && total > -o.limit {
		fmt.Fprintln(g.stderr, datasetLimitWarning(o.limit))
		// drop the extra row fetched to detect truncation
		last := order[len(order)-1]
		byType[last] = byType[last][:len(byType[last])-1]
	}
	if total <= 0 {
		if o.format == "table" {
			// Upstream prints the blank line that closes its tables, and nothing else.
			fmt.Fprintln(g.stdout)
			for _, why := range b.ExplainNoDatasets(ctx, butler.DatasetSearch{Types: types, Collections: cols, Where: o.whereText(), Bind: qs.binds, DataID: qs.dataID}) {
				fmt.Fprintln(g.stderr, why)
			}
			return nil
		}
		return render(g.stdout, o.format, &table{})
	}
	var tables []*table
	for _, name := range order {
		refs := byType[name]
		if len(refs) == 0 {
			continue
		}
		grp := universeOrder(refs[0].Type.Dimensions)
		dims := grp.Names()
		t := &table{title: name, cols: append([]string{"type", "run", "id"}, dims...), raw: []map[string]any{}}
		if o.showURI {
			t.cols = append(t.cols, "URI")
		}
		var uris map[dataset.ID]string
		if o.showURI {
			ids := make([]dataset.ID, len(refs))
			for i, r := range refs {
				ids[i] = r.ID
			}
			if uris, err = b.URIs(ctx, ids); err != nil {
				return err
			}
		}
		seen := map[dataset.ID]bool{}
		for _, r := range refs {
			// As upstream's table: a dataset found in several collections
			// (a run and a tagged collection) is shown once.
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			cells := []any{r.Type.Name, r.Run, r.ID.String()}
			typed := map[string]any{"type": r.Type.Name, "run": r.Run, "id": r.ID.String()}
			did := map[string]any{}
			for _, d := range dims {
				cells = append(cells, r.DataID[d])
				did[d] = r.DataID[d]
			}
			typed["data_id"] = did
			if o.showURI {
				cells = append(cells, uris[r.ID])
				typed["uri"] = uris[r.ID]
			}
			t.add(typed, cells...)
		}
		if len(o.orderBy) == 0 {
			t.sortBy(append([]string{"type", "run"}, dataIDSortKeys(grp)...))
		}
		tables = append(tables, t)
	}
	sort.SliceStable(tables, func(i, j int) bool { return tables[i].title < tables[j].title })
	if o.format == "json" || o.format == "yaml" {
		// One flat list for scripts.
		all := &table{raw: []map[string]any{}}
		for _, t := range tables {
			all.raw = append(all.raw, t.records()...)
			all.rows = append(all.rows, t.rows...)
		}
		return render(g.stdout, o.format, all)
	}
	if o.format != "table" {
		return render(g.stdout, o.format, tables...)
	}
	// As upstream: a blank line before each table and one after the last.
	for _, t := range tables {
		fmt.Fprintln(g.stdout)
		writeText(g.stdout, t)
	}
	fmt.Fprintln(g.stdout)
	return nil
}

// datasetLimitWarning is upstream's warning when a negative --limit cut the
// listing short, as its log line reads.
func datasetLimitWarning(limit int) string {
	return fmt.Sprintf("lsst.daf.butler.script.queryDatasets WARNING: Requested limit of %d hit for number of datasets returned. Use --limit to increase this limit.", -limit)
}

// universeOrder sorts a group's required and implied dimensions in universe
// order, the order of upstream's data ID columns.
func universeOrder(g dimensions.Group) dimensions.Group {
	byIndex := func(es []*dimensions.Element) []*dimensions.Element {
		es = slices.Clone(es)
		sort.SliceStable(es, func(i, j int) bool { return es[i].Index() < es[j].Index() })
		return es
	}
	return dimensions.Group{Required: byIndex(g.Required), Implied: byIndex(g.Implied)}
}

// dataIDSortKeys are the columns upstream's sortAstropyTable sorts data IDs
// by: the required dimensions of spatial and temporal dimensions first, then
// the other dimensions, each once.
func dataIDSortKeys(g dimensions.Group) []string {
	dims := append(append([]*dimensions.Element{}, g.Required...), g.Implied...)
	var early, late []string
	for _, d := range dims {
		if d.Spatial != "" || d.Temporal != "" {
			for _, r := range d.Dimensions() {
				early = append(early, r.Name)
			}
		} else {
			late = append(late, d.Name)
		}
	}
	var keys []string
	seen := map[string]bool{}
	for _, k := range append(early, late...) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// streamDatasets prints CSV or JSON rows as the query yields them, so a listing
// of millions of datasets starts at once and uses bounded memory.
func streamDatasets(ctx context.Context, g *globals, q butler.Query, types []string, o queryDatasetsOptions) error {
	w := bufio.NewWriterSize(g.stdout, 1<<16)
	defer w.Flush()
	n, shown := 0, 0
	max := -1
	if o.limit < 0 {
		max = -o.limit
	} else if o.limit > 0 {
		max = o.limit
	}
	current := ""
	var dims, sorted []string
	if o.format == "json" {
		w.WriteString("[")
	}
	truncated := false
	// Each row is appended to line and written at once: a listing of
	// millions of datasets makes no per-row strings, slices or maps here.
	var line []byte
	err := each(q.Datasets(ctx, types...), func(r dataset.Ref) error {
		n++
		if n <= o.offset {
			return nil
		}
		if max >= 0 && shown >= max {
			truncated = true
			return nil
		}
		shown++
		line = line[:0]
		if r.Type.Name != current {
			current = r.Type.Name
			dims = r.Type.Dimensions.Names()
			sorted = slices.Sorted(slices.Values(dims)) // json.Marshal orders map keys
			if o.format == "csv" {
				if shown > 1 {
					line = append(line, '\n')
				}
				line = appendCSVRecord(line, append([]string{"type", "run", "id"}, dims...)...)
			}
		}
		if o.format == "csv" {
			line = appendCSVField(line, r.Type.Name)
			line = append(line, ',')
			line = appendCSVField(line, r.Run)
			line = append(line, ',')
			line = appendUUID(line, r.ID)
			for _, d := range dims {
				line = append(line, ',')
				line = appendCSVValue(line, r.DataID[d])
			}
			line = append(line, '\n')
			_, err := w.Write(line)
			return err
		}
		// As json.Marshal writes {"type", "run", "id", "data_id"}: keys sorted.
		if shown > 1 {
			line = append(line, ',')
		}
		line = append(line, "\n  {\"data_id\":{"...)
		for i, d := range sorted {
			if i > 0 {
				line = append(line, ',')
			}
			line = appendJSONString(line, d)
			line = append(line, ':')
			var err error
			if line, err = appendJSONValue(line, r.DataID[d]); err != nil {
				return err
			}
		}
		line = append(line, "},\"id\":\""...)
		line = appendUUID(line, r.ID)
		line = append(line, "\",\"run\":"...)
		line = appendJSONString(line, r.Run)
		line = append(line, ",\"type\":"...)
		line = appendJSONString(line, r.Type.Name)
		line = append(line, '}')
		_, err := w.Write(line)
		return err
	})
	if o.format == "json" {
		if shown > 0 {
			w.WriteString("\n")
		}
		w.WriteString("]\n")
	}
	if truncated && o.limit < 0 {
		fmt.Fprintln(g.stderr, datasetLimitWarning(o.limit))
	}
	if err != nil {
		return err
	}
	return w.Flush()
}
