package cli

import (
	"context"
	"io"
	"iter"

	"fmt"
	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"strconv"
	"strings"

	"github.com/gobutler/butler/dimensions"
	"github.com/spf13/cobra"
)

// queryOptions are shared by the query commands.
type queryOptions struct {
	collections []string
	where       []string
	binds       []string
	limit       int
	offset      int
	format      string
	dataID      []string
	orderBy     []string
}

func addQueryFlags(cmd *cobra.Command, o *queryOptions, defLimit int) {
	f := cmd.Flags()
	f.StringArrayVar(&o.collections, "collections", nil, "collections to search, in order (comma-separated, repeatable; globs without --find-first)")
	f.StringArrayVar(&o.where, "where", nil, "a where expression, e.g. \"instrument='LSSTCam' AND exposure.day_obs=20250415\" (repeatable: ANDed)")
	f.StringArrayVar(&o.binds, "bind", nil, "NAME=VALUE bound to :NAME in --where (repeatable)")
	f.IntVar(&o.limit, "limit", defLimit, "at most this many results; negative: at most -N and warn when there are more; 0: no limit")
	f.IntVar(&o.offset, "offset", 0, "skip this many results first")
	f.StringArrayVar(&o.dataID, "data-id", nil, "constrain a dimension, KEY=VALUE (repeatable)")
	f.StringArrayVar(&o.orderBy, "order-by", nil, "order by these fields, e.g. exposure.timespan.begin or -detector (descending); comma-separated, repeatable")
	addFormatFlag(cmd, &o.format)
}

func (o *queryOptions) whereText() string {
	var parts []string
	for _, w := range o.where {
		if strings.TrimSpace(w) != "" {
			parts = append(parts, w)
		}
	}
	if len(parts) == 1 {
		return parts[0] // as typed, so error columns match what the user wrote
	}
	for i, p := range parts {
		parts[i] = "(" + p + ")"
	}
	return strings.Join(parts, " AND ")
}

func (o *queryOptions) bindMap() (map[string]any, error) {
	m := map[string]any{}
	for _, b := range o.binds {
		k, v, ok := strings.Cut(b, "=")
		if !ok || k == "" {
			return nil, usagef("--bind %q: want NAME=VALUE", b)
		}
		m[k] = parseScalar(v)
	}
	return m, nil
}

func parseScalar(v string) any {
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	return v
}

func parseDataID(kvs []string) (dimensions.DataID, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	d := dimensions.DataID{}
	for _, kv := range splitList(kvs) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("data ID item %q: want KEY=VALUE", kv)
		}
		d[strings.TrimSpace(k)] = parseScalar(strings.TrimSpace(v))
	}
	return d, nil
}

// effectiveLimit turns the CLI limit into (fetch this many, warn if more).
func effectiveLimit(limit int) (int, bool) {
	switch {
	case limit < 0:
		return -limit + 1, true
	case limit == 0:
		return 0, false
	}
	return limit, false
}

// limitWarning is upstream's warning when a negative --limit cut the data IDs
// or records short, as its log line reads ("{name} {levelname}: {message}");
// script is the upstream module that logs it (queryDataIds, queryDimensionRecords).
func limitWarning(script string, limit int) string {
	return fmt.Sprintf("lsst.daf.butler.script.%s WARNING: More data IDs are available than the request limit of %d", script, -limit)
}

// refSearchOptions are the dataset-selection flags of commands that act on the
// datasets they find (associate, retrieve-artifacts, transfer-datasets), as
// upstream's query_datasets_options with a dataset-type option.
type refSearchOptions struct {
	types       []string
	collections []string
	where       string
	findFirst   bool
	noFindFirst bool
	limit       int
	orderBy     []string
}

// addFlags adds the flags with upstream's defaults for associate: --limit 0
// (all) and no --order-by.
func (o *refSearchOptions) addFlags(cmd *cobra.Command) { o.addFlagsWith(cmd, 0, false) }

// addFlagsWith adds the flags with a default --limit (negative: at most -N,
// warning when there are more) and, if orderBy, the --order-by flag.
func (o *refSearchOptions) addFlagsWith(cmd *cobra.Command, defLimit int, orderBy bool) {
	f := cmd.Flags()
	f.StringArrayVarP(&o.types, "dataset-type", "d", nil, "dataset types (globs; comma-separated, repeatable)")
	f.StringArrayVar(&o.collections, "collections", nil, "collections to search")
	f.StringVar(&o.where, "where", "", "where expression")
	f.BoolVar(&o.findFirst, "find-first", false, "only the first dataset per data ID, searching the collections in order")
	f.BoolVar(&o.noFindFirst, "no-find-first", false, "every matching dataset in every collection (default)")
	f.IntVar(&o.limit, "limit", defLimit, fmt.Sprintf("at most this many datasets; 0: no limit; negative: at most -N, warning when there are more (default %d)", defLimit))
	if orderBy {
		f.StringArrayVar(&o.orderBy, "order-by", nil, "order by these fields before --limit applies, e.g. exposure.timespan.begin or -detector (descending); comma-separated, repeatable")
	}
}

// openRefs opens the repository (writeable for commands that change it) and
// runs the search, the start every dataset-selecting command shares. The
// caller closes the butler when err is nil.
func (o *refSearchOptions) openRefs(ctx context.Context, g *globals, repo string, writeable bool) (*butler.Butler, []dataset.Ref, error) {
	b, err := g.open(ctx, repo, writeable)
	if err != nil {
		return nil, nil, err
	}
	refs, err := o.refs(ctx, b, g.stderr)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return b, refs, nil
}

// refs runs the search; no --collections means every collection. A negative
// --limit that cut the list short is warned about on warn.
func (o *refSearchOptions) refs(ctx context.Context, b *butler.Butler, warn io.Writer) ([]dataset.Ref, error) {
	cols := splitList(o.collections)
	if len(cols) == 0 {
		cols = []string{"*"}
	}
	fetch, check := effectiveLimit(o.limit)
	var refs []dataset.Ref
	q := b.Query().Implied(false).Collections(cols...).Where(o.where, nil).FindFirst(o.findFirst && !o.noFindFirst).Limit(fetch, 0).OrderBy(splitList(o.orderBy)...)
	err := each(q.Datasets(ctx, splitList(o.types)...), func(r dataset.Ref) error {
		refs = append(refs, r)
		return nil
	})
	if err == nil && check && len(refs) > -o.limit {
		fmt.Fprintln(warn, datasetLimitWarning(o.limit))
		refs = refs[:-o.limit]
	}
	return refs, err
}

// addRow appends a row whose cell in each column is value(column).
func (t *table) addRow(value func(col string) any) {
	cells := make([]any, len(t.cols))
	typed := make(map[string]any, len(t.cols))
	for i, c := range t.cols {
		v := value(c)
		cells[i], typed[c] = v, v
	}
	t.add(typed, cells...)
}

// print drops the extra row fetched to detect a negative --limit's truncation
// (warning about it), sorts the rows by sortKeys unless --order-by gave an
// order, and prints the table. It reports whether there was anything to print;
// the caller says why not.
func (o *queryOptions) print(g *globals, script string, t *table, warn bool, sortKeys []string) (bool, error) {
	if warn && len(t.rows) > -o.limit {
		fmt.Fprintln(g.stderr, limitWarning(script, o.limit))
		t.rows, t.raw = t.rows[:-o.limit], t.raw[:-o.limit]
		if t.csv != nil {
			t.csv = t.csv[:-o.limit]
		}
	}
	if len(o.orderBy) == 0 {
		t.sortBy(sortKeys)
	}
	if len(t.rows) == 0 && o.format == "table" {
		return false, nil
	}
	return true, render(g.stdout, o.format, t)
}

// querySession is what the three query commands (query-datasets,
// query-data-ids, query-dimension-records) share once their flags are read:
// the repository, opened for reading, the parsed --bind and --data-id, and
// how many rows to ask for.
type querySession struct {
	b      *butler.Butler
	binds  map[string]any
	dataID dimensions.DataID
	// fetch is how many rows to ask for (--limit, plus one to detect a
	// negative limit's truncation, plus --offset; 0 means all); warn says
	// whether to warn when more rows came than the limit.
	fetch int
	warn  bool
}

// start checks --format, parses --bind and --data-id, opens the repository
// and works out the row limit. The caller closes s.b.
func (o *queryOptions) start(ctx context.Context, g *globals, repo string) (*querySession, error) {
	if err := checkFormat(o.format); err != nil {
		return nil, err
	}
	binds, err := o.bindMap()
	if err != nil {
		return nil, err
	}
	dataID, err := parseDataID(o.dataID)
	if err != nil {
		return nil, err
	}
	b, err := g.open(ctx, repo, false)
	if err != nil {
		return nil, err
	}
	s := &querySession{b: b, binds: binds, dataID: dataID}
	s.fetch, s.warn = effectiveLimit(o.limit)
	if s.fetch > 0 {
		s.fetch += o.offset
	}
	return s, nil
}

// finish prints a data ID or record table as o.print does; when there was
// nothing to print it prints upstream's hint and the reasons explain gives:
// reasons first on stdout (queryDataIds) or, with reasonsAfter, after the
// hint on stderr (queryDimensionRecords).
func (o *queryOptions) finish(g *globals, s *querySession, script string, t *table, sortKeys []string, reasonsAfter bool, explain func() []string) error {
	printed, err := o.print(g, script, t, s.warn, sortKeys)
	if err != nil || printed {
		return err
	}
	const hint = "No results. Try --help for more information."
	if reasonsAfter {
		fmt.Fprintln(g.stdout, hint)
		for _, why := range explain() {
			fmt.Fprintln(g.stderr, why)
		}
		return nil
	}
	for _, why := range explain() {
		fmt.Fprintln(g.stdout, why)
	}
	fmt.Fprintln(g.stdout, hint)
	return nil
}

// each runs fn on every result of a query, stopping at the first error (the
// query's or fn's).
func each[T any](results iter.Seq2[T, error], fn func(T) error) error {
	for v, err := range results {
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}
