package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// table is rows of cells under named columns, rendered as an aligned text table
// (like astropy's pprint), JSON, YAML or CSV.
type table struct {
	title string
	cols  []string
	rows  [][]string
	raw   []map[string]any // typed values for json/yaml; nil: use the strings
}

func addFormatFlag(cmd *cobra.Command, f *string) {
	cmd.Flags().StringVar(f, "format", "table", "output format: table, json, yaml or csv")
}

func checkFormat(f string) error {
	switch f {
	case "table", "json", "yaml", "csv":
		return nil
	}
	return usagef("--format %q: want table, json, yaml or csv", f)
}

func (t *table) add(typed map[string]any, cells ...string) {
	t.rows = append(t.rows, cells)
	if typed != nil {
		t.raw = append(t.raw, typed)
	}
}

func (t *table) records() []map[string]any {
	if len(t.raw) == len(t.rows) && len(t.raw) > 0 {
		return t.raw
	}
	out := make([]map[string]any, len(t.rows))
	for i, r := range t.rows {
		m := map[string]any{}
		for j, c := range t.cols {
			if j < len(r) {
				m[c] = r[j]
			}
		}
		out[i] = m
	}
	return out
}

func render(w io.Writer, format string, tables ...*table) error {
	switch format {
	case "json":
		var all any
		if len(tables) == 1 {
			all = orEmpty(tables[0].records())
		} else {
			m := []map[string]any{}
			for _, t := range tables {
				m = append(m, map[string]any{"name": t.title, "rows": orEmpty(t.records())})
			}
			all = m
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	case "yaml":
		var all any
		if len(tables) == 1 {
			all = orEmpty(tables[0].records())
		} else {
			m := []map[string]any{}
			for _, t := range tables {
				m = append(m, map[string]any{"name": t.title, "rows": orEmpty(t.records())})
			}
			all = m
		}
		return yaml.NewEncoder(w).Encode(all)
	case "csv":
		cw := csv.NewWriter(w)
		for i, t := range tables {
			if i > 0 {
				cw.Write(nil)
			}
			cw.Write(t.cols)
			for _, r := range t.rows {
				cw.Write(r)
			}
		}
		cw.Flush()
		return cw.Error()
	}
	for i, t := range tables {
		if i > 0 || len(tables) > 1 {
			fmt.Fprintln(w)
		}
		writeText(w, t)
	}
	return nil
}

func orEmpty(m []map[string]any) []map[string]any {
	if m == nil {
		return []map[string]any{}
	}
	return m
}

// writeText prints an astropy-style table: header, dashes, left-aligned... we
// right-align numbers as astropy does.
func writeText(w io.Writer, t *table) {
	width := make([]int, len(t.cols))
	for i, c := range t.cols {
		width[i] = utf8.RuneCountInString(c)
	}
	for _, r := range t.rows {
		for i := range t.cols {
			if i >= len(r) {
				continue
			}
			for _, part := range strings.Split(r[i], "\n") {
				width[i] = max(width[i], utf8.RuneCountInString(part))
			}
		}
	}
	line := func(cells []string, dashes bool) {
		parts := make([]string, len(t.cols))
		for i := range t.cols {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			if dashes {
				c = strings.Repeat("-", width[i])
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if isNumber(c) {
				parts[i] = pad + c
			} else {
				parts[i] = c + pad
			}
		}
		fmt.Fprintln(w, strings.TrimRight(strings.Join(parts, " "), " "))
	}
	line(t.cols, false)
	line(nil, true)
	for _, r := range t.rows {
		// A cell with several lines (a chain's children) continues on rows of
		// its own, the other cells blank, as upstream prints them.
		split := make([][]string, len(r))
		n := 1
		for i, c := range r {
			split[i] = strings.Split(c, "\n")
			n = max(n, len(split[i]))
		}
		for k := 0; k < n; k++ {
			cells := make([]string, len(r))
			for i := range r {
				if k < len(split[i]) {
					cells[i] = split[i][k]
				}
			}
			line(cells, false)
		}
	}
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if (r < '0' || r > '9') && r != '.' && !(i == 0 && r == '-') && r != 'e' {
			return false
		}
	}
	return true
}

// splitList splits repeatable comma-separated option values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}

// renderValue prints one value as JSON or YAML (csv/table fall back to YAML).
func renderValue(w io.Writer, format string, v any) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return yaml.NewEncoder(w).Encode(v)
}
