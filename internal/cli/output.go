package cli

import (
	"cmp"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/internal/pyrepr"
)

// table is rows of cells under named columns, rendered as astropy's
// Table.pprint_all prints it (the Python butler's table output), or as JSON,
// YAML or CSV.
type table struct {
	title string
	cols  []string
	rows  [][]any          // one cell value per column: string, int64, float64, bool, nil...
	raw   []map[string]any // typed values for json/yaml; nil: use the cells
	// csv, when set, holds the CSV cells in place of rows.
	csv [][]any
	// left aligns the cells to the left, as upstream's pprint_all(align="<")
	// (query-collections, query-dataset-types); otherwise cells are right-aligned.
	left bool
}

func addFormatFlag(cmd *cobra.Command, f *string) {
	cmd.Flags().StringVar(f, "format", "table", "output format: table (as the Python butler prints it), json, yaml or csv")
}

func checkFormat(f string) error {
	switch f {
	case "table", "json", "yaml", "csv":
		return nil
	}
	return usagef("--format %q: want table, json, yaml or csv", f)
}

func (t *table) add(typed map[string]any, cells ...any) {
	t.rows = append(t.rows, cells)
	if typed != nil {
		t.raw = append(t.raw, typed)
	}
}

func (t *table) records() []map[string]any {
	if t.raw != nil {
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

// sortBy orders the rows by the named columns, as astropy's Table.sort does
// (numbers by value, strings by code point); equal rows keep their order.
func (t *table) sortBy(keys []string) {
	var idx []int
	for _, k := range keys {
		for i, c := range t.cols {
			if c == k {
				idx = append(idx, i)
				break
			}
		}
	}
	if len(idx) == 0 || len(t.rows) < 2 {
		return
	}
	order := make([]int, len(t.rows))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ra, rb := t.rows[order[a]], t.rows[order[b]]
		for _, i := range idx {
			if c := compareValues(ra[i], rb[i]); c != 0 {
				return c < 0
			}
		}
		return false
	})
	rows := make([][]any, len(order))
	for i, o := range order {
		rows[i] = t.rows[o]
	}
	if len(t.raw) == len(t.rows) {
		raw := make([]map[string]any, len(order))
		for i, o := range order {
			raw[i] = t.raw[o]
		}
		t.raw = raw
	}
	if len(t.csv) == len(t.rows) {
		c := make([][]any, len(order))
		for i, o := range order {
			c[i] = t.csv[o]
		}
		t.csv = c
	}
	t.rows = rows
}

// compareValues orders two cell values: numbers numerically, everything
// else by its printed form.
func compareValues(a, b any) int {
	fa, aNum := number(a)
	fb, bNum := number(b)
	if aNum && bNum {
		return cmp.Compare(fa, fb)
	}
	return strings.Compare(pyStr(a), pyStr(b))
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// structured is what JSON and YAML output hold: one table's records, or a
// list of {name, rows} for several.
func structured(tables []*table) any {
	if len(tables) == 1 {
		return orEmpty(tables[0].records())
	}
	m := []map[string]any{}
	for _, t := range tables {
		m = append(m, map[string]any{"name": t.title, "rows": orEmpty(t.records())})
	}
	return m
}

func render(w io.Writer, format string, tables ...*table) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(structured(tables))
	case "yaml":
		return yaml.NewEncoder(w).Encode(structured(tables))
	case "csv":
		cw := csv.NewWriter(w)
		for i, t := range tables {
			if i > 0 {
				cw.Write(nil)
			}
			cw.Write(t.cols)
			rows := t.rows
			if t.csv != nil {
				rows = t.csv
			}
			for _, r := range rows {
				rec := make([]string, len(r))
				for j, c := range r {
					rec[j] = str(c)
				}
				cw.Write(rec)
			}
		}
		cw.Flush()
		return cw.Error()
	}
	for _, t := range tables {
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

// writeText prints a table as astropy's Table.pprint_all does: each column as
// wide as its widest cell, its name or the "---" under it; names centred as
// Python's str.center centres them; cells right-aligned (left with t.left);
// columns joined by one space, trailing spaces kept; tabs and newlines in
// cells shown as \t and \n.
func writeText(w io.Writer, t *table) {
	cells := make([][]string, len(t.rows))
	width := make([]int, len(t.cols))
	for i, c := range t.cols {
		width[i] = max(3, utf8.RuneCountInString(c))
	}
	for r, row := range t.rows {
		cells[r] = make([]string, len(t.cols))
		for i := range t.cols {
			s := ""
			if i < len(row) {
				s = pyStr(row[i])
			}
			if strings.ContainsAny(s, "\t\n") {
				// Rare, and a Replacer per cell cost more than the query.
				s = strings.ReplaceAll(strings.ReplaceAll(s, "\t", "\\t"), "\n", "\\n")
			}
			cells[r][i] = s
			width[i] = max(width[i], utf8.RuneCountInString(s))
		}
	}
	var b strings.Builder
	line := func(parts []string) {
		b.WriteString(strings.Join(parts, " "))
		b.WriteByte('\n')
	}
	parts := make([]string, len(t.cols))
	for i, c := range t.cols {
		parts[i] = pyCenter(c, width[i])
	}
	line(parts)
	for i := range t.cols {
		parts[i] = strings.Repeat("-", width[i])
	}
	line(parts)
	for _, row := range cells {
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if t.left {
				parts[i] = c + pad
			} else {
				parts[i] = pad + c
			}
		}
		line(parts)
	}
	io.WriteString(w, b.String())
}

// pyCenter is Python's str.center(width): when the padding is odd, the extra
// space goes left only if width is odd.
func pyCenter(s string, width int) string {
	marg := width - utf8.RuneCountInString(s)
	if marg <= 0 {
		return s
	}
	left := marg/2 + (marg & width & 1)
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", marg-left)
}

// pyStr is Python's str() of a value as astropy prints it in a table cell:
// None, True/False, floats as repr (1.0, 1e-05, 1e+16).
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return pyrepr.Float(x)
	case float32:
		return pyrepr.Float(float64(x))
	case []byte:
		return "0x" + hex.EncodeToString(x)
	case []string:
		return pyList(x)
	}
	return fmt.Sprint(v)
}

// pyList is Python's str() of a list of strings: ['a', 'b'].
func pyList(items []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + s + "'")
	}
	b.WriteByte(']')
	return b.String()
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

// str is a value as CSV prints it: empty for null, true/false, floats as
// Python writes them, bytes in hex.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64, float32, []byte, []string:
		return pyStr(x)
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

// Streaming writers for large listings: each row is appended to one reused
// buffer, with no per-cell strings or fmt calls. The output is byte for byte
// what encoding/csv and encoding/json write.

// appendCSVRecord appends fields as one CSV record, as csv.Writer.Write does
// with the default settings (comma, "\n" line ends).
func appendCSVRecord(b []byte, fields ...string) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, f)
	}
	return append(b, '\n')
}

// appendCSVField appends one field, quoted only when csv.Writer would quote it.
func appendCSVField(b []byte, f string) []byte {
	if !csvNeedsQuotes(f) {
		return append(b, f...)
	}
	b = append(b, '"')
	for i := 0; i < len(f); i++ {
		if f[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, f[i])
	}
	return append(b, '"')
}

// csvNeedsQuotes follows encoding/csv's fieldNeedsQuotes for a comma separator.
func csvNeedsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` {
		return true
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	r, _ := utf8.DecodeRuneInString(f)
	return unicode.IsSpace(r)
}

// appendCSVValue appends a data ID value as str renders it.
func appendCSVValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return b
	case string:
		return appendCSVField(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	}
	return appendCSVField(b, str(v))
}

// appendUUID appends the canonical 8-4-4-4-12 lower-case form of a UUID.
func appendUUID(b []byte, id [16]byte) []byte {
	const hexDigits = "0123456789abcdef"
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// appendJSONString appends s as encoding/json writes a string: HTML-safe
// (<, > and & escaped), U+2028 and U+2029 escaped, invalid UTF-8 replaced.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONValue appends a data ID value as json.Marshal writes it.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}
